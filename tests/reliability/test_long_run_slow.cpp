#define BOOST_TEST_MODULE long_run_slow
// Long-run numerical health of every streaming type (label `slow`: `ctest -L slow`).
//
// Each type streams >= 1e8 samples of a denormal-prone signal: cycles of a 2^15-sample burst of
// uniform noise followed by 2^17 samples of exact silence, in blocks of 256. The system is
// HiPPO-LegS (N = 8) with time scale theta = 10 ms, so its slowest pole decays at 100/s: after a
// burst a float state falls through the subnormal range (1e-38 .. 1e-45) about 42000-50000
// samples into the silence at 48 kHz, the classic denormal stall of recursive filters.
//
// Checked per type:
//   - no NaN/Inf in any output sample;
//   - no drift: at the end of every burst the float output agrees with a float64 DenseFilter
//     reference over the last block (relative to the burst's peak output); the error at the last
//     checkpoint is no larger than at the first ones (with slack) and every checkpoint is within
//     tolerance (the conv path is compared with the recurrence: stream vs conv);
//   - no subnormal numbers in the float state/output during the silence (denormals flushed);
//   - flat per-block cost: median wall time of a block in the denormal zone of the silence
//     divided by the median of a burst block. This ratio is printed; the assertion bound is a
//     deliberately generous 3.0, because wall-clock timing on a shared CI machine is noisy and
//     this is not a benchmark: a real denormal stall costs 10-100x per operation and still fails
//     it clearly. (Timed assertions do not belong in the default test set; this test is `slow`.)
// Types: DenseFilter<float> (reference DenseFilter<double>), PartitionedConvolver<float> with the
// system's impulse response as kernel (reference: the DenseFilter<double> recurrence, i.e.
// conv vs stream), DiagFilter<float> (S4D modes with the same slowest decay rate; reference
// DiagFilter<double>; joins when include/ssm/stream/diag_filter.hpp exists).
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <span>
#include <vector>

#include "ssm/continuous/hippo.hpp"
#include "ssm/stream/dense_filter.hpp"
#include "ssm/stream/partitioned_convolver.hpp"
#if __has_include("ssm/stream/diag_filter.hpp")
#include "ssm/stream/diag_filter.hpp"
#define SSM_TEST_HAVE_DIAG_FILTER 1
#endif

using namespace ssm;

namespace {

constexpr double kRate = 48000.0;
constexpr std::size_t kBlock = 256;
constexpr std::size_t kBurst = std::size_t{1} << 15;
constexpr std::size_t kSilence = std::size_t{1} << 17;
constexpr std::size_t kCycle = kBurst + kSilence;
constexpr std::size_t kTotal = 100'000'000;
constexpr std::size_t kCycles = (kTotal + kCycle - 1) / kCycle;  // >= 1e8 samples in all
// Blocks whose start lies in this window after the burst's end are "denormal zone" blocks.
constexpr std::size_t kZoneBegin = 38000, kZoneEnd = 60000;
constexpr double kCostBound = 3.0;

ContinuousSystem test_system() {
  const int N = 8;
  return hippo::system(hippo::Measure::legs, N, Eigen::RowVectorXd::Constant(N, 1.0 / N), 0.0, 0.01);
}

// Cheap deterministic uniform noise in [-1, 1) (xorshift64*).
struct Noise {
  std::uint64_t s = 0x9E3779B97F4A7C15ull;
  float next() noexcept {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    const std::uint64_t r = s * 2685821657736338717ull;
    return static_cast<float>(static_cast<double>(r >> 11) * (2.0 / 9007199254740992.0) - 1.0);
  }
};

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

struct Report {
  std::size_t samples = 0, non_finite = 0, subnormal = 0;
  std::vector<double> checkpoint_err;  // per burst: max |y - ref| / peak |ref| over its last block
  std::vector<double> burst_ns, zone_ns;
};

// Streams the test signal through `process(in, out, n)` (the type under test, float) and
// `reference(in, out, n)` (float64); `state_subnormals()` counts subnormal values in the type's
// state.
template <class Process, class Reference, class StateCheck>
Report stream(Process&& process, Reference&& reference, StateCheck&& state_subnormals) {
  Noise noise;
  Report r;
  std::vector<float> in(kBlock), out(kBlock);
  std::vector<double> in_d(kBlock), out_d(kBlock);
  using clock = std::chrono::steady_clock;
  for (std::size_t c = 0; c < kCycles; ++c) {
    double peak = 0, last_err = 0;
    for (std::size_t pos = 0; pos < kCycle; pos += kBlock) {
      const bool burst = pos < kBurst;
      for (std::size_t i = 0; i < kBlock; ++i) in[i] = burst ? noise.next() : 0.0f;
      for (std::size_t i = 0; i < kBlock; ++i) in_d[i] = in[i];
      const auto t0 = clock::now();
      process(in.data(), out.data(), kBlock);
      const auto t1 = clock::now();
      reference(in_d.data(), out_d.data(), kBlock);
      r.samples += kBlock;
      const double ns = std::chrono::duration<double, std::nano>(t1 - t0).count();
      if (burst && pos >= kBlock * 8) r.burst_ns.push_back(ns);  // skip the burst's onset
      const std::size_t after = burst ? 0 : pos - kBurst;
      if (!burst && after >= kZoneBegin && after < kZoneEnd) {
        r.zone_ns.push_back(ns);
        r.subnormal += state_subnormals();
      }
      for (std::size_t i = 0; i < kBlock; ++i) {
        if (!std::isfinite(out[i])) ++r.non_finite;
        if (std::fpclassify(out[i]) == FP_SUBNORMAL) ++r.subnormal;
        if (burst) peak = std::max(peak, std::fabs(out_d[i]));
      }
      if (pos + kBlock == kBurst) {  // checkpoint: the last block of the burst
        for (std::size_t i = 0; i < kBlock; ++i) last_err = std::max(last_err, std::fabs(out[i] - out_d[i]));
        r.checkpoint_err.push_back(last_err / std::max(peak, 1e-30));
      }
    }
  }
  return r;
}

void judge(const char* name, const Report& r, double tol) {
  const double ratio = median(r.zone_ns) / median(r.burst_ns);
  const double first = *std::max_element(r.checkpoint_err.begin(), r.checkpoint_err.begin() + 4);
  const double worst = *std::max_element(r.checkpoint_err.begin(), r.checkpoint_err.end());
  const double last = r.checkpoint_err.back();
  std::printf("%s: %zu samples, %zu checkpoints, error vs float64 first/last/worst %.3g/%.3g/%.3g, "
              "non-finite %zu, subnormal %zu, silent(denormal zone)/burst block cost %.3f "
              "(median %.0f / %.0f ns per %zu-sample block; bound %.1f)\n",
              name, r.samples, r.checkpoint_err.size(), first, last, worst, r.non_finite, r.subnormal,
              ratio, median(r.zone_ns), median(r.burst_ns), kBlock, kCostBound);
  BOOST_TEST(r.samples >= kTotal);
  BOOST_TEST(r.non_finite == 0u);
  BOOST_TEST(r.subnormal == 0u);
  BOOST_TEST(worst < tol);
  BOOST_TEST(last <= 4 * first + tol / 10);  // no growth over 1e8 samples
  BOOST_TEST(ratio < kCostBound);
}

template <class T>
std::size_t count_subnormals(std::span<const T> s) {
  std::size_t n = 0;
  for (T v : s) n += std::fpclassify(v) == FP_SUBNORMAL;
  return n;
}

// The float64 recurrence of test_system(): the reference of the dense and conv paths.
struct DenseReference {
  DenseFilter<double> f{test_system(), {Method::bilinear, Convention::ssm}};
  DenseReference() { f.prepare({kRate, static_cast<int>(kBlock)}); }
  void operator()(const double* u, double* y, std::size_t n) noexcept { f.process_mono(u, y, n); }
};

}  // namespace

