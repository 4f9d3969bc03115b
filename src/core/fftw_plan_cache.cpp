#include "core/fftw_plan_cache.hpp"

#include <atomic>
#include <cmath>
#include <map>
#include <tuple>
#include <mutex>
#include <utility>

#include "ssm/core/fft_planning.hpp"
#include "ssm/core/error.hpp"

namespace ssm::detail {
namespace {

std::atomic<int> g_effort{0};            // 0 estimate, 1 measure
std::atomic<double> g_time_limit{10.0};  // seconds, measure only

std::mutex& planner_mutex() {
  static std::mutex m;
  return m;
}

void make_planner_thread_safe_once() {
  // Serialises FFTW planning done by code that does not go through this cache (FFTW >= 3.3.5).
  static std::once_flag once;
  std::call_once(once, [] {
    fftw_make_planner_thread_safe();
    fftwf_make_planner_thread_safe();
  });
}

template <class T>
typename Fftw<T>::plan plan_many(bool forward, int n, int howmany, void* real, void* cpx, bool measure) {
  const int nc = n / 2 + 1;
  // FFTW_ESTIMATE (default): deterministic, instant planning. FFTW_MEASURE: timed search,
  // bounded by the time limit; it scribbles on the planning arrays, which are scratch here.
  const unsigned flags = measure ? FFTW_MEASURE : FFTW_ESTIMATE;
  if (measure) {
    if constexpr (std::is_same_v<T, double>) fftw_set_timelimit(g_time_limit.load());
    else fftwf_set_timelimit(g_time_limit.load());
  }
  if constexpr (std::is_same_v<T, double>) {
    return forward ? fftw_plan_many_dft_r2c(1, &n, howmany, static_cast<double*>(real), nullptr, 1,
                                            n, static_cast<fftw_complex*>(cpx), nullptr, 1, nc, flags)
                   : fftw_plan_many_dft_c2r(1, &n, howmany, static_cast<fftw_complex*>(cpx), nullptr,
                                            1, nc, static_cast<double*>(real), nullptr, 1, n, flags);
  } else {
    return forward ? fftwf_plan_many_dft_r2c(1, &n, howmany, static_cast<float*>(real), nullptr, 1,
                                             n, static_cast<fftwf_complex*>(cpx), nullptr, 1, nc, flags)
                   : fftwf_plan_many_dft_c2r(1, &n, howmany, static_cast<fftwf_complex*>(cpx), nullptr,
                                             1, nc, static_cast<float*>(real), nullptr, 1, n, flags);
  }
}

template <class T>
void destroy(typename Fftw<T>::plan p) {
  if (!p) return;
  if constexpr (std::is_same_v<T, double>) fftw_destroy_plan(p);
  else fftwf_destroy_plan(p);
}

template <class T>
class PlanCache {
public:
  ~PlanCache() {
    for (auto& [key, plan] : plans_) {
      destroy<T>(plan->forward);
      destroy<T>(plan->backward);
    }
  }
  const RealPlan<T>& get(std::ptrdiff_t n, std::ptrdiff_t howmany) {
    require(n >= 1 && n <= (std::ptrdiff_t{1} << 30), "fftw real_plan", "n", "must be in [1, 2^30], got ", n);
    require(howmany >= 1 && n * howmany <= (std::ptrdiff_t{1} << 31) - 1, "fftw real_plan", "howmany",
            "must be >= 1 with n*howmany < 2^31, got ", howmany, " (n = ", n, ")");
    make_planner_thread_safe_once();
    const bool measure = g_effort.load() == 1;
    std::lock_guard<std::mutex> lock(planner_mutex());
    const auto key = std::make_tuple(n, howmany, measure);
    auto it = plans_.find(key);
    if (it != plans_.end()) return *it->second;
    // Plan on aligned scratch arrays of the right size; execution later uses other
    // fftw_malloc'ed arrays (same alignment), through the new-array execute functions.
    FftwBuffer<T> real(static_cast<std::size_t>(n * howmany));
    FftwBuffer<std::complex<T>> cpx(static_cast<std::size_t>((n / 2 + 1) * howmany));
    auto p = std::make_unique<RealPlan<T>>();
    p->n = n;
    p->howmany = howmany;
    p->forward = plan_many<T>(true, static_cast<int>(n), static_cast<int>(howmany), real.data(), cpx.data(), measure);
    p->backward = plan_many<T>(false, static_cast<int>(n), static_cast<int>(howmany), real.data(), cpx.data(), measure);
    if (!p->forward || !p->backward) {
      destroy<T>(p->forward);
      destroy<T>(p->backward);
      fail("fftw real_plan", "n", "could not be planned by FFTW (n = ", n, ", howmany = ", howmany, ")");
    }
    auto& ref = *p;
    plans_.emplace(key, std::move(p));
    return ref;
  }

private:
  std::map<std::tuple<std::ptrdiff_t, std::ptrdiff_t, bool>, std::unique_ptr<RealPlan<T>>> plans_;
};

template <class T>
PlanCache<T>& cache() {
  static PlanCache<T> c;
  return c;
}

}  // namespace

template <class T>
const RealPlan<T>& real_plan(std::ptrdiff_t n, std::ptrdiff_t howmany) {
  return cache<T>().get(n, howmany);
}
template const RealPlan<float>& real_plan<float>(std::ptrdiff_t, std::ptrdiff_t);
template const RealPlan<double>& real_plan<double>(std::ptrdiff_t, std::ptrdiff_t);

}  // namespace ssm::detail

namespace ssm {

void set_fft_planning(FftPlanning effort, double time_limit_s) {
  require(std::isfinite(time_limit_s) && time_limit_s > 0, "set_fft_planning", "time_limit_s",
          "must be finite and > 0, got ", time_limit_s);
  detail::g_time_limit.store(time_limit_s);
  detail::g_effort.store(effort == FftPlanning::measure ? 1 : 0);
}
FftPlanning fft_planning() noexcept {
  return detail::g_effort.load() == 1 ? FftPlanning::measure : FftPlanning::estimate;
}

}  // namespace ssm

namespace ssm::detail {

void lock_fftw_planner() {
  make_planner_thread_safe_once();
  planner_mutex().lock();
}
void unlock_fftw_planner() { planner_mutex().unlock(); }

}  // namespace ssm::detail
