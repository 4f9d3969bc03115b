// Streaming diagonal filter (DiagFilter<float>), H = 64 channels x N2 = 32 complex modes, in
// blocks of 64 frames and one frame per call. Reported, all measured in this run:
//   ns/sample          time per frame (all 64 channels)
//   fraction of peak   useful FMA-slot operations / the core's FMA peak, the peak measured by
//                      an FMA-bound loop (independent vector FMA chains at the width of the
//                      SIMD target the library runs on: bench/common/fma_peak.hpp)
//   vs std::complex    speed-up over a plain std::complex<float> loop doing the same recurrence
// Operation count per mode and sample: x = a x + b u is 6 multiply/FMA slots on split re/im
// (ar xr, -ai xi, +br u; ar xi, +ai xr, +bi u), the read-out 2 (cr r, -ci i): 8 slots.
#include <benchmark/benchmark.h>

#include <complex>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "common/baselines.hpp"
#include "common/fma_peak.hpp"
#include "ssm/continuous/s4d_init.hpp"
#include "ssm/stream/diag_filter.hpp"

namespace {

constexpr int kH = 64, kN2 = 32, kBlock = 64;
constexpr double kSlotsPerModeSample = 8.0;

ssm::DiagonalSSM bench_model() {
  ssm::S4DInitOptions o;
  o.seed = 1;
  return ssm::s4d_init(ssm::S4DInit::legs, kH, kN2, o);
}

std::vector<float> input(std::size_t n) {
  std::vector<float> u(n);
  for (std::size_t i = 0; i < n; ++i) u[i] = static_cast<float>((i * 7919 % 1000) / 1000.0 - 0.5);
  return u;
}

void BM_DiagFilter_Block64(benchmark::State& st) {
  ssm::DiagFilter<float> f(bench_model());
  f.prepare({48000.0, kBlock, 1.0, kH});
  const auto u = input(kH * kBlock);
  std::vector<float> y(u.size());
  for (auto _ : st) {
    f.process_interleaved(u.data(), y.data(), kBlock);
    benchmark::DoNotOptimize(y.data());
  }
  st.SetItemsProcessed(st.iterations() * kBlock);  // frames
  st.counters["ns/sample"] = benchmark::Counter(static_cast<double>(st.iterations()) * kBlock,
                                                benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_DiagFilter_PerSample(benchmark::State& st) {
  ssm::DiagFilter<float> f(bench_model());
  f.prepare({48000.0, 1, 1.0, kH});
  const auto u = input(kH * kBlock);
  std::vector<float> y(u.size());
  for (auto _ : st) {
    for (int t = 0; t < kBlock; ++t) f.process_interleaved(u.data() + t * kH, y.data() + t * kH, 1);
    benchmark::DoNotOptimize(y.data());
  }
  st.SetItemsProcessed(st.iterations() * kBlock);
  st.counters["ns/sample"] = benchmark::Counter(static_cast<double>(st.iterations()) * kBlock,
                                                benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// Baseline: the obvious implementation with std::complex<float>, same discretized modes.
void BM_StdComplex_Block64(benchmark::State& st) {
  ssm::bench::ComplexDiagBaseline plain(bench_model());
  const auto u = input(kH * kBlock);
  std::vector<float> y(u.size());
  for (auto _ : st) {
    plain.run(u.data(), y.data(), kBlock);
    benchmark::DoNotOptimize(y.data());
    benchmark::DoNotOptimize(plain.x.data());
  }
  st.SetItemsProcessed(st.iterations() * kBlock);
  st.counters["ns/sample"] = benchmark::Counter(static_cast<double>(st.iterations()) * kBlock,
                                                benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

class Capture : public benchmark::ConsoleReporter {
public:
  std::map<std::string, double> seconds;  // CPU seconds per iteration (the host may be shared)
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs)
      if (r.run_type == Run::RT_Iteration && r.iterations > 0)
        seconds[r.benchmark_name()] = r.cpu_accumulated_time / static_cast<double>(r.iterations);
    ConsoleReporter::ReportRuns(runs);
  }
};

}  // namespace

BENCHMARK(BM_DiagFilter_Block64);
BENCHMARK(BM_DiagFilter_PerSample);
BENCHMARK(BM_StdComplex_Block64);

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  Capture rep;
  benchmark::RunSpecifiedBenchmarks(&rep);
  auto& s = rep.seconds;
  if (!s.count("BM_DiagFilter_Block64") || !s.count("BM_DiagFilter_PerSample") ||
      !s.count("BM_StdComplex_Block64"))
    return 0;  // filtered run: no summary
  const double peak = ssm::bench::fma_peak_slots_per_s();  // on the ISA the filter runs
  const double slots_per_frame = kSlotsPerModeSample * kH * kN2;
  auto report = [&](const char* name, double sec_per_iter) {
    const double ns = sec_per_iter / kBlock * 1e9;
    const double frac = slots_per_frame / (sec_per_iter / kBlock) / peak;
    std::printf("  %-28s %8.1f ns/sample  %5.1f%% of FMA peak  %5.2fx vs std::complex\n", name, ns, 100 * frac,
                s["BM_StdComplex_Block64"] / sec_per_iter);
  };
  std::printf("\n%s\nDiagFilter<float> H=%d N2=%d, FMA peak %.1f G scalar FMA/s (this ISA's width, one thread)\n",
              ssm::bench::cpu_path_line().c_str(), kH, kN2, peak * 1e-9);
  report("block 64", s["BM_DiagFilter_Block64"]);
  report("per sample", s["BM_DiagFilter_PerSample"]);
  report("std::complex loop (block)", s["BM_StdComplex_Block64"]);
  return 0;
}
