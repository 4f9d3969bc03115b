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

}  // namespace ssm
