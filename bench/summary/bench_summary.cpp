// ssmkit-bench: one program, one run, one markdown table of ratios.
//
// Every figure is a ratio to a baseline measured in the same process a moment earlier, on the
// same data, so that the table can be trusted on a busy or unknown machine:
//   streaming diagonal filter (H=64, N2=32; blocks of 64 and one frame per call)
//                              vs a plain std::complex<float> loop and vs the FMA peak of one
//                              core (an FMA-bound loop on the library's SIMD target)
//   dense HiPPO-LegT filter (N=64, SISO, blocks of 64)
//                              vs a plain float matrix-vector loop and vs the FMA peak
//   fftconv (B=1, H=64, L=Lk=65536)
//                              vs unbatched per-row FFTW (plans made and kernels transformed on
//                              every call, nothing cached, one thread)
//   partitioned convolver (same kernels, blocks of 64, zero latency)
//                              cost per sample vs the offline fftconv cost per sample
//   CPU selective scan (Mamba configuration: B=1, D=1536, N=16, L=4096, variable B/C, D, z,
//                              delta_bias, softplus) vs a sequential reference loop and vs a
//                              memcpy moving the same number of bytes
//   GPU selective scan (same, plus B=8, D=2048, L=4096) vs a device-to-device copy of the same
//                              bytes (only when ssm::cuda_available(); otherwise "no GPU")
//   models: S4D model (4 layers, d_model 64, d_state 64) and a small Mamba model streaming at
//                              48 kHz, blocks of 64 and one frame per call: FMA slots per frame
//                              (multiply-adds + one per exp/erf/log1p), fraction of the FMA peak,
//                              real-time factor (audio seconds per compute second); the S4D
//                              model's re-prepare at another sample rate vs one block of process()
//
// Timing: each measurement is the best (minimum) time per call over a few repetitions, each
// repetition lasting at least a minimum time. Single-threaded measurements (every baseline,
// every "1 thread" row, the streaming filters and models) use the CPU time of the calling
// thread, so time spent preempted by other processes on a shared machine is not counted;
// multi-threaded and GPU rows use wall time (and are the noisy ones on a loaded machine).
// Repetitions are fewer than Google Benchmark would use, so that the whole run stays under
// about a minute; --quick uses smaller shapes and one short repetition (a smoke test of a few
// seconds; its ratios are indicative only).
//
// Usage: ssmkit-bench [--quick] [--only SECTIONS] [--markdown FILE] [--plot FILE.png] [--sweep-max P]
//   --only runs some sections of the table: diag, dense, conv, scan, gpu, models (comma-separated;
//   the FMA peak row is always measured), e.g. --only diag,models for the real-time rows
//   --plot also measures cost per sample vs sequence length L = 2^8 .. 2^P (default P = 20)
//   for stream (DiagFilter, blocks of 64), conv (FFTConv::apply with the kernel spectra made
//   once beforehand; that setup is listed apart) and scan (diag_scan), one thread each,
//   H = 16, N2 = 32, S4D-LegS, and draws it (matplotlib, tools/plot/figure.hpp). The three outputs are
//   compared (max relative difference) at every L.
#include <benchmark/benchmark.h>
#include <fftw3.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <complex>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ssm/core/cpu.hpp"
#include "ssm/continuous/hippo.hpp"
#include "ssm/continuous/s4d_init.hpp"
#include "ssm/conv/diag_kernel.hpp"
#include "common/baselines.hpp"
#include "common/compare.hpp"
#include "common/fma_peak.hpp"
#include "ssm/conv/fftconv.hpp"
#include "ssm/core/device.hpp"
#include "ssm/core/device_buffer.hpp"
#include "ssm/core/error.hpp"
#include "ssm/io/atomic_file.hpp"
#include "figure.hpp"  // tools/plot: matplotlib
#include "ssm/layers/mamba_model.hpp"
#include "ssm/layers/moe_mamba_model.hpp"
#include "ssm/layers/s4d_model.hpp"
#include "ssm/scan/diag_scan.hpp"
#include "ssm/scan/selective_scan.hpp"
#include "ssm/stream/dense_filter.hpp"
#include "ssm/stream/diag_filter.hpp"
#include "ssm/stream/partitioned_convolver.hpp"

#if defined(SSM_WITH_CUDA)
#include <cuda_runtime.h>
#endif