BOOST_AUTO_TEST_CASE(dense_filter_1e8_samples) {
  DenseFilter<float> f(test_system(), {Method::bilinear, Convention::ssm});
  f.prepare({kRate, static_cast<int>(kBlock)});
  DenseReference ref;
  const auto r = stream([&](const float* u, float* y, std::size_t n) { f.process_mono(u, y, n); }, ref,
                        [&] { return count_subnormals(f.channel_state()); });
  judge("DenseFilter<float>", r, 1e-4);
}

BOOST_AUTO_TEST_CASE(partitioned_convolver_1e8_samples) {
  // The kernel is the float64 impulse response of the same system (8192 taps: the slowest mode
  // has decayed by e^-17 there), so this also compares the conv path with the recurrence.
  DenseFilter<double> imp(test_system(), {Method::bilinear, Convention::ssm});
  imp.prepare({kRate, 1});
  const std::ptrdiff_t Lk = 8192;
  std::vector<float> k(Lk);
  for (std::ptrdiff_t j = 0; j < Lk; ++j) {
    const double u = j == 0 ? 1.0 : 0.0;
    double y;
    imp.process_mono(&u, &y, 1);
    k[j] = static_cast<float>(y);
  }
  PartitionedConvolver<float> pc;
  PartitionSpec spec;
  spec.max_block = static_cast<int>(kBlock);
  pc.prepare(1, k.data(), Lk, nullptr, spec);
  BOOST_TEST(pc.latency() == 0);
  DenseReference ref;
  const auto r = stream([&](const float* u, float* y, std::size_t n) { pc.process_mono(u, y, n); }, ref,
                        [] { return std::size_t{0}; });  // state not observable; outputs are checked
  judge("PartitionedConvolver<float>", r, 1e-4);
}

#ifdef SSM_TEST_HAVE_DIAG_FILTER
BOOST_AUTO_TEST_CASE(diag_filter_1e8_samples) {
  // One channel, 8 complex modes with the test system's slowest decay (Re A = -100/s) and
  // resonances at 0.5 .. 4 kHz; dt = 1/48000 s at the reference rate.
  DiagonalSSM m(1, 8);
  for (int n = 0; n < 8; ++n) {
    m.A.set(static_cast<std::size_t>(n), {-100.0 * (1 + n % 2), 2 * M_PI * 500.0 * (n + 1)});
    m.B.set(static_cast<std::size_t>(n), {1.0, 0.0});
    m.C.set(static_cast<std::size_t>(n), {50.0, 20.0 * n});
  }
  m.D[0] = 0.0;
  m.reference_rate = kRate;
  m.log_dt[0] = std::log(1.0 / kRate);
  DiagFilter<float> f(m, Method::zoh);
  DiagFilter<double> ref(m, Method::zoh);
  f.prepare({kRate, static_cast<int>(kBlock)});  // one channel (H = 1)
  ref.prepare({kRate, static_cast<int>(kBlock)});
  std::vector<float> re(8), im(8);
  const auto r = stream([&](const float* u, float* y, std::size_t n) { f.process_mono(u, y, n); },
                        [&](const double* u, double* y, std::size_t n) { ref.process_mono(u, y, n); },
                        [&] {
                          if (!f.get_state(re, im)) return std::size_t{1};
                          return count_subnormals<float>(re) + count_subnormals<float>(im);
                        });
  judge("DiagFilter<float>", r, 1e-4);
}
#endif
