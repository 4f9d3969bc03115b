// GPU selective scan (Mamba S6 forward) throughput against the device's own copy bandwidth,
// measured in the same run: for each problem the bytes the scan must move (u, delta, z, B, C
// read once, out written once) are compared with a cudaMemcpy device-to-device moving the same
// number of bytes (half read, half written). fraction = copy time / scan time (goal >= 0.8).
//
// Problems (variable B/C, one group, D, z, delta_bias, softplus; real A, N = 16):
//   (B=8, D=2048, N=16, L=4096) and (B=1, D=1536, N=16, L=65536), float32 and bf16 storage
//   (float32 compute). Prints a summary table; lines "SUMMARY scan <name> ms=<t>" are read by
//   bench/scan/torch_selective_scan_ref.py for the ratio to a sequential PyTorch loop.
// The kernel column says which CUDA kernel ran; SSM_CUDA_SCAN_KERNEL=legacy|fast|auto picks
// it (auto: the fast kernel where it applies, which it does for all four problems).
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/fill.hpp"
#include "scan/selective_scan_ext.hpp"
#include "ssm/core/device.hpp"
#include "ssm/core/device_buffer.hpp"
#include "ssm/core/error.hpp"

namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw ssm::Error(std::string(what) + ": " + cudaGetErrorString(e));
}

struct Result {
  double scan_ms = 0, copy_ms = 0, bytes = 0;
  std::string kernel;
};
std::map<std::string, Result>& results() {
  static std::map<std::string, Result> r;
  return r;
}

/// Median of `reps` event-timed runs of f (after 3 warm-ups), in ms.
template <class F>
double time_ms(F&& f, int reps) {
  cudaEvent_t a, b;
  check(cudaEventCreate(&a), "cudaEventCreate");
  check(cudaEventCreate(&b), "cudaEventCreate");
  for (int i = 0; i < 3; ++i) f();
  check(cudaDeviceSynchronize(), "warm-up");
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    check(cudaEventRecord(a), "cudaEventRecord");
    f();
    check(cudaEventRecord(b), "cudaEventRecord");
    check(cudaEventSynchronize(b), "cudaEventSynchronize");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, a, b), "cudaEventElapsedTime");
    t.push_back(ms);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

