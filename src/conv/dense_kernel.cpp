#include "ssm/conv/dense_kernel.hpp"

#include "ssm/core/error.hpp"

namespace ssm {

Eigen::VectorXd dense_kernel(const Eigen::MatrixXd& Ad, const Eigen::VectorXd& Bd,
                             const Eigen::RowVectorXd& C, std::ptrdiff_t L) {
  require(Ad.rows() >= 1 && Ad.rows() == Ad.cols(), "dense_kernel", "Ad", "must be square, got (",
          Ad.rows(), ", ", Ad.cols(), ")");
  require(Bd.size() == Ad.rows(), "dense_kernel", "Bd", "must have N = ", Ad.rows(), " entries, got ", Bd.size());
  require(C.size() == Ad.rows(), "dense_kernel", "C", "must have N = ", Ad.rows(), " entries, got ", C.size());
  require(L >= 1, "dense_kernel", "L", "must be >= 1, got ", L);
  Eigen::VectorXd K(L), v = Bd, w(Bd.size());
  for (std::ptrdiff_t l = 0; l < L; ++l) {
    K(l) = C.dot(v);
    w.noalias() = Ad * v;
    v.swap(w);
  }
  return K;
}

Eigen::VectorXd dense_kernel(const ContinuousSystem& sys, double dt, Method method, std::ptrdiff_t L,
                             double alpha) {
  require(sys.inputs() == 1 && sys.outputs() == 1, "dense_kernel", "sys",
          "must be single-input single-output, got ", sys.inputs(), " inputs and ", sys.outputs(), " outputs");
  require(method != Method::foh, "dense_kernel", "method", "foh has no ssm-convention kernel");
  const DiscreteSystem d = discretize(sys, dt, {method, Convention::ssm, alpha});
  return dense_kernel(d.Ad, d.Bd.col(0), sys.C.row(0), L);
}

Eigen::MatrixXd matrix_power(const Eigen::MatrixXd& M, std::int64_t p) {
  require(M.rows() == M.cols(), "matrix_power", "M", "must be square, got (", M.rows(), ", ", M.cols(), ")");
  require(p >= 0, "matrix_power", "p", "must be >= 0, got ", p);
  Eigen::MatrixXd result = Eigen::MatrixXd::Identity(M.rows(), M.cols()), base = M, tmp;
  bool first = true;
  while (p > 0) {
    if (p & 1) {
      if (first) { result = base; first = false; }
      else { tmp.noalias() = result * base; result.swap(tmp); }
    }
    p >>= 1;
    if (p > 0) { tmp.noalias() = base * base; base.swap(tmp); }
  }
  return result;
}

}  // namespace ssm
