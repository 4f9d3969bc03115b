#pragma once
// safetensors reader and writer.
//
// Format (https://github.com/huggingface/safetensors): 8-byte little-endian header length n,
// then n bytes of UTF-8 JSON: an object mapping tensor names to
//   {"dtype": "F64"|"F32"|"F16"|"BF16"|"I64"|"I32"|"U8", "shape": [d0, d1, ...],
//    "data_offsets": [begin, end]}
// (offsets relative to the byte buffer that follows the header) and an optional
// "__metadata__" object of string -> string. Data is little-endian, row-major.
//
// The reader trusts nothing: the header length must lie within the file, the header must be
// a JSON object, every dtype known, every shape dimension non-negative, shape x dtype size
// must equal end - begin (computed without overflow), offsets must lie in the buffer,
// tensors must not overlap and must cover the buffer without holes. Any violation raises
// ssm::Error naming the file and the tensor; nothing is read out of bounds.
//
// Complex tensors (FORMAT.md) are stored as real tensors with a trailing dimension of 2.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ssm::io {

enum class DType { F64, F32, F16, BF16, I64, I32, U8 };

const char* to_string(DType d) noexcept;
std::size_t dtype_size(DType d) noexcept;

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;
  std::size_t begin = 0, end = 0;  // byte offsets into the data buffer
  std::int64_t numel() const;
};

class SafeTensors {
public:
  /// Reads and validates a whole file. Throws ssm::Error on any problem.
  static SafeTensors load(const std::string& path);
  /// Validates an in-memory file image; `origin` names it in error messages.
  static SafeTensors parse(std::vector<std::uint8_t> bytes, std::string origin = "<memory>");

  const std::map<std::string, std::string>& metadata() const noexcept { return metadata_; }
  /// Metadata value or `fallback` when the key is absent.
  std::string meta(const std::string& key, const std::string& fallback) const;
  /// Metadata value; throws ssm::Error naming the key when absent.
  std::string meta(const std::string& key) const;
  double meta_double(const std::string& key) const;
  long long meta_int(const std::string& key) const;
  bool meta_bool(const std::string& key) const;

  bool has(const std::string& name) const noexcept { return tensors_.count(name) != 0; }
  const TensorInfo& info(const std::string& name) const;
  std::vector<std::string> names() const;
  const std::string& origin() const noexcept { return origin_; }

  /// Raw little-endian bytes of a tensor.
  const std::uint8_t* raw(const std::string& name) const;
  /// Values converted to double / float (any dtype; integers converted exactly where possible).
  std::vector<double> to_double(const std::string& name) const;
  std::vector<float> to_float(const std::string& name) const;
  template <class T>
  std::vector<T> as(const std::string& name) const;

private:
  std::string origin_;
  std::vector<std::uint8_t> bytes_;
  std::size_t data_start_ = 0;
  std::map<std::string, TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

template <>
inline std::vector<double> SafeTensors::as<double>(const std::string& n) const { return to_double(n); }
template <>
inline std::vector<float> SafeTensors::as<float>(const std::string& n) const { return to_float(n); }

/// One tensor to write: values are stored with `dtype` (F64, F32, F16, BF16, I64, I32 or U8).
struct TensorOut {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;
  std::vector<double> values;
};

/// Serializes tensors (+ string metadata) to a safetensors image.
std::vector<std::uint8_t> serialize_safetensors(const std::vector<TensorOut>& tensors,
                                                const std::map<std::string, std::string>& metadata);
/// Writes atomically (io/atomic_file.hpp: unique temporary next to `path`, fsync, rename, fsync
/// of the directory); throws ssm::Error naming `path` on failure.
void save_safetensors(const std::string& path, const std::vector<TensorOut>& tensors,
                      const std::map<std::string, std::string>& metadata);

/// IEEE half / bfloat16 conversions used by the reader (exposed for tests and kernels' hosts).
float half_to_float(std::uint16_t h) noexcept;
float bf16_to_float(std::uint16_t h) noexcept;
std::uint16_t float_to_half(float f) noexcept;
std::uint16_t float_to_bf16(float f) noexcept;

}  // namespace ssm::io
