#pragma once
// Convolution kernel of a discretized HiPPO system (ssm convention, FORMAT.md `hippo_kernel`):
//
//   K[l] = C Ad^l Bd,   l = 0 .. L-1,   (A, B) = hippo::transition(measure, N)
//
// Two algorithms:
//   dense  discretize (block expm for zoh, gbt solve for bilinear) and repeated products in
//          float64 (dense_kernel.hpp): O(L N^2), the reference.
//   dplr   bilinear: the S4 algorithm (dplr_kernel.hpp) on the NPLR form of A, with
//          C~ = C (I - Ad^L) and Ad^L by repeated squaring of the dense Ad in float64:
//          O(N^3 log L + L N r^2 + L log L). Accurate for N = 64..256, L up to 16K, dt >= 1e-3
//          (tests/conv/test_kernels.cpp checks it against dense).
//          zoh: exp(dt A) of a DPLR matrix is not DPLR, so this path goes through the
//          diagonalization A = W diag(mu) W^{-1} (Eigen's EigenSolver on the real A) and the
//          Vandermonde sum K[l] = Re( sum_n (C W)_n (W^{-1} B)_n (e^{dt mu_n} - 1)/mu_n
//          e^{l dt mu_n} ), all in long double. Its error grows like eps(long double) * cond(W);
//          HiPPO eigenvector matrices are badly conditioned (LegS: cond(W) ~ 1e11 at N = 16,
//          growing exponentially with N), so this path throws ssm::Error when
//          cond(W) > 1e12 (use dense, or bilinear, there). LagT's A is one Jordan block
//          (eigenvalue -1/2, not diagonalizable) and is always refused on this path.
//   automatic  the choice above made per case (resolve_kernel_algorithm): never refused.
#include <Eigen/Dense>
#include <cstddef>
#include <string_view>

#include "ssm/continuous/hippo.hpp"
#include "ssm/discretize/discretize.hpp"

namespace ssm {

/// automatic: dplr for bilinear; for zoh dplr where the eigenvector matrix of A has condition
/// number <= 1e12, else dense (resolve_kernel_algorithm says which).
enum class KernelAlgorithm { dense, dplr, automatic };

KernelAlgorithm parse_kernel_algorithm(std::string_view name);  // "dense" | "dplr" | "auto"

/// The algorithm `automatic` runs for (measure, N, method): dense or dplr (never automatic).
/// dplr is refused (hippo_kernel throws) exactly where this returns dense for zoh, or for N < 2.
/// Costs one eigendecomposition of A for zoh.
KernelAlgorithm resolve_kernel_algorithm(hippo::Measure measure, int N, Method method);
const char* to_string(KernelAlgorithm a) noexcept;

/// K (L) as above. C has N entries; dt > 0; L >= 1; method zoh or bilinear.
/// Throws ssm::Error on bad arguments (naming them) and, for dplr + zoh, on an
/// ill-conditioned diagonalization.
Eigen::VectorXd hippo_kernel(hippo::Measure measure, int N, const Eigen::RowVectorXd& C, double dt,
                             std::ptrdiff_t L, Method method, KernelAlgorithm algorithm);

}  // namespace ssm