namespace {

// ---- timing ---------------------------------------------------------------------------------

/// What a measurement's seconds are: wall-clock time, or the CPU time of the calling thread.
/// On a shared, loaded machine a single-threaded measurement is far less noisy in thread CPU
/// time (time spent preempted is not counted); multi-threaded and GPU measurements need wall time.
enum class Timer { wall, thread_cpu };

struct Budget {
  int reps = 5;           // repetitions; the minimum is reported
  double rep_s = 0.2;     // each repetition calls f until at least this long has passed
  bool warmup = true;     // one untimed call first (caches, lazily planned FFTs)
  Timer timer = Timer::thread_cpu;
  Budget with(Timer t) const {
    Budget b = *this;
    b.timer = t;
    return b;
  }
};

double now_s(Timer t) {
  if (t == Timer::wall)
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

/// Best seconds per call of f (wall or thread CPU time, as the budget says).
template <class F>
double seconds_per_call(F&& f, const Budget& b) {
  if (b.warmup) f();
  double best = std::numeric_limits<double>::infinity();
  for (int r = 0; r < b.reps; ++r) {
    long calls = 0;
    const double t0 = now_s(b.timer);
    double el = 0;
    do {
      f();
      ++calls;
      el = now_s(b.timer) - t0;
    } while (el < b.rep_s);
    best = std::min(best, el / static_cast<double>(calls));
  }
  return best;
}

struct Settings {
  bool quick = false;
  Budget fast{5, 0.2, true};   // cheap calls (microseconds to tens of milliseconds)
  Budget slow{2, 0.0, false};  // baselines that take close to a second per call
};

// ---- reporting ------------------------------------------------------------------------------

/// Every row with a second implementation compares outputs; a relative difference above this
/// makes the program exit with status 1 (so the --quick smoke test in CI checks agreement too).
constexpr double kAgreeTol = 1e-3;
int g_disagreements = 0;
double agree(const char* what, double rel_diff) {
  if (!(rel_diff <= kAgreeTol)) {
    std::fprintf(stderr, "ssmkit-bench: %s: outputs differ by %.3g (relative), more than %.0e\n", what, rel_diff, kAgreeTol);
    ++g_disagreements;
  }
  return rel_diff;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}
std::string time_str(double s) {  // human units
  if (s < 1e-6) return fmt("%.1f ns", s * 1e9);
  if (s < 1e-3) return fmt("%.2f us", s * 1e6);
  if (s < 1.0) return fmt("%.2f ms", s * 1e3);
  return fmt("%.2f s", s);
}
std::string ratio_str(double r) { return fmt(r >= 10 ? "%.0fx" : "%.2fx", r); }
/// "4.1x faster" or, below 1, "1.3x slower" (never "0.77x faster").
std::string speedup_str(double r) { return r >= 1.0 ? ratio_str(r) + " faster" : ratio_str(1.0 / r) + " slower"; }
std::string pct_str(double f) { return fmt("%.0f%%", 100.0 * f); }

struct Table {
  std::vector<std::vector<std::string>> rows;
  void add(std::vector<std::string> r) {
    rows.push_back(std::move(r));
    const auto& x = rows.back();
    std::fprintf(stderr, "  %-48s %s | %s | %s\n", x[0].c_str(), x[1].c_str(), x[2].c_str(), x[3].c_str());
  }
  std::string markdown() const {
    std::string s = "| measurement | ssmkit | baseline, same run | ratio |\n|---|---|---|---|\n";
    for (const auto& r : rows) s += "| " + r[0] + " | " + r[1] + " | " + r[2] + " | " + r[3] + " |\n";
    return s;
  }
};

using ssm::bench::max_rel_diff;

// ---- machine --------------------------------------------------------------------------------

std::string read_first_line(const char* path) {
  std::ifstream f(path);
  std::string s;
  std::getline(f, s);
  return s;
}

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) {
      const auto p = line.find(':');
      return p == std::string::npos ? line : line.substr(p + 2);
    }
  return "unknown CPU";
}

int cpuinfo_processors() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  int n = 0;
  while (std::getline(f, line))
    if (line.rfind("processor", 0) == 0) ++n;
  return n;
}

std::string compiler() {
#if defined(__clang__)
  return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  return std::string("gcc ") + __VERSION__;
#else
  return "unknown compiler";
#endif
}

std::string simd() {
#if defined(__AVX512F__)
  return "AVX-512 (-march=native)";
#elif defined(__AVX2__) && defined(__FMA__)
  return "AVX2+FMA (-march=native)";
#elif defined(__AVX__)
  return "AVX";
#else
  return "SSE2 baseline";
#endif
}

std::string machine_markdown(const Settings& set) {
  const std::time_t now = std::time(nullptr);
  char date[64];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  std::string s = "| machine | |\n|---|---|\n";
  s += "| CPU | " + cpu_model() + " |\n";
  s += "| cores | " + std::to_string(cpuinfo_processors()) + " logical processors in /proc/cpuinfo, " +
       std::to_string(std::thread::hardware_concurrency()) + " usable, OpenMP team " +
       std::to_string(omp_get_max_threads()) + " |\n";
  s += "| load average at start | " + read_first_line("/proc/loadavg") + " |\n";
  s += "| compiler | " + compiler() + ", bench compiled for " + simd() + " |\n";
  s += "| CPU path | " + ssm::cpu_description() + " |\n";
  s += "| GPU | " + ssm::cuda_description() + " |\n";
  s += "| run | " + std::string(date) + (set.quick ? ", --quick (smaller shapes, 1 short repetition)" :
       ", best of " + std::to_string(set.fast.reps) + " repetitions of >= " +
       fmt("%.1f", set.fast.rep_s) + " s (slow baselines: best of " + std::to_string(set.slow.reps) + " calls)") +
       "; single-threaded rows in thread CPU time, multi-threaded and GPU rows in wall time |\n";
  return s;
}

// ---- baselines: FMA peak, copy bandwidth ----------------------------------------------------

// The FMA peak is bench/common's (fma_peak.hpp): 12 independent FMA chains on the SIMD target
// the library dispatches to in this process (SSM_CPU_ISA honoured), in thread CPU time. So with
// SSM_CPU_ISA=avx2 on an AVX-512 machine every fraction below is of the AVX2 peak the kernels
// can reach, as on an AVX2 machine.

