#include "core/fftw_plan_cache.hpp"

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>

#include "ssm/core/fft_planning.hpp"
#include "ssm/core/error.hpp"

namespace ssm::detail {
namespace {

std::atomic<int> g_effort{0};            // 0 estimate, 1 measure, 2 patient
std::atomic<double> g_time_limit{10.0};  // seconds, measure / patient only

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

// ---- wisdom (held under the planner mutex: FFTW's wisdom is planner state) ---------------
constexpr const char* kWisdomHeader = "ssmkit-fftw-wisdom 1";
constexpr const char* kWisdomFloat = "--- float ---";

std::string wisdom_text() {
  std::string out = std::string(kWisdomHeader) + "\n";
  char* d = fftw_export_wisdom_to_string();
  char* f = fftwf_export_wisdom_to_string();
  out += d ? d : "";
  out += "\n";
  out += kWisdomFloat;
  out += "\n";
  out += f ? f : "";
  std::free(d);
  std::free(f);
  return out;
}

// Writes PATH.tmp, then renames it over PATH (readers never see a partial file).
bool write_wisdom(const std::string& path) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream o(tmp, std::ios::binary | std::ios::trunc);
    if (!o) return false;
    o << wisdom_text();
    if (!o.flush()) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

enum class WisdomRead { missing, bad, ok };
WisdomRead read_wisdom(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return WisdomRead::missing;
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  const std::string head = std::string(kWisdomHeader) + "\n";
  const std::size_t sep = text.find(std::string("\n") + kWisdomFloat + "\n");
  if (text.compare(0, head.size(), head) != 0 || sep == std::string::npos) return WisdomRead::bad;
  const std::string d = text.substr(head.size(), sep - head.size());
  const std::string f = text.substr(sep + 2 + std::string(kWisdomFloat).size());
  if (!fftw_import_wisdom_from_string(d.c_str()) || !fftwf_import_wisdom_from_string(f.c_str()))
    return WisdomRead::bad;
  return WisdomRead::ok;
}

// SSM_FFTW_WISDOM: loaded before the first plan, saved after each new measured plan.
const std::string& env_wisdom_path() {
  static const std::string p = [] {
    const char* e = std::getenv("SSM_FFTW_WISDOM");
    return std::string(e ? e : "");
  }();
  return p;
}
void load_env_wisdom_once() {  // caller holds the planner mutex
  static bool done = false;
  if (done) return;
  done = true;
  if (!env_wisdom_path().empty()) (void)read_wisdom(env_wisdom_path());  // missing or bad: start afresh
}

unsigned planner_flags(int effort) {
  return effort == 2 ? FFTW_PATIENT : effort == 1 ? FFTW_MEASURE : FFTW_ESTIMATE;
}

template <class T>
typename Fftw<T>::plan plan_many(bool forward, int n, int howmany, void* real, void* cpx, int effort) {
  const int nc = n / 2 + 1;
  // FFTW_ESTIMATE (default): deterministic, instant planning. FFTW_MEASURE / FFTW_PATIENT: timed
  // search, bounded by the time limit; it scribbles on the planning arrays, which are scratch here.
  const unsigned flags = planner_flags(effort);
  if (effort > 0) {
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
    const int effort = g_effort.load();
    std::lock_guard<std::mutex> lock(planner_mutex());
    const auto key = std::make_tuple(n, howmany, effort);
    auto it = plans_.find(key);
    if (it != plans_.end()) return *it->second;
    load_env_wisdom_once();
    // Plan on aligned scratch arrays of the right size; execution later uses other
    // fftw_malloc'ed arrays (same alignment), through the new-array execute functions.
    FftwBuffer<T> real(static_cast<std::size_t>(n * howmany));
    FftwBuffer<std::complex<T>> cpx(static_cast<std::size_t>((n / 2 + 1) * howmany));
    auto p = std::make_unique<RealPlan<T>>();
    p->n = n;
    p->howmany = howmany;
    p->forward = plan_many<T>(true, static_cast<int>(n), static_cast<int>(howmany), real.data(), cpx.data(), effort);
    p->backward = plan_many<T>(false, static_cast<int>(n), static_cast<int>(howmany), real.data(), cpx.data(), effort);
    if (!p->forward || !p->backward) {
      destroy<T>(p->forward);
      destroy<T>(p->backward);
      fail("fftw real_plan", "n", "could not be planned by FFTW (n = ", n, ", howmany = ", howmany, ")");
    }
    auto& ref = *p;
    plans_.emplace(key, std::move(p));
    if (effort > 0 && !env_wisdom_path().empty()) (void)write_wisdom(env_wisdom_path());  // best effort
    return ref;
  }

private:
  std::map<std::tuple<std::ptrdiff_t, std::ptrdiff_t, int>, std::unique_ptr<RealPlan<T>>> plans_;
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
  detail::g_effort.store(effort == FftPlanning::patient ? 2 : effort == FftPlanning::measure ? 1 : 0);
}
FftPlanning fft_planning() noexcept {
  const int e = detail::g_effort.load();
  return e == 2 ? FftPlanning::patient : e == 1 ? FftPlanning::measure : FftPlanning::estimate;
}

void save_fft_wisdom(const std::string& path) {
  require(!path.empty(), "save_fft_wisdom", "path", "must not be empty");
  detail::make_planner_thread_safe_once();
  std::lock_guard<std::mutex> lock(detail::planner_mutex());
  require(detail::write_wisdom(path), "save_fft_wisdom", "path", "could not be written: '", path, "'");
}

bool load_fft_wisdom(const std::string& path) {
  require(!path.empty(), "load_fft_wisdom", "path", "must not be empty");
  detail::make_planner_thread_safe_once();
  std::lock_guard<std::mutex> lock(detail::planner_mutex());
  const auto r = detail::read_wisdom(path);
  require(r != detail::WisdomRead::bad, "load_fft_wisdom", "path",
          "must be a wisdom file written by ssm::save_fft_wisdom, got '", path, "'");
  return r == detail::WisdomRead::ok;
}

}  // namespace ssm

namespace ssm::detail {

void lock_fftw_planner() {
  make_planner_thread_safe_once();
  planner_mutex().lock();
}
void unlock_fftw_planner() { planner_mutex().unlock(); }

}  // namespace ssm::detail
