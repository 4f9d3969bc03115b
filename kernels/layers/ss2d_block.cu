// SS2DBlockCuda (include/ssm/layers/ss2d_block_cuda.hpp): the SS2D block on the GPU with
// resident weights. GEMMs through cuBLAS (float32, default math: no TF32), the fused cross-scan
// kernel of kernels/scan/cross_scan.cu, and three small kernels (bias add, depthwise conv + SiLU,
// LayerNorm + SiLU gate).
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/core/cuda_check.cuh"
#include "backend/cross_scan_cuda.hpp"
#include "backend/cross_scan_ext.hpp"
#include "ssm/core/device_buffer.hpp"
#include "ssm/core/error.hpp"
#include "ssm/layers/ss2d_block_cuda.hpp"

namespace ssm {
namespace {

constexpr const char* kWhere = "SS2DBlockCuda";

void check_cublas(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw Error(detail::concat(kWhere, ": cuBLAS error ", static_cast<int>(s), " in ", what));
}

unsigned grid_for(long long n, int threads) {
  const long long b = (n + threads - 1) / threads;
  return static_cast<unsigned>(std::clamp<long long>(b, 1, 65535LL * 32));
}

__device__ __forceinline__ float silu_d(float x) { return x / (1.f + expf(-x)); }

/// Y[r, o] += b[o] for r < M, o < n (row stride ld).
__global__ void bias_add_kernel(float* Y, long long M, int n, long long ld, const float* b) {
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < M * n;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    const long long r = i / n;
    const int o = static_cast<int>(i % n);
    Y[r * ld + o] += b[o];
  }
}

/// xc[row, c] = silu(bias[c] + sum_{i,j} wt[i K + j, c] xz[(b, h + i - pad, w + j - pad), c]),
/// xz rows of 2 di (the x half first), zero padding.
__global__ void conv_silu_kernel(const float* xz, float* xc, int batch, int H, int W, int di, int K,
                                 const float* wt, const float* bias) {
  const long long L = static_cast<long long>(H) * W, total = batch * L * di;
  const int pad = (K - 1) / 2;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    const int c = static_cast<int>(i % di);
    const long long row = i / di;
    const long long b = row / L;
    const int q = static_cast<int>(row % L), h = q / W, w = q % W;
    float s = bias ? bias[c] : 0.f;
    for (int a = 0; a < K; ++a) {
      const int hs = h + a - pad;
      if (hs < 0 || hs >= H) continue;
      for (int e = 0; e < K; ++e) {
        const int ws = w + e - pad;
        if (ws < 0 || ws >= W) continue;
        s = fmaf(wt[(a * K + e) * di + c], xz[((b * H + hs) * W + ws) * 2LL * di + c], s);
      }
    }
    xc[i] = silu_d(s);
  }
}

/// One warp a row: ys[row] = LayerNorm(ys[row]; w, b, eps) * silu(z[row]), in place.
__global__ void norm_gate_kernel(float* ys, const float* xz, long long M, int di, const float* w, const float* b,
                                 float eps) {
  const long long row = blockIdx.x * static_cast<long long>(blockDim.x / 32) + threadIdx.x / 32;
  const int lane = static_cast<int>(threadIdx.x % 32);
  if (row >= M) return;
  float* y = ys + row * di;
  const float* z = xz + row * 2LL * di + di;
  float s = 0.f;
  for (int c = lane; c < di; c += 32) s += y[c];
  for (int o = 16; o >= 1; o /= 2) s += __shfl_xor_sync(0xffffffffu, s, o);
  const float mean = s / di;
  float v = 0.f;
  for (int c = lane; c < di; c += 32) v += (y[c] - mean) * (y[c] - mean);
  for (int o = 16; o >= 1; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  const float rstd = 1.f / sqrtf(v / di + eps);
  for (int c = lane; c < di; c += 32) y[c] = ((y[c] - mean) * rstd * w[c] + b[c]) * silu_d(z[c]);
}

/// Y (M, out; ldY) = X (M, in; ldX) W^T with W (out, in) row-major: column-major Y^T = W^T X^T.
void gemm(cublasHandle_t h, const float* X, long long M, int in, long long ldX, const float* W, int out, float* Y,
          long long ldY) {
  const float one = 1.f, zero = 0.f;
  check_cublas(cublasSgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, out, static_cast<int>(M), in, &one, W, in, X,
                           static_cast<int>(ldX), &zero, Y, static_cast<int>(ldY)),
               "cublasSgemm");
}

}  // namespace

