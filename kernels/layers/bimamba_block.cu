// GPU forward of BiMambaBlock with resident weights (src/layers/bimamba_cuda.hpp).
// Row-major linear maps Y (rows, out) = X (rows, in) Wᵀ run on cuBLAS as the column-major
// product Yᵀ = W Xᵀ: gemm(OP_T, OP_N, m = out, n = rows, k = in, W with ld = in, X with
// ld = its row stride, Y with ld = its row stride). The time-major activations are the
// (batch, dim, length) views with strides (L dim, 1, dim) the scan reads directly.
#include <cublas_v2.h>

#include "kernels/core/cublas_check.cuh"

#include <algorithm>
#include <cmath>

#include "kernels/core/cuda_check.cuh"
#include "backend/bimamba_cuda.hpp"
#include "backend/bidirectional_scan_cuda.hpp"
#include "ssm/core/device_buffer.hpp"

namespace ssm::detail {

namespace {
constexpr const char* kWhere = "BiMambaBlock (cuda)";

cublasStatus_t gemm(cublasHandle_t h, int m, int n, int k, const float* A, int lda, const float* B, int ldb,
                    float* C, int ldc) {
  const float one = 1.0f, zero = 0.0f;
  return cublasSgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &one, A, lda, B, ldb, &zero, C, ldc);
}
cublasStatus_t gemm(cublasHandle_t h, int m, int n, int k, const double* A, int lda, const double* B, int ldb,
                    double* C, int ldc) {
  const double one = 1.0, zero = 0.0;
  return cublasDgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &one, A, lda, B, ldb, &zero, C, ldc);
}

template <class T>
__global__ void add_bias_kernel(T* Y, long long rows, int out, const T* b) {
  const long long n = rows * out;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long long>(gridDim.x) * blockDim.x)
    Y[i] += b[i % out];
}

template <class T>
__device__ __forceinline__ T silu_d(T v) { return v / (T(1) + exp(-v)); }

/// Both depthwise convolutions + SiLU from xz (rows b*L + t, 2 di wide; x = the first di):
///   xcf[t] = silu(bf + sum_k wf[k] x[t - K + 1 + k])   (causal; zeros before 0)
///   xcb[t] = silu(bb + sum_k wb[k] x[t + K - 1 - k])   (anti-causal; zeros past L - 1)
/// with wf, wb transposed to (K, di).
template <class T>
__global__ void conv_kernel(const T* xz, int batch, int L, int di, int K, const T* wf, const T* bf, const T* wb,
                            const T* bb, T* xcf, T* xcb) {
  const long long n = static_cast<long long>(batch) * L * di;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    const int c = static_cast<int>(i % di);
    const long long row = i / di;
    const int t = static_cast<int>(row % L);
    const long long b = row / L;
    T f = bf ? bf[c] : T(0), g = bb ? bb[c] : T(0);
    for (int k = 0; k < K; ++k) {
      const int tf = t - (K - 1) + k, tb = t + (K - 1) - k;
      if (tf >= 0) f += wf[k * di + c] * xz[(b * L + tf) * 2 * di + c];
      if (tb < L) g += wb[k * di + c] * xz[(b * L + tb) * 2 * di + c];
    }
    xcf[i] = silu_d(f);
    xcb[i] = silu_d(g);
  }
}

/// x_dbl (rows b*L + t, XD wide: dt | B | C) -> B, C in (batch, 1, N, L).
template <class T>
__global__ void split_bc_kernel(const T* xdbl, int batch, int L, int XD, int R, int N, T* B, T* C) {
  const long long n = static_cast<long long>(batch) * N * L;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    const int t = static_cast<int>(i % L);
    const long long bn = i / L;
    const int nn = static_cast<int>(bn % N);
    const long long b = bn / N;
    const T* r = xdbl + (b * L + t) * XD + R;
    B[i] = r[nn];
    C[i] = r[N + nn];
  }
}

int blocks_for(long long n) { return static_cast<int>(std::clamp<long long>((n + 255) / 256, 1, 65536)); }

}  // namespace

