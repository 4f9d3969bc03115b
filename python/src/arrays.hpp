#pragma once
// Arrays in and out of the Python module (nanobind ndarray: DLPack and the buffer protocol).
//
// An op takes its array arguments as Python objects and imports them here WITHOUT conversion:
// what the caller passed is what the C++ op reads (no copy, no dtype cast). Every argument is
// checked before any work: dtype (TypeError), rank and shape, device, layout (ValueError), each
// message naming the op and the argument. Outputs are new arrays of the framework of the first
// array argument: NumPy in, NumPy out; a torch tensor in, a torch tensor out (CPU or CUDA);
// CuPy in, CuPy out. CUDA outputs are allocated by the framework itself (its caching allocator,
// on its current device: ssmkit/_arrays.py), so they live as the caller's own tensors do.
#include <complex>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include "ssm/core/cuda_stream.hpp"

namespace ssmpy {

namespace nb = nanobind;
/// An array argument as the ops read it: data pointer, shape, element strides, dtype, device.
/// NumPy arrays are viewed through the buffer protocol (nothing to keep: the caller's array
/// outlives the call); anything else is imported by nanobind (DLPack), whose handle is kept.
class Arr {
public:
  static constexpr std::size_t kMaxDim = 8;
  Arr() = default;
  template <class... A>
  explicit Arr(const nb::ndarray<A...>& a) : keep_(a) {
    data_ = a.data();
    ndim_ = a.ndim() < kMaxDim ? a.ndim() : kMaxDim;
    for (std::size_t i = 0; i < ndim_; ++i) shape_[i] = a.shape(i), strides_[i] = a.stride(i);
    dtype_ = a.dtype();
    device_type_ = a.device_type();
    device_id_ = a.device_id();
    too_many_dims_ = a.ndim() > kMaxDim;
  }
  /// Becomes a view of host memory owned elsewhere (nothing is kept): ndim <= kMaxDim extents
  /// and byte strides, elements of `itemsize` bytes. False (and unchanged) when a stride is not
  /// a whole number of elements.
  template <class S>
  bool view_host(const void* data, std::size_t ndim, const S* shape, const S* byte_strides, std::int64_t itemsize,
                 nb::dlpack::dtype dt) noexcept {
    for (std::size_t i = 0; i < ndim; ++i)
      if (static_cast<std::int64_t>(byte_strides[i]) % itemsize != 0) return false;
    for (std::size_t i = 0; i < ndim; ++i)
      shape_[i] = static_cast<std::size_t>(shape[i]), strides_[i] = static_cast<std::int64_t>(byte_strides[i]) / itemsize;
    data_ = data, ndim_ = ndim, dtype_ = dt;
    device_type_ = nb::device::cpu::value, device_id_ = 0, too_many_dims_ = false;
    return true;
  }
  const void* data() const noexcept { return data_; }
  std::size_t ndim() const noexcept { return ndim_; }
  std::size_t shape(std::size_t i) const noexcept { return shape_[i]; }
  std::int64_t stride(std::size_t i) const noexcept { return strides_[i]; }
  nb::dlpack::dtype dtype() const noexcept { return dtype_; }
  int device_type() const noexcept { return device_type_; }
  int device_id() const noexcept { return device_id_; }
  bool too_many_dims() const noexcept { return too_many_dims_; }
  std::size_t size() const noexcept {
    std::size_t n = 1;
    for (std::size_t i = 0; i < ndim_; ++i) n *= shape_[i];
    return n;
  }

private:
  const void* data_ = nullptr;
  std::size_t ndim_ = 0;
  std::size_t shape_[kMaxDim] = {};
  std::int64_t strides_[kMaxDim] = {};
  nb::dlpack::dtype dtype_{};
  int device_type_ = nb::device::cpu::value, device_id_ = 0;
  bool too_many_dims_ = false;
  nb::ndarray<nb::ro> keep_;
};

// The precision T of a type L<T>.
template <class>
struct elem;
template <template <class> class L, class T>
struct elem<L<T>> {
  using type = T;
};
template <class P>
using elem_t = typename elem<std::remove_cvref_t<decltype(*std::declval<P>())>>::type;

/// A shape of at most Arr::kMaxDim extents, held in place (a braced list or a vector converts
/// without allocating: the checks of a call must not cost a heap allocation each).
class Dims {
public:
  template <class... V>
    requires(sizeof...(V) <= Arr::kMaxDim && (std::is_integral_v<V> && ...))
  Dims(V... v) : n_(sizeof...(V)), v_{static_cast<std::int64_t>(v)...} {}
  Dims(const std::vector<std::int64_t>& v) { assign(v.data(), v.size()); }
  Dims(const std::vector<std::size_t>& v) { assign(v.data(), v.size()); }
  std::size_t size() const noexcept { return n_; }
  std::int64_t operator[](std::size_t i) const noexcept { return v_[i]; }

private:
  template <class V>
  void assign(const V* p, std::size_t n) {
    if (n > Arr::kMaxDim) throw nb::value_error("ssmkit: a shape of more than 8 dimensions");
    n_ = n;
    for (std::size_t i = 0; i < n; ++i) v_[i] = static_cast<std::int64_t>(p[i]);
  }
  std::size_t n_ = 0;
  std::int64_t v_[Arr::kMaxDim] = {};
};

enum class Framework { numpy, torch, cupy, other };

/// The arrays of one call: the op name for messages, the device and framework fixed by the
/// first array (the "reference"), and the Python object of that array (for allocating outputs
/// of its framework).
class Call {
public:
  Call(const char* where, nb::handle ref, const char* ref_name);

