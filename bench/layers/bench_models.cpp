// Model throughput.
//  * S4D model (4 layers, H = 64, N2 = 32, post-norm, GELU, mono in/out) streaming at 48 kHz on
//    one core, blocks of 64 and per sample: real-time factor (audio seconds per second).
//  * Mamba model (d_model = 256, 4 layers, d_state 16, expand 2, d_conv 4): tokens per second
//    in step mode (process(), one token at a time, batch 1) and scan mode (forward over 2048
//    tokens, batch 1) on the CPU; and forward with the selective scan on CUDA when present.
// Baseline measured in the same run: the single-core FMA peak (GFLOP/s, float32, independent
// fused multiply-add chains in SIMD registers). Each model reports its useful GFLOP/s (the
// multiply-adds of its linear maps and recurrences) as a fraction of that peak, and the
// summary prints the step/scan ratio. OpenMP runs on one thread unless OMP_NUM_THREADS is set.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "ssm/core/device.hpp"
#include "ssm/layers/mamba_model.hpp"
#include "ssm/layers/s4d_model.hpp"

namespace {

std::map<std::string, double>& results() {
  static std::map<std::string, double> r;
  return r;
}

// ---- baseline: FMA peak of one core ---------------------------------------------------------

#if defined(__AVX512F__)
constexpr int kVecBytes = 64;
#else
constexpr int kVecBytes = 32;
#endif
typedef float VecF __attribute__((vector_size(kVecBytes)));
constexpr int kChains = 12;  // independent FMA chains: > latency x ports, < register count
constexpr int kLanes = kChains * kVecBytes / 4;

__attribute__((noinline)) float fma_kernel(long iters, float a, float b) {
  VecF acc[kChains], va, vb;
  for (int l = 0; l < kVecBytes / 4; ++l) {
    va[l] = a;
    vb[l] = b;
  }
  for (int c = 0; c < kChains; ++c)
    for (int l = 0; l < kVecBytes / 4; ++l) acc[c][l] = float(c + l) * 1e-3f;
  for (long k = 0; k < iters; ++k) {
#pragma GCC unroll 12
    for (int c = 0; c < kChains; ++c) acc[c] = acc[c] * va + vb;  // contracted to one FMA
#if defined(__AVX512F__)
    asm volatile("" : "+v"(acc[0]));  // keeps the loop from being folded (register only)
#else
    asm volatile("" : "+x"(acc[0]));
#endif
  }
  float s = 0;
  for (int c = 0; c < kChains; ++c)
    for (int l = 0; l < kVecBytes / 4; ++l) s += acc[c][l];
  return s;
}

void BM_FmaPeak(benchmark::State& st) {
  const long iters = 1 << 16;
  float sink = 0, a = 0.999999f, b = 1e-7f;
  benchmark::DoNotOptimize(a);
  benchmark::DoNotOptimize(b);
  for (auto _ : st) {
    sink += fma_kernel(iters, a, b);
    benchmark::DoNotOptimize(sink);
  }
  const double flops = 2.0 * kLanes * double(iters) * double(st.iterations());
  st.counters["GFLOPs"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_FmaPeak)->Unit(benchmark::kMillisecond)->MinTime(0.3);

// ---- S4D streaming --------------------------------------------------------------------------

ssm::S4DModelConfig s4d_config() {
  ssm::S4DModelConfig c;
  c.n_layers = 4;
  c.d_model = 64;
  c.d_state = 64;
  c.sample_rate = 48000;
  return c;
}
double s4d_flops_per_sample(const ssm::S4DModelConfig& c) {
  const double H = c.d_model, N2 = c.modes();
  // recurrence: complex multiply-add + complex read-out (8 flops per mode); output_linear 2H x H
  // multiply-adds; encoder/decoder.
  return c.n_layers * (8 * H * N2 + 2 * 2 * H * H) + 2 * H * c.d_input + 2 * H * c.d_output;
}

void BM_S4DStream(benchmark::State& st) {
  const int block = int(st.range(0));
  const auto cfg = s4d_config();
  ssm::S4DModel<float> m(cfg, ssm::random_s4d_model<float>(cfg, 1));
  m.prepare({48000.0, block});
  const int n = 48000;  // one second of audio per iteration
  std::vector<float> u(n), y(n);
  std::mt19937 rng(3);
  std::normal_distribution<float> nd;
  for (auto& x : u) x = nd(rng);
  for (auto _ : st) {
    for (int t = 0; t < n; t += block) m.process_mono(u.data() + t, y.data() + t, block);
    benchmark::DoNotOptimize(y.data());
  }
  st.counters["rtf"] = benchmark::Counter(double(st.iterations()), benchmark::Counter::kIsRate);
  st.counters["GFLOPs"] = benchmark::Counter(s4d_flops_per_sample(cfg) * n * double(st.iterations()) * 1e-9,
                                             benchmark::Counter::kIsRate);
}
BENCHMARK(BM_S4DStream)->Arg(64)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);

// ---- Mamba step vs scan ---------------------------------------------------------------------

ssm::MambaModelConfig mamba_config() {
  ssm::MambaModelConfig c;
  c.n_layers = 4;
  c.block.d_model = 256;
  c.block.d_inner = 512;
  c.block.d_state = 16;
  c.block.d_conv = 4;
  c.block.dt_rank = 16;
  return c;
}
double mamba_flops_per_token(const ssm::MambaModelConfig& c) {
  const double dm = c.block.d_model, di = c.block.d_inner, N = c.block.d_state, K = c.block.d_conv,
               R = c.block.dt_rank;
  const double per_layer = 2 * (2 * di * dm + (R + 2 * N) * di + di * R + dm * di)  // linear maps
                           + 2 * di * K                                            // conv
                           + di * N * 6;                                           // scan + read-out
  return c.n_layers * per_layer + 2 * dm * (c.d_input + c.d_output);
}

ssm::MambaModel<float>& mamba() {
  static std::unique_ptr<ssm::MambaModel<float>> m;
  if (!m) {
    const auto cfg = mamba_config();
    m = std::make_unique<ssm::MambaModel<float>>(cfg, ssm::random_mamba_model<float>(cfg, 1));
  }
  return *m;
}

void BM_MambaStep(benchmark::State& st) {
  auto& m = mamba();
  m.prepare({48000.0, 256});
  const int n = 256;
  std::vector<float> u(n), y(n);
  for (int i = 0; i < n; ++i) u[i] = std::sin(0.05f * float(i));
  for (auto _ : st) {
    for (int t = 0; t < n; ++t) m.process_mono(u.data() + t, y.data() + t, 1);
    benchmark::DoNotOptimize(y.data());
  }
  st.counters["tokens_per_s"] = benchmark::Counter(double(n) * double(st.iterations()), benchmark::Counter::kIsRate);
  st.counters["GFLOPs"] = benchmark::Counter(mamba_flops_per_token(m.config()) * n * double(st.iterations()) * 1e-9,
                                             benchmark::Counter::kIsRate);
}
BENCHMARK(BM_MambaStep)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);

