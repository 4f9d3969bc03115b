#pragma once
// Internal: CUDA Vandermonde kernel of a diagonal (S4D) model (kernels/conv/diag_kernel.cu),
// the GPU counterpart of ssm::diag_kernel (include/ssm/conv/diag_kernel.hpp), same formula:
//   K[h, l] = 2 Re( sum_n W[h,n] Ad[h,n]^l ),  W = C Bd,  l < L.
// One thread builds 32 consecutive taps of one channel: their first power
// Ad^l0 = exp(l0 log Ad) is evaluated in float64 from the log-space exponent, then at most 31
// multiplications by Ad follow in float32, so every tap carries ~32 eps(float) relative
// error whatever l is (as on the CPU).
#include <cstddef>

#include "ssm/discretize/diagonal.hpp"

namespace ssm::detail {

/// Device pointers: W_re, W_im, log_Ad_re, log_Ad_im (H, N2) float64; K (H, L) float32 out.
void vandermonde_kernel_cuda(int H, int N2, const double* W_re, const double* W_im,
                             const double* log_Ad_re, const double* log_Ad_im, std::ptrdiff_t L,
                             float* K);

/// The device entry of ssm::diag_kernel(..., Device::cuda): discretizes `model` on the host
/// (ssm::discretize, float64), uploads W and log Ad and writes K (H, L) row-major into the
/// DEVICE array K (current GPU; host memory is refused naming 'K'), checked finite on the GPU.
/// Throws ssm::Error as ssm::diag_kernel does, and on CUDA failures.
void diag_kernel_cuda(const DiagonalSSM& model, Method method, std::ptrdiff_t L, float* K,
                      double dt_scale = 1.0, double alpha = 0.5);

}  // namespace ssm::detail
