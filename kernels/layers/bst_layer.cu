// CudaBSTLayer (include/ssm/layers/bst_layer_cuda.hpp): the BST layer on the GPU. cuBLAS for
// every matrix product, small kernels for LayerNorm, bias/GELU/residual epilogues, the
// channel-major transposes around the FFT convolution, the gather of each block's keys/values
// input and the masked softmax.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <vector>

#include "backend/diag_kernel_cuda.hpp"
#include "kernels/core/cublas_check.cuh"
#include "kernels/core/cuda_check.cuh"
#include "ssm/conv/fftconv_cuda.hpp"
#include "ssm/core/device_buffer.hpp"
#include "ssm/core/error.hpp"
#include "ssm/layers/bst_layer_cuda.hpp"

namespace ssm {
namespace {

constexpr const char* kWhere = "CudaBSTLayer";


__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

constexpr int kWarpsPerBlock = 8;

unsigned warp_grid(long long rows) { return static_cast<unsigned>((rows + kWarpsPerBlock - 1) / kWarpsPerBlock); }
unsigned flat_grid(long long n) { return static_cast<unsigned>(std::min<long long>((n + 255) / 256, 1 << 20)); }

// One warp per row: y = (x - mean) / sqrt(var + eps) * w + b (biased variance).
__global__ void layer_norm_rows(const float* __restrict__ x, long long rows, int n, const float* __restrict__ w,
                                const float* __restrict__ b, float eps, float* __restrict__ y) {
  const long long row = blockIdx.x * static_cast<long long>(kWarpsPerBlock) + threadIdx.x / 32;
  const int lane = threadIdx.x & 31;
  if (row >= rows) return;
  const float* xr = x + row * n;
  float s = 0.f;
  for (int i = lane; i < n; i += 32) s += xr[i];
  const float mean = warp_sum(s) / n;
  float v = 0.f;
  for (int i = lane; i < n; i += 32) {
    const float t = xr[i] - mean;
    v += t * t;
  }
  const float r = 1.f / sqrtf(warp_sum(v) / n + eps);
  float* yr = y + row * n;
  for (int i = lane; i < n; i += 32) yr[i] = (xr[i] - mean) * r * w[i] + b[i];
}

// y[r, c] = act(y[r, c] + bias[c]) + res[r, c]; bias and res may be null.
__global__ void epilogue(float* __restrict__ y, long long rows, int cols, const float* __restrict__ bias,
                         const float* __restrict__ res, bool gelu) {
  const long long n = rows * cols;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    float v = y[i];
    if (bias) v += bias[i % cols];
    if (gelu) v = 0.5f * v * (1.f + erff(v * 0.70710678118654752f));
    if (res) v += res[i];
    y[i] = v;
  }
}

// (batch, R, C) -> (batch, C, R), 32 x 32 tiles through shared memory; grid (tiles, batch) with
// the tiles numbered flat in x (a long side never meets the 65535 limit of grid.y).
__global__ void transpose_batched(const float* __restrict__ in, float* __restrict__ out, int R, int C) {
  __shared__ float tile[32][33];
  const long long base = static_cast<long long>(blockIdx.y) * R * C;
  const int tiles_c = (C + 31) / 32;
  const int c0 = static_cast<int>(blockIdx.x % tiles_c) * 32, r0 = static_cast<int>(blockIdx.x / tiles_c) * 32;
  for (int k = threadIdx.y; k < 32; k += blockDim.y) {
    const int r = r0 + k, c = c0 + threadIdx.x;
    if (r < R && c < C) tile[k][threadIdx.x] = in[base + static_cast<long long>(r) * C + c];
  }
  __syncthreads();
  for (int k = threadIdx.y; k < 32; k += blockDim.y) {
    const int c = c0 + k, r = r0 + threadIdx.x;
    if (r < R && c < C) out[base + static_cast<long long>(c) * R + r] = tile[threadIdx.x][k];
  }
}

// X_cat[(bj, r, col)]: r < S: context row c[jW - S + r] (zero before position 0); r >= S: xn[jW + r - S].
__global__ void gather_blocks(const float* __restrict__ c, const float* __restrict__ xn, float* __restrict__ out,
                              int nb, int W, int S, long long Lp, int d, long long total) {
  const int rows = S + W;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    const int col = static_cast<int>(i % d);
    const long long rr = i / d;
    const int r = static_cast<int>(rr % rows);
    const long long bj = rr / rows;
    const long long b = bj / nb, j = bj % nb;
    float v = 0.f;
    if (r < S) {
      const long long p = j * W - S + r;
      if (p >= 0) v = c[(b * Lp + p) * d + col];
    } else {
      v = xn[(b * Lp + j * W + (r - S)) * d + col];
    }
    out[i] = v;
  }
}

