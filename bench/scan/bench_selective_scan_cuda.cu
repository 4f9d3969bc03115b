// GPU selective scan (Mamba S6 forward) throughput against the device's own copy bandwidth,
// measured in the same run: for each problem the bytes the scan must move (u, delta, z, B, C
// read once, out written once) are compared with a cudaMemcpy device-to-device moving the same
// number of bytes (half read, half written). fraction = copy time / scan time (goal >= 0.8).
// The scan also needs one exp a state-step (B D N L of them, on the MUFU pipe, 16 a clock an
// SM on Hopper): the bench measures the device's ex2 throughput in the same run with a kernel of
// independent ex2 chains, and prints ex2_ms = B D N L / that rate, the compute floor, and the
// fraction of max(copy time, ex2 time), the roofline bound of the two.
//
// Problems (variable B/C, one group, D, z, delta_bias, softplus; real A, N = 16):
//   (B=8, D=2048, N=16, L=4096) and (B=1, D=1536, N=16, L=65536), float32 and bf16 storage,
//   and (B=2, D=2048, N=16, L=4096) float32, a mid-size shape for the automatic choice
//   (float32 compute). Prints a summary table; lines "SUMMARY scan <name> ms=<t>" are read by
//   bench/scan/torch_selective_scan_ref.py for the ratio to a sequential PyTorch loop.
// Every problem runs with every kernel that applies, in the same process: the legacy chunked
// warp scan, the fast kernel with 1, 2 and 4 states a thread in one pass, the fast kernel with
// time split into segments ("split"), and "auto" (what an ordinary call runs: the variant it
// picks for the shape). The table gives each
// one's fraction of the copy bandwidth and its speed-up over the legacy kernel.
//
// Streams: 16 small independent scans (B=1, D=512, N=16, L=2048 each, as many separate requests
// of online inference are) queued on one CudaStream against the same spread over 4 streams:
// wall time from the first queue to the last synchronize, median of 10; the ratio is what
// queuing independent work on several streams buys when one scan does not fill the GPU.
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/cuda_timing.hpp"
#include "backend/fill.hpp"
#include "backend/selective_scan_ext.hpp"
#include "ssm/core/cuda_stream.hpp"
#include "ssm/core/device.hpp"
#include "ssm/core/device_buffer.hpp"
#include "ssm/core/error.hpp"

namespace {

using ssm::bench::check;

/// Independent chains x <- 2^-x (8 a thread): all MUFU.EX2, the pipe the scan's exp runs on.
__global__ void ex2_peak_kernel(float* out, int iters) {
  float v[8];
#pragma unroll
  for (int i = 0; i < 8; ++i) v[i] = 1e-3f * static_cast<float>(threadIdx.x + 37 * i);
  for (int k = 0; k < iters; ++k) {
#pragma unroll
    for (int i = 0; i < 8; ++i) asm volatile("ex2.approx.ftz.f32 %0, %1;" : "=f"(v[i]) : "f"(-v[i]));
  }
  float s = 0.f;
#pragma unroll
  for (int i = 0; i < 8; ++i) s += v[i];
  if (s == 12345.f) out[0] = s;  // keeps the chains alive; never true in practice
}

struct Result {
  double scan_ms = 0, copy_ms = 0, bytes = 0, ex2_ms = 0;
  std::string kernel;  // the kernel that ran (auto: the one it picked)
};
/// results()[problem][variant]
std::map<std::string, std::map<std::string, Result>>& results() {
  static std::map<std::string, std::map<std::string, Result>> r;
  return r;
}

struct Variant {
  const char* name;
  ssm::detail::ScanKernel kernel;
};
const Variant kVariants[] = {{"auto", ssm::detail::ScanKernel::automatic},
                             {"legacy", ssm::detail::ScanKernel::legacy},
                             {"fast1", ssm::detail::ScanKernel::fast_s1},
                             {"fast2", ssm::detail::ScanKernel::fast_s2},
                             {"fast4", ssm::detail::ScanKernel::fast_s4},
                             {"split", ssm::detail::ScanKernel::fast_split}};

struct Problem {
  const char* name;
  int B, D, N, L;
  bool bf16;
};
const Problem kProblems[] = {{"f32_B8_D2048_N16_L4096", 8, 2048, 16, 4096, false},
                             {"bf16_B8_D2048_N16_L4096", 8, 2048, 16, 4096, true},
                             {"f32_B1_D1536_N16_L65536", 1, 1536, 16, 65536, false},
                             {"f32_B2_D2048_N16_L4096", 2, 2048, 16, 4096, false},  // mid-size: the choice
                             {"bf16_B1_D1536_N16_L65536", 1, 1536, 16, 65536, true}};

ssm::SelectiveScanArgs<float> shape_of(const Problem& pr) {
  ssm::SelectiveScanArgs<float> a;
  a.batch = pr.B; a.dim = pr.D; a.dstate = pr.N; a.length = pr.L; a.groups = 1;
  a.delta_softplus = true;
  return a;
}

/// Median of `reps` event-timed runs of f after 3 warm-up runs, in ms.
template <class F>
double time_ms(F&& f, int reps) {
  return ssm::bench::median_event_ms(std::forward<F>(f), reps, 3);
}

/// ex2 a second of the device (median of 5 timed launches of 132k-thread chains), measured once.
double ex2_per_second() {
  static const double rate = [] {
    int dev = 0, sms = 1;
    check(cudaGetDevice(&dev), "cudaGetDevice");
    check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev), "cudaDeviceGetAttribute");
    ssm::DeviceBuffer<float> sink(1);
    const int blocks = sms * 8, threads = 256, iters = 4096;
    const double ms = time_ms([&] { ex2_peak_kernel<<<blocks, threads>>>(sink.data(), iters); }, 5);
    check(cudaGetLastError(), "ex2_peak_kernel");
    return double(blocks) * threads * iters * 8 / (ms * 1e-3);
  }();
  return rate;
}

