#pragma once
// Plain reference kernel of a single-input single-output discrete system (ssm convention):
//
//   K[l] = C Ad^l Bd,   l = 0 .. L-1
//
// by repeated matrix-vector products v_{l+1} = Ad v_l in float64: O(L N^2). No cleverness on
// purpose: it is the path the DPLR and Vandermonde kernels are checked against.
#include <Eigen/Dense>
#include <cstddef>
#include <cstdint>

#include "ssm/continuous/dense.hpp"
#include "ssm/discretize/discretize.hpp"

namespace ssm {

/// K[l] = C Ad^l Bd for l < L. Ad (N,N), Bd (N), C (N). L >= 1.
Eigen::VectorXd dense_kernel(const Eigen::MatrixXd& Ad, const Eigen::VectorXd& Bd,
                             const Eigen::RowVectorXd& C, std::ptrdiff_t L);

/// Discretizes a SISO system (ssm convention, `method` zoh or a gbt method) at step dt and
/// returns its kernel (D is not part of the kernel).
Eigen::VectorXd dense_kernel(const ContinuousSystem& sys, double dt, Method method,
                             std::ptrdiff_t L, double alpha = 0.5);

/// M^p by repeated squaring (p >= 0), float64.
Eigen::MatrixXd matrix_power(const Eigen::MatrixXd& M, std::int64_t p);

}  // namespace ssm
