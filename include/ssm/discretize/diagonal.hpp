#pragma once
// Discretization of a diagonal (S4D) model: the one discretized-diagonal-system type,
// DiagonalDiscrete, used by the streaming DiagFilter, the kernel functions (conv/diag_kernel)
// and the diagonal scan (scan/diag_scan), ssm convention (FORMAT.md `diag_kernel`):
//   x_t = Ad x_{t-1} + Bd u_t,   y_t = 2 Re( sum_n C x_t ) + D u_t.
#include "ssm/continuous/diagonal.hpp"
#include "ssm/discretize/discretize.hpp"

namespace ssm {

/// Discrete modes of one DiagonalSSM at steps dt[h] * dt_scale (ssm convention):
///   zoh:  Ad = exp(dt A),  Bd = (Ad - 1)/A B;     gbt(alpha): Ad = (1 + (1-alpha) dt A)/(1 - alpha dt A),
///   Bd = dt B / (1 - alpha dt A)  (bilinear: alpha = 1/2).  Computed in double.
/// log_Ad = log(Ad) (zoh: dt A exactly; gbt: principal log, -inf real part where Ad = 0):
/// the kernel builds Ad^l as exp(l log_Ad) so that long powers carry no accumulated rounding.
struct DiagonalDiscrete {
  int H = 0, N2 = 0;
  SplitComplexVec<double> Ad, Bd, log_Ad;  // (H, N2)
  std::vector<double> dt;                  // (H) the steps used
};

/// Throws ssm::Error for an invalid model, dt_scale <= 0, method foh, alpha outside [0, 1],
/// a pole at 1/(alpha dt) (singular gbt) or a non-finite result.
DiagonalDiscrete discretize(const DiagonalSSM& model, Method method, double dt_scale = 1.0,
                            double alpha = 0.5);

}  // namespace ssm
