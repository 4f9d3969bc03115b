// BST layer cost per token against sequence length, next to full causal attention on the same
// data, CPU float32, one sequence (batch 1).
//  * BST: BSTLayer<float>::forward, d_model 64, 4 heads, d_ff 256, context SSM N2 = 32 modes,
//    block W = 64, context S = 64; L = 1K, 4K, 16K, 64K, 256K. Attention is block-local (each
//    query sees at most S + W keys) and the S4D context is an FFT convolution, so the cost per
//    token should stay flat up to the log L of the FFT.
//  * Baseline, measured in the same run: the same layer (same weights, same S4D context, same
//    projections and FFN) with one block of the whole sequence and no context rows (W = L, S = 0):
//    full causal attention, quadratic in L. Capped at L = 16K on the CPU (the dense 16K x 16K
//    score block of one head is 1 GiB, and the time grows 4x per doubling).
//  * BST streaming: BSTLayer::step in blocks of 64 frames (the real-time path), per token.
// Prints ns/token, full/BST ratio at each L, BST cost relative to L = 1K, and writes a CSV
// (--csv=FILE, default $OUT/ or ./bst_bench_cpu.csv) that tools/plot_bst_bench.py draws.
// Times are CPU time of the calling thread (Google Benchmark's default): OpenMP runs on one
// thread unless OMP_NUM_THREADS is set, so on a shared machine the figures are not inflated by
// other load.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <unistd.h>

#include "ssm/layers/bst_layer.hpp"

namespace {

constexpr int kFullCap = 16384;

std::map<std::string, double>& results() {
  static std::map<std::string, double> r;
  return r;
}

ssm::BSTLayerConfig config(int W, int S) {
  ssm::BSTLayerConfig c;
  c.d_model = 64;
  c.modes = 32;
  c.d_ff = 256;
  c.n_heads = 4;
  c.block_size = W;
  c.context = S;
  return c;
}

const ssm::BSTLayerParams<float>& params() {
  static const auto p = ssm::random_bst_layer<float>(config(64, 64), 1);
  return p;
}

std::vector<float> input(long long n) {
  std::vector<float> x(static_cast<std::size_t>(n));
  for (long long i = 0; i < n; ++i) x[std::size_t(i)] = std::sin(0.013f * float(i)) + 0.1f * std::cos(0.71f * float(i));
  return x;
}

// mode 0: BST (W = S = 64); 1: full causal attention (W = L, S = 0)
void BM_Layer(benchmark::State& st) {
  const int L = int(st.range(0)), mode = int(st.range(1));
  const ssm::BSTLayer<float> layer(mode == 0 ? config(64, 64) : config(L, 0), params());
  const auto x = input(std::int64_t(L) * 64);
  std::vector<float> y(x.size());
  layer.forward(x.data(), 1, L, y.data());  // warm-up: FFT plans, first-touch of the buffers
  for (auto _ : st) {
    layer.forward(x.data(), 1, L, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  st.counters["ns_per_token"] =
      benchmark::Counter(double(L) * double(st.iterations()), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_Stream(benchmark::State& st) {
  const int L = 16384, block = 64;
  const ssm::BSTLayer<float> layer(config(64, 64), params());
  auto s = layer.make_state(block);
  const auto x = input(std::int64_t(L) * 64);
  std::vector<float> y(x.size());
  for (auto _ : st) {
    s.reset();
    for (int t = 0; t < L; t += block) layer.step(x.data() + std::size_t(t) * 64, block, y.data() + std::size_t(t) * 64, s);
    benchmark::DoNotOptimize(y.data());
  }
  st.counters["ns_per_token"] =
      benchmark::Counter(double(L) * double(st.iterations()), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

class Collector : public benchmark::ConsoleReporter {
public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs) {
      auto it = r.counters.find("ns_per_token");
      if (it != r.counters.end()) results()[r.benchmark_name()] = it->second.value * 1e9;
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

}  // namespace

int main(int argc, char** argv) {
  // The OpenMP runtime reads OMP_NUM_THREADS when it loads, before main: to default to one
  // thread the program sets it and starts itself again.
  if (!std::getenv("OMP_NUM_THREADS")) {
    setenv("OMP_NUM_THREADS", "1", 1);
    execv("/proc/self/exe", argv);
  }
  // default: $OUT/bst_bench_cpu.csv when OUT is set (the GPU run's output folder), else ./
  std::string csv = std::getenv("OUT") ? std::string(std::getenv("OUT")) + "/bst_bench_cpu.csv" : "bst_bench_cpu.csv";
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--csv=", 6) == 0) csv = argv[i] + 6;
    else args.push_back(argv[i]);
  }
  int n = int(args.size());
  const std::vector<int> lengths{1024, 4096, 16384, 65536, 262144};
  for (int L : lengths) {
    benchmark::RegisterBenchmark("BST", BM_Layer)->Args({L, 0})->Unit(benchmark::kMillisecond)->MinTime(0.3);
    if (L <= kFullCap)
      benchmark::RegisterBenchmark("Full", BM_Layer)->Args({L, 1})->Unit(benchmark::kMillisecond)->MinTime(0.3);
  }
  benchmark::RegisterBenchmark("BSTStream", BM_Stream)->Unit(benchmark::kMillisecond)->MinTime(0.3);
  benchmark::Initialize(&n, args.data());
  Collector rep;
  benchmark::RunSpecifiedBenchmarks(&rep);
  auto get = [](const std::string& k) {
    auto it = results().find(k);
    return it == results().end() ? NAN : it->second;
  };
  auto key = [](const char* name, int L, int mode) {
    return std::string(name) + "/" + std::to_string(L) + "/" + std::to_string(mode) + "/min_time:0.300";
  };
  const double base = get(key("BST", 1024, 0));
  std::printf("\nsummary (CPU float32, OMP_NUM_THREADS=%s; d 64, 4 heads, d_ff 256, N2 32, W = S = 64; batch 1)\n",
              std::getenv("OMP_NUM_THREADS"));
  std::printf("  %8s %14s %14s %12s %14s\n", "L", "BST ns/token", "full ns/token", "full / BST", "BST / BST(1K)");
  FILE* f = std::fopen(csv.c_str(), "w");
  if (f) std::fprintf(f, "device,L,bst_ns_per_token,full_ns_per_token\n");
  for (int L : lengths) {
    const double b = get(key("BST", L, 0)), fu = L <= kFullCap ? get(key("Full", L, 1)) : NAN;
    std::printf("  %8d %14.1f %14.1f %12.2f %14.2f\n", L, b, fu, fu / b, b / base);
    if (f) {
      if (std::isnan(fu)) std::fprintf(f, "cpu,%d,%.3f,\n", L, b);
      else std::fprintf(f, "cpu,%d,%.3f,%.3f\n", L, b, fu);
    }
  }
  const double sb = get("BSTStream/min_time:0.300");
  std::printf("  streaming (step, blocks of 64, L = 16K): %.1f ns/token = %.2f x the offline BST at 16K\n", sb,
              sb / get(key("BST", 16384, 0)));
  std::printf("  full attention capped at L = %d on the CPU (quadratic)\n", kFullCap);
  if (f) {
    std::fclose(f);
    std::printf("  wrote %s\n", csv.c_str());
  }
  benchmark::Shutdown();
  return 0;
}