// ---- streaming diagonal filter --------------------------------------------------------------

std::vector<float> test_signal(std::size_t n, std::uint64_t seed = 7) {
  std::mt19937_64 g(seed);
  std::normal_distribution<float> nd(0.0f, 0.5f);
  std::vector<float> u(n);
  for (auto& x : u) x = nd(g);
  return u;
}

void bench_diag_filter(const Settings& set, double peak, Table& t) {
  constexpr int H = 64, N2 = 32, kBlock = 64;
  const int frames = set.quick ? 256 : 4096;
  ssm::S4DInitOptions o;
  o.seed = 1;
  const auto model = ssm::s4d_init(ssm::S4DInit::legs, H, N2, o);
  const auto u = test_signal(static_cast<std::size_t>(H) * frames);
  std::vector<float> y(u.size());

  ssm::DiagFilter<float> block(model);
  block.prepare_scaled(1.0, kBlock);
  const double s_block = seconds_per_call([&] {
    for (int f = 0; f < frames; f += kBlock) block.process_interleaved(u.data() + f * H, y.data() + f * H, kBlock);
    benchmark::DoNotOptimize(y.data());
  }, set.fast) / frames;

  ssm::DiagFilter<float> single(model);
  single.prepare_scaled(1.0, 1);
  const double s_single = seconds_per_call([&] {
    for (int f = 0; f < frames; ++f) single.process_interleaved(u.data() + f * H, y.data() + f * H, 1);
    benchmark::DoNotOptimize(y.data());
  }, set.fast) / frames;

  // Baseline: the obvious std::complex<float> loop over the same discretized modes.
  ssm::bench::ComplexDiagBaseline plain_filter(model);
  std::vector<float> yb(u.size());
  auto baseline = [&] {
    plain_filter.run(u.data(), yb.data(), frames);
    benchmark::DoNotOptimize(yb.data());
    benchmark::DoNotOptimize(plain_filter.x.data());
  };
  const double s_plain = seconds_per_call(baseline, set.fast) / frames;

  // Agreement: one pass of each from a zero state.
  block.reset();
  plain_filter.reset();
  for (int f = 0; f < frames; f += kBlock) block.process_interleaved(u.data() + f * H, y.data() + f * H, kBlock);
  baseline();
  const double diag_diff = max_rel_diff(y, yb);

  // 8 FMA slots per mode and frame: x = a x + b u on split re/im (6), read-out 2 Re(c x) (2).
  const double slots = 8.0 * H * N2;
  const std::string plain = "std::complex loop: " + time_str(s_plain) + "/frame";
  t.add({"Streaming diagonal filter, blocks of 64 (H=64, N2=32, f32)",
         time_str(s_block) + "/frame, " + pct_str(slots / s_block / peak) + " of FMA peak" +
             fmt(" (max diff %.1e rel.)", agree("DiagFilter vs std::complex loop", diag_diff)), plain,
         speedup_str(s_plain / s_block)});
  t.add({"Streaming diagonal filter, one frame per call",
         time_str(s_single) + "/frame, " + pct_str(slots / s_single / peak) + " of FMA peak", plain,
         speedup_str(s_plain / s_single)});
  t.add({"Streaming diagonal filter at 48 kHz", fmt("%.0fx real time", 1.0 / 48000.0 / s_block),
         "1 core", ""});
}

// ---- dense HiPPO filter ---------------------------------------------------------------------

void bench_dense_filter(const Settings& set, double peak, Table& t) {
  constexpr int N = 64, kBlock = 64;
  const int frames = set.quick ? 512 : 8192;
  Eigen::RowVectorXd C(N);
  for (int n = 0; n < N; ++n) C(n) = std::sqrt(2.0 * n + 1) * std::legendre(n, 0.0);
  ssm::DenseFilter<float> f(ssm::hippo::system(ssm::hippo::Measure::legt, N, C, 0.0, 0.005),
                            {ssm::Method::bilinear, ssm::Convention::ssm});
  f.prepare({48000.0, kBlock});
  const auto u = test_signal(static_cast<std::size_t>(frames));
  std::vector<float> y(u.size());
  const double s_lib = seconds_per_call([&] {
    for (int i = 0; i < frames; i += kBlock) f.process_mono(u.data() + i, y.data() + i, kBlock);
    benchmark::DoNotOptimize(y.data());
  }, set.fast) / frames;

  // Baseline: row-major float matrix-vector loops, x = Ad x + Bd u, y = C x + D u.
  const auto& ds = f.discrete();
  std::vector<float> Ad(N * N), Bd(N), Cd(N), x(N), xn(N);
  for (int r = 0; r < N; ++r) {
    for (int k = 0; k < N; ++k) Ad[r * N + k] = static_cast<float>(ds.Ad(r, k));
    Bd[r] = static_cast<float>(ds.Bd(r, 0));
    Cd[r] = static_cast<float>(ds.Cd(0, r));
  }
  const float Dd = static_cast<float>(ds.Dd(0, 0));
  std::vector<float> yb(u.size());
  auto baseline = [&] {
    for (int i = 0; i < frames; ++i) {
      for (int r = 0; r < N; ++r) {
        float acc = Bd[r] * u[i];
        for (int k = 0; k < N; ++k) acc += Ad[r * N + k] * x[k];
        xn[r] = acc;
      }
      std::swap(x, xn);
      float acc = Dd * u[i];
      for (int k = 0; k < N; ++k) acc += Cd[k] * x[k];
      yb[i] = acc;
    }
    benchmark::DoNotOptimize(yb.data());
  };
  const double s_plain = seconds_per_call(baseline, set.fast) / frames;
  f.reset();
  std::fill(x.begin(), x.end(), 0.0f);
  for (int i = 0; i < frames; i += kBlock) f.process_mono(u.data() + i, y.data() + i, kBlock);
  baseline();
  const double dense_diff = agree("DenseFilter vs plain loop", max_rel_diff(y, yb));
  const double slots = static_cast<double>(N) * N + 2.0 * N;
  t.add({"Dense HiPPO-LegT filter, blocks of 64 (N=64, f32)",
         time_str(s_lib) + "/sample, " + pct_str(slots / s_lib / peak) + " of FMA peak" +
             fmt(" (max diff %.1e rel.)", dense_diff),
         "plain mat-vec loop: " + time_str(s_plain) + "/sample", speedup_str(s_plain / s_lib)});
}

