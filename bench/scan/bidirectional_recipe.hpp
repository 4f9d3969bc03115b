#pragma once
// Bench support: a bidirectional-scan problem (u, delta, z, out time-major by default:
// (batch, length, dim) memory, viewed as (batch, dim, length) with strides (L D, 1, D), as
// BiMambaBlock's CPU path holds them; or (batch, dim, length) contiguous;
// variable B/C (batch, 1, N, L); D, delta_bias, softplus, z) and the unfused CPU recipe the
// fused op replaces: flip direction 1's u, delta, B, C and z into new arrays, run the plain
// selective scan on each direction, flip direction 1's output back and add.
#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "ssm/scan/bidirectional_scan.hpp"
#include "backend/selective_scan_params.hpp"  // the unfused recipe runs the plain scan on kernel parameters

namespace ssm::bench {

struct BidirShape {
  int B, D, N, L;
  std::string name() const {
    return "B" + std::to_string(B) + "_D" + std::to_string(D) + "_N" + std::to_string(N) + "_L" + std::to_string(L);
  }
};

template <class T>
struct BidirProblem {
  BidirShape s;
  std::vector<T> u[2], delta[2], A[2], B[2], C[2], D[2], bias[2], z, out;
  // unfused recipe scratch
  std::vector<T> ur, dr, Br, Cr, zr, out0, out1;

  bool time_major = true;  // false: (batch, dim, length) contiguous, Vim's scan layout on the GPU

  explicit BidirProblem(BidirShape shape, bool time_major_layout = true) : s(shape), time_major(time_major_layout) {
    std::mt19937_64 g(42);
    std::normal_distribution<float> nd(0, 1);
    const std::size_t seq = std::size_t(s.B) * s.D * s.L, bc = std::size_t(s.B) * s.N * s.L;
    auto randv = [&](std::size_t n, float sc, float sh) {
      std::vector<T> v(n);
      for (auto& x : v) x = T(sh + sc * nd(g));
      return v;
    };
    for (int k = 0; k < 2; ++k) {
      u[k] = randv(seq, 1, 0);
      delta[k] = randv(seq, 0.5f, -1.f);
      A[k].resize(std::size_t(s.D) * s.N);
      for (int d = 0; d < s.D; ++d)
        for (int n = 0; n < s.N; ++n) A[k][std::size_t(d) * s.N + n] = T(-(n + 1));
      B[k] = randv(bc, 1, 0);
      C[k] = randv(bc, 1, 0);
      D[k] = randv(std::size_t(s.D), 1, 0);
      bias[k] = randv(std::size_t(s.D), 0.3f, 0);
    }
    z = randv(seq, 1, 0);
    out.assign(seq, T(0));
    ur.resize(seq); dr.resize(seq); zr.resize(seq); out0.resize(seq); out1.resize(seq);
    Br.resize(bc); Cr.resize(bc);
  }
  Strides3 tm() const { return time_major ? Strides3{std::ptrdiff_t(s.L) * s.D, 1, s.D} : Strides3{}; }
  /// Bytes the fused op must move: u, delta, B, C of both directions and z read once, out written once.
  double bytes() const {
    const double seq = double(s.B) * s.D * s.L, bc = double(s.B) * s.N * s.L;
    return sizeof(T) * (2 * (2 * seq + 2 * bc) + 2 * seq);
  }

  BidirectionalScanArgs<T> fused_args() {
    BidirectionalScanArgs<T> a;
    a.batch = s.B; a.dim = s.D; a.dstate = s.N; a.length = s.L;
    a.delta_softplus = true;
    a.out_scale = T(0.5);
    for (int k = 0; k < 2; ++k) {
      auto& d = a.dir[k];
      d.u = u[k].data(); d.delta = delta[k].data(); d.A = A[k].data(); d.B = B[k].data(); d.C = C[k].data();
      d.D = D[k].data(); d.delta_bias = bias[k].data();
      d.u_strides = d.delta_strides = tm();
    }
    a.z = z.data();
    a.z_strides = a.out_strides = tm();
    a.out = out.data();
    return a;
  }

  SelectiveScanArgs<T> plain_args(int k, const T* uu, const T* dd, const T* BB, const T* CC, const T* zz, T* o) {
    SelectiveScanArgs<T> a;
    a.batch = s.B; a.dim = s.D; a.dstate = s.N; a.length = s.L;
    a.delta_softplus = true;
    a.u = uu; a.delta = dd; a.A = A[k].data(); a.B = BB; a.C = CC; a.D = D[k].data(); a.z = zz;
    a.delta_bias = bias[k].data(); a.out = o;
    a.u_strides = a.delta_strides = a.z_strides = a.out_strides = tm();
    return a;
  }

  /// The unfused recipe on the CPU with `threads` threads (time-major layout).
  void unfused_cpu(int threads) {
    const std::size_t D = s.D, L = s.L, N = s.N;
    // flips (time-major rows of D for u, delta, z; rows of L for B, C)
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int b = 0; b < s.B; ++b) {
      for (std::size_t t = 0; t < L; ++t) {
        const std::size_t src = (b * L + t) * D, dst = (b * L + (L - 1 - t)) * D;
        std::memcpy(ur.data() + dst, u[1].data() + src, D * sizeof(T));
        std::memcpy(dr.data() + dst, delta[1].data() + src, D * sizeof(T));
        std::memcpy(zr.data() + dst, z.data() + src, D * sizeof(T));
      }
      for (std::size_t n = 0; n < N; ++n) {
        const T* bs = B[1].data() + (b * N + n) * L;
        const T* cs = C[1].data() + (b * N + n) * L;
        std::reverse_copy(bs, bs + L, Br.data() + (b * N + n) * L);
        std::reverse_copy(cs, cs + L, Cr.data() + (b * N + n) * L);
      }
    }
    const ScanCpuOptions o{threads, 0};
    selective_scan_cpu(plain_args(0, u[0].data(), delta[0].data(), B[0].data(), C[0].data(), z.data(), out0.data()), o);
    selective_scan_cpu(plain_args(1, ur.data(), dr.data(), Br.data(), Cr.data(), zr.data(), out1.data()), o);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int b = 0; b < s.B; ++b)
      for (std::size_t t = 0; t < L; ++t) {
        const T* f = out0.data() + (b * L + t) * D;
        const T* r = out1.data() + (b * L + (L - 1 - t)) * D;
        T* o2 = out.data() + (b * L + t) * D;
        for (std::size_t c = 0; c < D; ++c) o2[c] = T(0.5) * (f[c] + r[c]);
      }
  }
};

}  // namespace ssm::bench
