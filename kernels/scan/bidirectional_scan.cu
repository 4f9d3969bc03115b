// CUDA backend of ssm::bidirectional_selective_scan (include/ssm/scan/bidirectional_scan.hpp).
//
// Design: one launch runs both directions. Grid (channel blocks, batch * groups, 2): block z
// is the direction; a thread owns one channel of one direction, keeps its dstate states and
// A in registers and walks time sequentially (direction 1 from t = L-1 down to 0, reading
// through the reversed index map). Per chunk of 16 steps (8 in double) the block stages the
// group's B and C and its channels' u and delta in shared memory, each tile read with
// consecutive threads along the array's contiguous axis (time for (batch, dim, length)
// arrays, channels for Vim's time-major ones), so global reads coalesce in either layout;
// the outputs of the chunk go back through shared memory the same way.
//
// Faster where it applies (float32/bf16 storage, dstate 4/8/16/32, time-contiguous rows, dim /
// groups a multiple of the fast kernel's channels a block): the two-kernel design on the fast
// selective-scan kernel (selective_scan_fast.cuh): direction 0 writes out = out_scale (y_0 +
// D_0 u_0) silu(z); direction 1, the same kernel run backward in time (kRev: tiles and steps in
// reverse, nothing flipped in memory), adds out_scale (y_1 + D_1 u_1) silu(z) onto it. No
// zeroing pass and no atomics; the second kernel reads `out` once more. Measured against the
// one-launch kernel below in bench_scan_bidirectional_scan_cuda (docs/vision.md).
//
// Merge (one-launch kernel): each direction adds out_scale (y_k + D_k u_k) silu(z) onto an output zeroed by a
// first small kernel (atomicAdd). Two contributions onto zero give fl(p_0 + p_1) whichever
// lands first (IEEE addition is commutative), so the result is deterministic; for bf16
// storage both contributions are rounded to bf16 before the (commutative) add.
#include <cuda_bf16.h>

#include <algorithm>
#include <cstdint>

#include "kernels/core/cuda_check.cuh"
#include "kernels/scan/selective_scan_fast.cuh"
#include "backend/bidirectional_scan_cuda.hpp"

namespace ssm::detail {
namespace {

constexpr int kThreads = 128;  // channels a block

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
  const bool tfast = sl == 1;  // walk the contiguous axis with consecutive threads
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    long long b, d, l;
    if (tfast) {
      l = i % length;
      const long long bd = i / length;
      d = bd % dim;
      b = bd / dim;
    } else {
      d = i % dim;
      const long long bl = i / dim;
      l = bl % length;
      b = bl / length;
    }
    out[b * sb + d * sd + l * sl] = Tin(0.0f);
  }
}

/// Steps a chunk stages: 16 for float compute, 8 for double (the same shared memory).
template <class Tc>
constexpr int chunk_steps() { return sizeof(Tc) == 8 ? 8 : 16; }
constexpr int kPitch = kThreads + 1;  // tile row pitch (no bank conflicts on the transposed side)

/// Cooperative tile load: tile[j][c] = elem(channel c0 + c, time of step j0 + j) for the block's
/// `ncols` channels and `nb` steps. Consecutive threads walk the array's contiguous axis (time
/// when sl == 1, channels otherwise), so the warp's reads coalesce either way.
template <int CH, class Tin, class Tc>
__device__ __forceinline__ void load_tile(const Tin* base, long long sd, long long sl, int ncols, int j0, int nb,
                                          int L, bool rev, Tc* tile) {
  const bool tcontig = sl == 1;
  for (int i = threadIdx.x; i < CH * kThreads; i += kThreads) {
    const int c = tcontig ? i / CH : i % kThreads;
    const int j = tcontig ? i % CH : i / kThreads;
    if (c < ncols && j < nb) {
      const long long t = rev ? L - 1 - (j0 + j) : j0 + j;
      tile[j * kPitch + c] = to_c(base[c * sd + t * sl]);
    }
  }
}