// ---- fftconv and the partitioned convolver --------------------------------------------------


void bench_conv(const Settings& set, Table& t) {
  constexpr std::ptrdiff_t H = 64;
  const std::ptrdiff_t L = set.quick ? 8192 : 65536;
  const auto u = test_signal(static_cast<std::size_t>(H * L), 11);
  auto k = test_signal(static_cast<std::size_t>(H * L), 12);
  for (std::ptrdiff_t h = 0; h < H; ++h)  // decaying kernels, like an SSM's impulse response
    for (std::ptrdiff_t j = 0; j < L; ++j)
      k[static_cast<std::size_t>(h * L + j)] *= std::exp(-8.0f * static_cast<float>(j) / static_cast<float>(L));
  const auto D = test_signal(H, 13);
  std::vector<float> y(u.size()), yb(u.size());
  const ssm::View3<const float> uv(u.data(), 1, H, L);
  const ssm::View3<float> yv(y.data(), 1, H, L);

  const int team = omp_get_max_threads();
  const double s_lib = seconds_per_call([&] { ssm::fftconv<float>(uv, k.data(), L, D.data(), yv); }, set.fast.with(Timer::wall));
  omp_set_num_threads(1);
  const double s_lib1 = seconds_per_call([&] { ssm::fftconv<float>(uv, k.data(), L, D.data(), yv); }, set.fast);
  const ssm::FFTConv<float> object(H, L, k.data(), L, D.data());
  const double s_obj1 = seconds_per_call([&] { object.apply(uv, yv); }, set.fast);
  omp_set_num_threads(team);
  const double s_naive = seconds_per_call([&] { ssm::bench::naive_fftw_conv(u.data(), k.data(), D.data(), yb.data(), H, L, L); }, set.slow);
  double err = 0, ref = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    err = std::max(err, static_cast<double>(std::abs(y[i] - yb[i])));
    ref = std::max(ref, static_cast<double>(std::abs(yb[i])));
  }
  const std::string shape = "B=1, H=64, L=Lk=" + std::to_string(L);
  const std::string base = "per-row FFTW, no caching, 1 thread: " + time_str(s_naive);
  t.add({"fftconv, " + std::to_string(team) + " threads (" + shape + ", f32)", time_str(s_lib), base,
         speedup_str(s_naive / s_lib)});
  t.add({"fftconv, 1 thread", time_str(s_lib1) + fmt(" (max diff %.1e rel.)", agree("fftconv vs per-row FFTW", err / ref)), base,
         speedup_str(s_naive / s_lib1)});
  t.add({"FFTConv::apply (spectra held by the object), 1 thread", time_str(s_obj1), base,
         speedup_str(s_naive / s_obj1)});

  // Partitioned (streaming, zero latency, blocks of 64) with the same kernels, one thread.
  ssm::PartitionedConvolver<float> pc;
  ssm::PartitionSpec spec;
  spec.max_block = 64;
  spec.head_partition = 64;
  spec.tail_partition = 2048;
  spec.zero_latency = true;
  pc.prepare(H, k.data(), L, D.data(), spec);
  const std::ptrdiff_t frames = set.quick ? 4096 : 48000;
  const auto us = test_signal(static_cast<std::size_t>(H * frames), 14);
  std::vector<float> ys(us.size());
  std::vector<const float*> in(H);
  std::vector<float*> out(H);
  const double s_part = seconds_per_call([&] {
    for (std::ptrdiff_t f = 0; f < frames; f += 64) {
      for (std::ptrdiff_t h = 0; h < H; ++h) {
        in[h] = us.data() + h * frames + f;
        out[h] = ys.data() + h * frames + f;
      }
      pc.process(in.data(), out.data(), static_cast<std::size_t>(std::min<std::ptrdiff_t>(64, frames - f)));
    }
    benchmark::DoNotOptimize(ys.data());
  }, set.fast) / static_cast<double>(frames);
  const double s_off = s_obj1 / static_cast<double>(L);
  t.add({"Partitioned convolver, blocks of 64, latency 0 (H=64, Lk=" + std::to_string(L) + ", P1=64, P2=2048)",
         time_str(s_part) + "/frame, " + fmt("%.0fx real time at 48 kHz", 1.0 / 48000.0 / s_part),
         "offline FFTConv::apply, 1 thread: " + time_str(s_off) + "/frame",
         fmt("%.1fx the offline cost", s_part / s_off)});
}

