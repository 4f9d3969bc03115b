// Internal: vector forms of the model activations (core/activations.hpp), per Highway target.
// Included by Highway kernel files (after hwy/highway.h, once per target through
// foreach_target.h), hence the toggling include guard instead of #pragma once.
//
//   ExpV(d, x)       e^x on Highway's Exp (contrib/math: within 1 ulp, float32 and float64),
//                    extended to the whole line: +inf above the overflow threshold, 0 below
//                    -104 (float) / -1000 (double), NaN propagates (Exp alone returns 0 for NaN).
//   SoftplusV(d, x)  max(x, 0) + log1p(e^{-|x|})   (Log1p: within 2 ulp)
//   SigmoidV(d, x)   1 / (1 + e^{-x})
//   SiluV(d, x)      x / (1 + e^{-x})
//   TanhV(d, x)      Highway's Tanh (within 4 ulp)
// The bounds are Highway's documented maxima; tests/core/test_activations.cpp measures them
// against the C library on every target the machine supports.
#if defined(SSM_CORE_SIMD_MATH_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef SSM_CORE_SIMD_MATH_INL_
#undef SSM_CORE_SIMD_MATH_INL_
#else
#define SSM_CORE_SIMD_MATH_INL_
#endif

#include <hwy/highway.h>
#include <hwy/contrib/math/math-inl.h>

HWY_BEFORE_NAMESPACE();
namespace ssm::detail::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

template <class D, class V>
HWY_INLINE V ExpV(D d, V x) {
  using T = hn::TFromD<D>;
  // Exp is specified on [-max, 104] (float) / [-max, 706] (double): clamp above (the result
  // is +inf there either way), keep NaN.
  const V hi = hn::Set(d, static_cast<T>(sizeof(T) == 4 ? 104.0 : 706.0));
  const V r = hn::Exp(d, hn::Min(x, hi));
  return hn::IfThenElse(hn::IsNaN(x), x, r);
}

template <class D, class V>
HWY_INLINE V SoftplusV(D d, V x) {
  const V e = ExpV(d, hn::Neg(hn::Abs(x)));
  const V r = hn::Add(hn::Max(x, hn::Zero(d)), hn::Log1p(d, e));
  return hn::IfThenElse(hn::IsNaN(x), x, r);
}

template <class D, class V>
HWY_INLINE V SigmoidV(D d, V x) {
  using T = hn::TFromD<D>;
  return hn::Div(hn::Set(d, T(1)), hn::Add(hn::Set(d, T(1)), ExpV(d, hn::Neg(x))));
}

template <class D, class V>
HWY_INLINE V SiluV(D d, V x) {
  using T = hn::TFromD<D>;
  return hn::Div(x, hn::Add(hn::Set(d, T(1)), ExpV(d, hn::Neg(x))));
}

template <class D, class V>
HWY_INLINE V TanhV(D d, V x) {
  return hn::Tanh(d, x);
}

}  // namespace ssm::detail::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // SSM_CORE_SIMD_MATH_INL_
