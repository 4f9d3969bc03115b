// CUDA backend of ssm::bidirectional_selective_scan (include/ssm/scan/bidirectional_scan.hpp).
//
// Design: one launch runs both directions. Grid (channel blocks, batch * groups, 2): block z
// is the direction; a thread owns one channel of one direction, keeps its dstate states and
// A in registers and walks time sequentially (direction 1 from t = L-1 down to 0, reading
// through the reversed index map). Per chunk of kChunk steps the block stages the group's
// B and C for those steps in shared memory (one coalesced read, shared by the block's
// channels) and each thread loads its u and delta for the chunk into registers before the
// recurrence, so the loads of a chunk are in flight together. Consecutive threads are
// consecutive channels: with Vim's time-major (batch, length, dim) arrays (time stride dim)
// the per-step reads and writes of a warp are coalesced.
//
// Merge: each direction adds out_scale (y_k + D_k u_k) silu(z) onto an output zeroed by a
// first small kernel (atomicAdd). Two contributions onto zero give fl(p_0 + p_1) whichever
// lands first (IEEE addition is commutative), so the result is deterministic; for bf16
// storage both contributions are rounded to bf16 before the (commutative) add.
#include <cuda_bf16.h>

#include <algorithm>
#include <cstdint>

#include "kernels/core/cuda_check.cuh"
#include "backend/bidirectional_scan_cuda.hpp"

