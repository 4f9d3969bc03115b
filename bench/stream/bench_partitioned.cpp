// PartitionedConvolver cost per sample against offline fftconv (FFTConv::apply, same kernel,
// same signal, one thread) measured in the same run. Stereo (H=2), a 2 s kernel at 48 kHz
// (Lk = 96000), L = 2^18 samples per channel, float32. Layouts: single-stage P1 = 64 and
// P1 = 256, two-stage 64/4096 (zero latency), and 256 without the direct head (latency 256);
// host blocks of 1, 64 and 512 frames. Prints ns/sample and the ratio to offline.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "ssm/conv/fftconv.hpp"
#include "ssm/stream/partitioned_convolver.hpp"

namespace {

constexpr std::ptrdiff_t kH = 2, kLk = 96000, kL = 1 << 18;

struct Data {
  std::vector<float> u, k, D, y;
  Data() {
    std::mt19937_64 rng(7);
    std::normal_distribution<float> nd;
    u.resize(kH * kL);
    y.resize(kH * kL);
    k.resize(kH * kLk);
    D = {0.3f, -0.2f};
    for (auto& x : u) x = nd(rng);
    for (std::ptrdiff_t h = 0; h < kH; ++h)
      for (std::ptrdiff_t j = 0; j < kLk; ++j) k[h * kLk + j] = nd(rng) * std::exp(-static_cast<float>(j) / 20000.f);
  }
};
Data& data() {
  static Data d;
  return d;
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// ns per (channel-)sample: wall and thread CPU.
std::map<std::string, std::pair<double, double>>& results() {
  static std::map<std::string, std::pair<double, double>> r;
  return r;
}

void record(benchmark::State& st, const std::string& name, double wall, double cpu) {
  const double samples = static_cast<double>(st.iterations()) * kH * kL;
  results()[name] = {wall * 1e9 / samples, cpu * 1e9 / samples};
  st.counters["ns_per_sample"] = wall * 1e9 / samples;
  st.counters["cpu_ns_per_sample"] = cpu * 1e9 / samples;
}

using Clock = std::chrono::steady_clock;

void BM_offline_fftconv(benchmark::State& st) {
  Data& d = data();
  omp_set_num_threads(1);
  ssm::FFTConv<float> conv(kH, kL, d.k.data(), kLk, d.D.data());
  const ssm::View3<const float> u(d.u.data(), 1, kH, kL);
  const ssm::View3<float> y(d.y.data(), 1, kH, kL);
  conv.apply(u, y);
  double wall = 0;
  const double c0 = thread_cpu_seconds();
  for (auto _ : st) {
    const auto t0 = Clock::now();
    conv.apply(u, y);
    wall += std::chrono::duration<double>(Clock::now() - t0).count();
  }
  record(st, "offline", wall, thread_cpu_seconds() - c0);
}

struct Layout {
  const char* name;
  int head, tail;
  bool zero_latency;
};
const Layout kLayouts[] = {{"P64", 64, 0, true},
                           {"P256", 256, 0, true},
                           {"P64+4096", 64, 4096, true},
                           {"P256-nohead", 256, 0, false}};

void BM_partitioned(benchmark::State& st) {
  Data& d = data();
  const Layout& lay = kLayouts[st.range(0)];
  const auto block = static_cast<std::ptrdiff_t>(st.range(1));
  ssm::PartitionSpec spec;
  spec.max_block = static_cast<int>(block);
  spec.head_partition = lay.head;
  spec.tail_partition = lay.tail;
  spec.zero_latency = lay.zero_latency;
  ssm::PartitionedConvolver<float> c;
  c.prepare(kH, d.k.data(), kLk, d.D.data(), spec);
  double wall = 0, worst = 0;
  const double c0 = thread_cpu_seconds();
  for (auto _ : st) {
    c.reset();
    const auto t0 = Clock::now();
    for (std::ptrdiff_t t = 0; t < kL; t += block) {
      const float* in[kH] = {d.u.data() + t, d.u.data() + kL + t};
      float* out[kH] = {d.y.data() + t, d.y.data() + kL + t};
      if (block >= 64) {
        const auto b0 = Clock::now();
        c.process(in, out, static_cast<std::size_t>(block));
        worst = std::max(worst, std::chrono::duration<double>(Clock::now() - b0).count());
      } else {
        c.process(in, out, static_cast<std::size_t>(block));
      }
    }
    wall += std::chrono::duration<double>(Clock::now() - t0).count();
    benchmark::DoNotOptimize(d.y.data());
  }
  const std::string name = std::string(lay.name) + "/block" + std::to_string(block);
  record(st, name, wall, thread_cpu_seconds() - c0);
  st.SetLabel(name);
  if (block >= 64) st.counters["worst_block_us"] = worst * 1e6;
  st.counters["latency"] = c.latency();
}

BENCHMARK(BM_offline_fftconv)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_partitioned)
    ->ArgsProduct({{0, 1, 2, 3}, {1, 64, 512}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(0.5);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  auto& r = results();
  if (!r.count("offline")) return 0;
  const auto off = r["offline"];
  std::printf("\npartitioned convolver vs offline fftconv (H=%td, Lk=%td, L=%td, float32, 1 thread)\n", kH, kLk, kL);
  std::printf("offline FFTConv::apply: %.2f ns/sample wall, %.2f ns/sample CPU\n", off.first, off.second);
  std::printf("%-26s %12s %12s %14s %14s\n", "layout/block", "ns/sample", "CPU ns/s.", "x offline wall", "x offline CPU");
  for (const auto& [name, v] : r) {
    if (name == "offline") continue;
    std::printf("%-26s %12.2f %12.2f %14.2f %14.2f\n", name.c_str(), v.first, v.second, v.first / off.first,
                v.second / off.second);
  }
  return 0;
}