// Scores P (bj, h, i, k), k < S + W, one warp per (bj, h, i): softmax over the keys query i may
// see (context rows that exist: jW - S + k >= 0; block rows k - S <= i); the others become 0.
__global__ void masked_softmax(float* __restrict__ P, long long rows, int nb, int H, int W, int S) {
  const long long row = blockIdx.x * static_cast<long long>(kWarpsPerBlock) + threadIdx.x / 32;
  const int lane = threadIdx.x & 31;
  if (row >= rows) return;
  const int i = static_cast<int>(row % W);
  const long long bj = row / W / H;
  const long long j = bj % nb;
  const int K = S + W;
  const int first = static_cast<int>(max(0LL, S - j * W));  // context slots before position 0
  const int last = S + i;                                    // last visible key
  float* pr = P + row * K;
  float m = -INFINITY;
  for (int k = lane; k < K; k += 32)
    if (k >= first && k <= last) m = fmaxf(m, pr[k]);
  m = warp_max(m);
  float s = 0.f;
  for (int k = lane; k < K; k += 32) {
    const float e = (k >= first && k <= last) ? expf(pr[k] - m) : 0.f;
    pr[k] = e;
    s += e;
  }
  const float inv = 1.f / warp_sum(s);
  for (int k = lane; k < K; k += 32) pr[k] *= inv;
}

template <class T>
DeviceBuffer<float> upload_f(const std::vector<T>& v) {
  std::vector<float> f(v.begin(), v.end());
  return f.empty() ? DeviceBuffer<float>() : DeviceBuffer<float>(f);
}

}  // namespace

struct CudaBSTLayer::Impl {
  BSTLayerConfig cfg;
  int device = 0;
  cublasHandle_t handle = nullptr;
  DeviceBuffer<float> n1w, n1b, n2w, n2b, D, qw, qb, kw, kb, vw, vb, ow, ob, f1w, f1b, f2w, f2b;
  DeviceBuffer<double> w_re, w_im, la_re, la_im;  // W = C Bd and log Ad of the context SSM (d, N2)

  ~Impl() {  // no throw in a destructor: errors of the teardown are ignored
    if (!handle) return;
    int prev = 0;
    (void)cudaGetDevice(&prev);
    if (prev != device) (void)cudaSetDevice(device);
    (void)cublasDestroy(handle);
    if (prev != device) (void)cudaSetDevice(prev);
  }

  // Y (rows, out) = X (rows, in) W (out, in)ᵀ, row-major (column-major Yᵀ = W Xᵀ).
  void linear(const float* X, long long rows, int in, const float* Wt, int out, float* Y) const {
    const float one = 1.f, zero = 0.f;
    SSM_CUBLAS_CHECK(cublasSgemm(handle, CUBLAS_OP_T, CUBLAS_OP_N, out, static_cast<int>(rows), in, &one, Wt, in, X,
                                 in, &zero, Y, out), kWhere);
  }
  void run(const float* x, int batch, int L, float* y, float* ctx) const;
};