void BM_selective_scan(benchmark::State& state, Problem pr, Variant var) {
  const int B = pr.B, D = pr.D, N = pr.N, L = pr.L;
  const bool bf16 = pr.bf16;
  const auto kernel_choice = var.kernel;
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
  ssm::SelectiveScanArgs<float> a = shape_of(pr);
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
    run = [a, io, kernel_choice] { ssm::detail::selective_scan_cuda_bf16(a, io, /*synchronize=*/false, kernel_choice); };
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
    run = [a, kernel_choice] { ssm::detail::selective_scan_cuda_async(a, kernel_choice); };
  }
  // Copy baseline: the same number of bytes moved (bytes/2 read + bytes/2 written). 100 untimed
  // copies first: with 3, the first row of a small problem measured up to 15% less bandwidth
  // than its later rows (the device coming back from the host-side set-up of the problem).
  const std::size_t half = static_cast<std::size_t>(bytes / 2);
  ssm::DeviceMemory src(half), dst(half);
  src.zero();
  const double copy_ms = ssm::bench::median_event_ms(
      [&] { check(cudaMemcpyAsync(dst.get(), src.get(), half, cudaMemcpyDeviceToDevice), "copy"); }, 20, 100);
  double scan_ms = 0;
  for (auto _ : state) {
    scan_ms = time_ms(run, 10);
    state.SetIterationTime(scan_ms * 1e-3);
  }
  check(cudaDeviceSynchronize(), "selective scan");
  state.counters["GB/s"] = bytes / (scan_ms * 1e-3) * 1e-9;
  state.counters["copy_GB/s"] = bytes / (copy_ms * 1e-3) * 1e-9;
  state.counters["frac_of_copy"] = copy_ms / scan_ms;
  const double ex2_ms = double(B) * D * N * L / ex2_per_second() * 1e3;  // one exp a state-step
  state.counters["frac_of_bound"] = std::max(copy_ms, ex2_ms) / scan_ms;
  const char* kernel = ssm::detail::selective_scan_kernel_name(a, kernel_choice);
  state.SetLabel(kernel);
  results()[pr.name][var.name] = Result{scan_ms, copy_ms, bytes, ex2_ms, kernel};
}

