#pragma once
// CUDA-internal: the chunked formulation of the time-invariant diagonal scan (the math is in
// diag_scan_gemm.cuh) as one fused kernel on the FP64 tensor cores (mma.sync m8n8k4 .f64,
// compute capability 8.0 and later), for float and double storage alike.
//
// One block of 256 threads runs one (batch row, channel) from its first sample to its last, in
// groups of 32 chunks of 64 samples (2048 samples a group). Per group:
//   1. the group's u (read once, coalesced; the next group's is requested before the products
//      below, so its latency hides behind them) is held in shared memory as float64;
//   2. X = W U (2N2 x 32: each chunk's contribution to its end state) and Y = Tm U (64 x 32:
//      the Toeplitz products, lower-triangular: the all-zero k-steps are skipped, 36 of 64) on
//      the tensor cores; Y stays in registers;
//   3. the carry, one thread a mode: S[:, c] = s, s = Ad^64 s + X[:, c] for the group's chunks,
//      from the state the previous group left (the first group: h0 or 0);
//   4. Y += R S (the carried states read out at every sample of their chunk), then y = Y is
//      written once, rounded to the storage type.
// Everything is computed in float64 from coefficients built in float64 (diag_scan_coef.cuh), so
// float32 results are the exact scan rounded once, up to float64 rounding: more accurate than
// the float32 recurrence, the FFT convolution or the FP32 GEMMs. Per sample 32 + 4 N2
// multiply-adds on average (the Toeplitz half of T = 64, the state in and out), at the FP64
// tensor rate. u and y are touched once each.
//
// Shared memory: Mp = 2N2 rounded up to 16, 32, 64 or 128 rows of W and R, 32 chunks of u and of S, all
// float64 with row pitches that make every fragment load conflict-free: 103 KB at N2 = 32 (two
// blocks an SM), 190 KB at N2 = 64 (one). Requirements (checked by the caller): unit time
// strides of u and y, length >= 64, modes <= kTcMaxModes.
#include <cuda_runtime.h>

#include <complex>
#include <vector>

#include "ssm/scan/diag_scan.hpp"

namespace ssm::detail {

constexpr int kTcChunk = 64;      // samples a chunk
constexpr int kTcMaxModes = 64;   // complex modes (shared memory)

/// Whether the current device has FP64 tensor cores (compute capability >= 8.0) and the
/// kernel's shared memory for `modes` complex modes.
bool diag_scan_tc_available(int modes, const char* where);

/// Runs the `full = length / 64` whole chunks of every batch row and channel: writes
/// y[:, :, 0 : full * 64] and the state after the last whole chunk to `state` (device, (batch,
/// channels, modes, 2) complex, not aliasing any argument), starting from a.h0 (or 0). Ad, Bd:
/// the discretized system in float64 (channels x modes); C as the caller read it. Queued on `st`.
template <class T>
void diag_scan_tc(const DiagScanArgs<T>& a, const std::vector<std::complex<double>>& Ad,
                  const std::vector<std::complex<double>>& Bd, const std::vector<T>& C, T* state, cudaStream_t st,
                  const char* where);

}  // namespace ssm::detail
