#pragma once
// Discretization of a continuous system x' = A x + B u, y = C x + D u with step dt.
//
// Methods (gbt = generalized bilinear transform with parameter alpha):
//   zoh            Ad = e^{dt A},  Bd = ∫_0^dt e^{sA} ds B, from the block matrix exponential
//                  expm([[A, B], [0, 0]] dt) = [[Ad, Bd], [0, I]]  (exact; works for singular A)
//   foh            first-order hold (triangle hold), scipy's block exponential of size N+2M;
//                  control convention only
//   gbt(alpha)     Ad = (I - alpha dt A)^{-1} (I + (1-alpha) dt A),  Bd = (I - alpha dt A)^{-1} dt B
//   bilinear       gbt(1/2) (Tustin);  euler = gbt(0) (forward);  backward_diff = gbt(1)
//
// Read-out conventions (FORMAT.md):
//   control (scipy.signal.cont2discrete):  x[k+1] = Ad x[k] + Bd u[k],  y[k] = Cd x[k] + Dd u[k]
//       with, for gbt methods, Cd = C (I - alpha dt A)^{-1},  Dd = D + alpha C Bd;
//       for zoh Cd = C, Dd = D; for foh Cd = C, Dd = D + C Φ13.
//   ssm (S4/Mamba):  x_k = Ad x_{k-1} + Bd u_k,  y_k = C x_k + D u_k   (Cd = C, Dd = D).
//       Ad, Bd are the same matrices as above; foh does not exist in this convention.
#include <Eigen/Dense>
#include <complex>
#include <string>
#include <string_view>

#include "ssm/continuous/dense.hpp"

namespace ssm {

enum class Method { zoh, foh, bilinear, euler, backward_diff, gbt };
enum class Convention { ssm, control };

Method parse_method(std::string_view name);          // zoh|foh|bilinear|euler|backward_diff|gbt
Convention parse_convention(std::string_view name);  // ssm|control
const char* to_string(Method m) noexcept;
const char* to_string(Convention c) noexcept;

/// How to discretize: method, gbt's alpha (ignored by other methods), read-out convention.
struct Discretization {
  Method method = Method::zoh;
  Convention convention = Convention::ssm;
  double alpha = 0.5;  // gbt only, in [0, 1]
};

struct DiscreteSystem {
  Eigen::MatrixXd Ad, Bd, Cd, Dd;
  double dt = 0;
  Discretization how;
};

/// Discretizes a dense system. Throws ssm::Error for invalid shapes, non-finite entries,
/// dt <= 0, alpha outside [0, 1], foh with the ssm convention, or a singular (I - alpha dt A):
/// rcond < 1e-14, or its smallest singular value (about rcond ||.||_1) below
/// 1e-14 (1 + alpha dt ||A||_1), singular to working precision however it was rounded.
DiscreteSystem discretize(const ContinuousSystem& sys, double dt, const Discretization& how);

/// Closed forms for one complex diagonal mode (S4D): returns (Ad, Bd) for scalar a, b.
///   zoh:  Ad = e^{dt a},  Bd = (Ad - 1)/a * b  (-> dt b as a -> 0)
///   gbt:  Ad = (1 + (1-alpha) dt a)/(1 - alpha dt a),  Bd = dt b / (1 - alpha dt a)
/// (bilinear/euler/backward_diff as gbt with alpha 1/2, 0, 1). Valid for ssm convention.
template <class T>
void discretize_diag(std::complex<T> a, std::complex<T> b, T dt, Method method, T alpha,
                     std::complex<T>& Ad, std::complex<T>& Bd);

/// alpha implied by a gbt-family method (bilinear 0.5, euler 0, backward_diff 1, gbt: `alpha`).
double gbt_alpha(Method m, double alpha);

}  // namespace ssm
