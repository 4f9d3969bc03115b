// The FFT convolution's pointwise loops per SIMD target (fftconv_pointwise.hpp).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "conv/fftconv_pointwise.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/highway.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "conv/fftconv_pointwise.hpp"

HWY_BEFORE_NAMESPACE();
namespace ssm::detail::fftconv::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

template <class T>
HWY_INLINE void mul(T* x, const T* k, std::ptrdiff_t nc) {
  const hn::ScalableTag<T> d;
  const std::ptrdiff_t L = static_cast<std::ptrdiff_t>(hn::Lanes(d));
  std::ptrdiff_t f = 0;
  for (; f + L <= nc; f += L) {
    hn::Vec<decltype(d)> a, b, c, e;
    hn::LoadInterleaved2(d, x + 2 * f, a, b);
    hn::LoadInterleaved2(d, k + 2 * f, c, e);
    const auto re = hn::NegMulAdd(b, e, hn::Mul(a, c));
    const auto im = hn::MulAdd(a, e, hn::Mul(b, c));
    hn::StoreInterleaved2(re, im, d, x + 2 * f);
  }
  for (; f < nc; ++f) {
    const T a = x[2 * f], b = x[2 * f + 1], c = k[2 * f], e = k[2 * f + 1];
    x[2 * f] = a * c - b * e;
    x[2 * f + 1] = a * e + b * c;
  }
}

// X[m][f] = sum_{p <= min(m, kk-1)} X[m-p][f] K[p][f], m descending, in place (header).
// On interleaved vectors x = (xr, xi, ...), k = (kr, ki, ...):
//   A = x * (kr, kr) = (xr kr, xi kr),  B = x * (ki, ki) = (xr ki, xi ki),
//   x k = A + (-B_odd, B_even) = A + (swap(B) with its even lanes negated),
// and since the swap is linear, A and B are summed over p first and swapped once at the end.
// Two outputs m and m-1 at a time share each kernel block K[p] and each input block: X[m-1-p]
// serves m-1 at this p and m at the next, so a step loads one new X and one K per p for four
// FMAs. Two vectors a step: eight independent FMA chains.
template <class D, class V>
HWY_INLINE void store_product(D d, V a, V b, typename hn::TFromD<D>* out) {
  const V r = hn::Reverse2(d, b);
  hn::StoreU(hn::OddEven(hn::Add(a, r), hn::Sub(a, r)), d, out);
}