template <class T>
struct BiMambaDevice {
  BiMambaBlockConfig cfg;
  int device = 0;
  cublasHandle_t handle = nullptr;
  DeviceBuffer<T> in_w, in_b, conv_f, conv_fb, conv_b, conv_bb, xproj_f, xproj_b, dt_f, dt_b, dtbias_f, dtbias_b, A_f,
      A_b, D_f, D_b, out_w, out_b;
  BiMambaDevice() = default;
  BiMambaDevice(const BiMambaDevice&) = delete;
  BiMambaDevice& operator=(const BiMambaDevice&) = delete;
  ~BiMambaDevice() {
    if (handle) (void)cublasDestroy(handle);
  }
};

template <class T>
std::shared_ptr<const BiMambaDevice<T>> bimamba_upload(const BiMambaBlockConfig& c, const BiMambaBlockParams<T>& p,
                                                       const std::vector<T>& A_f, const std::vector<T>& A_b) {
  auto w = std::make_shared<BiMambaDevice<T>>();
  w->cfg = c;
  w->device = current_device(kWhere);
  SSM_CUBLAS_CHECK(cublasCreate(&w->handle), kWhere);
  const std::size_t di = c.d_inner, K = c.d_conv;
  auto tr = [&](const std::vector<T>& cw) {
    std::vector<T> t(K * di);
    for (std::size_t d = 0; d < di; ++d)
      for (std::size_t k = 0; k < K; ++k) t[k * di + d] = cw[d * K + k];
    return t;
  };
  auto up = [](const std::vector<T>& v) { return v.empty() ? DeviceBuffer<T>() : DeviceBuffer<T>(v); };
  w->in_w = up(p.fwd.in_proj_weight);
  w->in_b = up(p.fwd.in_proj_bias);
  w->conv_f = up(tr(p.fwd.conv1d_weight));
  w->conv_fb = up(p.fwd.conv1d_bias);
  w->conv_b = up(tr(p.conv1d_b_weight));
  w->conv_bb = up(p.conv1d_b_bias);
  w->xproj_f = up(p.fwd.x_proj_weight);
  w->xproj_b = up(p.x_proj_b_weight);
  w->dt_f = up(p.fwd.dt_proj_weight);
  w->dt_b = up(p.dt_proj_b_weight);
  w->dtbias_f = up(p.fwd.dt_proj_bias);
  w->dtbias_b = up(p.dt_proj_b_bias);
  w->A_f = up(A_f);
  w->A_b = up(A_b);
  w->D_f = up(p.fwd.D);
  w->D_b = up(p.D_b);
  w->out_w = up(p.fwd.out_proj_weight);
  w->out_b = up(p.fwd.out_proj_bias);
  return w;
}