CudaBSTLayer::CudaBSTLayer(const BSTLayer<float>& layer) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.cfg = layer.config();
  require(m.cfg.d_model >= 1, kWhere, "layer", "must be a constructed layer");
  m.device = detail::current_device(kWhere);
  const auto& p = layer.params();
  m.n1w = upload_f(p.norm1_weight), m.n1b = upload_f(p.norm1_bias);
  m.n2w = upload_f(p.norm2_weight), m.n2b = upload_f(p.norm2_bias);
  m.D = upload_f(p.D);
  m.qw = upload_f(p.q_weight), m.qb = upload_f(p.q_bias);
  m.kw = upload_f(p.k_weight), m.kb = upload_f(p.k_bias);
  m.vw = upload_f(p.v_weight), m.vb = upload_f(p.v_bias);
  m.ow = upload_f(p.out_weight), m.ob = upload_f(p.out_bias);
  m.f1w = upload_f(p.fc1_weight), m.f1b = upload_f(p.fc1_bias);
  m.f2w = upload_f(p.fc2_weight), m.f2b = upload_f(p.fc2_bias);
  const DiagonalDiscrete dd = discretize(layer.ssm(), Method::zoh);
  const std::size_t n = dd.Ad.size();
  std::vector<double> wr(n), wi(n);
  for (std::size_t k = 0; k < n; ++k) {
    const std::complex<double> w = layer.ssm().C.get(k) * dd.Bd.get(k);
    wr[k] = w.real();
    wi[k] = w.imag();
  }
  m.w_re = DeviceBuffer<double>(wr);
  m.w_im = DeviceBuffer<double>(wi);
  m.la_re = DeviceBuffer<double>(dd.log_Ad.re);
  m.la_im = DeviceBuffer<double>(dd.log_Ad.im);
  SSM_CUBLAS_CHECK(cublasCreate(&m.handle), kWhere);
  SSM_CUBLAS_CHECK(cublasSetStream(m.handle, nullptr), kWhere);
}

CudaBSTLayer::~CudaBSTLayer() = default;
CudaBSTLayer::CudaBSTLayer(CudaBSTLayer&&) noexcept = default;
CudaBSTLayer& CudaBSTLayer::operator=(CudaBSTLayer&&) noexcept = default;
const BSTLayerConfig& CudaBSTLayer::config() const noexcept { return impl_->cfg; }
int CudaBSTLayer::device() const noexcept { return impl_->device; }

