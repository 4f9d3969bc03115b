// GPU FFT convolution (ssm::CudaFFTConv: cached kernel spectra with D and 1/n folded
// in, plans cached, in-place batched R2C/C2R, one fused spectral product) against the plain
// cuFFT recipe measured in the same run (fftconv_cuda_unfused: per call it plans, transforms
// the kernel, transforms u out of place, multiplies, transforms back and adds D u in a
// separate pass). Full-length kernels (Lk = L), B = 8, H = 768, L = 64K and 1M.
// At L = 1M the unfused baseline's buffers for B = 8 exceed GPU memory, so both paths are
// also timed at B = 1 and compared there (the fused path's B = 8 time is printed as well).
// GB/s counts the bytes that must move (u read, y written) over the median time.
// `python3 bench/conv/torch_fftconv_ref.py LOG` adds the ratio to torch.fft on the same GPU.
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "backend/fftconv_device.hpp"
#include "common/cuda_timing.hpp"
#include "backend/fill.hpp"
#include "ssm/core/device.hpp"
#include "ssm/core/device_buffer.hpp"
#include "ssm/core/error.hpp"

namespace {

using ssm::bench::check;

/// Median of `reps` event-timed runs of f after 1 warm-up run, in ms (the first run plans
/// and allocates workspaces).
template <class F>
double time_ms(F&& f, int reps) {
  return ssm::bench::median_event_ms(std::forward<F>(f), reps, 1);
}

struct Row {
  double ms, gbs;
};
std::map<std::string, Row>& results() {
  static std::map<std::string, Row> r;
  return r;
}

void BM_fftconv(benchmark::State& state, const char* name, int B, int H, long long L, bool fused) {
  if (!ssm::cuda_available()) {
    state.SkipWithError("no GPU present");
    return;
  }
  const std::size_t n = std::size_t(B) * H * L;
  ssm::DeviceBuffer<float> u(n), y(n), k(std::size_t(H) * L), D(H);
  ssm::detail::fill_uniform(u.data(), n, 11, -1.f, 1.f);
  ssm::detail::fill_uniform(k.data(), k.size(), 12, -1e-3f, 1e-3f);
  ssm::detail::fill_uniform(D.data(), D.size(), 13, -1.f, 1.f);
  double ms = 0;
  const int reps = L > (1 << 20) - 1 ? 3 : 5;
  if (fused) {
    ssm::CudaFFTConv conv(H, L, k.data(), L, D.data());
    for (auto _ : state) {
      ms = time_ms([&] { conv.apply(u.data(), y.data(), B, L); }, reps);
      state.SetIterationTime(ms * 1e-3);
    }
  } else {
    for (auto _ : state) {
      ms = time_ms([&] { ssm::detail::fftconv_cuda_unfused(u.data(), k.data(), L, D.data(), y.data(), B, H, L); }, reps);
      state.SetIterationTime(ms * 1e-3);
    }
  }
  const double gbs = 2.0 * double(n) * 4 / (ms * 1e-3) * 1e-9;
  state.counters["GB/s"] = gbs;
  results()[name] = Row{ms, gbs};
}

}  // namespace

#define SSM_FFT_BENCH(name, B, H, L, fused) \
  BENCHMARK_CAPTURE(BM_fftconv, name, "/" #name, B, H, L, fused)->UseManualTime()->Iterations(1)->Unit(benchmark::kMillisecond)
SSM_FFT_BENCH(fused_B8_H768_L64K, 8, 768, 65536LL, true);
SSM_FFT_BENCH(unfused_B8_H768_L64K, 8, 768, 65536LL, false);
SSM_FFT_BENCH(fused_B8_H768_L1M, 8, 768, 1048576LL, true);
SSM_FFT_BENCH(fused_B1_H768_L1M, 1, 768, 1048576LL, true);
SSM_FFT_BENCH(unfused_B1_H768_L1M, 1, 768, 1048576LL, false);

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  std::printf("device: %s\n", ssm::cuda_description().c_str());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  auto& r = results();
  auto get = [&](const char* key) -> const Row* {
    for (const auto& [name, row] : r)
      if (name.find(key) != std::string::npos) return &row;
    return nullptr;
  };
  std::printf("\n%-40s %10s %10s\n", "fftconv (median)", "ms", "GB/s");
  for (const auto& [name, row] : r) std::printf("%-40s %10.2f %10.1f\n", name.c_str(), row.ms, row.gbs);
  const Row *f64 = get("/fused_B8_H768_L64K"), *u64 = get("/unfused_B8_H768_L64K");
  const Row *f1 = get("/fused_B1_H768_L1M"), *u1 = get("/unfused_B1_H768_L1M");
  if (f64 && u64) std::printf("speed-up fused vs unfused cuFFT, B=8 H=768 L=64K: %.2fx\n", u64->ms / f64->ms);
  if (f1 && u1) std::printf("speed-up fused vs unfused cuFFT, B=1 H=768 L=1M:  %.2fx\n", u1->ms / f1->ms);
  // Read by bench/conv/torch_fftconv_ref.py for the ratio to torch.fft on the same GPU.
  for (const auto& [name, row] : r) std::printf("SUMMARY fftconv %s ms=%.4f\n", name.c_str(), row.ms);
  return 0;
}
