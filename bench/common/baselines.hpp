#pragma once
// Baselines shared by the benches (bench/<stage>/ and the ssmkit-bench summary): each bench
// reports its figures as ratios to one of these, measured in the same run.
#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "ssm/conv/fftconv.hpp"
#include "ssm/scan/selective_scan.hpp"

namespace ssm::bench {

/// The plain FFT-convolution baseline: y[h] = causal conv(u[h], k[h]) + D[h] u[h] one row at a
/// time with nothing reused: plan, transform kernel and input, multiply, transform back and
/// destroy the plans, for every row of every call; one thread. k is (H, Lk); u, y are (H, L).
inline void naive_fftw_conv(const float* u, const float* k, const float* D, float* y, std::ptrdiff_t H,
                            std::ptrdiff_t L, std::ptrdiff_t Lk) {
  const int n = static_cast<int>(ssm::fft_fast_size(L + std::min(L, Lk) - 1));
  const int nc = n / 2 + 1;
  float* a = fftwf_alloc_real(static_cast<std::size_t>(n));
  float* b = fftwf_alloc_real(static_cast<std::size_t>(n));
  fftwf_complex* A = fftwf_alloc_complex(static_cast<std::size_t>(nc));
  fftwf_complex* K = fftwf_alloc_complex(static_cast<std::size_t>(nc));
  for (std::ptrdiff_t h = 0; h < H; ++h) {
    fftwf_plan fa = fftwf_plan_dft_r2c_1d(n, a, A, FFTW_ESTIMATE);
    fftwf_plan fb = fftwf_plan_dft_r2c_1d(n, b, K, FFTW_ESTIMATE);
    fftwf_plan inv = fftwf_plan_dft_c2r_1d(n, A, a, FFTW_ESTIMATE);
    std::fill(a, a + n, 0.f);
    std::fill(b, b + n, 0.f);
    std::copy(u + h * L, u + (h + 1) * L, a);
    std::copy(k + h * Lk, k + h * Lk + std::min(L, Lk), b);
    fftwf_execute(fa);
    fftwf_execute(fb);
    for (int f = 0; f < nc; ++f) {
      const float re = A[f][0] * K[f][0] - A[f][1] * K[f][1];
      const float im = A[f][0] * K[f][1] + A[f][1] * K[f][0];
      A[f][0] = re;
      A[f][1] = im;
    }
    fftwf_execute(inv);
    const float s = 1.f / static_cast<float>(n);
    for (std::ptrdiff_t t = 0; t < L; ++t) y[h * L + t] = a[t] * s + D[h] * u[h * L + t];
    fftwf_destroy_plan(fa);
    fftwf_destroy_plan(fb);
    fftwf_destroy_plan(inv);
  }
  fftwf_free(a);
  fftwf_free(b);
  fftwf_free(A);
  fftwf_free(K);
}

/// The straightforward selective scan: FORMAT.md's formulas in the order they are written, one
/// thread. Covers the benches' configuration: real A, variable B/C with one group, softplus,
/// delta_bias, D and z present, contiguous layouts, zero initial state. Writes `out` (B, D, L).
inline void sequential_selective_scan(const SelectiveScanArgs<float>& a, float* out) {
  const int N = a.dstate, L = a.length;
  std::vector<float> h(static_cast<std::size_t>(N));
  for (int b = 0; b < a.batch; ++b)
    for (int c = 0; c < a.dim; ++c) {
      std::fill(h.begin(), h.end(), 0.0f);
      for (int t = 0; t < L; ++t) {
        const std::size_t i = (static_cast<std::size_t>(b) * a.dim + c) * L + t;
        float dt = a.delta[i] + a.delta_bias[c];
        dt = dt > 20.0f ? dt : std::log1p(std::exp(dt));
        float y = 0;
        for (int n = 0; n < N; ++n) {
          const std::size_t bi = (static_cast<std::size_t>(b) * N + n) * L + t;
          h[n] = std::exp(dt * a.A[static_cast<std::size_t>(c) * N + n]) * h[n] + dt * a.B[bi] * a.u[i];
          y += a.C[bi] * h[n];
        }
        y += a.D[c] * a.u[i];
        out[i] = y * a.z[i] / (1.0f + std::exp(-a.z[i]));
      }
    }
}

}  // namespace ssm::bench
