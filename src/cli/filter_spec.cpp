// Filter specs (`--filter`, engine.hpp): parsing, validation and the model of a spec.
#include <charconv>
#include <cmath>
#include <complex>
#include <cstdio>
#include <numbers>
#include <set>
#include <vector>

#include "engine.hpp"
#include "model_support.hpp"
#include "spec_models.hpp"
#include "ssm/continuous/s4d_init.hpp"
#include "ssm/core/error.hpp"

namespace ssm::cli {
namespace {

// ---- spec parsing ---------------------------------------------------------------------------
[[noreturn]] void spec_error(const FilterSpec& s, const std::string& what) {
  throw Error("--filter '" + s.text + "': " + what);
}

double key_double(const FilterSpec& s, const std::string& key, double fallback) {
  auto it = s.keys.find(key);
  if (it == s.keys.end()) return fallback;
  const std::string& v = it->second;
  double x = 0;
  const auto r = std::from_chars(v.data(), v.data() + v.size(), x);
  if (r.ec != std::errc() || r.ptr != v.data() + v.size() || !std::isfinite(x))
    spec_error(s, key + "=" + v + " is not a finite number");
  return x;
}

long long key_int(const FilterSpec& s, const std::string& key, long long fallback) {
  auto it = s.keys.find(key);
  if (it == s.keys.end()) return fallback;
  const std::string& v = it->second;
  long long x = 0;
  const auto r = std::from_chars(v.data(), v.data() + v.size(), x);
  if (r.ec != std::errc() || r.ptr != v.data() + v.size()) spec_error(s, key + "=" + v + " is not an integer");
  return x;
}

Method key_method(const FilterSpec& s, Method fallback) {
  auto it = s.keys.find("method");
  if (it == s.keys.end()) return fallback;
  if (it->second == "zoh") return Method::zoh;
  if (it->second == "bilinear") return Method::bilinear;
  spec_error(s, "method=" + it->second + " is not one of zoh, bilinear");
}

}  // namespace

FilterSpec parse_filter_spec(std::string_view text) {
  FilterSpec s;
  s.text = std::string(text);
  std::vector<std::string> parts;
  std::size_t at = 0;
  while (true) {
    const std::size_t colon = text.find(':', at);
    parts.emplace_back(text.substr(at, colon == std::string_view::npos ? std::string_view::npos : colon - at));
    if (colon == std::string_view::npos) break;
    at = colon + 1;
  }
  if (parts.size() < 2 || parts[0].empty() || parts[1].empty())
    spec_error(s, "expected <family>:<variant>[:key=value...], e.g. hippo:legt:N=64:theta=0.01 or s4d:lin:N=64");
  s.family = parts[0];
  s.variant = parts[1];
  std::set<std::string> allowed;
  if (s.family == "hippo") {
    allowed = {"N", "theta", "delay", "method"};
    if (s.variant != "legs" && s.variant != "legt" && s.variant != "lagt" && s.variant != "fout")
      spec_error(s, "unknown HiPPO measure '" + s.variant + "' (expected legs, legt, lagt or fout)");
  } else if (s.family == "s4d") {
    allowed = {"H", "N", "seed", "dt_min", "dt_max", "method"};
    if (s.variant != "lin" && s.variant != "inv" && s.variant != "legs" && s.variant != "real")
      spec_error(s, "unknown S4D initialization '" + s.variant + "' (expected lin, inv, legs or real)");
  } else if (s.family == "butter") {
    allowed = {"order", "cutoff", "method"};
    if (s.variant != "lowpass") spec_error(s, "unknown Butterworth response '" + s.variant + "' (expected lowpass)");
  } else {
    spec_error(s, "unknown filter family '" + s.family + "' (expected hippo, s4d or butter)");
  }
  for (std::size_t i = 2; i < parts.size(); ++i) {
    const std::size_t eq = parts[i].find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == parts[i].size())
      spec_error(s, "'" + parts[i] + "' is not key=value");
    const std::string key = parts[i].substr(0, eq);
    if (!allowed.count(key)) {
      std::string list;
      for (const auto& k : allowed) list += (list.empty() ? "" : ", ") + k;
      spec_error(s, "unknown key '" + key + "' for " + s.family + " (allowed: " + list + ")");
    }
    if (!s.keys.emplace(key, parts[i].substr(eq + 1)).second) spec_error(s, "key '" + key + "' given twice");
  }
  // Validate values now so that errors surface before any input is read.
  if (s.family == "hippo") {
    const long long N = key_int(s, "N", 64);
    if (N < 1 || N > 1024) spec_error(s, "N must be in [1, 1024], got " + std::to_string(N));
    if (s.variant == "fout" && N % 2) spec_error(s, "fout needs an even N, got " + std::to_string(N));
    const double theta = key_double(s, "theta", 0.01);
    if (!(theta > 0)) spec_error(s, "theta must be > 0 seconds, got " + fmt(theta));
    if (s.keys.count("delay") && s.variant != "legt") spec_error(s, "delay applies only to legt");
    const double delay = key_double(s, "delay", theta / 2);
    if (!(delay >= 0 && delay <= theta)) spec_error(s, "delay must be in [0, theta], got " + fmt(delay));
    key_method(s, Method::bilinear);
  } else if (s.family == "butter") {
    const long long order = key_int(s, "order", 8);
    if (order < 2 || order > 32 || order % 2)
      spec_error(s, "order must be even and in [2, 32], got " + std::to_string(order));
    const double fc = key_double(s, "cutoff", 1000);
    if (!(fc > 0 && fc <= 1e6)) spec_error(s, "cutoff must be in (0, 1e6] Hz, got " + fmt(fc));
    key_method(s, Method::zoh);
  } else {
    if (s.keys.count("H")) {
      const long long H = key_int(s, "H", 1);
      if (H < 1 || H > 65536) spec_error(s, "H must be in [1, 65536], got " + std::to_string(H));
    }
    const long long N = key_int(s, "N", 64);
    if (N < 2 || N % 2 || N > 4096) spec_error(s, "N (real state size) must be even and in [2, 4096], got " + std::to_string(N));
    if (key_int(s, "seed", 0) < 0) spec_error(s, "seed must be >= 0");
    const double lo = key_double(s, "dt_min", 1e-3), hi = key_double(s, "dt_max", 1e-1);
    if (!(lo > 0 && hi >= lo)) spec_error(s, "need 0 < dt_min <= dt_max");
    key_method(s, Method::zoh);
  }
  return s;
}

