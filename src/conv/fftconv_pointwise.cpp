// The FFT convolution's pointwise loops per SIMD target (fftconv_pointwise.hpp).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "conv/fftconv_pointwise.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/highway.h>

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

template <class T>
HWY_INLINE void add(const T* r, T dd, const T* u, T* y, std::ptrdiff_t n) {
  const hn::ScalableTag<T> d;
  const std::ptrdiff_t L = static_cast<std::ptrdiff_t>(hn::Lanes(d));
  const auto vd = hn::Set(d, dd);
  std::ptrdiff_t t = 0;
  for (; t + L <= n; t += L) hn::StoreU(hn::MulAdd(vd, hn::LoadU(d, u + t), hn::LoadU(d, r + t)), d, y + t);
  for (; t < n; ++t) y[t] = r[t] + dd * u[t];
}

void MulF32(float* x, const float* k, std::ptrdiff_t nc) { mul(x, k, nc); }
void MulF64(double* x, const double* k, std::ptrdiff_t nc) { mul(x, k, nc); }
void AddF32(const float* r, float d, const float* u, float* y, std::ptrdiff_t n) { add(r, d, u, y, n); }
void AddF64(const double* r, double d, const double* u, double* y, std::ptrdiff_t n) { add(r, d, u, y, n); }

}  // namespace ssm::detail::fftconv::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace ssm::detail::fftconv {
HWY_EXPORT(MulF32);
HWY_EXPORT(MulF64);
HWY_EXPORT(AddF32);
HWY_EXPORT(AddF64);

void mul_spectrum(std::complex<float>* x, const std::complex<float>* k, std::ptrdiff_t nc) noexcept {
  HWY_DYNAMIC_DISPATCH(MulF32)(reinterpret_cast<float*>(x), reinterpret_cast<const float*>(k), nc);
}
void mul_spectrum(std::complex<double>* x, const std::complex<double>* k, std::ptrdiff_t nc) noexcept {
  HWY_DYNAMIC_DISPATCH(MulF64)(reinterpret_cast<double*>(x), reinterpret_cast<const double*>(k), nc);
}
void add_scaled(const float* r, float d, const float* u, float* y, std::ptrdiff_t n) noexcept {
  HWY_DYNAMIC_DISPATCH(AddF32)(r, d, u, y, n);
}
void add_scaled(const double* r, double d, const double* u, double* y, std::ptrdiff_t n) noexcept {
  HWY_DYNAMIC_DISPATCH(AddF64)(r, d, u, y, n);
}
}  // namespace ssm::detail::fftconv
#endif
