// fftconv (batched FFTW plans, cached kernel spectra, OpenMP across rows) against a plain
// per-row FFTW convolution measured in the same run: for every row and every call, plan,
// transform the kernel, transform the input, multiply, transform back, destroy the plans.
// Shapes: B=1, H=64, L = Lk = 65536 and L = Lk = 2^20, float32.
// Prints a summary of ratios (baseline time / fftconv time) after the Google Benchmark table.
#include <benchmark/benchmark.h>
#include <fftw3.h>
#include <omp.h>

#include <chrono>
#include <ctime>
#include <cmath>
#include <complex>
#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/baselines.hpp"
#include "ssm/conv/fftconv.hpp"

namespace {

constexpr std::ptrdiff_t kH = 64;

struct Problem {
  std::ptrdiff_t L = 0;
  std::vector<float> u, k, D, y;
  std::unique_ptr<ssm::FFTConv<float>> conv;
};

Problem& problem(std::ptrdiff_t L) {
  static std::map<std::ptrdiff_t, std::unique_ptr<Problem>> cache;
  auto& p = cache[L];
  if (!p) {
    p = std::make_unique<Problem>();
    p->L = L;
    std::mt19937_64 rng(42);
    std::normal_distribution<float> nd;
    p->u.resize(static_cast<std::size_t>(kH * L));
    p->k.resize(static_cast<std::size_t>(kH * L));
    p->D.resize(kH);
    p->y.resize(p->u.size());
    for (auto& x : p->u) x = nd(rng);
    for (std::ptrdiff_t h = 0; h < kH; ++h)
      for (std::ptrdiff_t j = 0; j < L; ++j)
        p->k[static_cast<std::size_t>(h * L + j)] = nd(rng) * std::exp(-static_cast<float>(j) / (L / 8.0f));
    for (auto& x : p->D) x = nd(rng);
  }
  return *p;
}

// Seconds per call of each benchmark (wall, and CPU time of the calling thread), for the summary.
std::map<std::string, double>& timings() {
  static std::map<std::string, double> t;
  return t;
}
std::map<std::string, double>& cpu_timings() {
  static std::map<std::string, double> t;
  return t;
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

void record(benchmark::State& st, const std::string& name, double seconds_total, double cpu_total) {
  const double per_call = seconds_total / static_cast<double>(st.iterations());
  timings()[name] = per_call;
  cpu_timings()[name] = cpu_total / static_cast<double>(st.iterations());
  const double samples = static_cast<double>(kH) * static_cast<double>(st.range(0));
  st.counters["ns_per_sample"] = per_call * 1e9 / samples;
  st.counters["Msamples_per_s"] = samples / per_call * 1e-6;
}


using Clock = std::chrono::steady_clock;

void BM_naive_fftw(benchmark::State& st) {
  Problem& p = problem(st.range(0));
  double secs = 0;
  const double cpu0 = thread_cpu_seconds();
  for (auto _ : st) {
    const auto t0 = Clock::now();
    ssm::bench::naive_fftw_conv(p.u.data(), p.k.data(), p.D.data(), p.y.data(), kH, p.L, p.L);
    secs += std::chrono::duration<double>(Clock::now() - t0).count();
    benchmark::DoNotOptimize(p.y.data());
  }
  record(st, "naive/" + std::to_string(p.L), secs, thread_cpu_seconds() - cpu0);
}

void BM_fftconv(benchmark::State& st) {  // free function: spectra from the content-keyed cache
  Problem& p = problem(st.range(0));
  const ssm::View3<const float> u(p.u.data(), 1, kH, p.L);
  const ssm::View3<float> y(p.y.data(), 1, kH, p.L);
  ssm::fftconv<float>(u, p.k.data(), p.L, p.D.data(), y);  // warm: plans (+ spectra if cacheable)
  double secs = 0;
  const double cpu0 = thread_cpu_seconds();
  for (auto _ : st) {
    const auto t0 = Clock::now();
    ssm::fftconv<float>(u, p.k.data(), p.L, p.D.data(), y);
    secs += std::chrono::duration<double>(Clock::now() - t0).count();
    benchmark::DoNotOptimize(p.y.data());
  }
  record(st, "fftconv/" + std::to_string(p.L), secs, thread_cpu_seconds() - cpu0);
}

void run_object(benchmark::State& st, int threads, const std::string& name) {
  Problem& p = problem(st.range(0));
  if (!p.conv) p.conv = std::make_unique<ssm::FFTConv<float>>(kH, p.L, p.k.data(), p.L, p.D.data());
  const ssm::View3<const float> u(p.u.data(), 1, kH, p.L);
  const ssm::View3<float> y(p.y.data(), 1, kH, p.L);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  p.conv->apply(u, y);  // warm
  double secs = 0;
  const double cpu0 = thread_cpu_seconds();
  for (auto _ : st) {
    const auto t0 = Clock::now();
    p.conv->apply(u, y);
    secs += std::chrono::duration<double>(Clock::now() - t0).count();
    benchmark::DoNotOptimize(p.y.data());
  }
  const double cpu = thread_cpu_seconds() - cpu0;
  omp_set_num_threads(saved);
  record(st, name + "/" + std::to_string(p.L), secs, cpu);
  st.counters["threads"] = threads;
}

void BM_FFTConv_object(benchmark::State& st) { run_object(st, omp_get_max_threads(), "object"); }
void BM_FFTConv_object_1thread(benchmark::State& st) { run_object(st, 1, "object1"); }

BENCHMARK(BM_naive_fftw)->Arg(65536)->Arg(1 << 20)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(2);
BENCHMARK(BM_fftconv)->Arg(65536)->Arg(1 << 20)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_FFTConv_object)->Arg(65536)->Arg(1 << 20)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_FFTConv_object_1thread)->Arg(65536)->Arg(1 << 20)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  auto& t = timings();
  std::printf("\nfftconv summary (B=1, H=%td, Lk=L, float32, %d OpenMP threads)\n", kH, omp_get_max_threads());
  std::printf("baseline = per-row FFTW: plan + kernel FFT + input FFT + inverse, single thread, per call\n");
  std::printf("speedup = baseline time / time (wall clock); for the 1-thread run also the ratio of\n"
              "thread CPU time, which is robust to other load on the machine\n");
  for (std::ptrdiff_t L : {std::ptrdiff_t{65536}, std::ptrdiff_t{1} << 20}) {
    const std::string s = std::to_string(L);
    if (!t.count("naive/" + s)) continue;
    const double base = t["naive/" + s];
    const double base_cpu = cpu_timings()["naive/" + s];
    std::printf("L=%-8td baseline %9.2f ms wall, %9.2f ms CPU (%.2f ns/sample wall)\n", L, base * 1e3,
                base_cpu * 1e3, base * 1e9 / (kH * L));
    for (const char* name : {"fftconv", "object", "object1"}) {
      if (!t.count(std::string(name) + "/" + s)) continue;
      const double v = t[std::string(name) + "/" + s];
      const bool one = std::string(name) == "object1";
      std::printf("  %-28s %9.2f ms  speedup x%.2f", std::string(name) == "fftconv" ? "fftconv() (spectra cache)"
                                                   : one ? "FFTConv::apply (1 thread)"
                                                         : "FFTConv::apply (all threads)",
                  v * 1e3, base / v);
      if (one) std::printf("  (CPU-time ratio x%.2f)", base_cpu / cpu_timings()[std::string(name) + "/" + s]);
      std::printf("\n");
    }
  }
  return 0;
}
