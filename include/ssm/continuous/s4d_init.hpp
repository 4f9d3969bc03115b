#pragma once
// Initializations of diagonal state space models (S4D; Gu, Gupta, Goel, Re 2022,
// "On the Parameterization and Initialization of Diagonal State Space Models").
// With N = 2 N2 the real state size and n = 0 .. N2-1:
//   S4D-Lin:   A_n = -1/2 + i pi n                                  (B_n = 1)
//   S4D-Inv:   A_n = -1/2 + i (N/pi) (N/(2n+1) - 1)                 (B_n = 1)
//   S4D-LegS:  A_n = Lambda_n, the eigenvalues (positive imaginary part) of the normal part of
//              the NPLR form of HiPPO-LegS with N states; B = V^* B_legs (nplr.hpp)
//   S4D-Real:  A_n = -(n+1)                                         (B_n = 1)
// C ~ complex normal (real and imaginary parts N(0, 1/2)), D ~ N(0, 1), and
// log_dt ~ Uniform[log dt_min, log dt_max] per channel, from a seeded generator.
#include <complex>
#include <cstdint>
#include <string_view>
#include <vector>

#include "ssm/continuous/diagonal.hpp"

namespace ssm {

enum class S4DInit { lin, inv, legs, real };

S4DInit parse_s4d_init(std::string_view name);  // "lin" | "inv" | "legs" | "real"
const char* to_string(S4DInit i) noexcept;

struct S4DInitOptions {
  double dt_min = 1e-3, dt_max = 1e-1;  // range of dt (log-uniform); 0 < dt_min <= dt_max
  std::uint64_t seed = 0;               // C, D and log_dt draws
  double reference_rate = 48000.0;      // DiagonalSSM::reference_rate of the result
};

/// The N2 eigenvalues A_n of an initialization (identical in every channel).
std::vector<std::complex<double>> s4d_eigenvalues(S4DInit init, int N2);
/// The N2 input gains B_n (ones, except LegS: V^* B of the LegS NPLR form).
std::vector<std::complex<double>> s4d_input_gains(S4DInit init, int N2);

/// A full model: H channels x N2 modes. Throws ssm::Error on H < 1, N2 < 1 or a bad dt range.
DiagonalSSM s4d_init(S4DInit init, int H, int N2, const S4DInitOptions& options = {});

}  // namespace ssm
