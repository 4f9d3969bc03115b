// CPU 2D cross-scan (VMamba SS2D's CrossScan + selective scan + CrossMerge), float32, in the
// layout SS2DBlock uses (channels-last u / delta / out, B and C inside the x_proj rows), at the
// VMamba-T stage-1 shape (56 x 56, d_inner 192, N = 16, dt_rank 6; batch 32 by default,
// --batch B to change it on small machines). Measured in the same run, with one thread and
// with the whole OpenMP team:
//   fused    ssm::cross_selective_scan (one copy of u, index maps, merge into the output);
//   unfused  ssm::cross_selective_scan_unfused (the four direction-ordered copies,
//            ssm::selective_scan with groups = 4, merge).
// Prints the median time of --reps runs and the ratios unfused / fused and 1 thread / team.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "ssm/scan/cross_scan.hpp"

namespace {

template <class F>
double median_ms(F&& f, int reps) {
  f();  // warm-up
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int batch = 32, hw = 56, reps = 3;
  const int dim = 192, N = 16, R = 6;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--batch")) batch = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--hw")) hw = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--reps")) reps = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: %s [--batch B] [--hw S] [--reps R]\n", argv[0]);
      return 2;
    }
  }
  const std::ptrdiff_t L = std::ptrdiff_t(hw) * hw, M = batch * L, XD4 = 4 * (R + 2 * N);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> U(-1.f, 1.f);
  auto fill = [&](std::size_t n, float lo, float hi) {
    std::vector<float> v(n);
    for (auto& x : v) x = lo + (hi - lo) * (U(rng) + 1.f) / 2.f;
    return v;
  };
  const auto u = fill(std::size_t(M * dim), -1, 1), delta = fill(std::size_t(M * 4 * dim), -1, 1),
             xdbl = fill(std::size_t(M * XD4), -1, 1), A = fill(std::size_t(4 * dim * N), -8, -0.5f),
             D = fill(std::size_t(4 * dim), -1, 1), bias = fill(std::size_t(4 * dim), -4, -2);
  std::vector<float> out(std::size_t(M * dim));
  ssm::CrossScanArgs<float> a;
  a.batch = batch; a.dim = dim; a.dstate = N; a.height = hw; a.width = hw;
  a.u = u.data(); a.delta = delta.data(); a.A = A.data(); a.B = xdbl.data() + R; a.C = xdbl.data() + R + N;
  a.D = D.data(); a.delta_bias = bias.data(); a.out = out.data();
  a.u_strides = a.out_strides = ssm::Strides3{L * dim, 1, dim};
  a.delta_strides = ssm::Strides3{L * 4 * dim, 1, 4 * dim};
  a.B_strides = a.C_strides = ssm::Strides4{L * XD4, R + 2 * N, 1, XD4};

  const int team = std::max(1, omp_get_max_threads());
  double t[2][2];  // [threads one/team][fused/unfused]
  for (int ti = 0; ti < 2; ++ti) {
    omp_set_num_threads(ti == 0 ? 1 : team);
    t[ti][0] = median_ms([&] { ssm::cross_selective_scan(a); }, reps);
    t[ti][1] = median_ms([&] { ssm::cross_selective_scan_unfused(a); }, reps);
  }
  std::printf("cross_scan CPU f32 B=%d %dx%d dim=%d N=%d (team = %d threads)\n", batch, hw, hw, dim, N, team);
  for (int ti = 0; ti < 2; ++ti)
    std::printf("  %-8s fused %9.2f ms  unfused %9.2f ms  unfused/fused %.2fx\n", ti == 0 ? "1 thread" : "team",
                t[ti][0], t[ti][1], t[ti][1] / t[ti][0]);
  std::printf("  team speed-up over 1 thread: fused %.2fx, unfused %.2fx\n", t[0][0] / t[1][0], t[0][1] / t[1][1]);
  return 0;
}