struct SS2DBlockCuda::Impl {
  SS2DBlockConfig cfg;
  int device = 0;
  cublasHandle_t handle = nullptr;
  DeviceBuffer<float> in_w, in_b, conv_wt, conv_b, xproj_w, dt_w, dt_b, A, Ds, norm_w, norm_b, out_w, out_b;
  DeviceBuffer<float> xz, xc, xdbl, delta, ys, x_io, y_io;  // scratch, grown on demand
  ~Impl() {
    if (handle) cublasDestroy(handle);
  }
  static void ensure(DeviceBuffer<float>& buf, std::size_t n) {
    if (buf.size() < n) buf = DeviceBuffer<float>(n);
  }
};

SS2DBlockCuda::SS2DBlockCuda(const SS2DBlock<float>& blk) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.cfg = blk.config();
  m.device = detail::current_device(kWhere);
  check_cublas(cublasCreate(&m.handle), "cublasCreate");
  const auto& p = blk.params();
  const std::size_t di = m.cfg.d_inner, K = m.cfg.d_conv, N = m.cfg.d_state;
  m.in_w = DeviceBuffer<float>(p.in_proj_weight);
  if (!p.in_proj_bias.empty()) m.in_b = DeviceBuffer<float>(p.in_proj_bias);
  std::vector<float> wt(K * K * di);
  for (std::size_t d = 0; d < di; ++d)
    for (std::size_t k = 0; k < K * K; ++k) wt[k * di + d] = p.conv2d_weight[d * K * K + k];
  m.conv_wt = DeviceBuffer<float>(wt);
  if (!p.conv2d_bias.empty()) m.conv_b = DeviceBuffer<float>(p.conv2d_bias);
  m.xproj_w = DeviceBuffer<float>(p.x_proj_weight);
  m.dt_w = DeviceBuffer<float>(p.dt_projs_weight);
  m.dt_b = DeviceBuffer<float>(p.dt_projs_bias);
  std::vector<float> A(p.A_logs.size());
  for (std::size_t i = 0; i < A.size(); ++i) A[i] = -std::exp(p.A_logs[i]);
  (void)N;
  m.A = DeviceBuffer<float>(A);
  m.Ds = DeviceBuffer<float>(p.Ds);
  m.norm_w = DeviceBuffer<float>(p.out_norm_weight);
  m.norm_b = DeviceBuffer<float>(p.out_norm_bias);
  m.out_w = DeviceBuffer<float>(p.out_proj_weight);
  if (!p.out_proj_bias.empty()) m.out_b = DeviceBuffer<float>(p.out_proj_bias);
}

SS2DBlockCuda::~SS2DBlockCuda() = default;
SS2DBlockCuda::SS2DBlockCuda(SS2DBlockCuda&&) noexcept = default;
SS2DBlockCuda& SS2DBlockCuda::operator=(SS2DBlockCuda&&) noexcept = default;
const SS2DBlockConfig& SS2DBlockCuda::config() const noexcept { return impl_->cfg; }