  const char* where() const noexcept { return where_; }
  bool cuda() const noexcept { return cuda_; }
  int device_id() const noexcept { return device_id_; }
  const Arr& ref() const noexcept { return ref_; }
  nb::handle ref_object() const noexcept { return ref_obj_; }
  Framework framework() const noexcept { return fw_; }

  /// Imports `obj` (TypeError naming `name` when it is not an array) and checks that it is on
  /// the reference's device (ValueError otherwise).
  Arr get(nb::handle obj, const char* name) const;
  std::optional<Arr> get_optional(nb::handle obj, const char* name) const;

  [[noreturn]] void type_error(const char* name, const std::string& what) const;
  [[noreturn]] void value_error(const char* name, const std::string& what) const;

  /// Throws ValueError unless `a` has exactly `shape`.
  void shape(const Arr& a, const char* name, const Dims& shape) const;
  /// Throws ValueError unless a.ndim() == n.
  void ndim(const Arr& a, const char* name, std::size_t n) const;
  /// Throws ValueError unless `a` is C-contiguous (size-1 axes may have any stride).
  void contiguous(const Arr& a, const char* name) const;
  /// Throws ValueError when a stride is negative.
  void non_negative_strides(const Arr& a, const char* name) const;

  /// Element dtype checks: TypeError naming the argument and the dtype it must have.
  template <class T>
  void real(const Arr& a, const char* name) const {
    if (a.dtype() != nb::dtype<T>()) type_error(name, std::string("must be ") + dtype_name<T>(false) + " (the dtype of '" + ref_name_ + "'), got " + describe_dtype(a));
  }
  /// Real T or complex<T>; returns true when complex.
  template <class T>
  bool real_or_complex(const Arr& a, const char* name) const {
    if (a.dtype() == nb::dtype<T>()) return false;
    if (a.dtype() == nb::dtype<std::complex<T>>()) return true;
    type_error(name, std::string("must be ") + dtype_name<T>(false) + " or " + dtype_name<T>(true) + ", got " + describe_dtype(a));
  }
  template <class T>
  static const char* dtype_name(bool complex) {
    if constexpr (sizeof(T) == 4) return complex ? "complex64" : "float32";
    else return complex ? "complex128" : "float64";
  }
  static std::string describe_dtype(const Arr& a);
  static std::string describe_shape(const Arr& a);

  /// New uninitialized output of `shape` (elements of T, or complex<T> when `complex`) in the
  /// reference's framework and device. Call with the GIL held.
  template <class T>
  std::pair<nb::object, T*> empty(const Dims& shape, bool complex = false) const;

  /// The CUDA stream of this call: `stream` (an int cudaStream_t handle, or None for the
  /// framework's current stream of the reference's device: torch.cuda.current_stream, CuPy's
  /// current stream; the legacy default stream otherwise).
  void* cuda_stream(nb::handle stream) const;

private:
  void record(const char* name, const void* p) const { log_->emplace_back(name, reinterpret_cast<std::uintptr_t>(p)); }
  const char* where_;
  const char* ref_name_;
  std::vector<std::pair<std::string, std::uintptr_t>>* log_ = nullptr;  // last_call_pointers()
  nb::handle ref_obj_;
  Arr ref_;
  Framework fw_ = Framework::other;
  bool cuda_ = false;
  int device_id_ = 0;
};

/// Imports NumPy and checks its array layout (the fields NumPy arguments are read from) once,
/// at module import: a first call from two threads at once would otherwise both initialize it.
void prepare_numpy_import() noexcept;

/// The data pointers of the arrays of the last call on this thread, (argument name, address):
/// the arrays a C++ op was given (inputs as imported, outputs as allocated). Tests compare them
/// with the caller's own pointers to prove that nothing was copied (ssmkit._ssmkit._last_call).
std::vector<std::pair<std::string, std::uintptr_t>>& last_call_pointers();

/// Makes the reference's GPU current for the scope (the ssm Device::cuda entry points run on the
/// calling thread's current device) and restores the previous one.
class DeviceGuard {
public:
  explicit DeviceGuard(const Call& c);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

private:
  int previous_ = -1;
};

/// For the Device::cuda entry points that run on the legacy default stream and return when done
/// (no stream overload): waits for the caller's stream first, so inputs written on it are ready.
void wait_for_stream(void* stream);

/// A NumPy array owning a copy of `values` (host), of `shape`.
template <class T>
nb::object numpy_copy(const T* values, const std::vector<std::size_t>& shape);

}  // namespace ssmpy