/// MAXN: the register array size (>= dstate). CH: steps a chunk.
/// Per chunk: (1) the block stages B, C of its group and u, delta of its channels for CH steps
/// in shared memory (coalesced); (2) each thread runs the recurrence of its channel over the
/// chunk, leaving out_scale (y + D u) in the u tile; (3) the block applies the SiLU(z) gate
/// and adds the tile onto out (coalesced atomics).
template <class Tin, class Tc, int MAXN, int CH>
__global__ void __launch_bounds__(kThreads) bidir_kernel(const BiParams<Tin, Tc> p) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  Tc* Bs = reinterpret_cast<Tc*>(smem_raw);  // [CH][N]
  Tc* Cs = Bs + CH * p.dstate;                // [CH][N]
  Tc* Us = Cs + CH * p.dstate;                // [CH][kPitch]: u, then the output partial
  Tc* Ds = Us + CH * kPitch;                  // [CH][kPitch]: delta
  const int k = blockIdx.z;
  const bool rev = k == 1;
  const int bg = blockIdx.y;
  const int b = bg / p.groups, g = bg % p.groups;
  const int c0 = blockIdx.x * kThreads;       // first channel of the block inside the group
  const int ncols = min(kThreads, p.dim_per_group - c0);
  const int tc = threadIdx.x;
  const bool active = tc < ncols;
  const int dfirst = g * p.dim_per_group + c0;
  const int d = dfirst + (active ? tc : 0);
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
  const Tin* ub = p.u[k] + b * p.su_b[k] + static_cast<long long>(dfirst) * p.su_d[k];
  const Tin* db = p.delta[k] + b * p.sd_b[k] + static_cast<long long>(dfirst) * p.sd_d[k];
  const Tin* zb = p.z ? p.z + b * p.sz_b + static_cast<long long>(dfirst) * p.sz_d : nullptr;
  Tin* ob = p.out + b * p.so_b + static_cast<long long>(dfirst) * p.so_d;
  const Tin* Bg = p.B[k] + (static_cast<long long>(b) * p.groups + g) * N * L;
  const Tin* Cg = p.C[k] + (static_cast<long long>(b) * p.groups + g) * N * L;
  const bool out_tcontig = p.so_l == 1;

  for (int j0 = 0; j0 < L; j0 += CH) {
    const int nb = min(CH, L - j0);
    __syncthreads();  // the previous chunk's tiles are no longer read
    for (int i = tc; i < N * CH; i += kThreads) {
      const int n = i / CH, j = i % CH;
      if (j < nb) {
        const int t = rev ? L - 1 - (j0 + j) : j0 + j;
        Bs[j * N + n] = to_c(Bg[static_cast<long long>(n) * L + t]);
        Cs[j * N + n] = to_c(Cg[static_cast<long long>(n) * L + t]);
      }
    }
    load_tile<CH>(ub, p.su_d[k], p.su_l[k], ncols, j0, nb, L, rev, Us);
    load_tile<CH>(db, p.sd_d[k], p.sd_l[k], ncols, j0, nb, L, rev, Ds);
    __syncthreads();
    if (active) {
#pragma unroll
      for (int j = 0; j < CH; ++j) {
        if (j < nb) {
          const Tc uu = Us[j * kPitch + tc];
          Tc dt = Ds[j * kPitch + tc] + bias;
          if (p.softplus) dt = softplus_c(dt);
          const Tc x = dt * uu;
          Tc y = Tc(0);
#pragma unroll
          for (int n = 0; n < MAXN; ++n) {
            if (n < N) {
              h[n] = exp_c(dt * A[n]) * h[n] + x * Bs[j * N + n];
              y += Cs[j * N + n] * h[n];
            }
          }
          Us[j * kPitch + tc] = (y + Dd * uu) * p.out_scale;
        }
      }
    }
    __syncthreads();
    // gate and merge: consecutive threads along out's contiguous axis
    for (int i = tc; i < CH * kThreads; i += kThreads) {
      const int c = out_tcontig ? i / CH : i % kThreads;
      const int j = out_tcontig ? i % CH : i / kThreads;
      if (c < ncols && j < nb) {
        const long long t = rev ? L - 1 - (j0 + j) : j0 + j;
        Tc v = Us[j * kPitch + c];
        if (zb) {
          const Tc zv = to_c(zb[c * p.sz_d + t * p.sz_l]);
          v *= zv / (Tc(1) + exp_c(-zv));
        }
        add_out(ob + c * p.so_d + t * p.so_l, v);
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
  constexpr int CH = chunk_steps<Tc>();
  const dim3 grid((p.dim_per_group + kThreads - 1) / kThreads, p.batch * p.groups, 2);
  // B, C [CH][N] each and the u / delta tiles [CH][kPitch]: < 48 KiB for dstate <= 64
  const std::size_t smem = sizeof(Tc) * (2 * static_cast<std::size_t>(CH) * p.dstate + 2 * CH * kPitch);
  bidir_kernel<Tin, Tc, MAXN, CH><<<grid, kThreads, smem>>>(p);
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

int sm_count_now() {
  int dev = 0, v = 0;
  if (cudaGetDevice(&dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess || v <= 0) {
    cudaGetLastError();
    v = 1;
  }
  return v;
}

/// S (states a thread) of the fast two-kernel path, 0 where it does not apply.
template <class Tc>
int fast_states(const BidirectionalScanArgs<Tc>& a) {
  if (a.dstate != 4 && a.dstate != 8 && a.dstate != 16 && a.dstate != 32) return 0;
  auto tl = [&](const Strides3& st) { return st.resolved(a.dim, a.length).l == 1; };
  for (const auto& d : a.dir)
    if (!tl(d.u_strides) || !tl(d.delta_strides)) return 0;
  if ((a.z && !tl(a.z_strides)) || !tl(a.out_strides)) return 0;
  int largest = 0, smallest = 0;
  for (int S : {4, 2, 1}) {
    const int ch = scan_fast::channels_per_block(a.dstate, S);
    if (ch == 0 || (a.dim / a.groups) % ch != 0) continue;
    const long long blocks = static_cast<long long>(a.batch) * a.dim / ch;
    if (!largest) largest = S;
    smallest = S;
    if (S == 4 && blocks >= 3LL * sm_count_now()) return 4;
    if (S == 2 && 2 * blocks >= 3LL * sm_count_now()) return 2;
  }
  return smallest;
}

bool aligned_to(const void* ptr, std::size_t bytes) { return reinterpret_cast<std::uintptr_t>(ptr) % bytes == 0; }

template <class Tin>
scan_fast::FastParams<Tin> fast_params(const BidirectionalScanArgs<float>& a, int k, const Tin* u, const Tin* delta,
                                       const Tin* B, const Tin* C, const Tin* z, Tin* out) {
  const auto& d = a.dir[k];
  scan_fast::FastParams<Tin> p{};
  p.batch = a.batch;
  p.dim = a.dim;
  p.length = a.length;
  p.groups = a.groups;
  p.dim_per_group = a.dim / a.groups;
  p.softplus = a.delta_softplus;
  p.B_var = p.C_var = true;
  p.u = u; p.delta = delta; p.z = z; p.B = B; p.C = C; p.out = out;
  p.A = d.A; p.D = d.D; p.delta_bias = d.delta_bias; p.h0 = d.h0; p.last_state = d.last_state;
  const Strides3 su = d.u_strides.resolved(a.dim, a.length), sd = d.delta_strides.resolved(a.dim, a.length);
  const Strides3 sz = a.z_strides.resolved(a.dim, a.length), so = a.out_strides.resolved(a.dim, a.length);
  p.su_b = su.b; p.su_d = su.d; p.sd_b = sd.b; p.sd_d = sd.d;
  p.sz_b = sz.b; p.sz_d = sz.d; p.so_b = so.b; p.so_d = so.d;
  constexpr std::size_t kVec = 4 * sizeof(Tin);
  auto row_ok = [&](const void* ptr, const Strides3& st) { return aligned_to(ptr, kVec) && st.b % 4 == 0 && st.d % 4 == 0; };
  p.vec_rows = row_ok(u, su) && row_ok(delta, sd) && row_ok(out, so) && (!z || row_ok(z, sz));
  p.vec_bc = a.length % 4 == 0 && aligned_to(B, kVec) && aligned_to(C, kVec);
  p.out_scale = static_cast<float>(a.out_scale);
  p.merge = 0;
  return p;
}

/// The fast paths. one_launch = false (two_kernel): direction 0 forward writes out, then direction
/// 1 backward adds onto it. one_launch = true (fast_one_launch): out zeroed, both directions in
/// one launch adding atomically.
template <class Tin>
void launch_fast(const BidirectionalScanArgs<float>& a, int S, const Tin* const u[2], const Tin* const delta[2],
                 const Tin* const B[2], const Tin* const C[2], const Tin* z, Tin* out, bool one_launch,
                 bool synchronize, const char* where) {
  auto p0 = fast_params<Tin>(a, 0, u[0], delta[0], B[0], C[0], z, out);
  auto p1 = fast_params<Tin>(a, 1, u[1], delta[1], B[1], C[1], z, out);
  if (one_launch) {
    const Strides3 so = a.out_strides.resolved(a.dim, a.length);
    const long long n = static_cast<long long>(a.batch) * a.dim * a.length;
    const int zblocks = static_cast<int>(std::min<long long>((n + 255) / 256, 65536));
    zero_out_kernel<Tin><<<zblocks, 256>>>(out, a.batch, a.dim, a.length, so.b, so.d, so.l);
    SSM_CUDA_CHECK_LAUNCH(where);
    p0.merge = p1.merge = 2;
    scan_fast::launch_bidir<Tin>(p0, p1, a.dstate, S, where, nullptr);
  } else {
    p1.merge = 1;
    scan_fast::launch<Tin>(p0, a.dstate, S, 1, where, nullptr);
    scan_fast::launch_reverse<Tin>(p1, a.dstate, S, where, nullptr);
  }
  if (synchronize) SSM_CUDA_CHECK(cudaDeviceSynchronize(), where);
}

}  // namespace

void bidirectional_scan_cuda(const BidirectionalScanArgs<float>& a, BidirKernel kernel, bool synchronize) {
  const char* where = "bidirectional_selective_scan (cuda)";
  const int S = kernel == BidirKernel::one_launch ? 0 : fast_states(a);
  require((kernel != BidirKernel::two_kernel && kernel != BidirKernel::fast_one_launch) || S > 0, where, "kernel",
          "two_kernel needs dstate in {4, 8, 16, 32}, time stride 1 and dim/groups a multiple of the "
          "fast kernel's channels a block");
  if (S > 0) {
    const float* u[2] = {a.dir[0].u, a.dir[1].u};
    const float* delta[2] = {a.dir[0].delta, a.dir[1].delta};
    const float* B[2] = {a.dir[0].B, a.dir[1].B};
    const float* C[2] = {a.dir[0].C, a.dir[1].C};
    launch_fast<float>(a, S, u, delta, B, C, a.z, a.out, kernel == BidirKernel::fast_one_launch, synchronize, where);
    return;
  }
  launch(make_params<float, float>(a), synchronize, where);
}

void bidirectional_scan_cuda(const BidirectionalScanArgs<float>& a, bool synchronize) {
  bidirectional_scan_cuda(a, BidirKernel::automatic, synchronize);
}
void bidirectional_scan_cuda(const BidirectionalScanArgs<double>& a, bool synchronize) {
  launch(make_params<double, double>(a), synchronize, "bidirectional_selective_scan (cuda)");
}

void bidirectional_scan_cuda_bf16(const BidirectionalScanArgs<float>& args, const BidirectionalScanBf16& io,
                                  bool synchronize) {
  bidirectional_scan_cuda_bf16(args, io, BidirKernel::automatic, synchronize);
}

void bidirectional_scan_cuda_bf16(const BidirectionalScanArgs<float>& args, const BidirectionalScanBf16& io,
                                  BidirKernel kernel, bool synchronize) {
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
  const int S = kernel == BidirKernel::one_launch ? 0 : fast_states(shape);
  require((kernel != BidirKernel::two_kernel && kernel != BidirKernel::fast_one_launch) || S > 0, where, "kernel",
          "two_kernel needs dstate in {4, 8, 16, 32}, time stride 1 and dim/groups a multiple of the "
          "fast kernel's channels a block");
  if (S > 0) {
    using bf = __nv_bfloat16;
    const bf* u[2] = {reinterpret_cast<const bf*>(io.u[0]), reinterpret_cast<const bf*>(io.u[1])};
    const bf* delta[2] = {reinterpret_cast<const bf*>(io.delta[0]), reinterpret_cast<const bf*>(io.delta[1])};
    const bf* B[2] = {reinterpret_cast<const bf*>(io.B[0]), reinterpret_cast<const bf*>(io.B[1])};
    const bf* C[2] = {reinterpret_cast<const bf*>(io.C[0]), reinterpret_cast<const bf*>(io.C[1])};
    launch_fast<bf>(shape, S, u, delta, B, C, reinterpret_cast<const bf*>(io.z), reinterpret_cast<bf*>(io.out),
                    kernel == BidirKernel::fast_one_launch, synchronize, where);
    return;
  }
  launch(make_params<__nv_bfloat16, float>(shape), synchronize, where);
}

}  // namespace ssm::detail