// ---- selective scan -------------------------------------------------------------------------

using ScanData = ssm::bench::ScanProblem;

std::string scan_name(const ScanData& d) {
  return "B=" + std::to_string(d.B) + ", D=" + std::to_string(d.D) + ", N=" + std::to_string(d.N) +
         ", L=" + std::to_string(d.L);
}

void bench_scan_cpu(const Settings& set, Table& t) {
  ScanData d(1, 1536, 16, set.quick ? 512 : 4096);
  const auto args = d.args();
  const int team = omp_get_max_threads();
  const double s_lib = seconds_per_call([&] { ssm::selective_scan(args); }, set.fast.with(Timer::wall));
  ssm::ScanCpuOptions one;
  one.threads = 1;
  const double s_lib1 = seconds_per_call([&] { ssm::selective_scan_cpu(args, one); }, set.fast);
  std::vector<float> ref(d.out.size());
  const double s_seq = seconds_per_call([&] { ssm::bench::sequential_selective_scan(args, ref.data()); }, set.slow);
  double err = 0, mag = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    err = std::max(err, static_cast<double>(std::abs(ref[i] - d.out[i])));
    mag = std::max(mag, static_cast<double>(std::abs(ref[i])));
  }
  // memcpy of half the bytes: reads and writes together move the scan's byte count.
  const std::size_t half = static_cast<std::size_t>(d.bytes() / 2);
  std::vector<char> src(half, 1), dst(half);
  const double s_copy = seconds_per_call([&] {
    std::memcpy(dst.data(), src.data(), half);
    benchmark::DoNotOptimize(dst.data());
  }, set.fast);
  const std::string seq = "sequential loop, 1 thread: " + time_str(s_seq);
  t.add({"CPU selective scan, " + std::to_string(team) + " threads (" + scan_name(d) + ", Mamba config, f32)",
         time_str(s_lib) + fmt(", %.1f GB/s", d.bytes() / s_lib / 1e9), seq, speedup_str(s_seq / s_lib)});
  t.add({"CPU selective scan, 1 thread", time_str(s_lib1) + fmt(" (max diff %.1e rel.)", agree("CPU selective scan vs sequential loop", err / mag)), seq,
         speedup_str(s_seq / s_lib1)});
  t.add({"CPU selective scan vs memory bandwidth", fmt("%.1f GB/s", d.bytes() / s_lib / 1e9),
         "memcpy of the same bytes: " + fmt("%.1f GB/s", d.bytes() / s_copy / 1e9),
         pct_str(s_copy / s_lib) + " of copy bandwidth"});
}

#if defined(SSM_WITH_CUDA)
void cuda_check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw ssm::Error(std::string(what) + ": " + cudaGetErrorString(e));
}
#endif

void bench_scan_gpu(const Settings& set, Table& t) {
  if (!ssm::cuda_available()) {
    t.add({"GPU selective scan", "no GPU", ssm::cuda_compiled() ? "CUDA compiled, no device visible" : "built without CUDA", ""});
    return;
  }
#if defined(SSM_WITH_CUDA)
  std::vector<ScanData> shapes;
  shapes.emplace_back(1, 1536, 16, set.quick ? 1024 : 4096);
  if (!set.quick) shapes.emplace_back(8, 2048, 16, 4096);
  for (auto& d : shapes) {
    ssm::DeviceBuffer<float> u(d.u), delta(d.delta), z(d.z), A(d.A), Bv(d.Bv), Cv(d.Cv), Dp(d.Dp),
        bias(d.bias), out(d.out.size());
    const auto a = d.args_on(u.data(), delta.data(), z.data(), A.data(), Bv.data(), Cv.data(), Dp.data(),
                             bias.data(), out.data());
    constexpr int kCalls = 20;  // calls queued per timed batch (launch overhead amortized)
    const double s_scan = seconds_per_call([&] {
      for (int i = 0; i < kCalls; ++i) ssm::selective_scan(a, ssm::Device::cuda);
      ssm::device_synchronize();
    }, set.fast.with(Timer::wall)) / kCalls;
    const std::size_t half = static_cast<std::size_t>(d.bytes() / 2);
    ssm::DeviceMemory src(half), dst(half);
    src.zero();
    const double s_copy = seconds_per_call([&] {
      for (int i = 0; i < kCalls; ++i)
        cuda_check(cudaMemcpy(dst.get(), src.get(), half, cudaMemcpyDeviceToDevice), "cudaMemcpy");
      ssm::device_synchronize();
    }, set.fast.with(Timer::wall)) / kCalls;
    // Agreement with the CPU path on the same data.
    ssm::selective_scan(d.args());
    const auto g = out.to_host();
    double err = 0, mag = 0;
    for (std::size_t i = 0; i < g.size(); ++i) {
      err = std::max(err, static_cast<double>(std::abs(g[i] - d.out[i])));
      mag = std::max(mag, static_cast<double>(std::abs(d.out[i])));
    }
    t.add({"GPU selective scan (" + scan_name(d) + ", f32)",
           time_str(s_scan) + fmt(", %.0f GB/s", d.bytes() / s_scan / 1e9) + fmt(" (vs CPU: max diff %.1e rel.)", agree("GPU vs CPU selective scan", err / mag)),
           "device copy of the same bytes: " + fmt("%.0f GB/s", d.bytes() / s_copy / 1e9),
           pct_str(s_copy / s_scan) + " of copy bandwidth"});
  }
#else
  (void)set;
#endif
}