void CudaBSTLayer::Impl::run(const float* x, int batch, int L, float* y, float* ctx) const {
  const int d = cfg.d_model, F = cfg.d_ff, W = cfg.block_size, S = cfg.context, H = cfg.n_heads, dh = d / H;
  const long long nb = (static_cast<long long>(L) + W - 1) / W, Lp = nb * W, M = batch * Lp;
  const long long NB = batch * nb, KR = S + W;  // blocks; key rows a block
  require(batch <= 65535, kWhere, "batch", "must be <= 65535 (a grid dimension), got ", batch);
  require(NB * KR <= (1LL << 31) - 1 && M <= (1LL << 31) - 1, kWhere, "batch/length",
          "are too large for one call (rows must fit in int)");
  const std::size_t md = static_cast<std::size_t>(M * d);
  DeviceBuffer<float> xp(md), xn(md), u(md), cT(md), c(md), Q(md), Xc(static_cast<std::size_t>(NB * KR * d));
  DeviceBuffer<float> Kc(Xc.size()), Vc(Xc.size()), P(static_cast<std::size_t>(NB * H * W * KR)), att(md);
  // x (batch, L, d) -> xp (batch, Lp, d), zero rows after L
  SSM_CUDA_CHECK(cudaMemsetAsync(xp.data(), 0, md * sizeof(float), nullptr), kWhere);
  SSM_CUDA_CHECK(cudaMemcpy2DAsync(xp.data(), Lp * d * sizeof(float), x, std::size_t(L) * d * sizeof(float),
                                   std::size_t(L) * d * sizeof(float), batch, cudaMemcpyDeviceToDevice, nullptr),
                 kWhere);
  layer_norm_rows<<<warp_grid(M), 32 * kWarpsPerBlock>>>(xp.data(), M, d, n1w.data(), n1b.data(),
                                                         static_cast<float>(cfg.norm_eps), xn.data());
  SSM_CUDA_CHECK_LAUNCH(kWhere);

  // c = S4D(xn): K (d, Lp), FFT convolution over (batch, d, Lp)
  {
    DeviceBuffer<float> K(static_cast<std::size_t>(d) * Lp);
    detail::vandermonde_kernel_cuda(d, cfg.modes, w_re.data(), w_im.data(), la_re.data(), la_im.data(), Lp,
                                    K.data());
    const dim3 tb(32, 8);
    const unsigned tiles = unsigned((d + 31) / 32 * ((Lp + 31) / 32));
    transpose_batched<<<dim3(tiles, unsigned(batch)), tb>>>(xn.data(), u.data(), static_cast<int>(Lp), d);
    SSM_CUDA_CHECK_LAUNCH(kWhere);
    CudaFFTConv conv(d, Lp, K.data(), Lp, D.data());
    conv.apply(u.data(), cT.data(), batch, Lp);
    transpose_batched<<<dim3(tiles, unsigned(batch)), tb>>>(cT.data(), c.data(), d, static_cast<int>(Lp));
    SSM_CUDA_CHECK_LAUNCH(kWhere);
  }

  // Q over all rows; keys/values from each block's [context; block] rows
  linear(xn.data(), M, d, qw.data(), d, Q.data());
  if (qb.size()) epilogue<<<flat_grid(M * d), 256>>>(Q.data(), M, d, qb.data(), nullptr, false);
  const long long xc_n = NB * KR * d;
  gather_blocks<<<flat_grid(xc_n), 256>>>(c.data(), xn.data(), Xc.data(), static_cast<int>(nb), W, S, Lp, d, xc_n);
  SSM_CUDA_CHECK_LAUNCH(kWhere);
  linear(Xc.data(), NB * KR, d, kw.data(), d, Kc.data());
  if (kb.size()) epilogue<<<flat_grid(xc_n), 256>>>(Kc.data(), NB * KR, d, kb.data(), nullptr, false);
  linear(Xc.data(), NB * KR, d, vw.data(), d, Vc.data());
  if (vb.size()) epilogue<<<flat_grid(xc_n), 256>>>(Vc.data(), NB * KR, d, vb.data(), nullptr, false);
  SSM_CUDA_CHECK_LAUNCH(kWhere);

  // scores, row-major (W, KR) a (block, head): column-major Pᵀ = K_h Q_hᵀ, batched over blocks
  const float scale = 1.f / std::sqrt(static_cast<float>(dh)), one = 1.f, zero = 0.f;
  for (int h = 0; h < H; ++h)
    SSM_CUBLAS_CHECK(cublasSgemmStridedBatched(handle, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(KR), W, dh, &scale,
                                               Kc.data() + h * dh, d, KR * d, Q.data() + h * dh, d,
                                               static_cast<long long>(W) * d, &zero, P.data() + h * W * KR,
                                               static_cast<int>(KR), static_cast<long long>(H) * W * KR,
                                               static_cast<int>(NB)), kWhere);
  const long long prow = NB * H * W;
  masked_softmax<<<warp_grid(prow), 32 * kWarpsPerBlock>>>(P.data(), prow, static_cast<int>(nb), H, W, S);
  SSM_CUDA_CHECK_LAUNCH(kWhere);
  // attention (W, dh) a (block, head) into its columns: column-major attᵀ = V_hᵀ Pᵀ
  for (int h = 0; h < H; ++h)
    SSM_CUBLAS_CHECK(cublasSgemmStridedBatched(handle, CUBLAS_OP_N, CUBLAS_OP_N, dh, W, static_cast<int>(KR), &one,
                                               Vc.data() + h * dh, d, KR * d, P.data() + h * W * KR,
                                               static_cast<int>(KR), static_cast<long long>(H) * W * KR, &zero,
                                               att.data() + h * dh, d, static_cast<long long>(W) * d,
                                               static_cast<int>(NB)), kWhere);

  // h = x + out_proj(att) (into Q); z = LayerNorm2(h) (into xn); y = h + fc2(gelu(fc1(z)))
  float* hres = Q.data();
  linear(att.data(), M, d, ow.data(), d, hres);
  epilogue<<<flat_grid(M * d), 256>>>(hres, M, d, ob.size() ? ob.data() : nullptr, xp.data(), false);
  layer_norm_rows<<<warp_grid(M), 32 * kWarpsPerBlock>>>(hres, M, d, n2w.data(), n2b.data(),
                                                         static_cast<float>(cfg.norm_eps), xn.data());
  SSM_CUDA_CHECK_LAUNCH(kWhere);
  {
    DeviceBuffer<float> ff(static_cast<std::size_t>(M) * F);
    linear(xn.data(), M, d, f1w.data(), F, ff.data());
    epilogue<<<flat_grid(M * F), 256>>>(ff.data(), M, F, f1b.size() ? f1b.data() : nullptr, nullptr, true);
    linear(ff.data(), M, F, f2w.data(), d, att.data());
    epilogue<<<flat_grid(M * d), 256>>>(att.data(), M, d, f2b.size() ? f2b.data() : nullptr, hres, false);
    SSM_CUDA_CHECK_LAUNCH(kWhere);
  }
  // padded rows back to (batch, L, d)
  const std::size_t row_bytes = std::size_t(L) * d * sizeof(float), pitch = Lp * d * sizeof(float);
  SSM_CUDA_CHECK(cudaMemcpy2DAsync(y, row_bytes, att.data(), pitch, row_bytes, batch, cudaMemcpyDeviceToDevice, nullptr),
                 kWhere);
  if (ctx)
    SSM_CUDA_CHECK(
        cudaMemcpy2DAsync(ctx, row_bytes, c.data(), pitch, row_bytes, batch, cudaMemcpyDeviceToDevice, nullptr),
        kWhere);
  SSM_CUDA_CHECK(cudaStreamSynchronize(nullptr), kWhere);
}

