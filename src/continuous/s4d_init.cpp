#include "ssm/continuous/s4d_init.hpp"

#include <cmath>
#include <numbers>
#include <random>
#include <string>

#include "ssm/continuous/nplr.hpp"
#include "ssm/core/error.hpp"

namespace ssm {

S4DInit parse_s4d_init(std::string_view n) {
  if (n == "lin") return S4DInit::lin;
  if (n == "inv") return S4DInit::inv;
  if (n == "legs") return S4DInit::legs;
  if (n == "real") return S4DInit::real;
  throw Error(detail::concat("s4d_init: argument 'init' must be lin, inv, legs or real, got '",
                             std::string(n), "'"));
}

const char* to_string(S4DInit i) noexcept {
  switch (i) {
    case S4DInit::lin: return "lin";
    case S4DInit::inv: return "inv";
    case S4DInit::legs: return "legs";
    case S4DInit::real: return "real";
  }
  return "?";
}

std::vector<std::complex<double>> s4d_eigenvalues(S4DInit init, int N2) {
  require(N2 >= 1, "s4d_eigenvalues", "N2", "must be >= 1, got ", N2);
  std::vector<std::complex<double>> a(static_cast<std::size_t>(N2));
  const double pi = std::numbers::pi, N = 2.0 * N2;
  switch (init) {
    case S4DInit::lin:
      for (int n = 0; n < N2; ++n) a[n] = {-0.5, pi * n};
      break;
    case S4DInit::inv:
      for (int n = 0; n < N2; ++n) a[n] = {-0.5, N / pi * (N / (2.0 * n + 1.0) - 1.0)};
      break;
    case S4DInit::real:
      for (int n = 0; n < N2; ++n) a[n] = {-(n + 1.0), 0.0};
      break;
    case S4DInit::legs: {
      const NPLR f = nplr(hippo::Measure::legs, 2 * N2);
      for (int n = 0; n < N2; ++n) a[n] = f.Lambda(n);
      break;
    }
  }
  return a;
}

std::vector<std::complex<double>> s4d_input_gains(S4DInit init, int N2) {
  require(N2 >= 1, "s4d_input_gains", "N2", "must be >= 1, got ", N2);
  std::vector<std::complex<double>> b(static_cast<std::size_t>(N2), {1.0, 0.0});
  if (init == S4DInit::legs) {
    const NPLR f = nplr(hippo::Measure::legs, 2 * N2);
    for (int n = 0; n < N2; ++n) b[n] = f.B(n);
  }
  return b;
}

DiagonalSSM s4d_init(S4DInit init, int H, int N2, const S4DInitOptions& o) {
  require(H >= 1, "s4d_init", "H", "must be >= 1, got ", H);
  require(N2 >= 1, "s4d_init", "N2", "must be >= 1, got ", N2);
  require(std::isfinite(o.dt_min) && o.dt_min > 0, "s4d_init", "dt_min", "must be finite and > 0, got ", o.dt_min);
  require(std::isfinite(o.dt_max) && o.dt_max >= o.dt_min, "s4d_init", "dt_max",
          "must be finite and >= dt_min, got ", o.dt_max);
  DiagonalSSM m(H, N2);
  m.reference_rate = o.reference_rate;
  const auto a = s4d_eigenvalues(init, N2);
  const auto b = s4d_input_gains(init, N2);
  std::mt19937_64 g(o.seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> unif(std::log(o.dt_min), std::log(o.dt_max));
  const double s = std::sqrt(0.5);
  for (int h = 0; h < H; ++h) {
    m.log_dt[h] = o.dt_min == o.dt_max ? std::log(o.dt_min) : unif(g);
    m.D[h] = normal(g);
    for (int n = 0; n < N2; ++n) {
      const std::size_t i = m.index(h, n);
      m.A.set(i, a[n]);
      m.B.set(i, b[n]);
      const double re = normal(g) * s, im = normal(g) * s;
      m.C.set(i, {re, im});
    }
  }
  m.validate("s4d_init");
  return m;
}

}  // namespace ssm
