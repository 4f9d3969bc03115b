#include "ssm/continuous/hippo.hpp"

#include <cmath>
#include <numbers>

#include "ssm/core/error.hpp"

namespace ssm::hippo {

Measure parse_measure(std::string_view name) {
  if (name == "legs") return Measure::legs;
  if (name == "legt") return Measure::legt;
  if (name == "lagt") return Measure::lagt;
  if (name == "fout" || name == "fourier") return Measure::fout;
  throw Error(detail::concat("hippo: argument 'measure' must be legs, legt, lagt or fout, got '",
                             std::string(name), "'"));
}

const char* to_string(Measure m) noexcept {
  switch (m) {
    case Measure::legs: return "legs";
    case Measure::legt: return "legt";
    case Measure::lagt: return "lagt";
    case Measure::fout: return "fout";
  }
  return "?";
}

namespace {
void check_n(int N, const char* where) { require(N >= 1, where, "N", "must be >= 1, got ", N); }
}  // namespace

Transition legs(int N) {
  check_n(N, "hippo::legs");
  Transition t{Eigen::MatrixXd::Zero(N, N), Eigen::VectorXd(N)};
  for (int n = 0; n < N; ++n) {
    t.B(n) = std::sqrt(2.0 * n + 1.0);
    for (int k = 0; k < n; ++k) t.A(n, k) = -std::sqrt(2.0 * n + 1.0) * std::sqrt(2.0 * k + 1.0);
    t.A(n, n) = -(n + 1.0);
  }
  return t;
}

Transition legt(int N) {
  check_n(N, "hippo::legt");
  Transition t{Eigen::MatrixXd(N, N), Eigen::VectorXd(N)};
  for (int n = 0; n < N; ++n) {
    const double rn = std::sqrt(2.0 * n + 1.0);
    t.B(n) = 0.5 * rn;
    for (int k = 0; k < N; ++k) {
      const double sign = n < k ? ((k - n) % 2 ? -1.0 : 1.0) : 1.0;
      t.A(n, k) = -0.5 * rn * std::sqrt(2.0 * k + 1.0) * sign;
    }
  }
  return t;
}

Transition lagt(int N) {
  check_n(N, "hippo::lagt");
  Transition t{Eigen::MatrixXd::Zero(N, N), Eigen::VectorXd::Ones(N)};
  for (int n = 0; n < N; ++n) {
    for (int k = 0; k <= n; ++k) t.A(n, k) = -1.0;
    t.A(n, n) += 0.5;
  }
  return t;
}

Transition fout(int N) {
  check_n(N, "hippo::fout");
  require(N % 2 == 0, "hippo::fout", "N", "must be even for the Fourier measure, got ", N);
  Transition t{Eigen::MatrixXd::Zero(N, N), Eigen::VectorXd::Zero(N)};
  // d = [0, 0, 1, 0, 2, 0, ...]: d[i] = i/2 for even i, else 0 (length N-1).
  for (int i = 0; i + 1 < N; ++i) {
    const double d = (i % 2 == 0) ? i / 2 : 0.0;
    t.A(i, i + 1) = -std::numbers::pi * d;
    t.A(i + 1, i) = std::numbers::pi * d;
  }
  for (int i = 0; i < N; i += 2) t.B(i) = std::sqrt(2.0);
  t.B(0) = 1.0;
  t.A -= t.B * t.B.transpose();
  return t;
}

Transition transition(Measure measure, int N) {
  switch (measure) {
    case Measure::legs: return legs(N);
    case Measure::legt: return legt(N);
    case Measure::lagt: return lagt(N);
    case Measure::fout: return fout(N);
  }
  throw Error("hippo::transition: argument 'measure' is not a known measure");
}

ContinuousSystem system(Measure measure, int N, const Eigen::RowVectorXd& C, double D, double theta) {
  require(theta > 0 && std::isfinite(theta), "hippo::system", "theta", "must be finite and > 0, got ", theta);
  require(C.size() == N, "hippo::system", "C", "must have N = ", N, " entries, got ", C.size());
  auto t = transition(measure, N);
  return make_siso(t.A / theta, t.B / theta, C, D);
}

double legendre(int n, double x) {
  require(n >= 0, "hippo::legendre", "n", "must be >= 0, got ", n);
  double p0 = 1, p1 = x;
  if (n == 0) return p0;
  for (int k = 1; k < n; ++k) {
    const double p2 = ((2 * k + 1) * x * p1 - k * p0) / (k + 1);
    p0 = p1;
    p1 = p2;
  }
  return p1;
}

Eigen::RowVectorXd legt_delay_readout(int N, double delay, double window) {
  require(N >= 1, "hippo::legt_delay_readout", "N", "must be >= 1, got ", N);
  require(window > 0 && std::isfinite(window), "hippo::legt_delay_readout", "window",
          "must be finite and > 0, got ", window);
  Eigen::RowVectorXd C(N);
  const double x = 1.0 - 2.0 * delay / window;
  for (int n = 0; n < N; ++n) C(n) = std::sqrt(2.0 * n + 1) * legendre(n, x);
  return C;
}

}  // namespace ssm::hippo