template <class T>
HWY_INLINE void fdl(T* X, const T* K, std::ptrdiff_t stride, std::ptrdiff_t kin, std::ptrdiff_t kk,
                    std::ptrdiff_t nc) {
  const hn::ScalableTag<T> d;
  const std::ptrdiff_t N = static_cast<std::ptrdiff_t>(hn::Lanes(d));  // reals a vector
  const std::ptrdiff_t s = 2 * stride;                                  // reals between blocks
  std::ptrdiff_t vec_end = 0;                                           // complex index
#if HWY_TARGET != HWY_SCALAR  // one lane holds no complex value: the scalar loop below does it all
  {
    const std::ptrdiff_t step = N;  // complex values a step: 2 vectors of N/2
    // A tile of frequencies over all kin + kk blocks sized to stay in L1 (~32 KiB).
    const std::ptrdiff_t fit = 32768 / static_cast<std::ptrdiff_t>(2 * sizeof(T) * (kin + kk));
    const std::ptrdiff_t tile = std::clamp<std::ptrdiff_t>(fit / step * step, step, 32 * step);
    vec_end = nc / step * step;
    for (std::ptrdiff_t t0 = 0; t0 < vec_end; t0 += tile) {
      const std::ptrdiff_t t1 = std::min(vec_end, t0 + tile);
      std::ptrdiff_t m = kin - 1;
      for (; m >= 1; m -= 2) {
        const std::ptrdiff_t pm = std::min(m, kk - 1), pm1 = std::min(m - 1, kk - 1);  // pm1 <= pm
        for (std::ptrdiff_t f = t0; f < t1; f += step) {
          auto a0 = hn::Zero(d), a1 = hn::Zero(d), b0 = hn::Zero(d), b1 = hn::Zero(d);  // Y[m]
          auto c0 = hn::Zero(d), c1 = hn::Zero(d), e0 = hn::Zero(d), e1 = hn::Zero(d);  // Y[m-1]
          const T* xm = X + m * s + 2 * f;
          auto xa0 = hn::LoadU(d, xm), xa1 = hn::LoadU(d, xm + N);  // X[m - p]
          for (std::ptrdiff_t p = 0; p <= pm1; ++p) {
            const T* kp = K + p * s + 2 * f;
            const auto k0 = hn::LoadU(d, kp), k1 = hn::LoadU(d, kp + N);
            const auto kr0 = hn::DupEven(k0), ki0 = hn::DupOdd(k0);
            const auto kr1 = hn::DupEven(k1), ki1 = hn::DupOdd(k1);
            const T* xq = xm - (p + 1) * s;  // X[m - 1 - p]
            const auto xb0 = hn::LoadU(d, xq), xb1 = hn::LoadU(d, xq + N);
            a0 = hn::MulAdd(xa0, kr0, a0);
            a1 = hn::MulAdd(xa1, kr1, a1);
            b0 = hn::MulAdd(xa0, ki0, b0);
            b1 = hn::MulAdd(xa1, ki1, b1);
            c0 = hn::MulAdd(xb0, kr0, c0);
            c1 = hn::MulAdd(xb1, kr1, c1);
            e0 = hn::MulAdd(xb0, ki0, e0);
            e1 = hn::MulAdd(xb1, ki1, e1);
            xa0 = xb0;
            xa1 = xb1;
          }
          if (pm > pm1) {  // Y[m] has one more term: X[0] K[m] (xa holds X[0] now)
            const T* kp = K + pm * s + 2 * f;
            const auto k0 = hn::LoadU(d, kp), k1 = hn::LoadU(d, kp + N);
            a0 = hn::MulAdd(xa0, hn::DupEven(k0), a0);
            a1 = hn::MulAdd(xa1, hn::DupEven(k1), a1);
            b0 = hn::MulAdd(xa0, hn::DupOdd(k0), b0);
            b1 = hn::MulAdd(xa1, hn::DupOdd(k1), b1);
          }
          T* ym = X + m * s + 2 * f;
          store_product(d, a0, b0, ym);
          store_product(d, a1, b1, ym + N);
          store_product(d, c0, e0, ym - s);
          store_product(d, c1, e1, ym - s + N);
        }
      }
      if (m == 0) {  // odd kin: Y[0] = X[0] K[0]
        for (std::ptrdiff_t f = t0; f < t1; f += step) {
          T* x0 = X + 2 * f;
          const T* k0p = K + 2 * f;
          const auto x0a = hn::LoadU(d, x0), x0b = hn::LoadU(d, x0 + N);
          const auto k0 = hn::LoadU(d, k0p), k1 = hn::LoadU(d, k0p + N);
          store_product(d, hn::Mul(x0a, hn::DupEven(k0)), hn::Mul(x0a, hn::DupOdd(k0)), x0);
          store_product(d, hn::Mul(x0b, hn::DupEven(k1)), hn::Mul(x0b, hn::DupOdd(k1)), x0 + N);
        }
      }
    }
  }
#else
  (void)d;
  (void)N;
#endif
  for (std::ptrdiff_t f = vec_end; f < nc; ++f)
    for (std::ptrdiff_t m = kin - 1; m >= 0; --m) {
      const std::ptrdiff_t pmax = std::min(m, kk - 1);
      T re = 0, im = 0;
      for (std::ptrdiff_t p = 0; p <= pmax; ++p) {
        const T* x = X + (m - p) * s + 2 * f;
        const T* k = K + p * s + 2 * f;
        re += x[0] * k[0] - x[1] * k[1];
        im += x[1] * k[0] + x[0] * k[1];
      }
      X[m * s + 2 * f] = re;
      X[m * s + 2 * f + 1] = im;
    }
}

template <class T>
HWY_INLINE void add(const T* r, T ss, T dd, const T* u, T* y, std::ptrdiff_t n) {
  const hn::ScalableTag<T> d;
  const std::ptrdiff_t L = static_cast<std::ptrdiff_t>(hn::Lanes(d));
  const auto vs = hn::Set(d, ss), vd = hn::Set(d, dd);
  std::ptrdiff_t t = 0;
  for (; t + L <= n; t += L)
    hn::StoreU(hn::MulAdd(vs, hn::LoadU(d, r + t), hn::Mul(vd, hn::LoadU(d, u + t))), d, y + t);
  for (; t < n; ++t) y[t] = ss * r[t] + dd * u[t];
}

