#pragma once
// Internal: branch-free elementwise math for the CPU scans, written so that GCC/Clang
// vectorize it inside `#pragma omp simd` loops (no calls, no branches, selects only).
//
//   exp_ps(x)      float e^x, |rel err| <~ 2 ulp on the whole range; +inf above 88.72,
//                  0 (or a subnormal) below -87.3, NaN propagates
//   softplus(x)    log(1 + e^x) = max(x, 0) + log1p(e^{-|x|}), no overflow, no cancellation
//   silu(x)        x / (1 + e^{-x})
// and the run-time ISA choice of the scans' hot loops (detect_isa; the loops are compiled again
// with SSM_SCAN_TARGET_AVX512 / SSM_SCAN_TARGET_AVX2 where SSM_SCAN_HAVE_ISA_VARIANTS is set).
// The double versions call the C library (the float64 path is the precision path).
#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__GNUC__)
#define SSM_SCAN_INLINE inline __attribute__((always_inline))
#else
#define SSM_SCAN_INLINE inline
#endif

// ISA variants of the hot loops (x86-64 GCC/Clang); elsewhere only the baseline.
#if defined(__x86_64__) && defined(__GNUC__)
#define SSM_SCAN_HAVE_ISA_VARIANTS 1
#define SSM_SCAN_TARGET_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma,bmi2")))
#define SSM_SCAN_TARGET_AVX2 __attribute__((target("avx2,fma,bmi2")))
#endif

namespace ssm::detail::scanmath {

enum class Isa { base, avx2, avx512 };

/// The widest ISA variant this CPU runs (callers cache it in a function-local static).
inline Isa detect_isa() noexcept {
#if defined(SSM_SCAN_HAVE_ISA_VARIANTS)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw"))
    return Isa::avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::avx2;
#endif
  return Isa::base;
}

SSM_SCAN_INLINE float bits_to_float(std::int32_t i) noexcept {
  float f;
  std::memcpy(&f, &i, sizeof f);
  return f;
}

/// 2^k for integer k in [-126, 127] (a normal float built from its exponent bits).
SSM_SCAN_INLINE float pow2i(std::int32_t k) noexcept { return bits_to_float((k + 127) << 23); }

SSM_SCAN_INLINE float exp_ps(float x) noexcept {
  // Keep k = round(x log2 e) within [-150, 129]; the scale 2^k is applied as two normal
  // factors 2^(k/2) 2^(k - k/2), so results down to the subnormal range and the overflow to
  // +inf come out of the multiplication itself.
  // NaN-safe clamp (NaN -> 0 here; the result is replaced by NaN below): the float-to-int
  // conversion of k further down must never see NaN or out-of-range values.
  const float xc = x != x ? 0.0f : (x < -104.0f ? -104.0f : (x > 89.0f ? 89.0f : x));
  const float shifter = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float kf = (xc * 1.44269504088896341f + shifter) - shifter;
  // Cody-Waite: r = x - k ln2 with ln2 split in a part exact in float and a remainder.
  float r = xc - kf * 0.693145751953125f;
  r = r - kf * 1.428606765330187045e-06f;
  // e^r on |r| <= 0.347: Taylor to degree 7 (truncation < 4e-9 relative).
  float p = 1.98412698e-4f;
  p = p * r + 1.38888889e-3f;
  p = p * r + 8.33333333e-3f;
  p = p * r + 4.16666667e-2f;
  p = p * r + 1.66666667e-1f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const std::int32_t k = static_cast<std::int32_t>(kf);
  const std::int32_t k1 = k >> 1;
  const float res = p * pow2i(k1) * pow2i(k - k1);
  return x != x ? x : res;  // NaN in, NaN out
}

/// log1p(v) for v in [0, 1]: 2 atanh(s) with s = v / (2 + v) in [0, 1/3]; odd series to s^17.
SSM_SCAN_INLINE float log1p_unit_ps(float v) noexcept {
  const float s = v / (2.0f + v);
  const float s2 = s * s;
  float p = 1.0f / 17.0f;
  p = p * s2 + 1.0f / 15.0f;
  p = p * s2 + 1.0f / 13.0f;
  p = p * s2 + 1.0f / 11.0f;
  p = p * s2 + 1.0f / 9.0f;
  p = p * s2 + 1.0f / 7.0f;
  p = p * s2 + 1.0f / 5.0f;
  p = p * s2 + 1.0f / 3.0f;
  p = p * s2 + 1.0f;
  return 2.0f * s * p;
}

SSM_SCAN_INLINE float softplus(float x) noexcept {
  const float ax = x < 0.0f ? -x : x;
  const float pos = x > 0.0f ? x : 0.0f;
  return pos + log1p_unit_ps(exp_ps(-ax));
}
SSM_SCAN_INLINE double softplus(double x) noexcept {
  return (x > 0.0 ? x : 0.0) + std::log1p(std::exp(-std::fabs(x)));
}

SSM_SCAN_INLINE float silu(float x) noexcept { return x / (1.0f + exp_ps(-x)); }
SSM_SCAN_INLINE double silu(double x) noexcept { return x / (1.0 + std::exp(-x)); }

SSM_SCAN_INLINE float exp_t(float x) noexcept { return exp_ps(x); }
SSM_SCAN_INLINE double exp_t(double x) noexcept { return std::exp(x); }

}  // namespace ssm::detail::scanmath