template <class T>
void bimamba_forward_cuda(const BiMambaDevice<T>& w, const T* x, int batch, int length, T* y) {
  const DeviceGuard on(w.device, kWhere);
  const auto& c = w.cfg;
  const int dm = c.d_model, di = c.d_inner, N = c.d_state, K = c.d_conv, R = c.dt_rank, XD = R + 2 * N, L = length;
  const long long M = static_cast<long long>(batch) * L;
  require(M <= (1LL << 31) - 1, kWhere, "batch", "times length must fit in int for cuBLAS, got ", M);
  const int Mi = static_cast<int>(M);
  cublasHandle_t h = w.handle;
  SSM_CUBLAS_CHECK(cublasSetStream(h, nullptr), kWhere);
  const std::size_t Ms = static_cast<std::size_t>(M);
  DeviceBuffer<T> xz(Ms * 2 * di), xcf(Ms * di), xcb(Ms * di), xdbl(Ms * XD), dlf(Ms * di), dlb(Ms * di),
      Bf(Ms * N), Cf(Ms * N), Bb(Ms * N), Cb(Ms * N), ys(Ms * di);
  // in_proj
  SSM_CUBLAS_CHECK(gemm(h, 2 * di, Mi, dm, w.in_w.data(), dm, x, dm, xz.data(), 2 * di), kWhere);
  if (!w.in_b.empty()) {
    add_bias_kernel<T><<<blocks_for(M * 2 * di), 256>>>(xz.data(), M, 2 * di, w.in_b.data());
    SSM_CUDA_CHECK_LAUNCH(kWhere);
  }
  conv_kernel<T><<<blocks_for(M * di), 256>>>(xz.data(), batch, L, di, K, w.conv_f.data(),
                                              w.conv_fb.empty() ? nullptr : w.conv_fb.data(), w.conv_b.data(),
                                              w.conv_bb.empty() ? nullptr : w.conv_bb.data(), xcf.data(), xcb.data());
  SSM_CUDA_CHECK_LAUNCH(kWhere);
  // per branch: x_proj, dt_proj (reading the dt columns of x_dbl), B/C relayout
  auto branch = [&](const DeviceBuffer<T>& xc, const DeviceBuffer<T>& xw, const DeviceBuffer<T>& dtw,
                    DeviceBuffer<T>& delta, DeviceBuffer<T>& B, DeviceBuffer<T>& C) {
    SSM_CUBLAS_CHECK(gemm(h, XD, Mi, di, xw.data(), di, xc.data(), di, xdbl.data(), XD), kWhere);
    SSM_CUBLAS_CHECK(gemm(h, di, Mi, R, dtw.data(), R, xdbl.data(), XD, delta.data(), di), kWhere);
    split_bc_kernel<T><<<blocks_for(M * N), 256>>>(xdbl.data(), batch, L, XD, R, N, B.data(), C.data());
    SSM_CUDA_CHECK_LAUNCH(kWhere);
  };
  branch(xcf, w.xproj_f, w.dt_f, dlf, Bf, Cf);
  branch(xcb, w.xproj_b, w.dt_b, dlb, Bb, Cb);

  BidirectionalScanArgs<T> a;
  a.batch = batch;
  a.dim = di;
  a.dstate = N;
  a.length = L;
  a.groups = 1;
  a.delta_softplus = true;
  a.out_scale = c.if_divide_out ? T(0.5) : T(1);
  const Strides3 tm{static_cast<std::ptrdiff_t>(L) * di, 1, di};
  for (auto& d : a.dir) d.u_strides = d.delta_strides = tm;
  a.out_strides = tm;
  a.z_strides = Strides3{static_cast<std::ptrdiff_t>(L) * 2 * di, 1, 2 * di};
  a.dir[0].u = xcf.data(); a.dir[0].delta = dlf.data(); a.dir[0].A = w.A_f.data();
  a.dir[0].B = Bf.data(); a.dir[0].C = Cf.data(); a.dir[0].D = w.D_f.data(); a.dir[0].delta_bias = w.dtbias_f.data();
  a.dir[1].u = xcb.data(); a.dir[1].delta = dlb.data(); a.dir[1].A = w.A_b.data();
  a.dir[1].B = Bb.data(); a.dir[1].C = Cb.data(); a.dir[1].D = w.D_b.data(); a.dir[1].delta_bias = w.dtbias_b.data();
  a.z = xz.data() + di;
  a.out = ys.data();
  a.validate();
  bidirectional_scan_cuda(a, /*synchronize=*/false);
  // out_proj
  SSM_CUBLAS_CHECK(gemm(h, dm, Mi, di, w.out_w.data(), di, ys.data(), di, y, dm), kWhere);
  if (!w.out_b.empty()) {
    add_bias_kernel<T><<<blocks_for(M * dm), 256>>>(y, M, dm, w.out_b.data());
    SSM_CUDA_CHECK_LAUNCH(kWhere);
  }
  SSM_CUDA_CHECK(cudaDeviceSynchronize(), kWhere);
}

template std::shared_ptr<const BiMambaDevice<float>> bimamba_upload<float>(const BiMambaBlockConfig&,
                                                                           const BiMambaBlockParams<float>&,
                                                                           const std::vector<float>&,
                                                                           const std::vector<float>&);
template std::shared_ptr<const BiMambaDevice<double>> bimamba_upload<double>(const BiMambaBlockConfig&,
                                                                             const BiMambaBlockParams<double>&,
                                                                             const std::vector<double>&,
                                                                             const std::vector<double>&);
template void bimamba_forward_cuda<float>(const BiMambaDevice<float>&, const float*, int, int, float*);
template void bimamba_forward_cuda<double>(const BiMambaDevice<double>&, const double*, int, int, double*);

}  // namespace ssm::detail
