#include "ssm/discretize/discretize.hpp"

#include <cmath>
#include <unsupported/Eigen/MatrixFunctions>

#include "ssm/core/error.hpp"

namespace ssm {

Method parse_method(std::string_view n) {
  if (n == "zoh") return Method::zoh;
  if (n == "foh") return Method::foh;
  if (n == "bilinear" || n == "tustin") return Method::bilinear;
  if (n == "euler" || n == "forward_diff") return Method::euler;
  if (n == "backward_diff") return Method::backward_diff;
  if (n == "gbt") return Method::gbt;
  throw Error(detail::concat("discretize: argument 'method' must be zoh, foh, bilinear, euler, "
                             "backward_diff or gbt, got '", std::string(n), "'"));
}

Convention parse_convention(std::string_view n) {
  if (n == "ssm") return Convention::ssm;
  if (n == "control") return Convention::control;
  throw Error(detail::concat("discretize: argument 'convention' must be ssm or control, got '",
                             std::string(n), "'"));
}

const char* to_string(Method m) noexcept {
  switch (m) {
    case Method::zoh: return "zoh";
    case Method::foh: return "foh";
    case Method::bilinear: return "bilinear";
    case Method::euler: return "euler";
    case Method::backward_diff: return "backward_diff";
    case Method::gbt: return "gbt";
  }
  return "?";
}

const char* to_string(Convention c) noexcept { return c == Convention::ssm ? "ssm" : "control"; }

double gbt_alpha(Method m, double alpha) {
  switch (m) {
    case Method::bilinear: return 0.5;
    case Method::euler: return 0.0;
    case Method::backward_diff: return 1.0;
    case Method::gbt: return alpha;
    default: throw Error("gbt_alpha: argument 'method' must be a gbt-family method");
  }
}

DiscreteSystem discretize(const ContinuousSystem& sys, double dt, const Discretization& how) {
  sys.validate("discretize");
  require(std::isfinite(dt) && dt > 0, "discretize", "dt", "must be finite and > 0, got ", dt);
  const Eigen::Index n = sys.states(), m = sys.inputs();
  DiscreteSystem d;
  d.dt = dt;
  d.how = how;
  switch (how.method) {
    case Method::zoh: {
      Eigen::MatrixXd em = Eigen::MatrixXd::Zero(n + m, n + m);
      em.topLeftCorner(n, n) = sys.A * dt;
      em.topRightCorner(n, m) = sys.B * dt;
      const Eigen::MatrixXd ms = em.exp();
      d.Ad = ms.topLeftCorner(n, n);
      d.Bd = ms.topRightCorner(n, m);
      d.Cd = sys.C;
      d.Dd = sys.D;
      break;
    }
    case Method::foh: {
      require(how.convention == Convention::control, "discretize", "method",
              "foh exists only in the control convention (the ssm convention has no first-order hold)");
      Eigen::MatrixXd em = Eigen::MatrixXd::Zero(n + 2 * m, n + 2 * m);
      em.block(0, 0, n, n) = sys.A * dt;
      em.block(0, n, n, m) = sys.B * dt;
      em.block(n, n + m, m, m) = Eigen::MatrixXd::Identity(m, m);
      const Eigen::MatrixXd ms = em.exp();
      const Eigen::MatrixXd m11 = ms.block(0, 0, n, n), m12 = ms.block(0, n, n, m),
                            m13 = ms.block(0, n + m, n, m);
      d.Ad = m11;
      d.Bd = m12 - m13 + m11 * m13;
      d.Cd = sys.C;
      d.Dd = sys.D + sys.C * m13;
      break;
    }
    default: {
      const double alpha = gbt_alpha(how.method, how.alpha);
      require(alpha >= 0 && alpha <= 1, "discretize", "alpha", "must lie in [0, 1], got ", alpha);
      const Eigen::MatrixXd I = Eigen::MatrixXd::Identity(n, n);
      const Eigen::MatrixXd ima = I - alpha * dt * sys.A;
      Eigen::FullPivLU<Eigen::MatrixXd> lu(ima);
      // Singular also when (I - alpha dt A) is small against the terms that cancelled in it:
      // rcond ||M||_1 (about its smallest singular value) below 1e-14 (1 + alpha dt ||A||_1).
      // An exact pole gives M = 0 only where 1 - alpha dt a is rounded twice; fused into one
      // FMA (aarch64, any FMA build) it gives a tiny multiple of I, whose rcond is 1.
      auto norm1 = [](const Eigen::MatrixXd& m) { return m.cwiseAbs().colwise().sum().maxCoeff(); };
      const double smallest = lu.isInvertible() ? lu.rcond() * norm1(ima) : 0.0;
      require(lu.isInvertible() && lu.rcond() > 1e-14 && smallest > 1e-14 * (1.0 + alpha * dt * norm1(sys.A)),
              "discretize", "A",
              "gives a singular (I - alpha dt A) for ", to_string(how.method), " with dt = ", dt,
              " (an eigenvalue of A equals 1/(alpha dt))");
      d.Ad = lu.solve(I + (1.0 - alpha) * dt * sys.A);
      d.Bd = lu.solve(dt * sys.B);
      if (how.convention == Convention::control) {
        d.Cd = Eigen::FullPivLU<Eigen::MatrixXd>(ima.transpose()).solve(sys.C.transpose()).transpose();
        d.Dd = sys.D + alpha * sys.C * d.Bd;
      } else {
        d.Cd = sys.C;
        d.Dd = sys.D;
      }
    }
  }
  if (how.convention == Convention::ssm) {
    d.Cd = sys.C;
    d.Dd = sys.D;
  }
  require(d.Ad.allFinite() && d.Bd.allFinite(), "discretize", "dt",
          "overflowed the discretization (non-finite Ad/Bd); dt = ", dt, " is too large for this A");
  return d;
}

template <class T>
void discretize_diag(std::complex<T> a, std::complex<T> b, T dt, Method method, T alpha,
                     std::complex<T>& Ad, std::complex<T>& Bd) {
  require(std::isfinite(dt) && dt > T(0), "discretize_diag", "dt", "must be finite and > 0, got ", dt);
  if (method == Method::zoh) {
    const std::complex<T> z = dt * a;
    Ad = std::exp(z);
    // (e^z - 1)/a = dt * (e^z - 1)/z; use the series near z = 0 to avoid cancellation.
    std::complex<T> phi1;
    if (std::abs(z) < T(1e-4)) phi1 = T(1) + z * (T(0.5) + z / T(6));
    else phi1 = (Ad - T(1)) / z;
    Bd = dt * phi1 * b;
    return;
  }
  if (method == Method::foh) throw Error("discretize_diag: argument 'method' foh is not defined for the ssm convention");
  const T al = static_cast<T>(gbt_alpha(method, alpha));
  require(al >= T(0) && al <= T(1), "discretize_diag", "alpha", "must lie in [0, 1], got ", al);
  const std::complex<T> den = T(1) - al * dt * a;
  Ad = (T(1) + (T(1) - al) * dt * a) / den;
  Bd = dt * b / den;
}

template void discretize_diag<float>(std::complex<float>, std::complex<float>, float, Method, float,
                                     std::complex<float>&, std::complex<float>&);
template void discretize_diag<double>(std::complex<double>, std::complex<double>, double, Method,
                                      double, std::complex<double>&, std::complex<double>&);

}  // namespace ssm