// x * 0 is 0 for finite x and NaN for an infinity or a NaN: four sums of x * 0 stay 0 exactly
// when every x is finite (no branch a vector).
template <class T>
HWY_INLINE bool finite(const T* x, std::ptrdiff_t n) {
  const hn::ScalableTag<T> d;
  const std::ptrdiff_t L = static_cast<std::ptrdiff_t>(hn::Lanes(d));
  const auto zero = hn::Zero(d);
  auto a0 = zero, a1 = zero, a2 = zero, a3 = zero;
  std::ptrdiff_t t = 0;
  for (; t + 4 * L <= n; t += 4 * L) {
    a0 = hn::MulAdd(hn::LoadU(d, x + t), zero, a0);
    a1 = hn::MulAdd(hn::LoadU(d, x + t + L), zero, a1);
    a2 = hn::MulAdd(hn::LoadU(d, x + t + 2 * L), zero, a2);
    a3 = hn::MulAdd(hn::LoadU(d, x + t + 3 * L), zero, a3);
  }
  for (; t + L <= n; t += L) a0 = hn::MulAdd(hn::LoadU(d, x + t), zero, a0);
  const auto all = hn::Add(hn::Add(a0, a1), hn::Add(a2, a3));
  if (!hn::AllTrue(d, hn::Eq(all, zero))) return false;
  for (; t < n; ++t)
    if (!(x[t] - x[t] == T(0))) return false;
  return true;
}

// finite() and a hash of the bits of x[0..n) in the same pass (the kernel's check and its key
// in the spectrum cache): per 32-bit lane h = (h ^ bits) * C, h ^= h >> 15, two accumulators,
// folded into *h64 at the end. The value depends on the vector width, which is fixed for the
// life of the process (src/core/cpu_isa.cpp), as the cache is.
template <class T>
HWY_INLINE bool finite_and_hash(const T* x, std::ptrdiff_t n, std::uint64_t* h64) {
  std::uint64_t h = *h64;
  std::ptrdiff_t t = 0;
#if HWY_TARGET != HWY_SCALAR  // one double lane is no 32-bit lane: the scalar loop does it all
  const hn::ScalableTag<T> d;
  const hn::Repartition<std::uint32_t, decltype(d)> du;
  const std::ptrdiff_t L = static_cast<std::ptrdiff_t>(hn::Lanes(d));
  const auto zero = hn::Zero(d);
  const auto mul = hn::Set(du, 0x9E3779B1u);
  auto f0 = zero, f1 = zero;
  auto h0 = hn::Set(du, 0x85EBCA77u), h1 = hn::Set(du, 0xC2B2AE3Du);
  for (; t + 2 * L <= n; t += 2 * L) {
    const auto v0 = hn::LoadU(d, x + t), v1 = hn::LoadU(d, x + t + L);
    f0 = hn::MulAdd(v0, zero, f0);
    f1 = hn::MulAdd(v1, zero, f1);
    h0 = hn::Mul(hn::Xor(h0, hn::BitCast(du, v0)), mul);
    h1 = hn::Mul(hn::Xor(h1, hn::BitCast(du, v1)), mul);
    h0 = hn::Xor(h0, hn::ShiftRight<15>(h0));
    h1 = hn::Xor(h1, hn::ShiftRight<15>(h1));
  }
  if (!hn::AllTrue(d, hn::Eq(hn::Add(f0, f1), zero))) return false;
  alignas(64) std::uint32_t lanes[2 * HWY_MAX_BYTES / 4];
  hn::Store(h0, du, lanes);
  hn::Store(h1, du, lanes + hn::Lanes(du));
  for (std::size_t i = 0; i < 2 * hn::Lanes(du); ++i) {
    h = (h ^ lanes[i]) * 0x100000001b3ull;
    h ^= h >> 29;
  }
#endif
  for (; t < n; ++t) {
    if (!(x[t] - x[t] == T(0))) return false;
    std::uint64_t bits = 0;
    std::memcpy(&bits, x + t, sizeof(T));
    h = (h ^ bits) * 0x100000001b3ull;
    h ^= h >> 29;
  }
  *h64 = h ^ static_cast<std::uint64_t>(n);
  return true;
}

