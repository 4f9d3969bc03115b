// The row kernels of the FFT convolutions and their launchers (kernels/conv/spectral_kernels.cuh).
#include "kernels/conv/spectral_kernels.cuh"

#include <algorithm>

#include "kernels/core/cuda_check.cuh"

namespace ssm::detail {
namespace {

// Grid-stride loops along a row (blockIdx.x, threadIdx.x), one row per blockIdx.y.
dim3 row_grid(long long len, long long rows) {
  const long long bx = std::min<long long>((len + 255) / 256, 1024);
  return dim3(static_cast<unsigned>(std::max<long long>(bx, 1)), static_cast<unsigned>(rows));
}

__global__ void pad_rows(const float* __restrict__ src, float* __restrict__ buf, long long L,
                         long long n, long long pitch, long long Lsrc_row) {
  const long long s = blockIdx.y;
  const float* row = src + s * Lsrc_row;
  float* out = buf + s * pitch;
  for (long long t = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; t < n;
       t += static_cast<long long>(gridDim.x) * blockDim.x)
    out[t] = t < L ? row[t] : 0.f;
}

__global__ void spectral_product(float2* __restrict__ X, const float2* __restrict__ S,
                                 long long cpx, long long r0, int H) {
  const long long s = blockIdx.y;
  const float2* k = S + ((r0 + s) % H) * cpx;
  float2* x = X + s * cpx;
  for (long long f = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; f < cpx;
       f += static_cast<long long>(gridDim.x) * blockDim.x) {
    const float2 a = x[f], b = k[f];
    x[f] = make_float2(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
  }
}

__global__ void extract_rows(const float* __restrict__ buf, float* __restrict__ y, long long L,
                             long long pitch) {
  const long long s = blockIdx.y;
  for (long long t = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; t < L;
       t += static_cast<long long>(gridDim.x) * blockDim.x)
    y[s * L + t] = buf[s * pitch + t];
}

__global__ void finish_spectrum(float2* S, const float* D, long long cpx, float inv_n) {
  const long long h = blockIdx.y;
  const float d = D ? D[h] : 0.f;
  for (long long f = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; f < cpx;
       f += static_cast<long long>(gridDim.x) * blockDim.x) {
    float2 v = S[h * cpx + f];
    S[h * cpx + f] = make_float2((v.x + d) * inv_n, v.y * inv_n);
  }
}

__global__ void multiply_spectra(float2* X, const float2* K, long long cpx, int H) {
  const long long s = blockIdx.y;
  const float2* k = K + (s % H) * cpx;
  for (long long f = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; f < cpx;
       f += static_cast<long long>(gridDim.x) * blockDim.x) {
    const float2 a = X[s * cpx + f], b = k[f];
    X[s * cpx + f] = make_float2(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
  }
}

__global__ void scale_add_skip(const float* full, const float* u, const float* D, float* y,
                               long long L, long long n, int H, float inv_n) {
  const long long s = blockIdx.y;
  const float d = D ? D[s % H] : 0.f;
  for (long long t = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; t < L;
       t += static_cast<long long>(gridDim.x) * blockDim.x)
    y[s * L + t] = full[s * n + t] * inv_n + d * u[s * L + t];
}

__global__ void pack_view(const float* __restrict__ src, float* __restrict__ dst, long long H,
                          long long L, long long sb, long long sc, long long st, long long total,
                          bool to_view) {
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    const long long t = i % L, r = i / L, h = r % H, b = r / H;
    const long long j = b * sb + h * sc + t * st;
    if (to_view) dst[j] = src[i];
    else dst[i] = src[j];
  }
}

}  // namespace

void launch_pad_rows(const float* src, float* buf, long long L, long long n, long long pitch,
                     long long src_row, long long rows, cudaStream_t stream, const char* where) {
  pad_rows<<<row_grid(n, rows), 256, 0, stream>>>(src, buf, L, n, pitch, src_row);
  SSM_CUDA_CHECK_LAUNCH(where);
}

void launch_finish_spectrum(float2* S, const float* D, long long cpx, int H, float inv_n,
                            cudaStream_t stream, const char* where) {
  finish_spectrum<<<row_grid(cpx, H), 256, 0, stream>>>(S, D, cpx, inv_n);
  SSM_CUDA_CHECK_LAUNCH(where);
}

void launch_spectral_product(float2* X, const float2* S, long long cpx, long long r0, int H,
                             long long rows, cudaStream_t stream, const char* where) {
  spectral_product<<<row_grid(cpx, rows), 256, 0, stream>>>(X, S, cpx, r0, H);
  SSM_CUDA_CHECK_LAUNCH(where);
}

void launch_extract_rows(const float* buf, float* y, long long L, long long pitch, long long rows,
                         cudaStream_t stream, const char* where) {
  extract_rows<<<row_grid(L, rows), 256, 0, stream>>>(buf, y, L, pitch);
  SSM_CUDA_CHECK_LAUNCH(where);
}

void launch_multiply_spectra(float2* X, const float2* K, long long cpx, int H, long long rows,
                             cudaStream_t stream, const char* where) {
  multiply_spectra<<<row_grid(cpx, rows), 256, 0, stream>>>(X, K, cpx, H);
  SSM_CUDA_CHECK_LAUNCH(where);
}

void launch_scale_add_skip(const float* full, const float* u, const float* D, float* y, long long L,
                           long long n, int H, float inv_n, long long rows, cudaStream_t stream,
                           const char* where) {
  scale_add_skip<<<row_grid(L, rows), 256, 0, stream>>>(full, u, D, y, L, n, H, inv_n);
  SSM_CUDA_CHECK_LAUNCH(where);
}

void launch_pack_view(const float* src, float* dst, long long H, long long L, long long sb,
                      long long sc, long long st, long long total, bool to_view,
                      cudaStream_t stream, const char* where) {
  const auto blocks =
      static_cast<unsigned>(std::max<long long>(1, std::min<long long>((total + 255) / 256, 65535)));
  pack_view<<<blocks, 256, 0, stream>>>(src, dst, H, L, sb, sc, st, total, to_view);
  SSM_CUDA_CHECK_LAUNCH(where);
}

}  // namespace ssm::detail
