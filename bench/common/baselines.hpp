#pragma once
// Baselines shared by the benches (bench/<stage>/ and the ssmkit-bench summary): each bench
// reports its figures as ratios to one of these, measured in the same run.
#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstddef>
#include <random>
#include <vector>

#include "ssm/discretize/diagonal.hpp"
#include "ssm/conv/fftconv.hpp"
#include "ssm/discretize/discretize.hpp"
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

/// The plain diagonal-filter baseline: the modes of `model` discretized with zoh at
/// dt_scale = 1 (as DiagFilter::prepare_scaled(1.0, ...) and prepare at the model's reference
/// rate do), held as std::complex<float>, run frame by frame with the textbook loop
///   x = a x + b u,   y = 2 Re(sum_n c x) + D u.
/// u and y interleave the H channels: frame f, channel h at f H + h.
struct ComplexDiagBaseline {
  int H, N2;
  std::vector<std::complex<float>> a, b, c, x;
  std::vector<float> D;
  explicit ComplexDiagBaseline(const DiagonalSSM& model)
      : H(model.H), N2(model.N2), a(static_cast<std::size_t>(H) * N2), b(a.size()), c(a.size()),
        x(a.size()), D(model.D.begin(), model.D.end()) {
    const auto d = discretize(model, Method::zoh, 1.0);
    for (std::size_t i = 0; i < a.size(); ++i) {
      a[i] = std::complex<float>(d.Ad.get(i));
      b[i] = std::complex<float>(d.Bd.get(i));
      c[i] = std::complex<float>(model.C.get(i));
    }
  }
  void reset() { std::fill(x.begin(), x.end(), std::complex<float>(0)); }
  void run(const float* u, float* y, int frames) {
    for (int f = 0; f < frames; ++f)
      for (int h = 0; h < H; ++h) {
        const float uu = u[f * H + h];
        std::complex<float> acc = 0;
        for (int n = 0; n < N2; ++n) {
          auto& xs = x[h * N2 + n];
          xs = a[h * N2 + n] * xs + b[h * N2 + n] * uu;
          acc += c[h * N2 + n] * xs;
        }
        y[f * H + h] = 2.0f * acc.real() + D[h] * uu;
      }
  }
};

/// The selective-scan problem the CPU benches time (B, D, N, L): Gaussian u, z, B, C (variable,
/// one group), delta ~ N(-2, 0.5), D ~ N(0, 1), delta_bias ~ N(0, 0.1), S4D-real A[d, n] =
/// -(n + 1), softplus on, zero initial state; the same draws (seed 1) in every bench.
struct ScanProblem {
  int B, D, N, L;
  std::vector<float> u, delta, z, A, Bv, Cv, Dp, bias, out;
  ScanProblem(int b, int d, int n, int l) : B(b), D(d), N(n), L(l) {
    const std::size_t seq = static_cast<std::size_t>(B) * D * L, bc = static_cast<std::size_t>(B) * N * L;
    std::mt19937 g(1);
    std::normal_distribution<float> nd(0, 1);
    auto fill = [&](std::vector<float>& v, std::size_t cnt, float scale, float shift) {
      v.resize(cnt);
      for (auto& x : v) x = shift + scale * nd(g);
    };
    fill(u, seq, 1, 0);
    fill(delta, seq, 0.5f, -2.0f);
    fill(z, seq, 1, 0);
    fill(Bv, bc, 1, 0);
    fill(Cv, bc, 1, 0);
    fill(Dp, static_cast<std::size_t>(D), 1, 0);
    fill(bias, static_cast<std::size_t>(D), 0.1f, 0);
    A.resize(static_cast<std::size_t>(D) * N);
    for (int c = 0; c < D; ++c)
      for (int k = 0; k < N; ++k) A[static_cast<std::size_t>(c) * N + k] = -static_cast<float>(k + 1);
    out.assign(seq, 0.0f);
  }
  /// Bytes a scan must move at least: u, delta, z, B, C read once, out written once (+ A, D, bias).
  double bytes() const { return 4.0 * (4.0 * B * D * L + 2.0 * B * N * L + static_cast<double>(D) * (N + 2)); }
  /// The scan problem over these arrays, or over copies of them elsewhere (device memory).
  SelectiveScanProblem<float> args_on(const float* pu, const float* pdelta, const float* pz, const float* pA,
                                      const float* pB, const float* pC, const float* pD, const float* pbias,
                                      float* pout) const {
    SelectiveScanProblem<float> a;
    a.dstate = N;
    a.delta_softplus = true;
    a.u = {pu, B, D, L}; a.delta = {pdelta, B, D, L}; a.z = {pz, B, D, L}; a.out = {pout, B, D, L};
    a.A = pA; a.B = pB; a.C = pC; a.D = pD; a.delta_bias = pbias;
    return a;
  }
  SelectiveScanProblem<float> args() {
    return args_on(u.data(), delta.data(), z.data(), A.data(), Bv.data(), Cv.data(), Dp.data(), bias.data(),
                   out.data());
  }
};

/// The straightforward selective scan: FORMAT.md's formulas in the order they are written, one
/// thread. Covers the benches' configuration: real A, variable B/C with one group, softplus,
/// delta_bias, D and z present, contiguous layouts, zero initial state. Writes `out` (B, D, L).
inline void sequential_selective_scan(const SelectiveScanProblem<float>& p, float* out) {
  struct {  // the problem's contiguous arrays by their names
    const float *u, *delta, *z, *A, *B, *C, *D, *delta_bias;
    int batch, dim;
  } a{p.u.data, p.delta.data, p.z.data, p.A, p.B.data, p.C.data, p.D, p.delta_bias, p.batch(), p.dim()};
  const int N = p.dstate, L = p.length();
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
