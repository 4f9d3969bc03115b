// CUDA backend of MoEFFN::forward (include/ssm/layers/moe_ffn.hpp): the CPU's grouped recipe on
// the GPU, with the weights resident on the device.
//
//   logits = x router.weightᵀ                        cuBLAS GEMM (rows, E)
//   route_kernel                                     one thread a token: + router.bias, top-k
//                                                    (ties: lowest index), gates, int64 indices
//   sort_kernel                                      one block an expert: its offset = the number
//                                                    of slots routed to lower experts (block
//                                                    reduce), then a block scan of "slot goes to
//                                                    me" flags gives each slot its place, stable
//                                                    in slot order (deterministic, no atomics)
//   gather_kernel                                    xg[q] = x[token of slot order[q]]
//   per expert: cuBLAS GEMM fc1 on its rows of xg;   bias_act_kernel: + fc1.bias, activation
//   per expert: cuBLAS GEMM fc2                      (rows of one expert are contiguous)
//   combine_kernel                                   y[t] = Σ_j gate_j (out[pos[t,j]] + fc2.bias)
// The per-expert row counts come back to the host (E + 1 ints) to size the GEMMs.
// Everything runs on the legacy default stream of the current device.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>
#include <cstdint>
#include <mutex>
#include <vector>

#include "kernels/core/cublas_check.cuh"
#include "kernels/core/cuda_check.cuh"
#include "backend/moe_ffn_cuda.hpp"
#include "ssm/core/device_buffer.hpp"
#include "ssm/core/error.hpp"


namespace ssm::detail {

template <class T>
struct MoEFFNCuda {
  std::mutex mu;
  int device = -1;  // where the weights live (-1: not uploaded yet)
  cublasHandle_t handle = nullptr;
  // weights, PyTorch layouts, experts concatenated: fc1 (E, d_ff, d_model), fc2 (E, d_model, d_ff)
  DeviceBuffer<T> router_w, router_b, fc1_w, fc1_b, fc2_w, fc2_b;
  // workspace, grown to the largest call
  std::ptrdiff_t cap_rows = 0;
  DeviceBuffer<T> x, y, logits, gates, xg, hidden, out;
  DeviceBuffer<int> chosen, order, pos, offsets;
  DeviceBuffer<std::int64_t> idx;

  ~MoEFFNCuda() {
    if (handle) {
      int prev = 0;
      const bool got = cudaGetDevice(&prev) == cudaSuccess;
      if (got && prev != device) (void)cudaSetDevice(device);
      (void)cublasDestroy(handle);
      if (got && prev != device) (void)cudaSetDevice(prev);
    }
  }
};

template <class T>
std::shared_ptr<MoEFFNCuda<T>> make_moe_ffn_cuda() {
  return std::make_shared<MoEFFNCuda<T>>();
}

namespace {

constexpr const char* kWhere = "MoEFFN::forward (cuda)";

inline cublasStatus_t gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           const float* A, int lda, const float* B, int ldb, float* C, int ldc) {
  const float one = 1, zero = 0;
  return cublasSgemm(h, ta, tb, m, n, k, &one, A, lda, B, ldb, &zero, C, ldc);
}
inline cublasStatus_t gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           const double* A, int lda, const double* B, int ldb, double* C, int ldc) {
  const double one = 1, zero = 0;
  return cublasDgemm(h, ta, tb, m, n, k, &one, A, lda, B, ldb, &zero, C, ldc);
}

/// Y (rows, out) row-major = X (rows, in) row-major · Wᵀ with W (out, in) row-major: in cuBLAS's
/// column-major terms Yᵀ (out, rows) = op_T(W as (in, out)) · Xᵀ (in, rows).
template <class T>
void linear(cublasHandle_t h, const T* X, std::ptrdiff_t rows, int in, const T* W, int out, T* Y) {
  SSM_CUBLAS_CHECK(gemm(h, CUBLAS_OP_T, CUBLAS_OP_N, out, int(rows), in, W, in, X, in, Y, out), kWhere);
}

template <class T>
__device__ inline T act(T v, int a) {
  if (a == int(Activation::gelu)) return T(0.5) * v * (T(1) + erf(v * T(0.70710678118654752440)));
  if (a == int(Activation::relu)) return v > T(0) ? v : T(0);
  if (a == int(Activation::identity)) return v;
  return v / (T(1) + exp(-v));  // silu
}