void CudaBSTLayer::forward(const float* x, int batch, int length, float* y, float* context) const {
  require(batch >= 1, "CudaBSTLayer::forward", "batch", "must be >= 1, got ", batch);
  require(length >= 1, "CudaBSTLayer::forward", "length", "must be >= 1, got ", length);
  require(x != nullptr && y != nullptr, "CudaBSTLayer::forward", "x/y", "must not be null");
  const std::size_t n = std::size_t(batch) * length * impl_->cfg.d_model;
  require(y + n <= x || x + n <= y, "CudaBSTLayer::forward", "y", "must not overlap x");
  require(!context || context + n <= x || x + n <= context, "CudaBSTLayer::forward", "context",
          "must not overlap x");
  detail::DeviceGuard g(impl_->device, "CudaBSTLayer::forward");
  impl_->run(x, batch, length, y, context);
}

void CudaBSTLayer::forward_host(const float* x, int batch, int length, float* y, float* context) const {
  require(batch >= 1, "CudaBSTLayer::forward_host", "batch", "must be >= 1, got ", batch);
  require(length >= 1, "CudaBSTLayer::forward_host", "length", "must be >= 1, got ", length);
  require(x != nullptr && y != nullptr, "CudaBSTLayer::forward_host", "x/y", "must not be null");
  detail::DeviceGuard g(impl_->device, "CudaBSTLayer::forward_host");
  const std::size_t n = std::size_t(batch) * length * impl_->cfg.d_model;
  DeviceBuffer<float> dx(n), dy(n), dc(context ? n : 0);
  dx.upload(x, n);
  impl_->run(dx.data(), batch, length, dy.data(), context ? dc.data() : nullptr);
  dy.download(y, n);
  if (context) dc.download(context, n);
}

}  // namespace ssm
