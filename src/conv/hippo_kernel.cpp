#include "ssm/conv/hippo_kernel.hpp"

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <complex>
#include <string>
#include <vector>

#include "ssm/continuous/nplr.hpp"
#include "ssm/conv/dense_kernel.hpp"
#include "ssm/conv/diag_kernel.hpp"
#include "ssm/conv/dplr_kernel.hpp"
#include "ssm/core/error.hpp"

namespace ssm {

KernelAlgorithm parse_kernel_algorithm(std::string_view n) {
  if (n == "dense") return KernelAlgorithm::dense;
  if (n == "dplr") return KernelAlgorithm::dplr;
  if (n == "auto") return KernelAlgorithm::automatic;
  throw Error(detail::concat("hippo_kernel: argument 'algorithm' must be dense, dplr or auto, got '",
                             std::string(n), "'"));
}

const char* to_string(KernelAlgorithm a) noexcept {
  return a == KernelAlgorithm::dense ? "dense" : a == KernelAlgorithm::dplr ? "dplr" : "auto";
}

namespace {

constexpr double kMaxModalCondition = 1e12;

template <class M>
double condition_of(const M& W) {
  Eigen::JacobiSVD<M> svd(W);
  const auto& sv = svd.singularValues();
  return static_cast<double>(sv(0) / sv(sv.size() - 1));
}

/// cond(W) of the eigenvector matrix of A in long double (as modal_zoh_kernel computes it);
/// infinity when A cannot be diagonalized.
double modal_condition(const Eigen::MatrixXd& A) {
  using ld = long double;
  using MatL = Eigen::Matrix<ld, Eigen::Dynamic, Eigen::Dynamic>;
  Eigen::EigenSolver<MatL> es(A.cast<ld>(), true);
  if (es.info() != Eigen::Success) return INFINITY;
  const double c = condition_of(Eigen::Matrix<std::complex<ld>, Eigen::Dynamic, Eigen::Dynamic>(es.eigenvectors()));
  return std::isfinite(c) ? c : INFINITY;
}

// zoh through the diagonalization A = W diag(mu) W^{-1} (see the header), in long double:
// the weights (C W)_n (W^{-1} Bd)_n of a non-normal A cancel against each other, so both the
// eigenvectors and the Vandermonde sum are carried with 64-bit mantissas.
Eigen::VectorXd modal_zoh_kernel(const Eigen::MatrixXd& A, const Eigen::VectorXd& B,
                                 const Eigen::RowVectorXd& C, double dt, std::ptrdiff_t L) {
  using ld = long double;
  using cld = std::complex<ld>;
  using MatL = Eigen::Matrix<ld, Eigen::Dynamic, Eigen::Dynamic>;
  using MatC = Eigen::Matrix<cld, Eigen::Dynamic, Eigen::Dynamic>;
  using VecC = Eigen::Matrix<cld, Eigen::Dynamic, 1>;
  const MatL Al = A.cast<ld>();
  Eigen::EigenSolver<MatL> es(Al, true);
  require(es.info() == Eigen::Success, "hippo_kernel", "A", "could not be diagonalized");
  const MatC W = es.eigenvectors();
  const VecC mu = es.eigenvalues();
  const double cond = condition_of(W);
  require(std::isfinite(cond) && cond <= kMaxModalCondition, "hippo_kernel", "algorithm",
          "dplr with zoh goes through the eigenvectors of A, whose condition number is ", cond,
          " (> ", kMaxModalCondition, ") for this measure and N: use algorithm dense, or method bilinear");
  const Eigen::PartialPivLU<MatC> lu(W);
  const VecC wb = lu.solve(B.cast<ld>().cast<cld>());
  const Eigen::Matrix<cld, 1, Eigen::Dynamic> cw = C.cast<ld>().cast<cld>() * W;
  const Eigen::Index n = mu.size();
  const ld h = static_cast<ld>(dt);
  std::vector<cld> w(n), step(n), z(n);
  for (Eigen::Index k = 0; k < n; ++k) {
    const cld x = h * mu(k);
    // Bd = (e^x - 1)/mu b, with the series near x = 0.
    const cld phi = std::abs(x) < 1e-6L ? cld(1) + x * (cld(0.5L) + x / cld(6)) : (std::exp(x) - cld(1)) / x;
    w[k] = cw(k) * h * phi * wb(k);
    step[k] = std::exp(x);
  }
  // K[l] = Re(sum_n w_n e^{l dt mu_n}); powers exact every 64 taps (exp), products between.
  Eigen::VectorXd K(L);
  for (std::ptrdiff_t l0 = 0; l0 < L; l0 += 64) {
    for (Eigen::Index k = 0; k < n; ++k) z[k] = w[k] * std::exp(static_cast<ld>(l0) * h * mu(k));
    const std::ptrdiff_t len = std::min<std::ptrdiff_t>(64, L - l0);
    for (std::ptrdiff_t j = 0; j < len; ++j) {
      ld acc = 0;
      for (Eigen::Index k = 0; k < n; ++k) {
        acc += z[k].real();
        z[k] *= step[k];
      }
      K(l0 + j) = static_cast<double>(acc);
    }
  }
  return K;
}

}  // namespace

KernelAlgorithm resolve_kernel_algorithm(hippo::Measure measure, int N, Method method) {
  require(N >= 1, "hippo_kernel", "N", "must be >= 1, got ", N);
  if (N < 2) return KernelAlgorithm::dense;
  if (method != Method::zoh) return KernelAlgorithm::dplr;
  const double cond = modal_condition(hippo::transition(measure, N).A);
  return std::isfinite(cond) && cond <= kMaxModalCondition ? KernelAlgorithm::dplr : KernelAlgorithm::dense;
}

Eigen::VectorXd hippo_kernel(hippo::Measure measure, int N, const Eigen::RowVectorXd& C, double dt,
                             std::ptrdiff_t L, Method method, KernelAlgorithm algorithm) {
  const char* where = "hippo_kernel";
  require(N >= 1, where, "N", "must be >= 1, got ", N);
  require(C.size() == N, where, "C", "must have N = ", N, " entries, got ", C.size());
  require(C.allFinite(), where, "C", "must be finite");
  require(std::isfinite(dt) && dt > 0, where, "dt", "must be finite and > 0, got ", dt);
  require(L >= 1, where, "L", "must be >= 1, got ", L);
  require(method == Method::zoh || method == Method::bilinear, where, "method",
          "must be zoh or bilinear, got ", to_string(method));
  if (algorithm == KernelAlgorithm::automatic) algorithm = resolve_kernel_algorithm(measure, N, method);
  const auto t = hippo::transition(measure, N);
  if (algorithm == KernelAlgorithm::dense) {
    const ContinuousSystem sys = make_siso(t.A, t.B, C, 0.0);
    return dense_kernel(sys, dt, method, L);
  }
  if (method == Method::zoh) return modal_zoh_kernel(t.A, t.B, C, dt, L);
  require(N >= 2, where, "N", "must be >= 2 for the dplr algorithm, got ", N);
  const NPLR f = nplr(t.A, t.B, rank_correction(measure, N));
  const ContinuousSystem sys = make_siso(t.A, t.B, C, 0.0);
  const DiscreteSystem d = discretize(sys, dt, {Method::bilinear, Convention::ssm, 0.5});
  const Eigen::MatrixXd AdL = matrix_power(d.Ad, L);
  return dplr_kernel_bilinear(f, f.to_modes(C), f.to_modes(C * AdL), dt, L);
}

}  // namespace ssm