void BM_selective_scan(benchmark::State& state, const char* name, int B, int D, int N, int L, bool bf16) {
  if (!ssm::cuda_available()) {
    state.SkipWithError("no GPU present");
    return;
  }
  const std::size_t BDL = std::size_t(B) * D * L, BNL = std::size_t(B) * N * L;
  const std::size_t es = bf16 ? 2 : 4;
  const double bytes = double(es) * (4.0 * BDL + 2.0 * BNL);  // u, delta, z, out, B, C
  ssm::DeviceBuffer<float> A(std::size_t(D) * N), Dv(D), bias(D), last(std::size_t(B) * D * N);
  ssm::detail::fill_uniform(A.data(), A.size(), 1, -8.f, -0.5f);
  ssm::detail::fill_uniform(Dv.data(), Dv.size(), 2, -1.f, 1.f);
  ssm::detail::fill_uniform(bias.data(), bias.size(), 3, -4.f, -2.f);
  ssm::SelectiveScanArgs<float> a;
  a.batch = B; a.dim = D; a.dstate = N; a.length = L; a.groups = 1;
  a.delta_softplus = true;
  a.A = A.data(); a.D = Dv.data(); a.delta_bias = bias.data(); a.last_state = last.data();

  ssm::DeviceBuffer<float> u, dl, z, Bm, Cm, out;
  ssm::DeviceBuffer<std::uint16_t> hu, hdl, hz, hB, hC, hout;
  std::function<void()> run;
  if (bf16) {
    hu = decltype(hu)(BDL); hdl = decltype(hdl)(BDL); hz = decltype(hz)(BDL); hout = decltype(hout)(BDL);
    hB = decltype(hB)(BNL); hC = decltype(hC)(BNL);
    ssm::detail::fill_uniform_bf16(hu.data(), BDL, 4, -1.f, 1.f);
    ssm::detail::fill_uniform_bf16(hdl.data(), BDL, 5, -1.f, 1.f);
    ssm::detail::fill_uniform_bf16(hz.data(), BDL, 6, -2.f, 2.f);
    ssm::detail::fill_uniform_bf16(hB.data(), BNL, 7, -1.f, 1.f);
    ssm::detail::fill_uniform_bf16(hC.data(), BNL, 8, -1.f, 1.f);
    ssm::detail::SelectiveScanBf16 io{hu.data(), hdl.data(), hz.data(), hB.data(), hC.data(), hout.data()};
    run = [a, io] { ssm::detail::selective_scan_cuda_bf16(a, io, /*synchronize=*/false); };
  } else {
    u = decltype(u)(BDL); dl = decltype(dl)(BDL); z = decltype(z)(BDL); out = decltype(out)(BDL);
    Bm = decltype(Bm)(BNL); Cm = decltype(Cm)(BNL);
    ssm::detail::fill_uniform(u.data(), BDL, 4, -1.f, 1.f);
    ssm::detail::fill_uniform(dl.data(), BDL, 5, -1.f, 1.f);
    ssm::detail::fill_uniform(z.data(), BDL, 6, -2.f, 2.f);
    ssm::detail::fill_uniform(Bm.data(), BNL, 7, -1.f, 1.f);
    ssm::detail::fill_uniform(Cm.data(), BNL, 8, -1.f, 1.f);
    a.u = u.data(); a.delta = dl.data(); a.z = z.data(); a.B = Bm.data(); a.C = Cm.data();
    a.out = out.data();
    a.validate();
    run = [a] { ssm::detail::selective_scan_cuda_async(a); };
  }
  // Copy baseline: the same number of bytes moved (bytes/2 read + bytes/2 written).
  const std::size_t half = static_cast<std::size_t>(bytes / 2);
  ssm::DeviceMemory src(half), dst(half);
  src.zero();
  const double copy_ms = time_ms([&] { check(cudaMemcpyAsync(dst.get(), src.get(), half, cudaMemcpyDeviceToDevice), "copy"); }, 20);
  double scan_ms = 0;
  for (auto _ : state) {
    scan_ms = time_ms(run, 10);
    state.SetIterationTime(scan_ms * 1e-3);
  }
  check(cudaDeviceSynchronize(), "selective scan");
  state.counters["GB/s"] = bytes / (scan_ms * 1e-3) * 1e-9;
  state.counters["copy_GB/s"] = bytes / (copy_ms * 1e-3) * 1e-9;
  state.counters["frac_of_copy"] = copy_ms / scan_ms;
  // The kernel that ran (SSM_CUDA_SCAN_KERNEL=legacy|fast|auto selects it for A/B runs).
  const char* kernel = ssm::detail::selective_scan_kernel_name(a);
  state.SetLabel(kernel);
  results()[name] = Result{scan_ms, copy_ms, bytes, kernel};
}

}  // namespace

BENCHMARK_CAPTURE(BM_selective_scan, f32_B8_D2048_N16_L4096, "/f32_B8_D2048_N16_L4096", 8, 2048, 16, 4096, false)
    ->UseManualTime()->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_selective_scan, bf16_B8_D2048_N16_L4096, "/bf16_B8_D2048_N16_L4096", 8, 2048, 16, 4096, true)
    ->UseManualTime()->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_selective_scan, f32_B1_D1536_N16_L65536, "/f32_B1_D1536_N16_L65536", 1, 1536, 16, 65536, false)
    ->UseManualTime()->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_selective_scan, bf16_B1_D1536_N16_L65536, "/bf16_B1_D1536_N16_L65536", 1, 1536, 16, 65536, true)
    ->UseManualTime()->Iterations(1)->Unit(benchmark::kMillisecond);

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  std::printf("device: %s\n", ssm::cuda_description().c_str());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::printf("\n%-44s %8s %10s %10s %12s %10s\n", "selective scan (median of 10)", "kernel", "ms",
              "GB/s", "copy GB/s", "fraction");
  for (const auto& [name, r] : results()) {
    std::printf("%-44s %8s %10.3f %10.1f %12.1f %10.2f\n", name.c_str(), r.kernel.c_str(), r.scan_ms,
                r.bytes / r.scan_ms * 1e-6, r.bytes / r.copy_ms * 1e-6, r.copy_ms / r.scan_ms);
    std::printf("SUMMARY scan %s ms=%.4f\n", name.c_str(), r.scan_ms);
  }
  return 0;
}
