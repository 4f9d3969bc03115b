#pragma once
// One random cross-scan problem (host data + CrossScanArgs) in the contiguous layout or the
// channels-last layout SS2DBlock passes, and a direct float64 transcription of the op's
// definition; shared by test_cross_scan.cpp and test_cross_scan_cuda.cpp.
#include <cmath>
#include <vector>

#include "ssm/scan/cross_scan.hpp"
#include "support/testing.hpp"

namespace ssm::test {

struct Shape {
  int batch, dim, dstate, H, W;
  bool channels_last;  // u/delta/out channels-last, B/C inside x_dbl-like rows
  bool h0 = true, D = true, bias = true;
};

// One problem's host data, in the layout `channels_last` selects, plus the CrossScanArgs.
template <class T>
struct Problem {
  Shape s;
  std::vector<T> u, delta, A, bc, D, bias, h0, out, last;
  std::ptrdiff_t XD = 0;  // row width of the B/C rows (channels-last)
  CrossScanArgs<T> args;

  explicit Problem(const Shape& sh, std::uint64_t seed) : s(sh) {
    const std::ptrdiff_t L = std::ptrdiff_t(s.H) * s.W, Bt = s.batch, dim = s.dim, N = s.dstate;
    auto rnd = [&](std::size_t n, double scale, double shift, std::uint64_t sd) {
      const auto v = test::randn(n, seed * 131 + sd);
      std::vector<T> r(n);
      for (std::size_t i = 0; i < n; ++i) r[i] = static_cast<T>(shift + scale * v[i]);
      return r;
    };
    u = rnd(std::size_t(Bt * dim * L), 1.0, 0.0, 1);
    delta = rnd(std::size_t(Bt * 4 * dim * L), 0.5, -1.0, 2);
    A.resize(std::size_t(4 * dim * N));
    for (std::size_t i = 0; i < A.size(); ++i) A[i] = -static_cast<T>(0.5 + double(i % N));
    if (s.D) D = rnd(std::size_t(4 * dim), 1.0, 0.0, 3);
    if (s.bias) bias = rnd(std::size_t(4 * dim), 0.3, 0.0, 4);
    if (s.h0) h0 = rnd(std::size_t(Bt * 4 * dim * N), 1.0, 0.0, 5);
    out.assign(std::size_t(Bt * dim * L), T(0));
    last.assign(std::size_t(Bt * 4 * dim * N), T(0));
    auto& a = args;
    a.batch = s.batch;
    a.dim = s.dim;
    a.dstate = s.dstate;
    a.height = s.H;
    a.width = s.W;
    a.delta_softplus = true;
    if (s.channels_last) {
      // B and C interleaved in rows of XD = 4 (2N + 3) per position (like x_dbl with R = 3).
      XD = 4 * (2 * N + 3);
      bc = rnd(std::size_t(Bt * L * XD), 1.0, 0.0, 6);
      a.B = bc.data() + 3;
      a.C = bc.data() + 3 + N;
      a.B_strides = a.C_strides = Strides4{L * XD, 2 * N + 3, 1, XD};
      a.u_strides = a.out_strides = Strides3{L * dim, 1, dim};
      a.delta_strides = Strides3{L * 4 * dim, 1, 4 * dim};
    } else {
      bc = rnd(std::size_t(2 * Bt * 4 * N * L), 1.0, 0.0, 6);
      a.B = bc.data();
      a.C = bc.data() + Bt * 4 * N * L;
    }
    a.u = u.data();
    a.delta = delta.data();
    a.A = A.data();
    a.D = s.D ? D.data() : nullptr;
    a.delta_bias = s.bias ? bias.data() : nullptr;
    a.h0 = s.h0 ? h0.data() : nullptr;
    a.out = out.data();
    a.last_state = last.data();
  }

  // Direct float64 transcription of the header's definition.
  void reference(std::vector<double>& ref_out, std::vector<double>& ref_last) const {
    const auto& a = args;
    const std::ptrdiff_t L = std::ptrdiff_t(a.height) * a.width, dim = a.dim, N = a.dstate;
    const Strides3 su = a.u_strides.resolved(dim, L), so = a.out_strides.resolved(dim, L),
                   sd = a.delta_strides.resolved(4 * dim, L);
    const Strides4 sB = a.B_strides.resolved(4, N, L), sC = a.C_strides.resolved(4, N, L);
    ref_out.assign(out.size(), 0.0);
    ref_last.assign(last.size(), 0.0);
    for (std::ptrdiff_t b = 0; b < a.batch; ++b)
      for (int k = 0; k < 4; ++k)
        for (std::ptrdiff_t c = 0; c < dim; ++c) {
          const std::ptrdiff_t j = k * dim + c;
          std::vector<double> h(std::size_t(N), 0.0);
          if (a.h0)
            for (std::ptrdiff_t n = 0; n < N; ++n) h[n] = a.h0[(b * 4 * dim + j) * N + n];
          for (std::ptrdiff_t l = 0; l < L; ++l) {
            const std::ptrdiff_t p = cross_scan_position(k, l, a.height, a.width);
            double dt = double(a.delta[sd.offset(b, j, p)]) + (a.delta_bias ? double(a.delta_bias[j]) : 0.0);
            dt = std::log1p(std::exp(dt));
            const double uu = a.u[su.offset(b, c, p)];
            double y = 0;
            for (std::ptrdiff_t n = 0; n < N; ++n) {
              h[n] = std::exp(dt * double(a.A[j * N + n])) * h[n] + dt * double(a.B[sB.offset(b, k, n, p)]) * uu;
              y += double(a.C[sC.offset(b, k, n, p)]) * h[n];
            }
            const std::size_t oi = std::size_t(so.offset(b, c, p));
            ref_out[oi] += y + (a.D ? double(a.D[j]) : 0.0) * uu;
          }
          for (std::ptrdiff_t n = 0; n < N; ++n) ref_last[std::size_t((b * 4 * dim + j) * N + n)] = h[n];
        }
  }
};

}  // namespace ssm::test
