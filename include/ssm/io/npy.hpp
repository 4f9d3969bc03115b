#pragma once
// NumPy .npy reader and writer for float32 / float64 arrays in C (row-major) order.
//
// Format (numpy.lib.format): the magic "\x93NUMPY", a major and a minor version byte, the
// header length (little-endian uint16 for version 1.0, uint32 for 2.0 and 3.0), then that many
// bytes of ASCII (UTF-8 for 3.0): a Python dict literal with exactly the keys
//   'descr': '<f4' | '>f4' | '<f8' | '>f8'  ('=' means native order; '|' is rejected),
//   'fortran_order': False,
//   'shape': (d0, d1, ...)   (a tuple of non-negative integers; () is a scalar),
// padded with spaces and ended by '\n'; then prod(shape) elements, nothing after them.
//
// The reader trusts nothing: wrong magic, unknown version, a header that runs past the end of
// the file, a malformed dict, missing/duplicate/unknown keys, a dtype other than f4/f8,
// Fortran order, negative or overflowing dimensions, a data section shorter or longer than
// shape x itemsize: each raises ssm::Error naming the file (its `origin`) and the problem.
// Big-endian data is byte-swapped; values are converted to the requested element type
// (float64 -> float32 rounds to nearest).
//
// The writer emits version 1.0 (2.0 when the header would exceed 65535 bytes), little-endian,
// with the preamble padded to a multiple of 64 bytes as numpy does, and writes files
// atomically (io/atomic_file.hpp: a temporary file in the same directory, fsync, rename, fsync of
// the directory), so an interrupted write never leaves a partial file under the final name.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ssm::io {

enum class NpyDType { f32, f64 };

/// What a .npy header says (the data is not read).
struct NpyHeader {
  NpyDType dtype = NpyDType::f32;
  bool big_endian = false;
  std::vector<std::int64_t> shape;  // empty: a 0-d (scalar) array with one element
  std::size_t data_offset = 0;      // bytes from the start of the file to the first element
  std::int64_t numel() const noexcept;  // product of shape (1 for a scalar)
};

/// An array read from a .npy file: row-major `data` with shape `shape`.
template <class T>
struct NpyArray {
  std::vector<std::int64_t> shape;
  std::vector<T> data;
  NpyDType stored = NpyDType::f32;  // the file's element type
};

/// Parses and validates the header of a .npy image of `total_size` bytes whose first
/// `available` bytes are at `bytes` (available may be less than total_size; the header must be
/// within it). Checks that the data section is exactly numel x itemsize bytes.
NpyHeader parse_npy_header(const std::uint8_t* bytes, std::size_t available,
                           std::uint64_t total_size, const std::string& origin);

/// Reads a whole .npy file as float or double. Throws ssm::Error on any problem.
template <class T>
NpyArray<T> load_npy(const std::string& path);
/// Parses an in-memory .npy image; `origin` names it in error messages.
template <class T>
NpyArray<T> parse_npy(const std::vector<std::uint8_t>& bytes, const std::string& origin = "<memory>");
/// Reads only the header of a file.
NpyHeader npy_info(const std::string& path);

/// Serializes a row-major array of prod(shape) values as a little-endian .npy image
/// (dtype '<f4' for float, '<f8' for double). Throws ssm::Error if data.size() != prod(shape)
/// or a dimension is negative.
template <class T>
std::vector<std::uint8_t> serialize_npy(const std::vector<std::int64_t>& shape, const T* data,
                                        std::size_t count);
/// Writes atomically (io/atomic_file.hpp: temporary in the same directory, fsync, rename).
template <class T>
void save_npy(const std::string& path, const std::vector<std::int64_t>& shape, const T* data,
              std::size_t count);
template <class T>
void save_npy(const std::string& path, const std::vector<std::int64_t>& shape,
              const std::vector<T>& data) {
  save_npy(path, shape, data.data(), data.size());
}

extern template NpyArray<float> load_npy<float>(const std::string&);
extern template NpyArray<double> load_npy<double>(const std::string&);
extern template NpyArray<float> parse_npy<float>(const std::vector<std::uint8_t>&, const std::string&);
extern template NpyArray<double> parse_npy<double>(const std::vector<std::uint8_t>&, const std::string&);
extern template std::vector<std::uint8_t> serialize_npy<float>(const std::vector<std::int64_t>&, const float*, std::size_t);
extern template std::vector<std::uint8_t> serialize_npy<double>(const std::vector<std::int64_t>&, const double*, std::size_t);
extern template void save_npy<float>(const std::string&, const std::vector<std::int64_t>&, const float*, std::size_t);
extern template void save_npy<double>(const std::string&, const std::vector<std::int64_t>&, const double*, std::size_t);

}  // namespace ssm::io
