#pragma once
// Internal: the pointwise loops of the FFT convolution (src/conv/fftconv.cpp), per SIMD target
// (fftconv_pointwise.cpp), dispatched (core/simd.hpp). Real-time safe. Complex arrays are
// interleaved (re, im), as FFTW stores them.
//   mul_spectrum   x[f] = x[f] k[f], f < nc
//   fdl_product    the frequency-domain sum of the block (uniformly partitioned) convolution:
//                  for m < kin, f < nc:  X[m][f] = sum_{p <= min(m, kk-1)} X[m-p][f] K[p][f],
//                  where X[j] = X + j*stride and K[p] = K + p*stride (complex values); X is
//                  replaced in place (m descending: X[m] is overwritten once no later m needs it).
//                  Frequencies are processed in tiles so the kin + kk blocks of a tile stay in cache.
//   add_scaled     y[t] = s r[t] + d u[t], t < L (y may alias u: u[t] is read before y[t] is written)
//   all_finite     no NaN or Inf among x[0..n)
//   finite_and_hash  all_finite and, in the same pass, *h = a hash of *h and the bits of x[0..n)
//                  (unchanged when false is returned); stable within a process
#include <complex>
#include <cstddef>
#include <cstdint>

namespace ssm::detail::fftconv {

void mul_spectrum(std::complex<float>* x, const std::complex<float>* k, std::ptrdiff_t nc) noexcept;
void mul_spectrum(std::complex<double>* x, const std::complex<double>* k, std::ptrdiff_t nc) noexcept;
void fdl_product(std::complex<float>* X, const std::complex<float>* K, std::ptrdiff_t stride,
                 std::ptrdiff_t kin, std::ptrdiff_t kk, std::ptrdiff_t nc) noexcept;
void fdl_product(std::complex<double>* X, const std::complex<double>* K, std::ptrdiff_t stride,
                 std::ptrdiff_t kin, std::ptrdiff_t kk, std::ptrdiff_t nc) noexcept;
void add_scaled(const float* r, float s, float d, const float* u, float* y, std::ptrdiff_t L) noexcept;
void add_scaled(const double* r, double s, double d, const double* u, double* y, std::ptrdiff_t L) noexcept;
bool all_finite(const float* x, std::ptrdiff_t n) noexcept;
bool all_finite(const double* x, std::ptrdiff_t n) noexcept;
bool finite_and_hash(const float* x, std::ptrdiff_t n, std::uint64_t* h) noexcept;
bool finite_and_hash(const double* x, std::ptrdiff_t n, std::uint64_t* h) noexcept;

}  // namespace ssm::detail::fftconv
