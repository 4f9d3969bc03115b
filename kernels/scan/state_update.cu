// CUDA backend of ssm::selective_state_update (include/ssm/scan/state_update.hpp): one
// decoding step. One warp per (batch, channel): lanes stride over the N states, each state is
// read and written once (coalesced along n), and the read-out sum over n is a warp reduction.
#include <cuda_runtime.h>

#include "kernels/core/cuda_check.cuh"
#include "backend/scan_cuda.hpp"
#include "kernels/scan/scan_kernel.cuh"

namespace ssm::detail {
namespace {

template <class T, bool kComplex>
__global__ void state_update_kernel(const SelectiveStateUpdateArgs<T> a) {
  using namespace scan;
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const long long warp = (static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  const long long n_warps = (static_cast<long long>(gridDim.x) * blockDim.x) >> 5;
  const int N = a.dstate, Dm = a.dim, per_group = a.dim / a.groups;
  constexpr int comps = kComplex ? 2 : 1;
  for (long long bd = warp; bd < static_cast<long long>(a.batch) * Dm; bd += n_warps) {
    const int b = static_cast<int>(bd / Dm), d = static_cast<int>(bd % Dm);
    const int g = d / per_group;
    T dt = a.dt[bd] + (a.dt_bias ? a.dt_bias[d] : T(0));
    if (a.dt_softplus) dt = softplus(dt);
    const T x = a.x[bd];
    const T* A = a.A + static_cast<long long>(d) * N * comps;
    const T* B = a.B + (static_cast<long long>(b) * a.groups + g) * N * comps;
    const T* C = a.C + (static_cast<long long>(b) * a.groups + g) * N * comps;
    T* s = a.state + bd * N * comps;
    T acc = 0;
    for (int n = lane; n < N; n += 32) {
      if constexpr (kComplex) {
        const T mag = exp_t(dt * A[2 * n]);
        T sn, cs;
        sincos_t(dt * A[2 * n + 1], &sn, &cs);
        const T ar = mag * cs, ai = mag * sn;
        const T sr = s[2 * n], si = s[2 * n + 1];
        const T nr = ar * sr - ai * si + dt * x * B[2 * n];
        const T ni = ar * si + ai * sr + dt * x * B[2 * n + 1];
        s[2 * n] = nr;
        s[2 * n + 1] = ni;
        acc += T(2) * (C[2 * n] * nr - C[2 * n + 1] * ni);
      } else {
        const T v = exp_t(dt * A[n]) * s[n] + dt * x * B[n];
        s[n] = v;
        acc += C[n] * v;
      }
    }
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, off);
    if (lane == 0) {
      T o = acc + (a.D ? a.D[d] * x : T(0));
      if (a.z) o *= silu(a.z[bd]);
      a.out[bd] = o;
    }
  }
}

template <class T>
void launch(const SelectiveStateUpdateArgs<T>& a, const char* where, cudaStream_t stream) {
  const long long warps = static_cast<long long>(a.batch) * a.dim;
  constexpr int kThreads = 256;
  const long long blocks = std::min<long long>((warps * 32 + kThreads - 1) / kThreads, 65535LL * 8);
  if (a.complex_A) state_update_kernel<T, true><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(a);
  else state_update_kernel<T, false><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(a);
  SSM_CUDA_CHECK_LAUNCH(where);
}

template <class T>
void run(const SelectiveStateUpdateArgs<T>& a) {
  launch(a, "selective_state_update_cuda", nullptr);
  SSM_CUDA_CHECK(cudaDeviceSynchronize(), "selective_state_update_cuda");
}

template <class T>
void run_on(const SelectiveStateUpdateArgs<T>& a, const CudaStream& stream) {
  const char* where = "selective_state_update";
  const cudaStream_t s = stream_of(stream, where);
  const DeviceGuard on_device(stream.device(), where);
  launch(a, where, s);
}

}  // namespace

void selective_state_update_cuda(const SelectiveStateUpdateArgs<float>& args) { run(args); }
void selective_state_update_cuda(const SelectiveStateUpdateArgs<double>& args) { run(args); }
void selective_state_update_cuda(const SelectiveStateUpdateArgs<float>& args, const CudaStream& s) { run_on(args, s); }
void selective_state_update_cuda(const SelectiveStateUpdateArgs<double>& args, const CudaStream& s) { run_on(args, s); }

}  // namespace ssm::detail