// One thread a token; the same selection and gate formulas as MoEFFN::route on the CPU.
template <class T>
__global__ void route_kernel(T* __restrict__ logits, const T* __restrict__ bias, std::ptrdiff_t rows, int E, int k,
                             int* __restrict__ chosen, T* __restrict__ gates, std::int64_t* __restrict__ idx) {
  for (std::ptrdiff_t r = std::ptrdiff_t(blockIdx.x) * blockDim.x + threadIdx.x; r < rows;
       r += std::ptrdiff_t(gridDim.x) * blockDim.x) {
    T* lg = logits + r * E;
    if (bias)
      for (int e = 0; e < E; ++e) lg[e] += bias[e];
    int* ch = chosen + r * k;
    T* g = gates + r * k;
    for (int j = 0; j < k; ++j) {
      int best = -1;
      for (int e = 0; e < E; ++e) {
        bool taken = false;
        for (int i = 0; i < j; ++i) taken |= ch[i] == e;
        if (taken) continue;
        if (best < 0 || lg[e] > lg[best] || (lg[best] != lg[best] && lg[e] == lg[e])) best = e;
      }
      ch[j] = best;
      idx[r * k + j] = best;
    }
    const T m = lg[ch[0]];
    if (k == 1) {
      T sum = 0;
      for (int e = 0; e < E; ++e) sum += exp(lg[e] - m);
      g[0] = T(1) / sum;  // exp(r_e* - m) = 1
    } else {
      T sum = 0;
      for (int j = 0; j < k; ++j) sum += (g[j] = exp(lg[ch[j]] - m));
      for (int j = 0; j < k; ++j) g[j] /= sum;
    }
  }
}

template <int kThreads>
__global__ void sort_kernel(const int* __restrict__ chosen, std::ptrdiff_t S, int E, int* __restrict__ order,
                            int* __restrict__ pos, int* __restrict__ offsets) {
  using Reduce = cub::BlockReduce<int, kThreads>;
  using Scan = cub::BlockScan<int, kThreads>;
  __shared__ union {
    typename Reduce::TempStorage reduce;
    typename Scan::TempStorage scan;
  } tmp;
  __shared__ int base;
  const int e = blockIdx.x;
  int less = 0;
  for (std::ptrdiff_t s = threadIdx.x; s < S; s += kThreads) less += chosen[s] < e;
  const int total_less = Reduce(tmp.reduce).Sum(less);
  if (threadIdx.x == 0) {
    base = total_less;
    offsets[e] = total_less;
    if (e == E - 1) offsets[E] = int(S);
  }
  __syncthreads();
  for (std::ptrdiff_t s0 = 0; s0 < S; s0 += kThreads) {
    const std::ptrdiff_t s = s0 + threadIdx.x;
    const int flag = s < S && chosen[s] == e;
    int rank = 0, count = 0;
    Scan(tmp.scan).ExclusiveSum(flag, rank, count);
    if (flag) {
      const int q = base + rank;
      order[q] = int(s);
      pos[s] = q;
    }
    __syncthreads();  // every thread has read `base` and the scan storage before they change
    if (threadIdx.x == 0) base += count;
    __syncthreads();
  }
}

template <class T>
__global__ void gather_kernel(const T* __restrict__ x, const int* __restrict__ order, std::ptrdiff_t S, int k,
                              int dm, T* __restrict__ xg) {
  const std::ptrdiff_t n = S * dm;
  for (std::ptrdiff_t i = std::ptrdiff_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += std::ptrdiff_t(gridDim.x) * blockDim.x) {
    const std::ptrdiff_t q = i / dm, c = i % dm;
    xg[i] = x[std::ptrdiff_t(order[q] / k) * dm + c];
  }
}

template <class T>
__global__ void bias_act_kernel(T* __restrict__ h, const T* __restrict__ bias, const int* __restrict__ chosen,
                                const int* __restrict__ order, std::ptrdiff_t S, int df, int a) {
  const std::ptrdiff_t n = S * df;
  for (std::ptrdiff_t i = std::ptrdiff_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += std::ptrdiff_t(gridDim.x) * blockDim.x) {
    T v = h[i];
    if (bias) {
      const std::ptrdiff_t q = i / df, f = i % df;
      v += bias[std::ptrdiff_t(chosen[order[q]]) * df + f];
    }
    h[i] = act(v, a);
  }
}

template <class T>
__global__ void combine_kernel(const T* __restrict__ out, const T* __restrict__ bias, const int* __restrict__ chosen,
                               const int* __restrict__ pos, const T* __restrict__ gates, std::ptrdiff_t rows, int k,
                               int dm, T* __restrict__ y) {
  const std::ptrdiff_t n = rows * dm;
  for (std::ptrdiff_t i = std::ptrdiff_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += std::ptrdiff_t(gridDim.x) * blockDim.x) {
    const std::ptrdiff_t r = i / dm, c = i % dm;
    T acc = 0;
    for (int j = 0; j < k; ++j) {
      const std::ptrdiff_t s = r * k + j;
      T v = out[std::ptrdiff_t(pos[s]) * dm + c];
      if (bias) v += bias[std::ptrdiff_t(chosen[s]) * dm + c];
      acc = j == 0 ? gates[s] * v : acc + gates[s] * v;
    }
    y[i] = acc;
  }
}

