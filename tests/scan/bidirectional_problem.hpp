#pragma once
// Test support: a random bidirectional-scan problem (double values) and its typed copies with
// BidirectionalScanArgs pointing into them; shared by test_bidirectional_scan{,_cuda}.cpp.
#include <cstdint>
#include <random>
#include <vector>

#include "ssm/scan/bidirectional_scan.hpp"

namespace bidir_test {
using namespace ssm;

struct Problem {
  int Bt = 2, Dm = 8, N = 16, L = 100, G = 1;
  bool has_D = true, has_z = true, has_bias = true, has_h0 = false, time_major = false;
  double scale = 1.0;
  // per direction
  std::vector<double> u[2], delta[2], A[2], B[2], C[2], D[2], bias[2], h0[2];
  std::vector<double> z;

  std::size_t n_seq() const { return std::size_t(Bt) * Dm * L; }
  std::size_t n_state() const { return std::size_t(Bt) * Dm * N; }
  // element offset of (b, d, t) in the sequence arrays
  std::size_t at(int b, int d, int t) const {
    return time_major ? (std::size_t(b) * L + t) * Dm + d : (std::size_t(b) * Dm + d) * L + t;
  }
  Strides3 strides() const {
    return time_major ? Strides3{std::ptrdiff_t(L) * Dm, 1, Dm} : Strides3{};
  }

  void fill(std::uint64_t seed) {
    std::mt19937_64 g(seed);
    std::normal_distribution<double> nd(0, 1);
    std::uniform_real_distribution<double> ud(0, 1);
    auto randv = [&](std::size_t n, double s) {
      std::vector<double> v(n);
      for (auto& x : v) x = s * nd(g);
      return v;
    };
    for (int k = 0; k < 2; ++k) {
      u[k] = randv(n_seq(), 1.0);
      delta[k].resize(n_seq());
      for (auto& x : delta[k]) x = 0.5 * nd(g) - 1.0;
      A[k].resize(std::size_t(Dm) * N);
      for (int d = 0; d < Dm; ++d)
        for (int n = 0; n < N; ++n) A[k][std::size_t(d) * N + n] = -(0.5 + n + ud(g));
      B[k] = randv(std::size_t(Bt) * G * N * L, 1.0);
      C[k] = randv(std::size_t(Bt) * G * N * L, 1.0);
      D[k] = randv(std::size_t(Dm), 1.0);
      bias[k] = randv(std::size_t(Dm), 0.3);
      h0[k] = randv(n_state(), 1.0);
    }
    z = randv(n_seq(), 1.0);
  }
};

template <class T>
std::vector<T> cast(const std::vector<double>& v) { return std::vector<T>(v.begin(), v.end()); }

/// Typed copies of a problem's inputs (kept alive while args point into them).
template <class T>
struct Data {
  std::vector<T> u[2], delta[2], A[2], B[2], C[2], D[2], bias[2], h0[2], last[2], z, out;
  explicit Data(const Problem& p) {
    for (int k = 0; k < 2; ++k) {
      u[k] = cast<T>(p.u[k]); delta[k] = cast<T>(p.delta[k]); A[k] = cast<T>(p.A[k]);
      B[k] = cast<T>(p.B[k]); C[k] = cast<T>(p.C[k]); D[k] = cast<T>(p.D[k]);
      bias[k] = cast<T>(p.bias[k]); h0[k] = cast<T>(p.h0[k]);
      last[k].assign(p.n_state(), T(0));
    }
    z = cast<T>(p.z);
    out.assign(p.n_seq(), T(0));
  }
  BidirectionalScanArgs<T> args(const Problem& p) {
    BidirectionalScanArgs<T> a;
    a.batch = p.Bt; a.dim = p.Dm; a.dstate = p.N; a.length = p.L; a.groups = p.G;
    a.delta_softplus = true;
    a.out_scale = T(p.scale);
    for (int k = 0; k < 2; ++k) {
      auto& d = a.dir[k];
      d.u = u[k].data(); d.delta = delta[k].data(); d.A = A[k].data(); d.B = B[k].data(); d.C = C[k].data();
      d.D = p.has_D ? D[k].data() : nullptr;
      d.delta_bias = p.has_bias ? bias[k].data() : nullptr;
      d.h0 = p.has_h0 ? h0[k].data() : nullptr;
      d.last_state = last[k].data();
      d.u_strides = d.delta_strides = p.strides();
    }
    a.z = p.has_z ? z.data() : nullptr;
    a.z_strides = a.out_strides = p.strides();
    a.out = out.data();
    return a;
  }
};

inline std::vector<Problem> problems() {
  std::vector<Problem> v;
  auto add = [&](int Bt, int Dm, int N, int L, int G, bool D, bool z, bool bias, bool h0, bool tm, double scale) {
    Problem p;
    p.Bt = Bt; p.Dm = Dm; p.N = N; p.L = L; p.G = G;
    p.has_D = D; p.has_z = z; p.has_bias = bias; p.has_h0 = h0; p.time_major = tm; p.scale = scale;
    p.fill(1000 + v.size());
    v.push_back(p);
  };
  add(1, 4, 4, 1, 1, true, true, true, false, false, 1.0);      // L = 1
  add(2, 8, 16, 197, 1, true, true, true, false, true, 0.5);    // Vim-like: odd L, time-major, halved
  add(2, 24, 8, 65, 2, true, true, true, true, false, 1.0);     // groups, h0, L = block + 1
  add(1, 40, 1, 130, 4, false, false, false, true, true, 1.0);  // dstate 1, no D / z / bias, tile > 16
  add(3, 6, 3, 7, 3, true, false, true, true, false, 0.5);      // dstate 3, groups of 2 channels
  add(1, 17, 16, 129, 1, false, true, false, false, true, 1.0); // 17 channels: a partial lane group
  return v;
}

}  // namespace bidir_test
