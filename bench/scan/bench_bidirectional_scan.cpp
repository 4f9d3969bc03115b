// Bidirectional selective scan (Vim bimamba v2) on the CPU, float32, Vim's layout
// (time-major u, delta, z, out; variable B/C; D, delta_bias, softplus, z gate, out_scale 0.5).
// Measured in the same run, on one thread and on the whole OpenMP team:
//   * unfused   the recipe the fused op replaces (bench/scan/bidirectional_recipe.hpp): flipped
//               copies of direction 1's u, delta, B, C and z, two selective_scan_cpu calls,
//               the flip back and the add
//   * fused     bidirectional_selective_scan_cpu (reads direction 1 through the reversed index
//               map, merges in the output write)
//   * memcpy    of the fused op's byte count (the machine's copy bandwidth)
// and the whole BiMambaBlock (d_model = D / 2) fused vs unfused path. Prints a summary: time,
// fused speed-up over unfused (goal >= 2 on the op), fraction of copy bandwidth.
// Shapes: Vim-S (B=32, D=768, N=16, L=197) and a long thin one (B=1, D=768, N=16, L=2048).
#include <benchmark/benchmark.h>
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bidirectional_recipe.hpp"
#include "ssm/layers/bimamba_block.hpp"

namespace {

using ssm::bench::BidirProblem;
using ssm::bench::BidirShape;

std::map<std::string, double>& results() {
  static std::map<std::string, double> r;
  return r;
}

BidirProblem<float>& problem(const BidirShape& s) {
  static std::map<std::string, std::unique_ptr<BidirProblem<float>>> m;
  auto& p = m[s.name()];
  if (!p) p = std::make_unique<BidirProblem<float>>(s);
  return *p;
}

template <class F>
void timed(benchmark::State& st, const std::string& key, F&& f) {
  double total = 0;
  std::int64_t n = 0;
  for (auto _ : st) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    total += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ++n;
  }
  results()[key] = total / double(std::max<std::int64_t>(n, 1));
}

void BM_Memcpy(benchmark::State& st, BidirShape s) {
  const std::size_t n = std::size_t(problem(s).bytes() / 2);
  std::vector<char> a(n, 1), b(n, 0);
  timed(st, s.name() + "/memcpy", [&] {
    std::memcpy(b.data(), a.data(), n);
    benchmark::DoNotOptimize(b.data());
    benchmark::ClobberMemory();
  });
}

void BM_Fused(benchmark::State& st, BidirShape s, int threads) {
  auto& p = problem(s);
  const auto a = p.fused_args();
  timed(st, s.name() + "/fused_t" + std::to_string(threads), [&] {
    ssm::bidirectional_selective_scan_cpu(a, ssm::BidirectionalScanCpuOptions{threads});
    benchmark::ClobberMemory();
  });
}

void BM_Unfused(benchmark::State& st, BidirShape s, int threads) {
  auto& p = problem(s);
  timed(st, s.name() + "/unfused_t" + std::to_string(threads), [&] {
    p.unfused_cpu(threads);
    benchmark::ClobberMemory();
  });
}

void BM_Block(benchmark::State& st, BidirShape s, ssm::BiMambaPath path) {
  ssm::BiMambaBlockConfig c;
  c.d_model = s.D / 2;
  c.d_inner = s.D;
  c.d_state = s.N;
  c.d_conv = 4;
  c.dt_rank = (c.d_model + 15) / 16;
  c.if_divide_out = true;
  static std::map<std::string, std::unique_ptr<ssm::BiMambaBlock<float>>> blocks;
  auto& blk = blocks[s.name()];
  if (!blk) blk = std::make_unique<ssm::BiMambaBlock<float>>(c, ssm::random_bimamba_block<float>(c, 1));
  std::vector<float> x(std::size_t(s.B) * s.L * c.d_model, 0.1f), y(x.size());
  const bool fused = path == ssm::BiMambaPath::fused;
  timed(st, s.name() + (fused ? "/block_fused" : "/block_unfused"), [&] {
    blk->forward(x.data(), s.B, s.L, y.data(), ssm::Device::cpu, path);
    benchmark::ClobberMemory();
  });
}

}  // namespace

int main(int argc, char** argv) {
  const BidirShape shapes[] = {{32, 768, 16, 197}, {1, 768, 16, 2048}};
  const int team = std::max(1, omp_get_max_threads());
  std::vector<int> threads{1};
  if (team > 1) threads.push_back(team);
  for (const auto& s : shapes) {
    benchmark::RegisterBenchmark(("memcpy/" + s.name()).c_str(), BM_Memcpy, s)->Unit(benchmark::kMillisecond)->UseRealTime();
    for (int t : threads) {
      benchmark::RegisterBenchmark(("unfused/" + s.name() + "/threads:" + std::to_string(t)).c_str(), BM_Unfused, s, t)
          ->Unit(benchmark::kMillisecond)->UseRealTime();
      benchmark::RegisterBenchmark(("fused/" + s.name() + "/threads:" + std::to_string(t)).c_str(), BM_Fused, s, t)
          ->Unit(benchmark::kMillisecond)->UseRealTime();
    }
    benchmark::RegisterBenchmark(("block_unfused/" + s.name()).c_str(), BM_Block, s, ssm::BiMambaPath::unfused)
        ->Unit(benchmark::kMillisecond)->UseRealTime();
    benchmark::RegisterBenchmark(("block_fused/" + s.name()).c_str(), BM_Block, s, ssm::BiMambaPath::fused)
        ->Unit(benchmark::kMillisecond)->UseRealTime();
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();

  auto& r = results();
  std::printf("\nbidirectional scan summary (float32, Vim layout, team = %d threads)\n", team);
  std::printf("%-26s %-16s %10s %14s %12s\n", "shape", "run", "ms", "x unfused", "frac copy bw");
  for (const auto& s : shapes) {
    const std::string k = s.name();
    auto row = [&](const std::string& run, const std::string& base) {
      if (!r.count(k + "/" + run)) return;
      const double t = r[k + "/" + run];
      const double x = r.count(k + "/" + base) ? r[k + "/" + base] / t : NAN;
      const double frac = r.count(k + "/memcpy") ? r[k + "/memcpy"] / t : NAN;
      std::printf("%-26s %-16s %10.3f %14.2f %12.3f\n", k.c_str(), run.c_str(), 1e3 * t, x, frac);
    };
    row("memcpy", "memcpy");
    for (int t : threads) {
      row("unfused_t" + std::to_string(t), "unfused_t" + std::to_string(t));
      row("fused_t" + std::to_string(t), "unfused_t" + std::to_string(t));
    }
    row("block_unfused", "block_unfused");
    row("block_fused", "block_unfused");
  }
  return 0;
}
