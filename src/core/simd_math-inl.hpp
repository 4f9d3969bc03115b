// Internal: vector forms of the model activations (core/activations.hpp), per Highway target.
// Included by Highway kernel files (after hwy/highway.h, once per target through
// foreach_target.h), hence the toggling include guard instead of #pragma once.
//
//   ExpV(d, x)       e^x on the whole line: +inf above the overflow threshold, 0 (or a
//                    subnormal) below it, NaN propagates.
//                    float32: exp_ps's algorithm (below), relative error <= 2 ulp;
//                    float64: Highway's Exp (contrib/math, within 1 ulp), through ExpHwyV,
//                    which clamps its argument to Exp's specified range and keeps NaN (Exp
//                    alone returns 0 for NaN).
//   SoftplusV(d, x)  max(x, 0) + log1p(e^{-|x|})   (Log1pUnitV below)
//   SigmoidV(d, x)   1 / (1 + e^{-x})
//   SiluV(d, x)      x / (1 + e^{-x})
//   TanhV(d, x)      Highway's Tanh (within 4 ulp)
//   Exp2DecayV(d, y) float32 2^y for y <= 0, without NaN fix-ups (below)
//   GeluV(d, x)      float32 x/2 erfc(-x / sqrt 2) (below)
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
HWY_INLINE V ExpHwyV(D d, V x) {
  using T = hn::TFromD<D>;
  // Exp is specified on [-max, 104] (float) / [-max, 706] (double): clamp above (the result
  // is +inf there either way), keep NaN.
  const V hi = hn::Set(d, static_cast<T>(sizeof(T) == 4 ? 104.0 : 706.0));
  const V r = hn::Exp(d, hn::Min(x, hi));
  return hn::IfThenElse(hn::IsNaN(x), x, r);
}

// ExpV(d, x) for float32: the Cody-Waite reduction and degree-7 polynomial of
// core/activations.hpp's exp_ps on Highway ops (no float-to-int conversion: 2^k comes from the
// bits of the rounding shifter), same range handling: +inf above 88.72, 0 or a subnormal below
// -87.3, NaN propagates. Chosen over Highway's Exp for float32 because the selective scan's
// exp(dt A) is its hot loop and this form takes fewer instructions (no overflow fix-up of the
// conversion, one shift pair): docs/simd.md gives the measurements.
template <class D, class V, hwy::EnableIf<sizeof(hn::TFromD<D>) == 4>* = nullptr>
HWY_INLINE V ExpV(D d, V x) {
  const hn::RebindToSigned<D> di;
  const V xc = hn::Min(hn::Max(x, hn::Set(d, -104.0f)), hn::Set(d, 89.0f));
  const V shifter = hn::Set(d, 12582912.0f);  // 1.5 * 2^23: adding it rounds to an integer
  const V ks = hn::MulAdd(xc, hn::Set(d, 1.44269504088896341f), shifter);
  const V kf = hn::Sub(ks, shifter);
  V r = hn::NegMulAdd(kf, hn::Set(d, 0.693145751953125f), xc);
  r = hn::NegMulAdd(kf, hn::Set(d, 1.428606765330187045e-06f), r);
  V p = hn::Set(d, 1.98412698e-4f);
  p = hn::MulAdd(p, r, hn::Set(d, 1.38888889e-3f));
  p = hn::MulAdd(p, r, hn::Set(d, 8.33333333e-3f));
  p = hn::MulAdd(p, r, hn::Set(d, 4.16666667e-2f));
  p = hn::MulAdd(p, r, hn::Set(d, 1.66666667e-1f));
  p = hn::MulAdd(p, r, hn::Set(d, 0.5f));
  p = hn::MulAdd(p, r, hn::Set(d, 1.0f));
  p = hn::MulAdd(p, r, hn::Set(d, 1.0f));
  // k from the low mantissa bits of ks; 2^k applied as 2^(k/2) 2^(k - k/2).
  const auto k = hn::Sub(hn::BitCast(di, ks), hn::BitCast(di, shifter));
  const auto k1 = hn::ShiftRight<1>(k);
  const auto bias = hn::Set(di, 127);
  const V s1 = hn::BitCast(d, hn::ShiftLeft<23>(hn::Add(k1, bias)));
  const V s2 = hn::BitCast(d, hn::ShiftLeft<23>(hn::Add(hn::Sub(k, k1), bias)));
  const V res = hn::Mul(hn::Mul(p, s1), s2);
  return hn::IfThenElse(hn::IsNaN(x), x, res);
}
template <class D, class V, hwy::EnableIf<sizeof(hn::TFromD<D>) == 8>* = nullptr>
HWY_INLINE V ExpV(D d, V x) {
  return ExpHwyV(d, x);
}