// ---- models ---------------------------------------------------------------------------------

// Work per frame, in FMA slots: multiply-adds, plus one slot per exp/erf/log1p evaluation (a
// lower bound on what those cost, so the fractions below are conservative).
double s4d_slots(const ssm::S4DModelConfig& c) {
  const double H = c.d_model, N2 = c.modes();
  const double layer = 8.0 * H * N2 + H  // recurrence (as the DiagFilter row) + D
                       + 2.0 * H * H     // output_linear
                       + 2.0 * H         // GELU (erf), GLU sigmoid (exp)
                       + H               // GLU product
                       + 2.0 * H;        // LayerNorm (squares, scale)
  return c.n_layers * layer + H * (c.d_input + c.d_output);
}
double mamba_block_slots(const ssm::MambaBlockConfig& b) {
  const double dm = b.d_model, di = b.d_inner, N = b.d_state, K = b.d_conv, R = b.dt_rank;
  return dm * 2 * di            // in_proj
         + di * K + di          // conv, SiLU
         + di * (R + 2 * N)     // x_proj
         + R * di + 2 * di      // dt_proj, softplus (exp, log1p)
         + di * N * 4           // exp(dt A), h = dA h + dt x B (2), C h
         + 3 * di               // D x, SiLU(z), gate
         + di * dm              // out_proj
         + 2 * dm;              // RMSNorm
}

void bench_models(const Settings& set, double peak, Table& t) {
  const int frames = set.quick ? 1024 : 9600;  // 0.2 s of audio at 48 kHz per call
  const auto u = test_signal(static_cast<std::size_t>(frames), 21);
  std::vector<float> y(u.size());
  const double audio_s = frames / 48000.0;
  // One row per block size: time per frame, FMA slots per frame and their fraction of the FMA
  // peak measured above, real-time factor at 48 kHz (audio seconds per compute second).
  auto rows = [&](const std::string& name, double slots, auto& m) {
    for (int block : {64, 1}) {
      m.prepare({48000.0, 64});
      const double s = seconds_per_call([&] {
        for (int i = 0; i < frames; i += block) m.process_mono(u.data() + i, y.data() + i, std::min(block, frames - i));
        benchmark::DoNotOptimize(y.data());
      }, set.fast);
      const double per = s / frames;
      t.add({name + ", " + (block == 1 ? "one frame per call" : "blocks of 64"),
             time_str(per) + "/frame, " + fmt("%.0f", slots / 1e3) + "k FMA slots/frame, " +
                 pct_str(slots / per / peak) + " of FMA peak",
             "1 core, real time = 20.8 us/frame", fmt("real-time factor %.1f", audio_s / s)});
    }
  };
  {
    ssm::S4DModelConfig cfg;
    cfg.d_model = 64;
    cfg.n_layers = 4;
    cfg.d_state = 64;
    ssm::S4DModel<float> m(cfg, ssm::random_s4d_model<float>(cfg, 1));
    rows("S4D model streaming at 48 kHz (4 layers, d_model 64, d_state 64)", s4d_slots(cfg), m);

    // Sample-rate change: re-prepare (re-discretize every layer, no allocation) at 44.1 and
    // 96 kHz in turn, vs processing one block of 64 frames.
    m.prepare({48000.0, 64});
    const double s_block = seconds_per_call([&] { m.process_mono(u.data(), y.data(), 64); }, set.fast);
    bool hi = false;
    const double s_prep = seconds_per_call([&] {
      m.prepare({hi ? 96000.0 : 44100.0, 64});
      hi = !hi;
    }, set.fast);
    t.add({"S4D model re-prepare 44.1 <-> 96 kHz (re-discretize 4 x 64 x 32 modes, no allocation)",
           time_str(s_prep) + "/prepare", "process(), one block of 64 frames: " + time_str(s_block),
           fmt("%.1f blocks of 64", s_prep / s_block)});
  }
  {
    ssm::MambaModelConfig cfg;
    cfg.n_layers = 2;
    cfg.block.d_model = 64;
    cfg.block.d_inner = 128;
    cfg.block.d_state = 16;
    cfg.block.d_conv = 4;
    cfg.block.dt_rank = 4;
    ssm::MambaModel<float> m(cfg, ssm::random_mamba_model<float>(cfg, 1));
    const double slots = cfg.n_layers * mamba_block_slots(cfg.block) + 2.0 * cfg.block.d_model * 2;
    rows("Mamba model step mode at 48 kHz (2 layers, d_model 64, d_inner 128, N 16)", slots, m);
  }
  {
    ssm::MoEMambaModelConfig cfg;
    cfg.n_layers = 2;
    auto& b = cfg.layer.mixer;
    b.d_model = 64;
    b.d_inner = 128;
    b.d_state = 16;
    b.d_conv = 4;
    b.dt_rank = 4;
    auto& e = cfg.layer.moe;
    e.d_model = 64;
    e.d_ff = 128;
    e.n_experts = 4;
    e.top_k = 1;
    e.activation = ssm::Activation::gelu;
    ssm::MoEMambaModel<float> m(cfg, ssm::random_moe_mamba_model<float>(cfg, 1));
    // per layer: the mixer, the second RMSNorm, the router, top_k experts (fc1, GELU, fc2)
    const double moe = 2.0 * b.d_model + b.d_model * e.n_experts +
                       e.top_k * (2.0 * b.d_model * e.d_ff + e.d_ff);
    const double slots = cfg.n_layers * (mamba_block_slots(b) + moe) + 2.0 * b.d_model * 2;
    rows("MoE-Mamba model step mode at 48 kHz (2 layers, d_model 64, d_inner 128, N 16, 4 experts d_ff 128, top 1)",
         slots, m);
  }
}

