// GPU diag_scan (the S4D scan mode, x_t = Ad x_{t-1} + Bd u_t, y_t = 2 Re(C x_t) + D u_t) as a
// fraction of the FP32 FMA rate measured in the same run: a complex multiply-add a mode-step is
// counted as 4 FMAs (the issue's count), so the fraction is 4 B H L N2 / time / FMA rate. Rows:
// the earlier chunked warp scan (legacy, the baseline), the register-resident sequential scan
// with its automatic choice, and its variants (modes a thread 4/8/16, one time chunk or the
// automatic split). Also the fraction of the copy bandwidth for the bytes moved (u read, y
// written) and the largest difference to the legacy output (relative to max |y|).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "backend/scan_cuda.hpp"
#include "common/compare.hpp"
#include "common/cuda_timing.hpp"
#include "common/gpu_peaks.cuh"
#include "backend/fill.hpp"
#include "ssm/core/device.hpp"
#include "ssm/core/device_buffer.hpp"
#include "ssm/scan/diag_scan.hpp"

namespace {

using ssm::bench::check;
using ssm::bench::max_rel_diff;

struct Problem {
  const char* name;
  int B, H, N2;
  long long L;
  bool channel_last;  // (B, L, H) as the models store activations; else (B, H, L)
};

}  // namespace

int main() {
  if (!ssm::cuda_available()) {
    std::printf("no GPU present\n");
    return 0;
  }
  std::printf("device: %s\n", ssm::cuda_description().c_str());
  const double fma_rate = ssm::bench::fma_per_second();
  const double copy_bw = ssm::bench::copy_bytes_per_second();
  std::printf("FP32 FMA rate %.3g /s (%.1f TFLOP/s), copy bandwidth %.3g B/s, both measured now\n\n", fma_rate,
              2 * fma_rate * 1e-12, copy_bw);
  const Problem problems[] = {
      {"B8_H768_L64K_N32", 8, 768, 32, 1LL << 16, false},
      {"B8_H768_L64K_N8", 8, 768, 8, 1LL << 16, false},
      {"B8_L64K_H768_N32_chlast", 8, 768, 32, 1LL << 16, true},
      {"B1_H768_L1M_N32", 1, 768, 32, 1LL << 20, false},
      {"B1_H768_L1M_N8", 1, 768, 8, 1LL << 20, false},
  };
  std::printf("%-26s %-14s %9s %9s %8s %9s %10s\n", "problem", "kernel", "ms", "FMA frac", "copy fr", "vs legacy",
              "max diff");
  for (const Problem& pr : problems) {
    const std::size_t n = std::size_t(pr.B) * pr.H * pr.L, hn = std::size_t(pr.H) * pr.N2;
    std::mt19937 rng(7);
    std::uniform_real_distribution<double> U(-1, 1);
    std::vector<float> A(2 * hn), Bm(2 * hn), C(2 * hn), D(pr.H), dt(pr.H);
    for (int h = 0; h < pr.H; ++h) {
      dt[h] = float(std::exp(std::log(1e-3) + (h % 97) / 96.0 * (std::log(1e-1) - std::log(1e-3))));
      D[h] = float(U(rng));
      for (int k = 0; k < pr.N2; ++k) {  // S4D-Lin: A = -1/2 + i pi n
        const std::size_t i = std::size_t(h) * pr.N2 + k;
        A[2 * i] = -0.5f;
        A[2 * i + 1] = float(M_PI * k);
        Bm[2 * i] = 1.f;
        C[2 * i] = float(U(rng) * 0.5);
        C[2 * i + 1] = float(U(rng) * 0.5);
      }
    }
    ssm::DeviceBuffer<float> dA(A), dB(Bm), dC(C), dD(D), ddt(dt), u(n), y(n);
    ssm::detail::fill_uniform(u.data(), n, 11, -1.f, 1.f);
    ssm::DiagScanArgs<float> a;
    a.batch = pr.B;
    a.channels = pr.H;
    a.modes = pr.N2;
    a.length = int(pr.L);
    a.A = dA.data();
    a.B = dB.data();
    a.C = dC.data();
    a.D = dD.data();
    a.dt = ddt.data();
    a.u = u.data();
    a.y = y.data();
    if (pr.channel_last) a.u_strides = a.y_strides = ssm::Strides3{pr.L * pr.H, 1, pr.H};
    struct Variant {
      std::string name;
      ssm::detail::DiagScanCudaConfig cfg;
    };
    std::vector<Variant> vs = {{"legacy", {0, 0, true}}, {"auto", {}}};
    for (int m : {4, 8, 16}) {
      if (m > 2 * pr.N2) continue;
      vs.push_back({"mpt" + std::to_string(m) + "_chunk1", {m, 1, false}});
      vs.push_back({"mpt" + std::to_string(m) + "_split", {m, 0, false}});
    }
    const std::size_t probe = std::min<std::size_t>(n, std::size_t(1) << 24);
    std::vector<float> ref(probe), got(probe);
    double legacy_ms = 0;
    const int reps = pr.L >= (1LL << 20) ? 3 : 5;
    for (const Variant& v : vs) {
      const double ms = ssm::bench::median_event_ms([&] { ssm::detail::diag_scan_cuda(a, v.cfg); }, reps, 1);
      check(cudaMemcpy((v.name == "legacy" ? ref : got).data(), y.data(), probe * sizeof(float),
                       cudaMemcpyDeviceToHost),
            "download");
      if (v.name == "legacy") legacy_ms = ms;
      const double fma = 4.0 * double(n) * pr.N2;
      const double bytes = 2.0 * double(n) * sizeof(float);
      std::printf("%-26s %-14s %9.3f %9.3f %8.3f %8.2fx %10.2e\n", pr.name, v.name.c_str(), ms,
                  fma / (ms * 1e-3) / fma_rate, bytes / (ms * 1e-3) / copy_bw, legacy_ms / ms,
                  v.name == "legacy" ? 0.0 : max_rel_diff(got, ref));
      std::printf("SUMMARY diag_scan %s %s ms=%.4f\n", pr.name, v.name.c_str(), ms);
    }
  }
  return 0;
}
