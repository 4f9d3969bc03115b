#pragma once
// Normal plus low-rank (NPLR) form of a HiPPO matrix (S4; Gu, Goel, Re 2022):
//
//   A = V (Lambda - P~ P~^*) V^*        (A real N x N, V unitary, Lambda diagonal)
//
// Each HiPPO A has a real rank-r correction P (r x N) such that S = A + P^T P is normal,
// namely S = s I + K with K skew-symmetric (LegS: P_n = sqrt(n + 1/2), r = 1, s = -1/2;
// LegT: r = 2, P = sqrt(2n+1)/sqrt(2) split by parity of n; LagT: P_n = sqrt(1/2), r = 1;
// FouT: P = B, r = 1). S is diagonalized with Eigen's Hermitian eigensolver applied to -iK.
// K real means its eigenvalues come in conjugate pairs, so only one of each pair is kept:
// Lambda (N2 = N/2 values, Im >= 0), V (N x N2), and the real matrices are recovered as
//
//   A = 2 Re(V diag(Lambda) V^*) - P^T P,   B = 2 Re(V B~),   P^T = 2 Re(V P~)
//
// with B~ = V^* B and P~ = V^* P^T (N2 x r). Eigenvalues at s + 0i (K's null space, e.g.
// FouT's two decoupled states) are paired as (u1 + i u2)/sqrt(2) from a real orthonormal basis
// of the null space; a leftover single real direction u is kept as u/sqrt(2) (then N2 = (N+1)/2).
// The low-rank coupling ties each mode to its conjugate, so the DPLR kernel sums over both
// halves (Cauchy sums with conjugates), while S4D-LegS simply drops P~.
#include <Eigen/Dense>

#include "ssm/continuous/hippo.hpp"

namespace ssm {

struct NPLR {
  int N = 0;                // real state size
  int rank = 0;             // r
  double real_part = 0;     // s, the common real part of Lambda
  Eigen::VectorXcd Lambda;  // (N2)
  Eigen::MatrixXcd V;       // (N, N2)
  Eigen::MatrixXcd P;       // (N2, r): P~ = V^* P^T (Q = P for HiPPO)
  Eigen::VectorXcd B;       // (N2): B~ = V^* B
  Eigen::MatrixXd P_real;   // (r, N): the rank correction in the original basis
  Eigen::VectorXd B_real;   // (N)

  int modes() const noexcept { return static_cast<int>(Lambda.size()); }
  /// 2 Re(V diag(Lambda) V^*) - P^T P: the HiPPO A (for checks).
  Eigen::MatrixXd dense_A() const;
  /// The coordinates of a real row vector c in the half basis: c V (N2).
  Eigen::RowVectorXcd to_modes(const Eigen::RowVectorXd& c) const;
};

/// The rank correction P (r x N) of a measure (see the file comment).
Eigen::MatrixXd rank_correction(hippo::Measure measure, int N);

/// NPLR form of the HiPPO (A, B) of `measure` with N states. Throws ssm::Error if N < 2 or
/// A + P^T P is not (numerically) of the form s I + skew-symmetric.
NPLR nplr(hippo::Measure measure, int N);

/// NPLR form of any real (A, B) given a correction P (r x N) that makes A + P^T P = s I + K,
/// K skew-symmetric (checked to a relative 1e-10).
NPLR nplr(const Eigen::MatrixXd& A, const Eigen::VectorXd& B, const Eigen::MatrixXd& P);

}  // namespace ssm