void MulF32(float* x, const float* k, std::ptrdiff_t nc) { mul(x, k, nc); }
void MulF64(double* x, const double* k, std::ptrdiff_t nc) { mul(x, k, nc); }
void FdlF32(float* X, const float* K, std::ptrdiff_t s, std::ptrdiff_t kin, std::ptrdiff_t kk, std::ptrdiff_t nc) {
  fdl(X, K, s, kin, kk, nc);
}
void FdlF64(double* X, const double* K, std::ptrdiff_t s, std::ptrdiff_t kin, std::ptrdiff_t kk, std::ptrdiff_t nc) {
  fdl(X, K, s, kin, kk, nc);
}
void AddF32(const float* r, float s, float d, const float* u, float* y, std::ptrdiff_t n) { add(r, s, d, u, y, n); }
void AddF64(const double* r, double s, double d, const double* u, double* y, std::ptrdiff_t n) { add(r, s, d, u, y, n); }
bool FiniteF32(const float* x, std::ptrdiff_t n) { return finite(x, n); }
bool FiniteF64(const double* x, std::ptrdiff_t n) { return finite(x, n); }
bool FiniteHashF32(const float* x, std::ptrdiff_t n, std::uint64_t* h) { return finite_and_hash(x, n, h); }
bool FiniteHashF64(const double* x, std::ptrdiff_t n, std::uint64_t* h) { return finite_and_hash(x, n, h); }

}  // namespace ssm::detail::fftconv::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace ssm::detail::fftconv {
HWY_EXPORT(MulF32);
HWY_EXPORT(MulF64);
HWY_EXPORT(FdlF32);
HWY_EXPORT(FdlF64);
HWY_EXPORT(AddF32);
HWY_EXPORT(AddF64);
HWY_EXPORT(FiniteF32);
HWY_EXPORT(FiniteF64);
HWY_EXPORT(FiniteHashF32);
HWY_EXPORT(FiniteHashF64);

void mul_spectrum(std::complex<float>* x, const std::complex<float>* k, std::ptrdiff_t nc) noexcept {
  HWY_DYNAMIC_DISPATCH(MulF32)(reinterpret_cast<float*>(x), reinterpret_cast<const float*>(k), nc);
}
void mul_spectrum(std::complex<double>* x, const std::complex<double>* k, std::ptrdiff_t nc) noexcept {
  HWY_DYNAMIC_DISPATCH(MulF64)(reinterpret_cast<double*>(x), reinterpret_cast<const double*>(k), nc);
}
void fdl_product(std::complex<float>* X, const std::complex<float>* K, std::ptrdiff_t stride,
                 std::ptrdiff_t kin, std::ptrdiff_t kk, std::ptrdiff_t nc) noexcept {
  HWY_DYNAMIC_DISPATCH(FdlF32)(reinterpret_cast<float*>(X), reinterpret_cast<const float*>(K), stride, kin, kk, nc);
}
void fdl_product(std::complex<double>* X, const std::complex<double>* K, std::ptrdiff_t stride,
                 std::ptrdiff_t kin, std::ptrdiff_t kk, std::ptrdiff_t nc) noexcept {
  HWY_DYNAMIC_DISPATCH(FdlF64)(reinterpret_cast<double*>(X), reinterpret_cast<const double*>(K), stride, kin, kk, nc);
}
void add_scaled(const float* r, float s, float d, const float* u, float* y, std::ptrdiff_t n) noexcept {
  HWY_DYNAMIC_DISPATCH(AddF32)(r, s, d, u, y, n);
}
void add_scaled(const double* r, double s, double d, const double* u, double* y, std::ptrdiff_t n) noexcept {
  HWY_DYNAMIC_DISPATCH(AddF64)(r, s, d, u, y, n);
}
bool all_finite(const float* x, std::ptrdiff_t n) noexcept { return HWY_DYNAMIC_DISPATCH(FiniteF32)(x, n); }
bool all_finite(const double* x, std::ptrdiff_t n) noexcept { return HWY_DYNAMIC_DISPATCH(FiniteF64)(x, n); }
bool finite_and_hash(const float* x, std::ptrdiff_t n, std::uint64_t* h) noexcept {
  return HWY_DYNAMIC_DISPATCH(FiniteHashF32)(x, n, h);
}
bool finite_and_hash(const double* x, std::ptrdiff_t n, std::uint64_t* h) noexcept {
  return HWY_DYNAMIC_DISPATCH(FiniteHashF64)(x, n, h);
}
}  // namespace ssm::detail::fftconv
#endif