std::unique_ptr<Model> make_model(const FilterSpec& s, int channels) {
  require(channels >= 1, "make_model", "channels", "must be >= 1, got ", channels);
  if (s.family == "hippo") {
    const double theta = key_double(s, "theta", 0.01);
    return make_hippo_model(hippo::parse_measure(s.variant), static_cast<int>(key_int(s, "N", 64)), theta,
                            key_double(s, "delay", theta / 2), key_method(s, Method::bilinear), channels);
  }
  if (s.family == "butter") {
    // A designed filter: the analog Butterworth low-pass H(s) = wc^n / prod_k (s - p_k), poles
    // p_k = wc exp(i pi (2k + n - 1) / (2n)), k = 1..n, as a diagonal SSM: one complex mode per
    // conjugate pair (the upper half-plane pole), B = 1, C = the residue wc^n / prod_{j != k}
    // (p_k - p_j), so that y = 2 Re(sum C x) is the sum of the partial fractions over all poles.
    // A is in rad/s: dt = 1 / rate (log_dt at the 48 kHz reference rate).
    const int n = static_cast<int>(key_int(s, "order", 8));
    const double fc = key_double(s, "cutoff", 1000), wc = 2 * std::numbers::pi * fc;
    std::vector<std::complex<double>> p(static_cast<std::size_t>(n));
    for (int k = 1; k <= n; ++k) p[static_cast<std::size_t>(k - 1)] = std::polar(wc, std::numbers::pi * (2 * k + n - 1) / (2.0 * n));
    const int N2 = n / 2;
    DiagonalSSM m(channels, N2);
    m.reference_rate = 48000;
    for (int h = 0; h < channels; ++h) {
      for (int k = 0; k < N2; ++k) {  // p[0 .. n/2) have Im > 0
        std::complex<double> r = std::pow(wc, n);
        for (int j = 0; j < n; ++j)
          if (j != k) r /= p[static_cast<std::size_t>(k)] - p[static_cast<std::size_t>(j)];
        m.A.set(m.index(h, k), p[static_cast<std::size_t>(k)]);
        m.B.set(m.index(h, k), 1.0);
        m.C.set(m.index(h, k), r);
      }
      m.D[static_cast<std::size_t>(h)] = 0;
      m.log_dt[static_cast<std::size_t>(h)] = std::log(1.0 / 48000);
    }
    char name[96];
    std::snprintf(name, sizeof name, "Butterworth low-pass (order %d, %g Hz) as a", n, fc);
    return make_diag_model(std::move(m), key_method(s, Method::zoh), name);
  }
  const int H = static_cast<int>(key_int(s, "H", channels));
  if (H != channels && H != 1)
    spec_error(s, "H=" + std::to_string(H) + " but the input has " + std::to_string(channels) +
                      " channel(s) (give H equal to the channel count, H=1 to share one filter, or leave H out)");
  S4DInitOptions o;
  o.seed = static_cast<std::uint64_t>(key_int(s, "seed", 0));
  o.dt_min = key_double(s, "dt_min", 1e-3);
  o.dt_max = key_double(s, "dt_max", 1e-1);
  const int N2 = static_cast<int>(key_int(s, "N", 64) / 2);
  DiagonalSSM m = s4d_init(parse_s4d_init(s.variant), 1, N2, o);
  if (H == 1 && channels > 1) {
    // One filter shared by every channel: tile channel 0.
    DiagonalSSM t(channels, N2);
    t.reference_rate = m.reference_rate;
    for (int h = 0; h < channels; ++h) {
      for (int n = 0; n < N2; ++n) {
        t.A.set(t.index(h, n), m.a(0, n));
        t.B.set(t.index(h, n), m.b(0, n));
        t.C.set(t.index(h, n), m.c(0, n));
      }
      t.D[static_cast<std::size_t>(h)] = m.D[0];
      t.log_dt[static_cast<std::size_t>(h)] = m.log_dt[0];
    }
    m = std::move(t);
  } else if (H > 1) {
    m = s4d_init(parse_s4d_init(s.variant), H, N2, o);
  }
  const std::string names[] = {"S4D-Lin", "S4D-Inv", "S4D-LegS", "S4D-Real"};
  const std::string origin = names[static_cast<int>(parse_s4d_init(s.variant))];
  return make_diag_model(std::move(m), key_method(s, Method::zoh), origin);
}

}  // namespace ssm::cli