inline unsigned grid_for(std::ptrdiff_t n, int threads) {
  const std::ptrdiff_t b = (n + threads - 1) / threads;
  return unsigned(b < 65535 * 4 ? (b < 1 ? 1 : b) : 65535 * 4);
}

template <class T>
std::vector<T> concat_experts(const MoEFFNParams<T>& p, std::vector<T> MoEExpertParams<T>::*field) {
  std::vector<T> v;
  for (const auto& e : p.experts) v.insert(v.end(), (e.*field).begin(), (e.*field).end());
  return v;
}

// Uploads the weights to the current device (once per device; the holder is locked).
template <class T>
void ensure_uploaded(MoEFFNCuda<T>& hd, const MoEFFNParams<T>& p) {
  const int dev = current_device(kWhere);
  if (hd.device == dev) return;
  if (hd.handle) {
    // the weights live on another GPU: start over on this one
    DeviceGuard g(hd.device, kWhere);
    (void)cublasDestroy(hd.handle);
    hd.handle = nullptr;
  }
  for (DeviceBuffer<T>* b : {&hd.router_w, &hd.router_b, &hd.fc1_w, &hd.fc1_b, &hd.fc2_w, &hd.fc2_b, &hd.x, &hd.y,
                             &hd.logits, &hd.gates, &hd.xg, &hd.hidden, &hd.out})
    *b = DeviceBuffer<T>();
  for (DeviceBuffer<int>* b : {&hd.chosen, &hd.order, &hd.pos, &hd.offsets}) *b = DeviceBuffer<int>();
  hd.idx = DeviceBuffer<std::int64_t>();
  hd.cap_rows = 0;
  hd.device = -1;
  SSM_CUBLAS_CHECK(cublasCreate(&hd.handle), kWhere);
  hd.device = dev;
  hd.router_w = DeviceBuffer<T>(p.router_weight);
  if (!p.router_bias.empty()) hd.router_b = DeviceBuffer<T>(p.router_bias);
  hd.fc1_w = DeviceBuffer<T>(concat_experts(p, &MoEExpertParams<T>::fc1_weight));
  hd.fc2_w = DeviceBuffer<T>(concat_experts(p, &MoEExpertParams<T>::fc2_weight));
  if (!p.experts[0].fc1_bias.empty()) hd.fc1_b = DeviceBuffer<T>(concat_experts(p, &MoEExpertParams<T>::fc1_bias));
  if (!p.experts[0].fc2_bias.empty()) hd.fc2_b = DeviceBuffer<T>(concat_experts(p, &MoEExpertParams<T>::fc2_bias));
}

template <class T>
void ensure_workspace(MoEFFNCuda<T>& hd, const MoEFFNConfig& c, std::ptrdiff_t rows) {
  if (rows <= hd.cap_rows) return;
  const std::size_t R = std::size_t(rows), S = R * std::size_t(c.top_k), dm = std::size_t(c.d_model),
                    df = std::size_t(c.d_ff), E = std::size_t(c.n_experts);
  require(S < std::size_t(1) << 31, kWhere, "rows", "times top_k must be < 2^31, got ", S);
  hd.x = DeviceBuffer<T>(R * dm);
  hd.y = DeviceBuffer<T>(R * dm);
  hd.logits = DeviceBuffer<T>(R * E);
  hd.gates = DeviceBuffer<T>(S);
  hd.xg = DeviceBuffer<T>(S * dm);
  hd.hidden = DeviceBuffer<T>(S * df);
  hd.out = DeviceBuffer<T>(S * dm);
  hd.chosen = DeviceBuffer<int>(S);
  hd.order = DeviceBuffer<int>(S);
  hd.pos = DeviceBuffer<int>(S);
  hd.offsets = DeviceBuffer<int>(E + 1);
  hd.idx = DeviceBuffer<std::int64_t>(S);
  hd.cap_rows = rows;
}

