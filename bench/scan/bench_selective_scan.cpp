// Selective scan (S6) on the CPU, float32, variable B/C (G = 1), D, z, delta_bias, softplus
// (the Mamba configuration), for the shapes (B=1, D=1536, N=16, L=4096) and
// (B=8, D=2048, N=16, L=2048). Measured in the same run:
//   * memcpy      of the scan's effective byte count (the machine's copy bandwidth)
//   * naive       a straightforward sequential loop written to the reference semantics
//                 (one thread, std::exp / std::log1p, B and C read in their (N, L) layout)
//   * ssmkit      selective_scan_cpu with 1 and 2 threads (and the team default)
// Single-threaded rows (naive, ssmkit 1 thread) in thread CPU time, the others in wall time.
// Effective bytes = reads of u, delta, z, B, C + the write of out (each element once).
// Prints Google Benchmark counters and a summary: time, GB/s, fraction of the copy bandwidth,
// speed-up over the naive loop and over one thread.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "common/baselines.hpp"
#include "common/fma_peak.hpp"
#include "ssm/scan/selective_scan.hpp"

namespace {

constexpr double kSlotsPerUpdate = 4.0;  // FMA-slot operations per state update (see main)

struct Shape {
  int B, D, N, L;
  std::string name() const {
    return "B" + std::to_string(B) + "_D" + std::to_string(D) + "_N" + std::to_string(N) + "_L" + std::to_string(L);
  }
};

using Data = ssm::bench::ScanProblem;

std::map<std::string, Data*>& datasets() {
  static std::map<std::string, Data*> m;
  return m;
}
Data& data_for(const Shape& s) {
  auto& m = datasets();
  auto it = m.find(s.name());
  if (it == m.end()) it = m.emplace(s.name(), new Data(s.B, s.D, s.N, s.L)).first;  // lives until exit
  return *it->second;
}

// seconds per iteration of each measurement, for the summary and the ratios
std::map<std::string, double>& results() {
  static std::map<std::string, double> r;
  return r;
}

double thread_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Single-threaded runs (cpu_time) in thread CPU time, as the FMA peak: the host may be shared;
// multi-threaded runs in wall time.
template <class F>
void timed(benchmark::State& st, const std::string& key, F&& f, bool cpu_time = false) {
  double total = 0;
  std::int64_t n = 0;
  for (auto _ : st) {
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = thread_seconds();
    f();
    const double c1 = thread_seconds();
    const auto t1 = std::chrono::steady_clock::now();
    total += cpu_time ? c1 - c0 : std::chrono::duration<double>(t1 - t0).count();
    ++n;
  }
  results()[key] = total / static_cast<double>(std::max<std::int64_t>(n, 1));
}

void BM_Memcpy(benchmark::State& st, Shape s) {
  Data& d = data_for(s);
  // Copy half the effective byte count: read + write = the bytes the scan moves.
  const std::size_t n = static_cast<std::size_t>(d.bytes() / 2);
  std::vector<char> src(n, 1), dst(n, 0);
  timed(st, s.name() + "/memcpy", [&] {
    std::memcpy(dst.data(), src.data(), n);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  });
  st.counters["GB/s"] = d.bytes() / results()[s.name() + "/memcpy"] / 1e9;
}

void BM_Naive(benchmark::State& st, Shape s) {
  Data& d = data_for(s);
  const auto args = d.args();
  timed(st, s.name() + "/naive", [&] {
    ssm::bench::sequential_selective_scan(args, d.out.data());
    benchmark::ClobberMemory();
  }, true);
  st.counters["GB/s"] = d.bytes() / results()[s.name() + "/naive"] / 1e9;
}

void BM_Scan(benchmark::State& st, Shape s, int threads) {
  Data& d = data_for(s);
  const auto a = d.args();
  const std::string key = s.name() + "/ssmkit_t" + std::to_string(threads);
  timed(st, key, [&] { ssm::selective_scan_cpu(a, ssm::ScanCpuOptions{threads, 0}); benchmark::ClobberMemory(); },
        threads == 1);
  const double t = results()[key];
  st.counters["GB/s"] = d.bytes() / t / 1e9;
  if (results().count(s.name() + "/memcpy"))
    st.counters["frac_of_copy_bw"] = results()[s.name() + "/memcpy"] / t;
  if (results().count(s.name() + "/naive")) st.counters["x_naive"] = results()[s.name() + "/naive"] / t;
}

}  // namespace

int main(int argc, char** argv) {
  const Shape shapes[] = {{1, 1536, 16, 4096}, {8, 2048, 16, 2048}};
  const int team = std::max(1, omp_get_max_threads());
  std::vector<int> thread_counts{1, 2};
  if (team > 2) thread_counts.push_back(team);
  for (const Shape& s : shapes) {
    benchmark::RegisterBenchmark(("memcpy/" + s.name()).c_str(), BM_Memcpy, s)->Unit(benchmark::kMillisecond)->UseRealTime();
    benchmark::RegisterBenchmark(("naive/" + s.name()).c_str(), BM_Naive, s)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);
    for (int t : thread_counts)
      benchmark::RegisterBenchmark(("ssmkit/" + s.name() + "/threads:" + std::to_string(t)).c_str(), BM_Scan, s, t)
          ->Unit(benchmark::kMillisecond)->UseRealTime();
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();

  auto& r = results();
  const double peak = ssm::bench::fma_peak_slots_per_s();
  std::printf("\n%s\nselective scan summary (float32, variable B/C, D, z, delta_bias, softplus)\n",
              ssm::bench::cpu_path_line().c_str());
  std::printf("FMA peak %.1f G scalar FMA/s (one thread, this ISA's width); %% peak counts %g FMA slots per state\n"
              "update (dt*A, x*B, the h update, the C read-out; the exp not counted), one-thread rows only\n",
              peak * 1e-9, kSlotsPerUpdate);
  std::printf("%-28s %-12s %10s %8s %12s %9s %9s %7s\n", "shape", "run", "ms", "GB/s", "frac copy bw", "x naive", "x 1 thr",
              "% peak");
  for (const Shape& s : shapes) {
    const std::string k = s.name();
    if (!r.count(k + "/memcpy")) continue;
    const double bytes = data_for(s).bytes();
    auto row = [&](const std::string& run) {
      if (!r.count(k + "/" + run)) return;
      const double t = r[k + "/" + run];
      const double naive = r.count(k + "/naive") ? r[k + "/naive"] / t : NAN;
      const double one = r.count(k + "/ssmkit_t1") ? r[k + "/ssmkit_t1"] / t : NAN;
      const Shape& sh = s;
      const double updates = static_cast<double>(sh.B) * sh.D * sh.N * sh.L;
      const double frac = run == "naive" || run == "ssmkit_t1" ? kSlotsPerUpdate * updates / t / peak : NAN;
      if (run == "memcpy") {
        std::printf("%-28s %-12s %10.2f %8.2f %12.3f\n", k.c_str(), run.c_str(), 1e3 * t, bytes / t / 1e9, 1.0);
        return;
      }
      std::printf("%-28s %-12s %10.2f %8.2f %12.3f %9.2f %9.2f %6.1f%%\n", k.c_str(), run.c_str(), 1e3 * t,
                  bytes / t / 1e9, r[k + "/memcpy"] / t, naive, one, 100 * frac);
    };
    row("memcpy");
    row("naive");
    for (int t : thread_counts) row("ssmkit_t" + std::to_string(t));
  }
  return 0;
}