void BM_MambaScan(benchmark::State& st) {
  const auto device = st.range(0) ? ssm::Device::cuda : ssm::Device::cpu;
  if (device == ssm::Device::cuda && !ssm::cuda_available()) {
    st.SkipWithError("no GPU");
    return;
  }
  auto& m = mamba();
  const int L = 2048;
  std::vector<float> u(L), y(L);
  for (int i = 0; i < L; ++i) u[i] = std::sin(0.05f * float(i));
  for (auto _ : st) {
    m.forward(u.data(), 1, L, y.data(), device);
    benchmark::DoNotOptimize(y.data());
  }
  st.counters["tokens_per_s"] = benchmark::Counter(double(L) * double(st.iterations()), benchmark::Counter::kIsRate);
  st.counters["GFLOPs"] = benchmark::Counter(mamba_flops_per_token(m.config()) * L * double(st.iterations()) * 1e-9,
                                             benchmark::Counter::kIsRate);
}
BENCHMARK(BM_MambaScan)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);

class Collector : public benchmark::ConsoleReporter {
public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs) {
      for (const auto& [k, v] : r.counters) results()[r.benchmark_name() + ":" + k] = v.value;
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

}  // namespace

int main(int argc, char** argv) {
  setenv("OMP_NUM_THREADS", "1", 0);  // one core unless the user asks otherwise
  benchmark::Initialize(&argc, argv);
  Collector rep;
  benchmark::RunSpecifiedBenchmarks(&rep);
  auto get = [](const std::string& k) {
    auto it = results().find(k);
    return it == results().end() ? NAN : it->second;
  };
  const double peak = get("BM_FmaPeak/min_time:0.300:GFLOPs");
  std::printf("\nsummary (OMP_NUM_THREADS=%s; baseline: one-core FMA peak %.1f GFLOP/s float32)\n",
              std::getenv("OMP_NUM_THREADS"), peak);
  for (const char* b : {"BM_S4DStream/64/min_time:1.000/real_time", "BM_S4DStream/1/min_time:1.000/real_time"})
    std::printf("  S4D 4x64x32 stream @48k %-9s real-time factor %8.1f x   %.2f GFLOP/s = %.3f of peak\n",
                std::string(b).find("/64/") != std::string::npos ? "block 64" : "per sample", get(std::string(b) + ":rtf"),
                get(std::string(b) + ":GFLOPs"), get(std::string(b) + ":GFLOPs") / peak);
  const double step = get("BM_MambaStep/min_time:1.000/real_time:tokens_per_s");
  const double scan = get("BM_MambaScan/0/min_time:1.000/real_time:tokens_per_s");
  const double gpu = get("BM_MambaScan/1/min_time:1.000/real_time:tokens_per_s");
  std::printf("  Mamba 256x4 step (CPU)    %10.0f tokens/s   %.3f of peak\n", step,
              get("BM_MambaStep/min_time:1.000/real_time:GFLOPs") / peak);
  std::printf("  Mamba 256x4 scan (CPU)    %10.0f tokens/s   %.3f of peak   scan/step = %.1f x\n", scan,
              get("BM_MambaScan/0/min_time:1.000/real_time:GFLOPs") / peak, scan / step);
  if (!std::isnan(gpu))
    std::printf("  Mamba 256x4 scan (CUDA scan, CPU projections) %10.0f tokens/s   gpu/cpu-scan = %.1f x\n", gpu,
                gpu / scan);
  benchmark::Shutdown();
  return 0;
}