// The recipe on device pointers; the holder is locked, uploaded and has workspace for `rows`.
template <class T>
void run(MoEFFNCuda<T>& hd, const MoEFFNConfig& c, const T* dx, std::ptrdiff_t rows, T* dy, std::int64_t* didx) {
  const int dm = c.d_model, df = c.d_ff, E = c.n_experts, k = c.top_k;
  const std::ptrdiff_t S = rows * k;
  SSM_CUBLAS_CHECK(cublasSetStream(hd.handle, nullptr), kWhere);
  linear(hd.handle, dx, rows, dm, hd.router_w.data(), E, hd.logits.data());
  constexpr int kThreads = 256;
  route_kernel<T><<<grid_for(rows, 128), 128>>>(hd.logits.data(), hd.router_b.empty() ? nullptr : hd.router_b.data(),
                                                rows, E, k, hd.chosen.data(), hd.gates.data(),
                                                didx ? didx : hd.idx.data());
  SSM_CUDA_CHECK_LAUNCH(kWhere);
  sort_kernel<kThreads><<<E, kThreads>>>(hd.chosen.data(), S, E, hd.order.data(), hd.pos.data(), hd.offsets.data());
  SSM_CUDA_CHECK_LAUNCH(kWhere);
  gather_kernel<T><<<grid_for(S * dm, kThreads), kThreads>>>(dx, hd.order.data(), S, k, dm, hd.xg.data());
  SSM_CUDA_CHECK_LAUNCH(kWhere);
  std::vector<int> off(std::size_t(E) + 1);
  hd.offsets.download(off.data(), off.size());  // waits for the routing
  for (int e = 0; e < E; ++e) {
    const std::ptrdiff_t o = off[std::size_t(e)], n = off[std::size_t(e) + 1] - o;
    if (n == 0) continue;
    linear(hd.handle, hd.xg.data() + o * dm, n, dm, hd.fc1_w.data() + std::ptrdiff_t(e) * df * dm, df,
           hd.hidden.data() + o * df);
  }
  bias_act_kernel<T><<<grid_for(S * df, kThreads), kThreads>>>(hd.hidden.data(),
                                                               hd.fc1_b.empty() ? nullptr : hd.fc1_b.data(),
                                                               hd.chosen.data(), hd.order.data(), S, df,
                                                               int(c.activation));
  SSM_CUDA_CHECK_LAUNCH(kWhere);
  for (int e = 0; e < E; ++e) {
    const std::ptrdiff_t o = off[std::size_t(e)], n = off[std::size_t(e) + 1] - o;
    if (n == 0) continue;
    linear(hd.handle, hd.hidden.data() + o * df, n, df, hd.fc2_w.data() + std::ptrdiff_t(e) * dm * df, dm,
           hd.out.data() + o * dm);
  }
  combine_kernel<T><<<grid_for(rows * dm, kThreads), kThreads>>>(hd.out.data(),
                                                                 hd.fc2_b.empty() ? nullptr : hd.fc2_b.data(),
                                                                 hd.chosen.data(), hd.pos.data(), hd.gates.data(),
                                                                 rows, k, dm, dy);
  SSM_CUDA_CHECK_LAUNCH(kWhere);
}

}  // namespace

template <class T>
void moe_ffn_forward_cuda(MoEFFNCuda<T>& hd, const MoEFFNConfig& c, const MoEFFNParams<T>& p, const T* x,
                          std::ptrdiff_t rows, T* y, std::int64_t* expert_index) {
  std::lock_guard<std::mutex> lock(hd.mu);
  ensure_uploaded(hd, p);
  ensure_workspace(hd, c, rows);
  const std::size_t n = std::size_t(rows) * std::size_t(c.d_model);
  hd.x.upload(x, n);
  run(hd, c, hd.x.data(), rows, hd.y.data(), hd.idx.data());
  hd.y.download(y, n);
  if (expert_index) hd.idx.download(expert_index, std::size_t(rows) * std::size_t(c.top_k));
}

template <class T>
void moe_ffn_forward_cuda_device(MoEFFNCuda<T>& hd, const MoEFFNConfig& c, const MoEFFNParams<T>& p, const T* dx,
                                 std::ptrdiff_t rows, T* dy, std::int64_t* d_expert_index) {
  std::lock_guard<std::mutex> lock(hd.mu);
  ensure_uploaded(hd, p);
  ensure_workspace(hd, c, rows);
  run(hd, c, dx, rows, dy, d_expert_index);
  SSM_CUDA_CHECK(cudaDeviceSynchronize(), kWhere);
}

template std::shared_ptr<MoEFFNCuda<float>> make_moe_ffn_cuda<float>();
template std::shared_ptr<MoEFFNCuda<double>> make_moe_ffn_cuda<double>();
template void moe_ffn_forward_cuda<float>(MoEFFNCuda<float>&, const MoEFFNConfig&, const MoEFFNParams<float>&,
                                          const float*, std::ptrdiff_t, float*, std::int64_t*);
template void moe_ffn_forward_cuda<double>(MoEFFNCuda<double>&, const MoEFFNConfig&, const MoEFFNParams<double>&,
                                           const double*, std::ptrdiff_t, double*, std::int64_t*);
template void moe_ffn_forward_cuda_device<float>(MoEFFNCuda<float>&, const MoEFFNConfig&,
                                                 const MoEFFNParams<float>&, const float*, std::ptrdiff_t, float*,
                                                 std::int64_t*);
template void moe_ffn_forward_cuda_device<double>(MoEFFNCuda<double>&, const MoEFFNConfig&,
                                                  const MoEFFNParams<double>&, const double*, std::ptrdiff_t,
                                                  double*, std::int64_t*);

}  // namespace ssm::detail