namespace ssm::detail {
namespace {

constexpr int kThreads = 128;  // channels a block
constexpr int kChunk = 16;     // steps staged at once

template <class Tin, class Tc>
struct BiParams {
  int batch, dim, dstate, length, groups, dim_per_group;
  bool softplus;
  Tc out_scale;
  const Tin* u[2];
  const Tin* delta[2];
  const Tc* A[2];
  const Tin* B[2];
  const Tin* C[2];
  const Tc* D[2];
  const Tc* delta_bias[2];
  const Tc* h0[2];
  Tc* last_state[2];
  const Tin* z;
  Tin* out;
  long long su_b[2], su_d[2], su_l[2], sd_b[2], sd_d[2], sd_l[2];
  long long sz_b, sz_d, sz_l, so_b, so_d, so_l;
};

__device__ __forceinline__ float to_c(float v) { return v; }
__device__ __forceinline__ double to_c(double v) { return v; }
__device__ __forceinline__ float to_c(__nv_bfloat16 v) { return __bfloat162float(v); }

__device__ __forceinline__ void add_out(float* p, float v) { atomicAdd(p, v); }
__device__ __forceinline__ void add_out(double* p, double v) { atomicAdd(p, v); }
__device__ __forceinline__ void add_out(__nv_bfloat16* p, float v) { atomicAdd(p, __float2bfloat16_rn(v)); }

__device__ __forceinline__ float exp_c(float x) { return __expf(x); }
__device__ __forceinline__ double exp_c(double x) { return exp(x); }
__device__ __forceinline__ float log1p_c(float x) { return log1pf(x); }
__device__ __forceinline__ double log1p_c(double x) { return log1p(x); }

template <class Tc>
__device__ __forceinline__ Tc softplus_c(Tc x) {
  return (x > Tc(0) ? x : Tc(0)) + log1p_c(exp_c(-fabs(x)));
}

template <class Tin>
__global__ void zero_out_kernel(Tin* out, int batch, int dim, int length, long long sb, long long sd, long long sl) {
  const long long n = static_cast<long long>(batch) * dim * length;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    // i enumerates (b, l, d) with d fastest: the contiguous order of time-major views.
    const long long d = i % dim, bl = i / dim, l = bl % length, b = bl / length;
    out[b * sb + d * sd + l * sl] = Tin(0.0f);
  }
}

/// MAXN: the register array size (>= dstate).
template <class Tin, class Tc, int MAXN>
__global__ void __launch_bounds__(kThreads) bidir_kernel(const BiParams<Tin, Tc> p) {
  extern __shared__ unsigned char smem_raw[];
  Tc* Bs = reinterpret_cast<Tc*>(smem_raw);  // [kChunk][N]
  Tc* Cs = Bs + kChunk * p.dstate;            // [kChunk][N]
  const int k = blockIdx.z;
  const int bg = blockIdx.y;
  const int b = bg / p.groups, g = bg % p.groups;
  const int dloc = blockIdx.x * kThreads + threadIdx.x;
  const bool active = dloc < p.dim_per_group;
  const int d = g * p.dim_per_group + (active ? dloc : 0);
  const int N = p.dstate, L = p.length;

  Tc A[MAXN], h[MAXN];
  const long long hoff = (static_cast<long long>(b) * p.dim + d) * N;
#pragma unroll
  for (int n = 0; n < MAXN; ++n) {
    A[n] = n < N ? p.A[k][static_cast<long long>(d) * N + n] : Tc(0);
    h[n] = (n < N && p.h0[k]) ? p.h0[k][hoff + n] : Tc(0);
  }
  const Tc Dd = p.D[k] ? p.D[k][d] : Tc(0);
  const Tc bias = p.delta_bias[k] ? p.delta_bias[k][d] : Tc(0);
  const Tin* up = p.u[k] + b * p.su_b[k] + d * p.su_d[k];
  const Tin* dp = p.delta[k] + b * p.sd_b[k] + d * p.sd_d[k];
  const long long sul = p.su_l[k], sdl = p.sd_l[k];
  const Tin* zp = p.z ? p.z + b * p.sz_b + d * p.sz_d : nullptr;
  Tin* op = p.out + b * p.so_b + d * p.so_d;
  const Tin* Bg = p.B[k] + (static_cast<long long>(b) * p.groups + g) * N * L;
  const Tin* Cg = p.C[k] + (static_cast<long long>(b) * p.groups + g) * N * L;

  for (int j0 = 0; j0 < L; j0 += kChunk) {
    const int nb = min(kChunk, L - j0);
    __syncthreads();  // the previous chunk's B/C are no longer read
    for (int i = threadIdx.x; i < N * kChunk; i += kThreads) {
      const int n = i / kChunk, j = i % kChunk;
      if (j < nb) {
        const int t = k == 0 ? j0 + j : L - 1 - (j0 + j);
        Bs[j * N + n] = to_c(Bg[static_cast<long long>(n) * L + t]);
        Cs[j * N + n] = to_c(Cg[static_cast<long long>(n) * L + t]);
      }
    }
    __syncthreads();
    if (!active) continue;
    Tc ur[kChunk], dr[kChunk];
#pragma unroll
    for (int j = 0; j < kChunk; ++j) {
      if (j < nb) {
        const long long t = k == 0 ? j0 + j : L - 1 - (j0 + j);
        ur[j] = to_c(up[t * sul]);
        dr[j] = to_c(dp[t * sdl]);
      }
    }
#pragma unroll
    for (int j = 0; j < kChunk; ++j) {
      if (j < nb) {
        const long long t = k == 0 ? j0 + j : L - 1 - (j0 + j);
        Tc dt = dr[j] + bias;
        if (p.softplus) dt = softplus_c(dt);
        const Tc x = dt * ur[j];
        Tc y = Tc(0);
#pragma unroll
        for (int n = 0; n < MAXN; ++n) {
          if (n < N) {
            h[n] = exp_c(dt * A[n]) * h[n] + x * Bs[j * N + n];
            y += Cs[j * N + n] * h[n];
          }
        }
        Tc v = (y + Dd * ur[j]) * p.out_scale;
        if (zp) {
          const Tc zv = to_c(zp[t * p.sz_l]);
          v *= zv / (Tc(1) + exp_c(-zv));
        }
        add_out(op + t * p.so_l, v);
      }
    }
  }
  if (active && p.last_state[k]) {
#pragma unroll
    for (int n = 0; n < MAXN; ++n)
      if (n < N) p.last_state[k][hoff + n] = h[n];
  }
}

template <class Tin, class Tc>
BiParams<Tin, Tc> make_params(const BidirectionalScanArgs<Tc>& a) {
  BiParams<Tin, Tc> p{};
  p.batch = a.batch;
  p.dim = a.dim;
  p.dstate = a.dstate;
  p.length = a.length;
  p.groups = a.groups;
  p.dim_per_group = a.dim / a.groups;
  p.softplus = a.delta_softplus;
  p.out_scale = a.out_scale;
  for (int k = 0; k < 2; ++k) {
    const auto& d = a.dir[k];
    p.u[k] = reinterpret_cast<const Tin*>(d.u);
    p.delta[k] = reinterpret_cast<const Tin*>(d.delta);
    p.B[k] = reinterpret_cast<const Tin*>(d.B);
    p.C[k] = reinterpret_cast<const Tin*>(d.C);
    p.A[k] = d.A;
    p.D[k] = d.D;
    p.delta_bias[k] = d.delta_bias;
    p.h0[k] = d.h0;
    p.last_state[k] = d.last_state;
    const Strides3 su = d.u_strides.resolved(a.dim, a.length), sd = d.delta_strides.resolved(a.dim, a.length);
    p.su_b[k] = su.b; p.su_d[k] = su.d; p.su_l[k] = su.l;
    p.sd_b[k] = sd.b; p.sd_d[k] = sd.d; p.sd_l[k] = sd.l;
  }
  p.z = reinterpret_cast<const Tin*>(a.z);
  p.out = reinterpret_cast<Tin*>(a.out);
  const Strides3 sz = a.z_strides.resolved(a.dim, a.length), so = a.out_strides.resolved(a.dim, a.length);
  p.sz_b = sz.b; p.sz_d = sz.d; p.sz_l = sz.l;
  p.so_b = so.b; p.so_d = so.d; p.so_l = so.l;
  return p;
}

template <class Tin, class Tc, int MAXN>
void launch_n(const BiParams<Tin, Tc>& p, const char* where) {
  const dim3 grid((p.dim_per_group + kThreads - 1) / kThreads, p.batch * p.groups, 2);
  const std::size_t smem = 2 * sizeof(Tc) * kChunk * p.dstate;
  bidir_kernel<Tin, Tc, MAXN><<<grid, kThreads, smem>>>(p);
  SSM_CUDA_CHECK_LAUNCH(where);
}

template <class Tin, class Tc>
void launch(const BiParams<Tin, Tc>& p, bool synchronize, const char* where) {
  require(p.dstate <= 64, where, "dstate", "must be <= 64 on CUDA, got ", p.dstate);
  require(static_cast<long long>(p.batch) * p.groups <= 65535, where, "batch",
          "times groups must be <= 65535 on CUDA, got ", static_cast<long long>(p.batch) * p.groups);
  const long long n = static_cast<long long>(p.batch) * p.dim * p.length;
  const int zblocks = static_cast<int>(std::min<long long>((n + 255) / 256, 65536));
  zero_out_kernel<Tin><<<zblocks, 256>>>(p.out, p.batch, p.dim, p.length, p.so_b, p.so_d, p.so_l);
  SSM_CUDA_CHECK_LAUNCH(where);
  if (p.dstate <= 4) launch_n<Tin, Tc, 4>(p, where);
  else if (p.dstate <= 8) launch_n<Tin, Tc, 8>(p, where);
  else if (p.dstate <= 16) launch_n<Tin, Tc, 16>(p, where);
  else if (p.dstate <= 32) launch_n<Tin, Tc, 32>(p, where);
  else launch_n<Tin, Tc, 64>(p, where);
  if (synchronize) SSM_CUDA_CHECK(cudaDeviceSynchronize(), where);
}

}  // namespace

