#pragma once
// Internal: the elementwise math of the models, one implementation each, CPU and CUDA.
//
//   sigmoid(x)   1 / (1 + e^{-x})
//   silu(x)      x sigmoid(x) = x / (1 + e^{-x})                   (Mamba's gate, S4D option)
//   softplus(x)  log(1 + e^x) = max(x, 0) + log1p(e^{-|x|})        (Mamba's dt; no overflow,
//                                                                   no cancellation)
//   gelu(x)      x Phi(x) = x/2 (1 + erf(x / sqrt 2)) = x/2 erfc(-x / sqrt 2)
//                                                                  (nn.GELU() default: exact erf;
//                                                                   computed in the erfc form)
//   exp_ps(x)    float e^x, |rel err| <~ 2 ulp on the whole range; +inf above 88.72,
//                0 (or a subnormal) below -87.3, NaN propagates
//
// Forms:
//   CPU float   branch-free (selects only, no calls except gelu's erf), built on exp_ps, so
//               GCC/Clang vectorize them inside `#pragma omp simd` loops;
//   CPU double  the C library (the float64 path is the precision path);
//   CUDA        the same formulas as __device__ functions on the CUDA math library
//               (device::silu / device::softplus for float and double). The fast selective-scan
//               kernel (kernels/scan/selective_scan_fast.cuh) keeps its own MUFU
//               approximations of softplus/silu on purpose: their error bounds are stated there.
// Array forms (y[i] = f(x[i]) for i < n; y == x allowed), float and double, vectorized per SIMD
// target and dispatched (src/core/activations_simd.cpp, core/simd_math-inl.hpp has the
// formulas and error bounds): exp_n, softplus_n, sigmoid_n, silu_n, tanh_n, gelu_n (float: the
// vector erfc form GeluV, relative error < 1e-6 where normal; double: the C library's erfc per
// element), and exp2_decay_n (float only: 2^y for y <= 0, the Mamba stream's decay, Exp2DecayV).
// These vector forms (core/simd_math-inl.hpp) are the one implementation of each activation on
// the CPU: the array forms, the selective scan and the models' streaming kernels
// (src/layers/stream_kernels.cpp) all call them.
// Every function is noexcept and allocation-free (real-time safe).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__GNUC__)
#define SSM_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define SSM_ALWAYS_INLINE inline
#endif

namespace ssm::detail::math {

SSM_ALWAYS_INLINE float bits_to_float(std::int32_t i) noexcept {
  float f;
  std::memcpy(&f, &i, sizeof f);
  return f;
}

/// 2^k for integer k in [-126, 127] (a normal float built from its exponent bits).
SSM_ALWAYS_INLINE float pow2i(std::int32_t k) noexcept { return bits_to_float((k + 127) << 23); }

SSM_ALWAYS_INLINE float exp_ps(float x) noexcept {
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
SSM_ALWAYS_INLINE float log1p_unit_ps(float v) noexcept {
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

SSM_ALWAYS_INLINE float exp_t(float x) noexcept { return exp_ps(x); }
SSM_ALWAYS_INLINE double exp_t(double x) noexcept { return std::exp(x); }

SSM_ALWAYS_INLINE float softplus(float x) noexcept {
  const float ax = x < 0.0f ? -x : x;
  const float pos = x > 0.0f ? x : 0.0f;
  return pos + log1p_unit_ps(exp_ps(-ax));
}
SSM_ALWAYS_INLINE double softplus(double x) noexcept {
  return (x > 0.0 ? x : 0.0) + std::log1p(std::exp(-std::fabs(x)));
}

SSM_ALWAYS_INLINE float sigmoid(float x) noexcept { return 1.0f / (1.0f + exp_ps(-x)); }
SSM_ALWAYS_INLINE double sigmoid(double x) noexcept { return 1.0 / (1.0 + std::exp(-x)); }

SSM_ALWAYS_INLINE float silu(float x) noexcept { return x / (1.0f + exp_ps(-x)); }
SSM_ALWAYS_INLINE double silu(double x) noexcept { return x / (1.0 + std::exp(-x)); }

// 1 + erf(x/sqrt 2) = erfc(-x/sqrt 2): the erfc form keeps full relative precision for x << 0,
// where 1 + erf cancels to 0 (float: from x ~ -5.5 on).
SSM_ALWAYS_INLINE float gelu(float x) noexcept { return 0.5f * x * std::erfc(-x / 1.41421356237309504880f); }
SSM_ALWAYS_INLINE double gelu(double x) noexcept { return 0.5 * x * std::erfc(-x / 1.41421356237309504880); }

#if !defined(__CUDACC__)
void exp_n(const float* x, float* y, std::size_t n) noexcept;
void exp_n(const double* x, double* y, std::size_t n) noexcept;
void softplus_n(const float* x, float* y, std::size_t n) noexcept;
void softplus_n(const double* x, double* y, std::size_t n) noexcept;
void sigmoid_n(const float* x, float* y, std::size_t n) noexcept;
void sigmoid_n(const double* x, double* y, std::size_t n) noexcept;
void silu_n(const float* x, float* y, std::size_t n) noexcept;
void silu_n(const double* x, double* y, std::size_t n) noexcept;
void tanh_n(const float* x, float* y, std::size_t n) noexcept;
void tanh_n(const double* x, double* y, std::size_t n) noexcept;
void gelu_n(const float* x, float* y, std::size_t n) noexcept;
void gelu_n(const double* x, double* y, std::size_t n) noexcept;
void exp2_decay_n(const float* x, float* y, std::size_t n) noexcept;
#endif

#if defined(__CUDACC__)
// CUDA device forms: the same formulas on the CUDA math library.
namespace device {
__device__ __forceinline__ float exp_t(float x) { return expf(x); }
__device__ __forceinline__ double exp_t(double x) { return ::exp(x); }
__device__ __forceinline__ float log1p_t(float x) { return log1pf(x); }
__device__ __forceinline__ double log1p_t(double x) { return ::log1p(x); }
template <class T>
__device__ __forceinline__ T softplus(T x) {
  return (x > T(0) ? x : T(0)) + log1p_t(exp_t(x > T(0) ? -x : x));
}
template <class T>
__device__ __forceinline__ T silu(T x) { return x / (T(1) + exp_t(-x)); }
template <class T>
__device__ __forceinline__ T sigmoid(T x) { return T(1) / (T(1) + exp_t(-x)); }
}  // namespace device
#endif

}  // namespace ssm::detail::math
