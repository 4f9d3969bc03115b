#pragma once
// DiagonalSSM: H independent single-input single-output channels, each a continuous-time
// system with N2 complex diagonal modes (S4D):
//
//   x_n'(t) = A[h,n] x_n(t) + B[h,n] u_h(t),      y_h(t) = 2 Re( sum_n C[h,n] x_n(t) ) + D[h] u_h(t)
//
// The real system it stands for has 2 N2 real states: every complex mode stands for itself
// and its conjugate, hence the factor 2 Re (this is the S4D convention; no conjugation of C).
// Each channel has its own step dt[h] = exp(log_dt[h]) (S4D's parameterization), in model
// time units per sample at `reference_rate` Hz. Streaming at another sample rate fs uses
// dt[h] * reference_rate / fs, so the continuous model, not the step, is what is kept.
//
// Discretization (the step dt -> Ad, Bd) lives in discretize/diagonal.hpp.
//
// Storage: complex (H, N2) arrays split into real and imaginary parts, row-major
// (index h * N2 + n), so that loops over modes vectorize.
#include <complex>
#include <cstddef>
#include <span>
#include <vector>

#include "ssm/core/complex.hpp"

namespace ssm {

struct DiagonalSSM {
  int H = 0;   // channels
  int N2 = 0;  // complex modes per channel (2 N2 real states)
  SplitComplexVec<double> A, B, C;  // (H, N2), index h * N2 + n
  std::vector<double> D;            // (H) skip gain
  std::vector<double> log_dt;       // (H) log of the step at reference_rate
  double reference_rate = 48000.0;  // Hz: the sample rate at which dt = exp(log_dt) holds

  DiagonalSSM() = default;
  /// Zero A, B, C, D and log_dt = 0 (dt = 1). H >= 1, N2 >= 1.
  DiagonalSSM(int H, int N2);

  std::size_t index(int h, int n) const noexcept { return static_cast<std::size_t>(h) * N2 + n; }
  std::complex<double> a(int h, int n) const { return A.get(index(h, n)); }
  std::complex<double> b(int h, int n) const { return B.get(index(h, n)); }
  std::complex<double> c(int h, int n) const { return C.get(index(h, n)); }
  double dt(int h) const;
  /// Sets log_dt = log(dt); every dt must be finite and > 0.
  void set_dt(std::span<const double> dt);

  /// Throws ssm::Error (naming `where` and the argument) unless H, N2 >= 1, every array has
  /// its size and every value is finite.
  void validate(const char* where) const;
};

}  // namespace ssm