// Exp2DecayV(d, y): 2^y for float32 y <= 0, the decay factor of a recurrence given in base 2
// (the Mamba stream's e^{dt A} = 2^{dt A log2 e}, dt >= 0, A < 0, with A log2 e stored: its hot
// loop). y is clamped below at -125 (so results are >= 2^-125 * 0.7 > 0: never below the
// normal range, a negligible floor for a decay); no NaN handling (callers multiply by a term
// that carries a NaN input); y > 0 is outside the contract.
//   k = round(y) (the rounding shifter 1.5 2^23), f = y - k in [-1/2, 1/2] (exact),
//   2^f: degree-6 polynomial, minimax for the relative error on [-1/2, 1/2] (fitted error 2e-9;
//        measured worst, float evaluation included, 1.2 ulp: tests/core/test_activations.cpp),
//   2^k: k added to the exponent field of 2^f (integer add of k << 23, taken from the
//        shifter's bits: no conversion, no multiply).
// 12 instructions, 8 of them multiply/FMA (ExpV: about 22, for its full-range and NaN handling).
template <class D, class V, hwy::EnableIf<sizeof(hn::TFromD<D>) == 4>* = nullptr>
HWY_INLINE V Exp2DecayV(D d, V y) {
  const hn::RebindToSigned<D> di;
  const V yc = hn::Max(y, hn::Set(d, -125.0f));
  const V shifter = hn::Set(d, 12582912.0f);  // 1.5 * 2^23: adding it rounds to an integer
  const V ks = hn::Add(yc, shifter);
  const V f = hn::Sub(yc, hn::Sub(ks, shifter));
  V p = hn::Set(d, 0x1.420a92p-13f);
  p = hn::MulAdd(p, f, hn::Set(d, 0x1.5f3df0p-10f));
  p = hn::MulAdd(p, f, hn::Set(d, 0x1.3b2d38p-7f));
  p = hn::MulAdd(p, f, hn::Set(d, 0x1.c6aeeap-5f));
  p = hn::MulAdd(p, f, hn::Set(d, 0x1.ebfbdcp-3f));
  p = hn::MulAdd(p, f, hn::Set(d, 0x1.62e430p-1f));
  p = hn::MulAdd(p, f, hn::Set(d, 1.0f));
  // the low bits of ks hold k (two's complement within the mantissa): << 23 is k << 23
  const auto k23 = hn::ShiftLeft<23>(hn::BitCast(di, ks));
  return hn::BitCast(d, hn::Add(hn::BitCast(di, p), k23));
}

// log1p(v) for v in [0, 1]. float32: core/activations.hpp's log1p_unit_ps (2 atanh(s),
// s = v / (2 + v), odd series to s^17); float64: Highway's Log1p (within 2 ulp).
template <class D, class V, hwy::EnableIf<sizeof(hn::TFromD<D>) == 4>* = nullptr>
HWY_INLINE V Log1pUnitV(D d, V v) {
  const V s = hn::Div(v, hn::Add(hn::Set(d, 2.0f), v));
  const V s2 = hn::Mul(s, s);
  V p = hn::Set(d, 1.0f / 17.0f);
  p = hn::MulAdd(p, s2, hn::Set(d, 1.0f / 15.0f));
  p = hn::MulAdd(p, s2, hn::Set(d, 1.0f / 13.0f));
  p = hn::MulAdd(p, s2, hn::Set(d, 1.0f / 11.0f));
  p = hn::MulAdd(p, s2, hn::Set(d, 1.0f / 9.0f));
  p = hn::MulAdd(p, s2, hn::Set(d, 1.0f / 7.0f));
  p = hn::MulAdd(p, s2, hn::Set(d, 1.0f / 5.0f));
  p = hn::MulAdd(p, s2, hn::Set(d, 1.0f / 3.0f));
  p = hn::MulAdd(p, s2, hn::Set(d, 1.0f));
  return hn::Mul(hn::Add(s, s), p);
}
template <class D, class V, hwy::EnableIf<sizeof(hn::TFromD<D>) == 8>* = nullptr>
HWY_INLINE V Log1pUnitV(D d, V v) {
  return hn::Log1p(d, v);
}

