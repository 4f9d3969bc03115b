#pragma once
// Convolution kernel of a diagonal (S4D) model: the Vandermonde product
//
//   K[h, l] = 2 Re( sum_n C[h,n] Bd[h,n] Ad[h,n]^l ),     l = 0 .. L-1
//
// (ssm convention: y = K * u + D u equals the recurrence h_t = Ad h_{t-1} + Bd u_t,
// y_t = 2 Re(sum_n C h_t) + D u_t from a zero state). Ad, Bd from discretize(DiagonalSSM)
// (zoh or gbt/bilinear) at steps dt[h] * dt_scale.
//
// Powers are never accumulated over the whole length: the kernel is built in chunks of 32
// taps whose first power Ad^l0 = exp(l0 log Ad) is evaluated exactly (in double, from the
// log-space exponent), then at most 31 multiplications by Ad in T. The relative error of a tap
// is thus ~32 eps(T) regardless of l (a plain running product in float32 drifts ~l eps).
// Channels run in parallel (OpenMP). T = float or double (the compute and output type).
#include <cstddef>
#include <vector>

#include "ssm/discretize/diagonal.hpp"
#include "ssm/core/device.hpp"

namespace ssm {

/// Writes K (H, L) row-major. L >= 1. Throws ssm::Error on an invalid model or discretization.
template <class T>
void diag_kernel(const DiagonalSSM& model, Method method, std::ptrdiff_t L, T* K,
                 double dt_scale = 1.0, double alpha = 0.5);

/// Device-selecting entry: Device::cpu is the overload above (K host memory); Device::cuda
/// evaluates the Vandermonde product on the GPU (kernels/conv/diag_kernel.cu) into K, a DEVICE
/// array of H * L floats on the current GPU (as every Device::cuda entry point takes; host
/// memory is refused naming 'K'). Throws ssm::Error naming 'device' for cuda without CUDA or
/// without a usable GPU.
void diag_kernel(const DiagonalSSM& model, Method method, std::ptrdiff_t L, float* K, Device device,
                 double dt_scale = 1.0, double alpha = 0.5);

/// Host-output convenience of the CUDA path: runs diag_kernel(..., Device::cuda) into a
/// temporary device array and downloads K (H * L floats, row-major) into HOST memory.
void diag_kernel_cuda_to_host(const DiagonalSSM& model, Method method, std::ptrdiff_t L, float* K,
                              double dt_scale = 1.0, double alpha = 0.5);

/// Same, returned as an (H * L) row-major vector.
template <class T>
std::vector<T> diag_kernel(const DiagonalSSM& model, Method method, std::ptrdiff_t L,
                           double dt_scale = 1.0, double alpha = 0.5);

/// One row from discrete modes: K[l] = 2 Re( sum_n W[n] exp(l log_Ad[n]) ), l < L, with
/// complex W and log_Ad given split (N2 values each). log_Ad may have real part -inf (Ad = 0).
template <class T>
void vandermonde_kernel(std::ptrdiff_t N2, const double* W_re, const double* W_im,
                        const double* log_Ad_re, const double* log_Ad_im, std::ptrdiff_t L, T* K);

}  // namespace ssm
