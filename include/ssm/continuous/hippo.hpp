#pragma once
// HiPPO transition matrices (A, B): x'(t) = A x(t) + B u(t) keeps x(t) as the coefficients
// of the projection of the input history u(s), s <= t, onto an orthogonal polynomial basis
// under a measure. Conventions are those of the S4 reference `transition()`:
//
// LegS (scaled Legendre; uniform measure on [0, t], memory of the whole history):
//   A[n,k] = -sqrt(2n+1) sqrt(2k+1)  (n > k),  -(n+1)  (n = k),  0  (n < k);   B[n] = sqrt(2n+1)
//   The system is time-varying in the paper (A/t); S4 uses it as an LTI system.
// LegT (translated Legendre; uniform measure on a sliding window [t-theta, t], theta = 1):
//   A[n,k] = -(1/2) sqrt(2n+1) sqrt(2k+1) * ( (-1)^(n-k) if n < k else 1 ),  B[n] = sqrt(2n+1)/2
//   (the S4 code halves both "for timescale correctness"; scale A, B by 1/theta for window theta).
// LagT (translated Laguerre; exponentially decaying measure e^{-(t-s)}):
//   A = I/2 - tril(ones),  B[n] = 1
// FouT (translated Fourier; window [t-1, t]; N even):
//   A0 = pi * (-diag(d, +1) + diag(d, -1)) with d = [0, 0, 1, 0, 2, 0, 3, ...] (length N-1),
//   B[0] = 1, B[2j] = sqrt(2) (j >= 1), B[odd] = 0, and the rank-one correction is
//   subtracted:  A = A0 - B B^T  (it accounts for the window's other endpoint u(t-1)).
#include <Eigen/Dense>
#include <string>
#include <string_view>

#include "ssm/continuous/dense.hpp"

namespace ssm::hippo {

enum class Measure { legs, legt, lagt, fout };

Measure parse_measure(std::string_view name);  // "legs" | "legt" | "lagt" | "fout"
const char* to_string(Measure m) noexcept;

struct Transition {
  Eigen::MatrixXd A;  // (N, N)
  Eigen::VectorXd B;  // (N)
};

/// (A, B) of `measure` with N states. N >= 1; FouT needs even N. Throws ssm::Error otherwise.
Transition transition(Measure measure, int N);

Transition legs(int N);
Transition legt(int N);
Transition lagt(int N);
Transition fout(int N);

/// A SISO continuous system from a HiPPO transition: C = `C` (N), D = `D`.
/// `theta` (seconds) stretches the time scale: A/theta, B/theta (LegT's window length).
ContinuousSystem system(Measure measure, int N, const Eigen::RowVectorXd& C, double D = 0.0,
                        double theta = 1.0);

/// Legendre polynomial P_n(x) by the three-term recurrence
///   P_0 = 1, P_1 = x, (k+1) P_(k+1) = (2k+1) x P_k - k P_(k-1);  n >= 0 (n < 0 throws).
double legendre(int n, double x);

/// The LegT read-out that reconstructs the input `delay` seconds ago from the state of
/// system(Measure::legt, N, C, D, window / 2) (S4's LegT spans 2 time units, hence the time
/// scale window / 2):
///   C[n] = sqrt(2n+1) P_n(1 - 2 delay / window),   n = 0 .. N-1,
/// meaningful for 0 <= delay <= window (delay 0: the newest input, window: the oldest).
/// Throws ssm::Error for N < 1 or a window that is not finite and > 0.
Eigen::RowVectorXd legt_delay_readout(int N, double delay, double window);

}  // namespace ssm::hippo
