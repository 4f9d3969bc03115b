// The array forms of the model activations (core/activations.hpp), per SIMD target.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/activations_simd.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/highway.h>

#include <cmath>
#include <cstddef>

#include "core/activations.hpp"
#include "core/simd_math-inl.hpp"

HWY_BEFORE_NAMESPACE();
namespace ssm::detail::math::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
namespace sm = ssm::detail::HWY_NAMESPACE;

enum class Op { exp, softplus, sigmoid, silu, tanh, gelu, exp2_decay };

template <Op op, class D, class V>
HWY_INLINE V apply(D d, V x) {
  if constexpr (op == Op::exp) return sm::ExpV(d, x);
  else if constexpr (op == Op::softplus) return sm::SoftplusV(d, x);
  else if constexpr (op == Op::sigmoid) return sm::SigmoidV(d, x);
  else if constexpr (op == Op::silu) return sm::SiluV(d, x);
  else if constexpr (op == Op::tanh) return sm::TanhV(d, x);
  else if constexpr (op == Op::gelu) return sm::GeluV(d, x);  // float32 only
  else return sm::Exp2DecayV(d, x);                             // float32 only
}

// Whole vectors, then the remainder through a zero-padded vector (same formulas in every lane).
template <Op op, class T>
HWY_INLINE void map(const T* x, T* y, std::size_t n) {
  const hn::ScalableTag<T> d;
  const std::size_t L = hn::Lanes(d);
  std::size_t i = 0;
  for (; i + L <= n; i += L) hn::StoreU(apply<op>(d, hn::LoadU(d, x + i)), d, y + i);
  if (i < n) {
    HWY_ALIGN T buf[HWY_MAX_BYTES / sizeof(T)] = {};
    for (std::size_t j = i; j < n; ++j) buf[j - i] = x[j];
    hn::Store(apply<op>(d, hn::Load(d, buf)), d, buf);
    for (std::size_t j = i; j < n; ++j) y[j] = buf[j - i];
  }
}

#define SSM_ACT(name, op)                                                                          \
  void name##F32(const float* x, float* y, std::size_t n) { map<Op::op>(x, y, n); }               \
  void name##F64(const double* x, double* y, std::size_t n) { map<Op::op>(x, y, n); }
SSM_ACT(Exp, exp)
SSM_ACT(Softplus, softplus)
SSM_ACT(Sigmoid, sigmoid)
SSM_ACT(Silu, silu)
SSM_ACT(Tanh, tanh)
#undef SSM_ACT
void GeluF32(const float* x, float* y, std::size_t n) { map<Op::gelu>(x, y, n); }
void Exp2DecayF32(const float* x, float* y, std::size_t n) { map<Op::exp2_decay>(x, y, n); }

}  // namespace ssm::detail::math::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace ssm::detail::math {
#define SSM_ACT(name, fn)                                                                          \
  HWY_EXPORT(name##F32);                                                                           \
  HWY_EXPORT(name##F64);                                                                           \
  void fn(const float* x, float* y, std::size_t n) noexcept { HWY_DYNAMIC_DISPATCH(name##F32)(x, y, n); } \
  void fn(const double* x, double* y, std::size_t n) noexcept { HWY_DYNAMIC_DISPATCH(name##F64)(x, y, n); }
SSM_ACT(Exp, exp_n)
SSM_ACT(Softplus, softplus_n)
SSM_ACT(Sigmoid, sigmoid_n)
SSM_ACT(Silu, silu_n)
SSM_ACT(Tanh, tanh_n)
#undef SSM_ACT

// GELU: float32 on the vector erfc form (GeluV); float64 on the C library's erfc per element
// (the precision path; Highway has no vector erfc).
HWY_EXPORT(GeluF32);
void gelu_n(const float* x, float* y, std::size_t n) noexcept { HWY_DYNAMIC_DISPATCH(GeluF32)(x, y, n); }
HWY_EXPORT(Exp2DecayF32);
void exp2_decay_n(const float* x, float* y, std::size_t n) noexcept { HWY_DYNAMIC_DISPATCH(Exp2DecayF32)(x, y, n); }
void gelu_n(const double* x, double* y, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) y[i] = gelu(x[i]);
}
}  // namespace ssm::detail::math
#endif
