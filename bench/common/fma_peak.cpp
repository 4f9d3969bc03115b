// FMA peak per Highway target (fma_peak.hpp).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "common/fma_peak.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/highway.h>

#include <algorithm>
#include <ctime>
#include <cstdint>

#include "common/fma_peak.hpp"
#include "ssm/core/cpu.hpp"

HWY_BEFORE_NAMESPACE();
namespace ssm::bench::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// 12 independent chains (enough to cover FMA latency x throughput on current cores); returns
// the scalar FMA slots done.
double FmaChains(std::int64_t iters, float* sink) {
  const hn::ScalableTag<float> d;
  const auto m = hn::Set(d, 0.999999f), a = hn::Set(d, 1e-7f);
  auto c0 = hn::Set(d, 1.00f), c1 = hn::Set(d, 1.01f), c2 = hn::Set(d, 1.02f), c3 = hn::Set(d, 1.03f);
  auto c4 = hn::Set(d, 1.04f), c5 = hn::Set(d, 1.05f), c6 = hn::Set(d, 1.06f), c7 = hn::Set(d, 1.07f);
  auto c8 = hn::Set(d, 1.08f), c9 = hn::Set(d, 1.09f), c10 = hn::Set(d, 1.10f), c11 = hn::Set(d, 1.11f);
  for (std::int64_t i = 0; i < iters; ++i) {
    c0 = hn::MulAdd(c0, m, a); c1 = hn::MulAdd(c1, m, a); c2 = hn::MulAdd(c2, m, a);
    c3 = hn::MulAdd(c3, m, a); c4 = hn::MulAdd(c4, m, a); c5 = hn::MulAdd(c5, m, a);
    c6 = hn::MulAdd(c6, m, a); c7 = hn::MulAdd(c7, m, a); c8 = hn::MulAdd(c8, m, a);
    c9 = hn::MulAdd(c9, m, a); c10 = hn::MulAdd(c10, m, a); c11 = hn::MulAdd(c11, m, a);
  }
  const auto s = hn::Add(hn::Add(hn::Add(c0, c1), hn::Add(c2, c3)),
                         hn::Add(hn::Add(hn::Add(c4, c5), hn::Add(c6, c7)), hn::Add(hn::Add(c8, c9), hn::Add(c10, c11))));
  *sink = hn::GetLane(s);
  return 12.0 * static_cast<double>(iters) * static_cast<double>(hn::Lanes(d));
}

}  // namespace ssm::bench::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace ssm::bench {
HWY_EXPORT(FmaChains);

namespace {
// CPU time of the calling thread: the host may be shared, and the benches time their
// single-threaded rows the same way.
double thread_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}
}  // namespace

double fma_peak_slots_per_s() {
  (void)ssm::cpu_isa();  // the library's dispatch choice is made (and applies to this table)
  float sink = 0;
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    const double t0 = thread_seconds();
    const double slots = HWY_DYNAMIC_DISPATCH(FmaChains)(4'000'000, &sink);
    const double s = thread_seconds() - t0;
    best = std::max(best, slots / s);
  }
  volatile float keep = sink;
  (void)keep;
  return best;
}

std::string cpu_path_line() { return "cpu path: " + ssm::cpu_description(); }

}  // namespace ssm::bench
#endif
