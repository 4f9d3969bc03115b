#pragma once
// Non-owning strided views over (batch, channel, time) arrays.
//
// A View3<T> addresses element (b, c, t) at data[b*stride_b + c*stride_c + t*stride_t]
// (strides in elements, may be any non-negative value, 0 broadcasts). The contiguous
// row-major layout (B, C, L) has strides (C*L, L, 1), which is what PyTorch's
// `tensor.contiguous()` of shape (B, C, L) gives. Views never allocate and never own.
#include <array>
#include <cstddef>
#include <cstdint>

#include "ssm/core/error.hpp"

namespace ssm {

template <class T>
struct View3 {
  T* data = nullptr;
  std::ptrdiff_t batch = 0, channels = 0, length = 0;
  std::ptrdiff_t stride_b = 0, stride_c = 0, stride_t = 0;

  View3() = default;
  View3(T* d, std::ptrdiff_t b, std::ptrdiff_t c, std::ptrdiff_t l)
      : data(d), batch(b), channels(c), length(l), stride_b(c * l), stride_c(l), stride_t(1) {}
  View3(T* d, std::ptrdiff_t b, std::ptrdiff_t c, std::ptrdiff_t l, std::ptrdiff_t sb,
        std::ptrdiff_t sc, std::ptrdiff_t st)
      : data(d), batch(b), channels(c), length(l), stride_b(sb), stride_c(sc), stride_t(st) {}

  // Implicit conversion View3<T> -> View3<const T>.
  template <class U, class = std::enable_if_t<std::is_same_v<const U, T>>>
  View3(const View3<U>& o)  // NOLINT
      : data(o.data), batch(o.batch), channels(o.channels), length(o.length),
        stride_b(o.stride_b), stride_c(o.stride_c), stride_t(o.stride_t) {}

  T& operator()(std::ptrdiff_t b, std::ptrdiff_t c, std::ptrdiff_t t) const noexcept {
    return data[b * stride_b + c * stride_c + t * stride_t];
  }
  /// Pointer to the start of row (b, c); elements along time are stride_t apart.
  T* row(std::ptrdiff_t b, std::ptrdiff_t c) const noexcept {
    return data + b * stride_b + c * stride_c;
  }
  bool contiguous() const noexcept {
    return stride_t == 1 && stride_c == length && stride_b == channels * length;
  }
  std::ptrdiff_t size() const noexcept { return batch * channels * length; }
  std::array<std::ptrdiff_t, 3> shape() const noexcept { return {batch, channels, length}; }
};

/// Validates that a view has the given shape; names the argument on mismatch.
template <class T>
void require_shape(const View3<T>& v, std::ptrdiff_t b, std::ptrdiff_t c, std::ptrdiff_t l,
                   const char* where, const char* arg) {
  require(v.batch == b && v.channels == c && v.length == l, where, arg, "must have shape (", b,
          ", ", c, ", ", l, "), got (", v.batch, ", ", v.channels, ", ", v.length, ")");
  require(v.data != nullptr || v.size() == 0, where, arg, "must not be null");
}

}  // namespace ssm