// ---- cost per sample vs sequence length (plot) ----------------------------------------------

struct SweepPoint {
  std::ptrdiff_t L;
  double stream_ns, conv_ns, scan_ns;  // per channel-sample
  double conv_setup_ns;                // kernel + its spectra, once per model and length
  double max_diff;                     // max |stream - conv|, |stream - scan| / max |y|
};

std::vector<SweepPoint> sweep(int max_pow, const Settings& set) {
  constexpr int H = 16, N2 = 32;
  ssm::S4DInitOptions o;
  o.seed = 3;
  const auto model = ssm::s4d_init(ssm::S4DInit::legs, H, N2, o);
  std::vector<float> Ai(H * N2 * 2), Bi(Ai.size()), Ci(Ai.size()), Df(H), dtf(H);
  for (int i = 0; i < H * N2; ++i) {
    Ai[2 * i] = static_cast<float>(model.A.get(i).real());
    Ai[2 * i + 1] = static_cast<float>(model.A.get(i).imag());
    Bi[2 * i] = static_cast<float>(model.B.get(i).real());
    Bi[2 * i + 1] = static_cast<float>(model.B.get(i).imag());
    Ci[2 * i] = static_cast<float>(model.C.get(i).real());
    Ci[2 * i + 1] = static_cast<float>(model.C.get(i).imag());
  }
  for (int h = 0; h < H; ++h) {
    Df[h] = static_cast<float>(model.D[h]);
    dtf[h] = static_cast<float>(model.dt(h));
  }
  const int team = omp_get_max_threads();
  omp_set_num_threads(1);  // one thread everywhere: the plot shows algorithms, not threading
  ssm::ScanCpuOptions one;
  one.threads = 1;
  std::vector<SweepPoint> pts;
  const Budget b{set.quick ? 1 : 3, set.quick ? 0.0 : 0.05, false};
  for (int p = 8; p <= max_pow; ++p) {
    const std::ptrdiff_t L = std::ptrdiff_t{1} << p;
    const auto u = test_signal(static_cast<std::size_t>(H * L), 30 + p);  // planar (1, H, L)
    std::vector<float> ys(u.size()), yc(u.size()), yk(u.size());
    ssm::DiagFilter<float> f(model);
    f.prepare_scaled(1.0, 64);
    const double s_stream = seconds_per_call([&] {
      f.reset();
      for (std::ptrdiff_t t0 = 0; t0 < L; t0 += 64)
        f.process_strided(u.data() + t0, ys.data() + t0, 64, L, 1);
      benchmark::DoNotOptimize(ys.data());
    }, b);
    // conv: the kernel and its spectra are made once per model and length (timed apart, as
    // setup); the per-call cost is the FFT convolution with those spectra.
    std::vector<float> K(static_cast<std::size_t>(H * L));
    std::optional<ssm::FFTConv<float>> conv;
    const double s_setup = seconds_per_call([&] {
      ssm::diag_kernel<float>(model, ssm::Method::zoh, L, K.data());
      conv.reset();
      conv.emplace(H, L, K.data(), L, Df.data());
    }, b);
    const double s_conv = seconds_per_call([&] {
      conv->apply(ssm::View3<const float>(u.data(), 1, H, L), ssm::View3<float>(yc.data(), 1, H, L));
    }, b);
    ssm::DiagScanArgs<float> a;
    a.batch = 1; a.channels = H; a.modes = N2; a.length = static_cast<int>(L);
    a.A = Ai.data(); a.B = Bi.data(); a.C = Ci.data(); a.D = Df.data(); a.dt = dtf.data();
    a.u = u.data(); a.y = yk.data();
    const double s_scan = seconds_per_call([&] { ssm::diag_scan_cpu(a, one); }, b);
    double diff = 0, mag = 0;
    for (std::size_t i = 0; i < ys.size(); ++i) {
      diff = std::max({diff, static_cast<double>(std::abs(ys[i] - yc[i])), static_cast<double>(std::abs(ys[i] - yk[i]))});
      mag = std::max(mag, static_cast<double>(std::abs(ys[i])));
    }
    const double n = static_cast<double>(H) * static_cast<double>(L);
    pts.push_back({L, s_stream / n * 1e9, s_conv / n * 1e9, s_scan / n * 1e9, s_setup / n * 1e9, agree("stream vs conv vs scan", diff / mag)});
    std::fprintf(stderr, "  sweep L=2^%d: stream %.2f  conv %.2f  scan %.2f ns/sample  (max diff %.1e)\n", p,
                 pts.back().stream_ns, pts.back().conv_ns, pts.back().scan_ns, pts.back().max_diff);
  }
  omp_set_num_threads(team);
  return pts;
}

