#pragma once
// CUDA-internal: the chunked-GEMM formulation of the time-invariant diagonal scan (diag_scan,
// the conv mode of S4D on the GPU), y = K * u + D u without an FFT and without a sequential
// pass over the samples. With chunks of T samples, chunk c of channel (b, h) and
// s_c = x_{cT + T - 1} the state at its end (s_{-1} = h0 or 0):
//
//   y[cT + t] = sum_{j <= t} k_{t-j} u[cT + j]                       (Toeplitz, k_0 includes D)
//             + 2 Re(sum_n C_n Ad_n^{t+1} s_{c-1,n})                  (read-out of the carry)
//   s_c       = Ad^T s_{c-1} + sum_t Ad^{T-1-t} Bd u[cT + t]          (chunk-end state)
//   k_l       = 2 Re(sum_n C_n Ad_n^l Bd_n)
//
// Per channel the three sums are matrix products over all chunks at once (column c = chunk c):
//   G1  Y  = Tm U          Tm (T x T) lower-triangular Toeplitz of k
//   G2  X  = W U           W (2N2 x T), rows re/im of Ad^{T-1-t} Bd   -> X columns 1..nc of S
//   carry  S[:, c] = Ad^T S[:, c-1] + X[:, c]     (per mode, sequential over the nc chunks only)
//   G3  Y += R S[:, 0..nc-1]   R (T x 2N2): 2 Re(C Ad^{t+1}), -2 Im(C Ad^{t+1})
// as cuBLAS strided-batched GEMMs over the channels (FP32 SGEMM / FP64 DGEMM, full precision),
// one call of each a batch row and time segment. Exact up to rounding; the coefficients
// (powers of Ad) are computed on the device in float64 from log|Ad| and arg Ad.
// Requirements (checked by the caller): unit time strides of u and y, length >= chunk.
#include <cuda_runtime.h>

#include <complex>
#include <vector>

#include "ssm/scan/diag_scan.hpp"

namespace ssm::detail {

/// Runs the `full = length / chunk` whole chunks of every batch row and channel: writes
/// y[:, :, 0 : full * chunk] and the state after the last whole chunk to `state` (device,
/// (batch, channels, modes, 2) complex, not aliasing any argument), starting from a.h0 (or 0).
/// Ad, Bd: the discretized system in float64 (channels x modes). Queued on `st`.
template <class T>
void diag_scan_gemm(const DiagScanArgs<T>& a, const std::vector<std::complex<double>>& Ad,
                    const std::vector<std::complex<double>>& Bd, const std::vector<T>& C, int chunk, T* state,
                    cudaStream_t st, const char* where);

}  // namespace ssm::detail
