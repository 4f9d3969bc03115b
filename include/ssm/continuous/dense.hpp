#pragma once
// Continuous-time linear state space model (dense):
//   x'(t) = A x(t) + B u(t),   y(t) = C x(t) + D u(t)
// with A (N,N), B (N,M), C (P,N), D (P,M), time in seconds. A model keeps its continuous
// parameters: discretizing at another sample rate needs no retraining.
#include <Eigen/Dense>

namespace ssm {

struct ContinuousSystem {
  Eigen::MatrixXd A, B, C, D;

  Eigen::Index states() const noexcept { return A.rows(); }
  Eigen::Index inputs() const noexcept { return B.cols(); }
  Eigen::Index outputs() const noexcept { return C.rows(); }

  /// Throws ssm::Error unless A is square, B/C/D have matching sizes and all entries are finite.
  /// `where` names the calling function in the message.
  void validate(const char* where) const;
};

/// Builds a single-input single-output system from (A, B) with C = `c` (row) and D = `d`.
ContinuousSystem make_siso(const Eigen::MatrixXd& A, const Eigen::VectorXd& B,
                           const Eigen::RowVectorXd& C, double D = 0.0);

}  // namespace ssm