/// The streams section (see the file comment).
void streams_section() {
  constexpr int kScans = 16, kStreams = 4, B = 1, D = 512, N = 16, L = 2048;
  const std::size_t BDL = std::size_t(B) * D * L, BNL = std::size_t(B) * N * L;
  ssm::DeviceBuffer<float> A(std::size_t(D) * N), Dv(D), bias(D);
  ssm::detail::fill_uniform(A.data(), A.size(), 1, -8.f, -0.5f);
  ssm::detail::fill_uniform(Dv.data(), Dv.size(), 2, -1.f, 1.f);
  ssm::detail::fill_uniform(bias.data(), bias.size(), 3, -4.f, -2.f);
  std::vector<ssm::DeviceBuffer<float>> bufs;
  std::vector<ssm::SelectiveScanArgs<float>> args;
  for (int i = 0; i < kScans; ++i) {
    auto make = [&](std::size_t n, std::uint64_t seed, float lo, float hi) {
      bufs.emplace_back(n);
      ssm::detail::fill_uniform(bufs.back().data(), n, seed, lo, hi);
      return bufs.back().data();
    };
    ssm::SelectiveScanArgs<float> a;
    a.batch = B; a.dim = D; a.dstate = N; a.length = L; a.groups = 1; a.delta_softplus = true;
    a.A = A.data(); a.D = Dv.data(); a.delta_bias = bias.data();
    a.u = make(BDL, 100 + 8 * i, -1.f, 1.f);
    a.delta = make(BDL, 101 + 8 * i, -1.f, 1.f);
    a.z = make(BDL, 102 + 8 * i, -2.f, 2.f);
    a.B = make(BNL, 103 + 8 * i, -1.f, 1.f);
    a.C = make(BNL, 104 + 8 * i, -1.f, 1.f);
    a.out = make(BDL, 105 + 8 * i, 0.f, 0.f);
    args.push_back(a);
  }
  std::vector<ssm::CudaStream> streams(kStreams);
  auto wall_ms = [&](int used) {
    auto once = [&] {
      for (int i = 0; i < kScans; ++i) ssm::selective_scan(args[i], streams[i % used]);
      for (int s = 0; s < used; ++s) streams[s].synchronize();
    };
    for (int w = 0; w < 3; ++w) once();
    std::vector<double> t;
    for (int r = 0; r < 10; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      once();
      t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
  };
  const double one = wall_ms(1), four = wall_ms(kStreams);
  std::printf("\nstreams: %d scans B=%d D=%d N=%d L=%d (kernel %s): 1 stream %.3f ms, %d streams %.3f ms: %.2fx\n",
              kScans, B, D, N, L, ssm::detail::selective_scan_kernel_name(args[0]), one, kStreams, four, one / four);
}

}  // namespace

int main(int argc, char** argv) {
  for (const Problem& pr : kProblems)
    for (const Variant& v : kVariants) {
      const int forced = v.kernel == ssm::detail::ScanKernel::fast_s1 ? 1
                         : v.kernel == ssm::detail::ScanKernel::fast_s2 ? 2
                         : v.kernel == ssm::detail::ScanKernel::fast_s4 ? 4 : 0;
      if (forced && !ssm::detail::selective_scan_fast_applies(shape_of(pr), forced)) continue;
      benchmark::RegisterBenchmark((std::string(pr.name) + "/" + v.name).c_str(), BM_selective_scan, pr, v)
          ->UseManualTime()->Iterations(1)->Unit(benchmark::kMillisecond);
    }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  std::printf("device: %s\n", ssm::cuda_description().c_str());
  if (ssm::cuda_available())
    std::printf("MUFU ex2 throughput (measured): %.3g /s\n", ex2_per_second());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::printf("\n%-26s %-7s %-11s %8s %8s %9s %8s %8s %8s %9s\n", "selective scan (median 10)", "variant",
              "kernel", "ms", "GB/s", "copy GB/s", "fraction", "ex2 ms", "of bound", "vs legacy");
  for (const auto& [name, rows] : results()) {
    const auto legacy = rows.find("legacy");
    for (const auto& [var, r] : rows) {
      std::printf("%-26s %-7s %-11s %8.3f %8.1f %9.1f %8.2f %8.3f %8.2f", name.c_str(), var.c_str(),
                  r.kernel.c_str(), r.scan_ms, r.bytes / r.scan_ms * 1e-6, r.bytes / r.copy_ms * 1e-6,
                  r.copy_ms / r.scan_ms, r.ex2_ms, std::max(r.copy_ms, r.ex2_ms) / r.scan_ms);
      if (legacy != rows.end()) std::printf(" %9.2fx", legacy->second.scan_ms / r.scan_ms);
      std::printf("\n");
    }
    if (const auto a = rows.find("auto"); a != rows.end())
      std::printf("SUMMARY scan /%s ms=%.4f\n", name.c_str(), a->second.scan_ms);
  }
  if (ssm::cuda_available()) streams_section();
  return 0;
}
