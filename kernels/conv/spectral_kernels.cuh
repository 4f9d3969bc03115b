#pragma once
// CUDA-internal: the row kernels of the FFT convolutions (kernels/conv/spectral_kernels.cu),
// behind host launchers so that each .cu file of kernels/conv/ has one job. Rows are the
// (batch, channel) rows of a (rows, length) array; every launcher queues one grid on `stream`
// (null: the legacy default stream) and checks the launch, throwing ssm::Error naming `where`.
#include <cuda_runtime.h>

namespace ssm::detail {

/// buf[s, t] = t < L ? src[s * src_row + t] : 0 for t < n, rows s < rows of `pitch` reals.
void launch_pad_rows(const float* src, float* buf, long long L, long long n, long long pitch,
                     long long src_row, long long rows, cudaStream_t stream, const char* where);

/// S[h, f] = (S[h, f] + D[h]) / n for h < H, f < cpx (D null: 0): the kept spectrum of
/// CudaFFTConv, with the skip D and the inverse transform's 1/n folded in.
void launch_finish_spectrum(float2* S, const float* D, long long cpx, int H, float inv_n,
                            cudaStream_t stream, const char* where);

/// X[s, f] *= S[(r0 + s) % H, f] for s < rows: the fused spectral product (S includes D, 1/n).
void launch_spectral_product(float2* X, const float2* S, long long cpx, long long r0, int H,
                             long long rows, cudaStream_t stream, const char* where);

/// y[s, t] = buf[s * pitch + t] for t < L, s < rows.
void launch_extract_rows(const float* buf, float* y, long long L, long long pitch, long long rows,
                         cudaStream_t stream, const char* where);

/// The unfused baseline's steps: X[s, f] *= K[s % H, f] (the plain product of two spectra), and
/// y[s, t] = full[s * n + t] / n + D[s % H] u[s * L + t] (the scale and skip as a second pass).
void launch_multiply_spectra(float2* X, const float2* K, long long cpx, int H, long long rows,
                             cudaStream_t stream, const char* where);
void launch_scale_add_skip(const float* full, const float* u, const float* D, float* y, long long L,
                           long long n, int H, float inv_n, long long rows, cudaStream_t stream,
                           const char* where);

/// Between a strided (B, H, L) view with element strides (sb, sc, st) and the contiguous
/// layout: dst[i] = src(b, h, t) with i = (b H + h) L + t (to_view = false), or the reverse
/// scatter into the view (to_view = true); total = B H L.
void launch_pack_view(const float* src, float* dst, long long H, long long L, long long sb,
                      long long sc, long long st, long long total, bool to_view,
                      cudaStream_t stream, const char* where);

}  // namespace ssm::detail
