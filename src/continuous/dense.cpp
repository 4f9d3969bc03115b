#include "ssm/continuous/dense.hpp"

#include "ssm/core/error.hpp"

namespace ssm {

void ContinuousSystem::validate(const char* where) const {
  require(A.rows() > 0 && A.rows() == A.cols(), where, "A", "must be square (N, N) with N >= 1, got (",
          A.rows(), ", ", A.cols(), ")");
  const auto N = A.rows();
  require(B.rows() == N && B.cols() >= 1, where, "B", "must be (", N, ", M) with M >= 1, got (",
          B.rows(), ", ", B.cols(), ")");
  require(C.cols() == N && C.rows() >= 1, where, "C", "must be (P, ", N, ") with P >= 1, got (",
          C.rows(), ", ", C.cols(), ")");
  require(D.rows() == C.rows() && D.cols() == B.cols(), where, "D", "must be (", C.rows(), ", ",
          B.cols(), "), got (", D.rows(), ", ", D.cols(), ")");
  require(A.allFinite(), where, "A", "must contain only finite values (found NaN or Inf)");
  require(B.allFinite(), where, "B", "must contain only finite values (found NaN or Inf)");
  require(C.allFinite(), where, "C", "must contain only finite values (found NaN or Inf)");
  require(D.allFinite(), where, "D", "must contain only finite values (found NaN or Inf)");
}

ContinuousSystem make_siso(const Eigen::MatrixXd& A, const Eigen::VectorXd& B,
                           const Eigen::RowVectorXd& C, double D) {
  ContinuousSystem s;
  s.A = A;
  s.B = B;
  s.C = C;
  s.D = Eigen::MatrixXd::Constant(1, 1, D);
  s.validate("make_siso");
  return s;
}

}  // namespace ssm
