#pragma once
// Non-owning strided views over (batch, channel, time) arrays: the one strided-layout
// vocabulary of ssmkit.
//
// A View3<T> addresses element (b, c, t) at data[b*stride_b + c*stride_c + t*stride_t]
// (strides in elements, may be any non-negative value, 0 broadcasts). The contiguous
// row-major layout (B, C, L) has strides (C*L, L, 1), which is what PyTorch's
// `tensor.contiguous()` of shape (B, C, L) gives. Views never allocate and never own.
// Strides3 is a view's layout alone: argument structs that state the shape once (the scans'
// DiagScanArgs, BidirectionalScanArgs, CrossScanArgs) pair a pointer with a Strides3, which
// is then the View3 of that pointer, shape and strides (View3::strides() / the View3
// constructor taking a Strides3 convert between the two).
#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "ssm/core/error.hpp"

namespace ssm {

/// Element strides of a (batch, channels, length) array: b along batch, d along channels, l
/// along time. All three zero (the default) means the contiguous row-major layout
/// (channels*length, length, 1). Strides are in elements, never negative; a zero stride
/// broadcasts an input along that axis (never allowed for outputs).
struct Strides3 {
  std::ptrdiff_t b = 0, d = 0, l = 0;
  constexpr bool is_default() const noexcept { return b == 0 && d == 0 && l == 0; }
  /// These strides with the default replaced by the contiguous layout of (., channels, length).
  constexpr Strides3 resolved(std::ptrdiff_t channels, std::ptrdiff_t length) const noexcept {
    return is_default() ? Strides3{channels * length, length, 1} : *this;
  }
  constexpr std::ptrdiff_t offset(std::ptrdiff_t ib, std::ptrdiff_t id, std::ptrdiff_t il) const noexcept {
    return ib * b + id * d + il * l;
  }
};

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

  /// The view of d with shape (b, c, l) and layout s (the default Strides3: contiguous).
  View3(T* d, std::ptrdiff_t b, std::ptrdiff_t c, std::ptrdiff_t l, Strides3 s)
      : View3(d, b, c, l, s.resolved(c, l).b, s.resolved(c, l).d, s.resolved(c, l).l) {}

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
  /// This view's layout as a Strides3 (explicit, never the all-zero default).
  Strides3 strides() const noexcept { return Strides3{stride_b, stride_c, stride_t}; }
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