std::string sweep_markdown(const std::vector<SweepPoint>& pts) {
  std::string s = "| L | stream (ns/sample) | conv (ns/sample) | scan (ns/sample) | conv / stream | conv setup, once (ns/sample) | max rel. diff |\n"
                  "|---|---|---|---|---|---|---|\n";
  for (const auto& p : pts) {
    int e = 0;
    while ((std::ptrdiff_t{1} << e) < p.L) ++e;
    s += "| 2^" + std::to_string(e) + " | " + fmt("%.2f", p.stream_ns) + " | " + fmt("%.2f", p.conv_ns) + " | " +
         fmt("%.2f", p.scan_ns) + " | " + fmt("%.2f", p.conv_ns / p.stream_ns) + " | " + fmt("%.1f", p.conv_setup_ns) + " | " + fmt("%.1e", p.max_diff) + " |\n";
  }
  return s;
}

void plot(const std::vector<SweepPoint>& pts, const std::string& path) {
  std::vector<double> L, st, cv, sc;
  for (const auto& p : pts) {
    L.push_back(static_cast<double>(p.L));
    st.push_back(p.stream_ns);
    cv.push_back(p.conv_ns);
    sc.push_back(p.scan_ns);
  }
  ssm::plot::Figure fig(1, 1, 7.6, 4.6);
  fig.axes(0, 0)
      .title("cost per sample vs sequence length (S4D, H=16, N2=32, f32, 1 thread)")
      .xlabel("L (sequence length)")
      .ylabel("ns per sample")
      .logx()
      .line_xy(L, st, "stream: recurrence, O(L)", "tab:blue")
      .line_xy(L, cv, "conv: FFT convolution, O(L log L)", "tab:orange")
      .line_xy(L, sc, "scan: diag_scan, O(L)", "tab:green");
  fig.save(path);
}

// ---- main -----------------------------------------------------------------------------------

int usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--quick] [--only SECTIONS] [--markdown FILE] [--plot FILE.png] [--sweep-max P (8..24)]\n"
               "  SECTIONS: comma-separated of diag, dense, conv, scan, gpu, models (default: all)\n",
               argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Settings set;
  std::string markdown_path, plot_path, only;
  int sweep_max = 20;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") {
      set.quick = true;
    } else if (a == "--markdown" && i + 1 < argc) {
      markdown_path = argv[++i];
    } else if (a == "--only" && i + 1 < argc) {
      only = argv[++i];
      for (std::size_t p = 0, q; p <= only.size(); p = q + 1) {
        q = std::min(only.find(',', p), only.size());
        const std::string name = only.substr(p, q - p);
        if (name != "diag" && name != "dense" && name != "conv" && name != "scan" && name != "gpu" && name != "models")
          return usage(argv[0]);
      }
    } else if (a == "--plot" && i + 1 < argc) {
      plot_path = argv[++i];
    } else if (a == "--sweep-max" && i + 1 < argc) {
      sweep_max = std::atoi(argv[++i]);
      if (sweep_max < 8 || sweep_max > 24) return usage(argv[0]);
    } else {
      return usage(argv[0]);
    }
  }
  if (set.quick) {
    set.fast = {1, 0.02, true};
    set.slow = {1, 0.0, false};
    if (sweep_max == 20) sweep_max = 14;
  }
  try {
    const auto t0 = Clock::now();
    Table t;
    std::fprintf(stderr, "ssmkit-bench%s: measuring (progress on stderr, table on stdout)\n", set.quick ? " --quick" : "");
    const double peak = ssm::bench::fma_peak_slots_per_s();
    t.add({"FMA peak, 1 core (FMA-bound loop on the library's SIMD target: CPU path above)",
           fmt("%.1f GFMA/s", peak / 1e9), "", "reference for the rows below"});
    auto on = [&](const char* section) { return only.empty() || ("," + only + ",").find(std::string(",") + section + ",") != std::string::npos; };
    if (on("diag")) bench_diag_filter(set, peak, t);
    if (on("dense")) bench_dense_filter(set, peak, t);
    if (on("conv")) bench_conv(set, t);
    if (on("scan")) bench_scan_cpu(set, t);
    if (on("gpu")) bench_scan_gpu(set, t);
    if (on("models")) bench_models(set, peak, t);
    std::string md = "## Machine\n\n" + machine_markdown(set) + "\n## Ratios (all measured in this run)\n\n" + t.markdown();
    if (!plot_path.empty()) {
      const auto pts = sweep(sweep_max, set);
      plot(pts, plot_path);
      md += "\n## Cost per sample vs sequence length (one thread, H=16, N2=32)\n\n" + sweep_markdown(pts) +
            "\nPlot: `" + plot_path + "`\n";
    }
    md += "\nTotal run time: " + fmt("%.1f s", since(t0)) + "\n";
    std::fputs(md.c_str(), stdout);
    if (!markdown_path.empty()) {
      ssm::io::write_file_atomic(markdown_path, md.data(), md.size(), "ssmkit-bench --markdown");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ssmkit-bench: %s\n", e.what());
    return 1;
  }
  return g_disagreements == 0 ? 0 : 1;
}
