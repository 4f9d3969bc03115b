#pragma once
// Internal: the pointwise loops of the FFT convolution (src/conv/fftconv.cpp), per SIMD target
// (fftconv_pointwise.cpp), dispatched (core/simd.hpp). Real-time safe.
//   mul_spectrum   x[f] = x[f] k[f], complex (interleaved re, im), f < nc
//   add_scaled     y[t] = r[t] + d u[t], t < L (y may alias u)
#include <complex>
#include <cstddef>

namespace ssm::detail::fftconv {

void mul_spectrum(std::complex<float>* x, const std::complex<float>* k, std::ptrdiff_t nc) noexcept;
void mul_spectrum(std::complex<double>* x, const std::complex<double>* k, std::ptrdiff_t nc) noexcept;
void add_scaled(const float* r, float d, const float* u, float* y, std::ptrdiff_t L) noexcept;
void add_scaled(const double* r, double d, const double* u, double* y, std::ptrdiff_t L) noexcept;

}  // namespace ssm::detail::fftconv
