#pragma once
// Kernel of a diagonal-plus-low-rank (DPLR) system by the S4 algorithm (Gu, Goel, Re 2022).
//
// The system is given in the half-mode NPLR representation of nplr.hpp (real A = V (Lambda -
// P~ P~^*) V^* over the full basis [V, conj V]), discretized with the bilinear transform
// (ssm convention): Ad = (I - dt/2 A)^{-1} (I + dt/2 A), Bd = (I - dt/2 A)^{-1} dt B.
// With C~ = C (I - Ad^L), the generating function of K[l] = C Ad^l Bd (l < L) evaluated at
// the L-th roots of unity z_k = exp(-2 pi i k / L) (where z^L = 1) is
//
//   Khat(z) = sum_{l<L} K[l] z^l = C~ (I - z Ad)^{-1} Bd = 2 C~ (alpha I - beta A)^{-1} B,
//   alpha = (2/dt)(1 - z),  beta = 1 + z.
//
// In the eigenbasis alpha - beta A = R^{-1} + beta P P^* with R = diag(1/(alpha - beta lambda_n))
// over both halves, and the Woodbury identity gives
//
//   Khat = 2 [ k00 - beta k01 (I_r + beta k11)^{-1} k10 ],   k_xy = sum_n x_n^* y_n R_n
//
// where every sum over the full basis is a Cauchy sum over the half and its conjugate:
//   sum_n [ v_n / (alpha - beta lambda_n) + conj(v_n) / (alpha - beta conj(lambda_n)) ].
// (This alpha/beta form is finite at z = -1, where Khat = dt C~ B, unlike g(z) = alpha/beta.)
// K is the inverse real FFT of Khat at k = 0 .. L/2. Cost O(L N r^2 + L log L), in float64.
//
// Off the unit circle: for |z| = 1, alpha/beta runs along the imaginary axis, where the
// normal parts of LegT, LagT and FouT have their eigenvalues (FouT even has one at 0, a pole
// at z = 1). The generating function is therefore evaluated at w_k = rho z_k with
// rho^L = decay (default 1/2), inside the unit disc, which yields K[l] rho^l; then
//   sum_{l<L} K[l] w^l = C (I - rho^L Ad^L)(I - w Ad)^{-1} Bd,   and K[l] = IDFT[l] / rho^l,
// so the poles stay at distance >= ~(2/dt)(1 - rho) from the evaluation points and the
// rescaling amplifies round-off by at most 1/decay. decay = 1 is S4's original unit circle.
#include <Eigen/Dense>
#include <cstddef>

#include "ssm/continuous/nplr.hpp"

namespace ssm {

/// K (L) of the bilinear-discretized DPLR system `sys` at step dt, given the output vector and
/// its image under Ad^L in mode coordinates: C_modes = C V, CAdL_modes = (C Ad^L) V
/// (N2 values each; NPLR::to_modes). With decay = 1, C_modes may instead be S4's trained C~
/// and CAdL_modes zero. L >= 1, dt > 0, decay in (0, 1]. Throws ssm::Error on bad arguments
/// or a non-finite result.
Eigen::VectorXd dplr_kernel_bilinear(const NPLR& sys, const Eigen::RowVectorXcd& C_modes,
                                     const Eigen::RowVectorXcd& CAdL_modes, double dt,
                                     std::ptrdiff_t L, double decay = 0.5);

/// Inverse real DFT: x[l] = (1/L) sum_{k<L} X_k exp(+2 pi i k l / L), from the half spectrum
/// X_0 .. X_{L/2} (Hermitian symmetry implied). FFTW; planning is serialized by a mutex.
Eigen::VectorXd inverse_real_dft(const Eigen::VectorXcd& half_spectrum, std::ptrdiff_t L);

}  // namespace ssm