template <class D, class V>
HWY_INLINE V SoftplusV(D d, V x) {
  // NaN in: e^{-|x|} is NaN, so is the sum.
  const V e = ExpV(d, hn::Neg(hn::Abs(x)));
  return hn::Add(hn::Max(x, hn::Zero(d)), Log1pUnitV(d, e));
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

// GeluV(d, x) for float32: x/2 erfc(-x / sqrt 2) (nn.GELU()'s exact form), with
//   erfc(z) = t exp(-z^2 + P(t)),  t = 1 / (1 + z/2),  z = |x| / sqrt 2 >= 0
// (the Chebyshev fit of Numerical Recipes' erfcc, P of degree 9, relative error < 1.2e-7 for
// every z >= 0), erfc(-z) = 2 - erfc(z) for x > 0. So that the deep negative tail keeps its
// relative precision: z^2 = x^2 / 2 is carried exactly as hi + lo (x^2 by an FMA error term),
// the exponent -z^2 + P is reduced in that split form, and 2^k (k down to -165) is applied as two
// normal factors after the mantissa, so results in the subnormal range are rounded once. |x| is
// clamped at 15 (erfc(15 / sqrt 2) underflows float). Measured against the double erfc form:
// relative error < 1e-6 where the result is normal (tests/core/test_activations.cpp). NaN gives
// NaN; gelu(-inf) is NaN as in the scalar form (-inf times 0).
template <class D, class V, hwy::EnableIf<sizeof(hn::TFromD<D>) == 4>* = nullptr>
HWY_INLINE V GeluV(D d, V x) {
  const hn::RebindToSigned<D> di;
  const V a = hn::Min(hn::Abs(x), hn::Set(d, 15.0f));
  const V hi = hn::Mul(a, a);
  const V lo = hn::MulSub(a, a, hi);  // a^2 = hi + lo exactly
  const V t = hn::Div(hn::Set(d, 1.0f), hn::MulAdd(a, hn::Set(d, 0.35355339059327376f), hn::Set(d, 1.0f)));
  V P = hn::Set(d, 0.17087277f);
  P = hn::MulAdd(P, t, hn::Set(d, -0.82215223f));
  P = hn::MulAdd(P, t, hn::Set(d, 1.48851587f));
  P = hn::MulAdd(P, t, hn::Set(d, -1.13520398f));
  P = hn::MulAdd(P, t, hn::Set(d, 0.27886807f));
  P = hn::MulAdd(P, t, hn::Set(d, -0.18628806f));
  P = hn::MulAdd(P, t, hn::Set(d, 0.09678418f));
  P = hn::MulAdd(P, t, hn::Set(d, 0.37409196f));
  P = hn::MulAdd(P, t, hn::Set(d, 1.00002368f));
  P = hn::MulAdd(P, t, hn::Set(d, -1.26551223f));
  // e^(eh + el), eh = -hi / 2 (exact), el = P - lo / 2; k from the rounded sum
  const V eh = hn::Mul(hi, hn::Set(d, -0.5f));
  const V el = hn::NegMulAdd(lo, hn::Set(d, 0.5f), P);
  const V shifter = hn::Set(d, 12582912.0f);  // 1.5 * 2^23
  const V ks = hn::MulAdd(hn::Add(eh, el), hn::Set(d, 1.44269504088896341f), shifter);
  const V kf = hn::Sub(ks, shifter);
  V r = hn::NegMulAdd(kf, hn::Set(d, 0.693145751953125f), eh);  // exact: eh and k ln2_hi are close
  r = hn::Add(r, el);
  r = hn::NegMulAdd(kf, hn::Set(d, 1.428606765330187045e-06f), r);
  V p = hn::Set(d, 0x1.6af7e8p-10f);
  p = hn::MulAdd(p, r, hn::Set(d, 0x1.126734p-7f));
  p = hn::MulAdd(p, r, hn::Set(d, 0x1.55580cp-5f));
  p = hn::MulAdd(p, r, hn::Set(d, 0x1.55541ap-3f));
  p = hn::MulAdd(p, r, hn::Set(d, 0x1.fffffcp-2f));
  p = hn::MulAdd(p, r, hn::Set(d, 1.0f));
  p = hn::MulAdd(p, r, hn::Set(d, 1.0f));
  const auto k = hn::Sub(hn::BitCast(di, ks), hn::BitCast(di, shifter));  // in [-165, 0]
  const auto k1 = hn::ShiftRight<1>(k);
  const auto bias = hn::Set(di, 127);
  const V s1 = hn::BitCast(d, hn::ShiftLeft<23>(hn::Add(k1, bias)));
  const V s2 = hn::BitCast(d, hn::ShiftLeft<23>(hn::Add(hn::Sub(k, k1), bias)));
  const V q = hn::Mul(hn::Mul(hn::Mul(t, p), s1), s2);  // erfc(|x| / sqrt 2)
  const V f = hn::IfThenElse(hn::Lt(x, hn::Zero(d)), q, hn::Sub(hn::Set(d, 2.0f), q));
  return hn::Mul(hn::Mul(hn::Set(d, 0.5f), x), f);
}

}  // namespace ssm::detail::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // SSM_CORE_SIMD_MATH_INL_