void SS2DBlockCuda::forward_device(const float* x, int batch, int H, int W, float* y) {
  require(impl_ != nullptr, kWhere, "this", "is a moved-from SS2DBlockCuda");
  Impl& m = *impl_;
  const char* w = "SS2DBlockCuda::forward";
  require(batch >= 1, w, "batch", "must be >= 1, got ", batch);
  require(H >= 1, w, "height", "must be >= 1 (H W positions), got ", H);
  require(W >= 1, w, "width", "must be >= 1 (H W positions), got ", W);
  require(x != nullptr, w, "x", "must not be null");
  require(y != nullptr, w, "y", "must not be null");
  const long long dm = m.cfg.d_model, di = m.cfg.d_inner, N = m.cfg.d_state, R = m.cfg.dt_rank,
                  L = static_cast<long long>(H) * W, M = batch * L, XD = R + 2 * N, XD4 = 4 * XD;
  require(y + M * dm <= x || x + M * dm <= y, w, "y", "must not overlap x");
  const detail::DeviceGuard on_device(m.device, w);
  Impl::ensure(m.xz, std::size_t(M * 2 * di));
  Impl::ensure(m.xc, std::size_t(M * di));
  Impl::ensure(m.xdbl, std::size_t(M * XD4));
  Impl::ensure(m.delta, std::size_t(M * 4 * di));
  Impl::ensure(m.ys, std::size_t(M * di));

  // in_proj (+ bias)
  gemm(m.handle, x, M, int(dm), dm, m.in_w.data(), int(2 * di), m.xz.data(), 2 * di);
  if (!m.in_b.empty())
    bias_add_kernel<<<grid_for(M * 2 * di, 256), 256>>>(m.xz.data(), M, int(2 * di), 2 * di, m.in_b.data());
  // depthwise conv + SiLU
  conv_silu_kernel<<<grid_for(M * di, 256), 256>>>(m.xz.data(), m.xc.data(), batch, H, W, int(di), m.cfg.d_conv,
                                                   m.conv_wt.data(), m.conv_b.empty() ? nullptr : m.conv_b.data());
  SSM_CUDA_CHECK_LAUNCH(w);
  // x_proj of the four directions at once, then dt_projs as one strided batch of four GEMMs
  gemm(m.handle, m.xc.data(), M, int(di), di, m.xproj_w.data(), int(XD4), m.xdbl.data(), XD4);
  {
    const float one = 1.f, zero = 0.f;
    check_cublas(cublasSgemmStridedBatched(m.handle, CUBLAS_OP_T, CUBLAS_OP_N, int(di), int(M), int(R), &one,
                                           m.dt_w.data(), int(R), di * R, m.xdbl.data(), int(XD4), XD,
                                           &zero, m.delta.data(), int(4 * di), di, 4),
                 "cublasSgemmStridedBatched");
  }
  // the fused cross-scan on the channels-last layout
  CrossScanArgs<float> a;
  a.batch = batch;
  a.dim = int(di);
  a.dstate = int(N);
  a.height = H;
  a.width = W;
  a.delta_softplus = true;
  a.u = m.xc.data();
  a.delta = m.delta.data();
  a.A = m.A.data();
  a.B = m.xdbl.data() + R;
  a.C = m.xdbl.data() + R + N;
  a.D = m.Ds.data();
  a.delta_bias = m.dt_b.data();
  a.out = m.ys.data();
  a.u_strides = a.out_strides = Strides3{L * di, 1, di};
  a.delta_strides = Strides3{L * 4 * di, 1, 4 * di};
  a.B_strides = a.C_strides = Strides4{L * XD4, XD, 1, XD4};
  a.validate();
  if (N <= 64) detail::cross_selective_scan_cuda_async(a);
  else detail::cross_selective_scan_unfused_cuda(a);
  // LayerNorm + gate, out_proj (+ bias)
  norm_gate_kernel<<<grid_for(M * 32, 256), 256>>>(m.ys.data(), m.xz.data(), M, int(di), m.norm_w.data(),
                                                   m.norm_b.data(), static_cast<float>(m.cfg.out_norm_eps));
  SSM_CUDA_CHECK_LAUNCH(w);
  gemm(m.handle, m.ys.data(), M, int(di), di, m.out_w.data(), int(dm), y, dm);
  if (!m.out_b.empty()) bias_add_kernel<<<grid_for(M * dm, 256), 256>>>(y, M, int(dm), dm, m.out_b.data());
  SSM_CUDA_CHECK_LAUNCH(w);
  SSM_CUDA_CHECK(cudaDeviceSynchronize(), w);
}

void SS2DBlockCuda::forward(const float* x, int batch, int H, int W, float* y) {
  require(impl_ != nullptr, kWhere, "this", "is a moved-from SS2DBlockCuda");
  Impl& m = *impl_;
  const char* w = "SS2DBlockCuda::forward";
  require(batch >= 1, w, "batch", "must be >= 1, got ", batch);
  require(H >= 1, w, "height", "must be >= 1 (H W positions), got ", H);
  require(W >= 1, w, "width", "must be >= 1 (H W positions), got ", W);
  require(x != nullptr && y != nullptr, w, "x", "and y must not be null");
  const detail::DeviceGuard on_device(m.device, w);
  const std::size_t n = std::size_t(batch) * H * W * m.cfg.d_model;
  Impl::ensure(m.x_io, n);
  Impl::ensure(m.y_io, n);
  m.x_io.upload(x, n);
  forward_device(m.x_io.data(), batch, H, W, m.y_io.data());
  m.y_io.download(y, n);
}

}  // namespace ssm
