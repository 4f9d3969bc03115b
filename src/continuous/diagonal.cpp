#include "ssm/continuous/diagonal.hpp"

#include <cmath>

#include "ssm/core/error.hpp"

namespace ssm {

DiagonalSSM::DiagonalSSM(int h, int n2) : H(h), N2(n2) {
  require(h >= 1, "DiagonalSSM", "H", "must be >= 1, got ", h);
  require(n2 >= 1, "DiagonalSSM", "N2", "must be >= 1, got ", n2);
  const std::size_t n = static_cast<std::size_t>(h) * n2;
  A.resize(n);
  B.resize(n);
  C.resize(n);
  D.assign(h, 0.0);
  log_dt.assign(h, 0.0);
}

double DiagonalSSM::dt(int h) const { return std::exp(log_dt.at(static_cast<std::size_t>(h))); }

void DiagonalSSM::set_dt(std::span<const double> dt) {
  require(static_cast<int>(dt.size()) == H, "DiagonalSSM::set_dt", "dt", "must have H = ", H,
          " values, got ", dt.size());
  for (double v : dt)
    require(std::isfinite(v) && v > 0, "DiagonalSSM::set_dt", "dt", "must be finite and > 0, got ", v);
  log_dt.resize(dt.size());
  for (std::size_t i = 0; i < dt.size(); ++i) log_dt[i] = std::log(dt[i]);
}

void DiagonalSSM::validate(const char* where) const {
  require(H >= 1, where, "H", "must be >= 1, got ", H);
  require(N2 >= 1, where, "N2", "must be >= 1, got ", N2);
  const std::size_t n = static_cast<std::size_t>(H) * N2;
  auto check = [&](const SplitComplexVec<double>& v, const char* name) {
    require(v.re.size() == n && v.im.size() == n, where, name, "must hold H*N2 = ", n,
            " complex values, got ", v.re.size(), " / ", v.im.size());
    for (std::size_t i = 0; i < n; ++i)
      require(std::isfinite(v.re[i]) && std::isfinite(v.im[i]), where, name,
              "must be finite (entry ", i, " is not)");
  };
  check(A, "A");
  check(B, "B");
  check(C, "C");
  require(D.size() == static_cast<std::size_t>(H), where, "D", "must have H = ", H, " values, got ", D.size());
  require(log_dt.size() == static_cast<std::size_t>(H), where, "log_dt", "must have H = ", H,
          " values, got ", log_dt.size());
  for (double v : D) require(std::isfinite(v), where, "D", "must be finite");
  for (double v : log_dt) require(std::isfinite(v), where, "log_dt", "must be finite");
  require(std::isfinite(reference_rate) && reference_rate > 0, where, "reference_rate",
          "must be finite and > 0, got ", reference_rate);
}

DiagonalDiscrete discretize(const DiagonalSSM& m, Method method, double dt_scale, double alpha) {
  m.validate("discretize(DiagonalSSM)");
  require(std::isfinite(dt_scale) && dt_scale > 0, "discretize(DiagonalSSM)", "dt_scale",
          "must be finite and > 0, got ", dt_scale);
  require(method != Method::foh, "discretize(DiagonalSSM)", "method",
          "foh is not defined for the ssm convention of diagonal models");
  double al = 0;
  if (method != Method::zoh) {
    al = gbt_alpha(method, alpha);
    require(al >= 0 && al <= 1, "discretize(DiagonalSSM)", "alpha", "must lie in [0, 1], got ", al);
  }
  DiagonalDiscrete d;
  d.H = m.H;
  d.N2 = m.N2;
  const std::size_t n = static_cast<std::size_t>(m.H) * m.N2;
  d.Ad.resize(n);
  d.Bd.resize(n);
  d.log_Ad.resize(n);
  d.dt.resize(m.H);
  for (int h = 0; h < m.H; ++h) {
    const double dt = m.dt(h) * dt_scale;
    require(std::isfinite(dt) && dt > 0, "discretize(DiagonalSSM)", "dt",
            "must be finite and > 0 in channel ", h, ", got ", dt);
    d.dt[h] = dt;
    for (int k = 0; k < m.N2; ++k) {
      const std::size_t i = m.index(h, k);
      const std::complex<double> a = m.A.get(i);
      std::complex<double> ad, bd, la;
      if (method == Method::zoh) {
        discretize_diag<double>(a, m.B.get(i), dt, Method::zoh, 0.0, ad, bd);
        la = dt * a;
      } else {
        const std::complex<double> den = 1.0 - al * dt * a;
        require(std::abs(den) > 1e-300, "discretize(DiagonalSSM)", "A",
                "has a pole at 1/(alpha dt) (singular gbt) in channel ", h, ", mode ", k);
        discretize_diag<double>(a, m.B.get(i), dt, Method::gbt, al, ad, bd);
        la = ad == 0.0 ? std::complex<double>(-INFINITY, 0.0) : std::log(ad);
      }
      require(std::isfinite(ad.real()) && std::isfinite(ad.imag()) && std::isfinite(bd.real()) &&
                  std::isfinite(bd.imag()),
              "discretize(DiagonalSSM)", "dt", "gives a non-finite discretization in channel ", h,
              ", mode ", k, " (dt = ", dt, ")");
      d.Ad.set(i, ad);
      d.Bd.set(i, bd);
      d.log_Ad.set(i, la);
    }
  }
  return d;
}

}  // namespace ssm
