#include "ssm/discretize/diagonal.hpp"

#include <cmath>
#include <complex>

#include "ssm/core/error.hpp"

namespace ssm {

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