void bidirectional_scan_cuda(const BidirectionalScanArgs<float>& a, bool synchronize) {
  launch(make_params<float, float>(a), synchronize, "bidirectional_selective_scan (cuda)");
}
void bidirectional_scan_cuda(const BidirectionalScanArgs<double>& a, bool synchronize) {
  launch(make_params<double, double>(a), synchronize, "bidirectional_selective_scan (cuda)");
}

void bidirectional_scan_cuda_bf16(const BidirectionalScanArgs<float>& args, const BidirectionalScanBf16& io,
                                  bool synchronize) {
  const char* where = "bidirectional_scan_cuda_bf16";
  BidirectionalScanArgs<float> shape = args;
  for (int k = 0; k < 2; ++k) {
    shape.dir[k].u = reinterpret_cast<const float*>(io.u[k]);
    shape.dir[k].delta = reinterpret_cast<const float*>(io.delta[k]);
    shape.dir[k].B = reinterpret_cast<const float*>(io.B[k]);
    shape.dir[k].C = reinterpret_cast<const float*>(io.C[k]);
  }
  shape.z = reinterpret_cast<const float*>(io.z);
  shape.out = reinterpret_cast<float*>(io.out);
  shape.validate();
  launch(make_params<__nv_bfloat16, float>(shape), synchronize, where);
}

}  // namespace ssm::detail
