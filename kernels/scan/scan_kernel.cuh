#pragma once
// The chunked linear-recurrence scan shared by the selective scan (Mamba S6) and the diagonal
// LTI scan (S4D), one kernel template for both.
//
// Per (batch b, channel d, state n) the recurrence is h_t = a_t h_{t-1} + b_t, with
//   selective:  a_t = exp(dt_t A[d,n]),  b_t = dt_t B_t[n] u_t       (dt from delta, bias, softplus)
//   LTI:        a_t = Ad[d,n] (given),   b_t = Bd[d,n] u_t
// and the read-out y_t = sum_n C_t[n] h_t[n] (complex: 2 Re(...)), out = (y + D u) silu(z).
//
// Work decomposition
//   * One warp owns one (b, d) channel for the whole sequence; a block holds `warps` channels
//     of one batch element and one B/C group, so a variable-B/C tile is loaded from global
//     memory once per block and read by all its warps from shared memory.
//   * Time goes in chunks of Tc = 32 * kItems steps; lane l holds the kItems consecutive steps
//     [l*kItems, (l+1)*kItems) of the chunk in registers (a "blocked" arrangement), loaded
//     with 16-byte vector loads when the row is contiguous and aligned.
//   * For each state n: every lane folds its kItems (a, b) pairs into one aggregate, the warp
//     combines the 32 aggregates with cub::WarpScan under the associative operator
//       (a1, b1) o (a2, b2) = (a1 a2, a2 b1 + b2)          (first o second)
//     and the state entering the chunk (the running prefix, one value per (warp, n) in shared
//     memory) is applied to the exclusive prefix of each lane. Each lane then replays its
//     kItems steps from that state, accumulating C_t h_t into y in registers. The chunk total
//     advances the running prefix. So u, delta, z, B, C are read once and out written once;
//     the states never leave the chip.
#include <cuda_runtime.h>
#include <cuda_bf16.h>

#include <cstdint>
#include <cub/warp/warp_scan.cuh>

#include "core/activations.hpp"

namespace ssm::detail::scan {

// ---- element conversion ---------------------------------------------------------------------
template <class T> struct Conv;
template <> struct Conv<float> {
  __device__ static float to_f(float v) { return v; }
};
template <> struct Conv<double> {
  __device__ static double to_f(double v) { return v; }
};
template <> struct Conv<__nv_bfloat16> {
  __device__ static float to_f(__nv_bfloat16 v) { return __bfloat162float(v); }
};
template <class Tin, class T>
__device__ __forceinline__ T load_as(const Tin* p) { return static_cast<T>(Conv<Tin>::to_f(*p)); }
template <class Tin, class T>
__device__ __forceinline__ Tin store_cast(T v) {
  if constexpr (std::is_same_v<Tin, __nv_bfloat16>) return __float2bfloat16(static_cast<float>(v));
  else return static_cast<Tin>(v);
}

// ---- math in the compute type ---------------------------------------------------------------
__device__ __forceinline__ float exp2_t(float x) { return exp2f(x); }
__device__ __forceinline__ double exp2_t(double x) { return exp2(x); }
__device__ __forceinline__ void sincos_t(float x, float* s, float* c) { sincosf(x, s, c); }
__device__ __forceinline__ void sincos_t(double x, double* s, double* c) { sincos(x, s, c); }

// exp, log1p, softplus, silu: the one implementation (core/activations.hpp, CUDA forms).
using math::device::exp_t;
using math::device::log1p_t;
using math::device::silu;
using math::device::softplus;

// ---- (a, b) pairs of the recurrence and their associative operator ---------------------------
template <class T, bool kComplex> struct Pair;
template <class T> struct Pair<T, false> {
  T a, b;
  __device__ static Pair identity() { return {T(1), T(0)}; }
};
template <class T> struct Pair<T, true> {
  T ar, ai, br, bi;
  __device__ static Pair identity() { return {T(1), T(0), T(0), T(0)}; }
};

/// (x o y): apply x first, then y.
template <class T, bool kComplex>
struct Combine {
  __device__ __forceinline__ Pair<T, kComplex> operator()(const Pair<T, kComplex>& x,
                                                          const Pair<T, kComplex>& y) const {
    if constexpr (kComplex) {
      return {x.ar * y.ar - x.ai * y.ai, x.ar * y.ai + x.ai * y.ar,
              y.ar * x.br - y.ai * x.bi + y.br, y.ar * x.bi + y.ai * x.br + y.bi};
    } else {
      return {x.a * y.a, y.a * x.b + y.b};
    }
  }
};

// ---- kernel parameters ----------------------------------------------------------------------
template <class Tin, class T>
struct Params {
  int batch, dim, dstate, length, groups, dim_per_group;
  int stage_states;  // states per shared-memory stage of variable B/C
  bool softplus, B_variable, C_variable;
  const Tin* u;
  const Tin* delta;   // unused in LTI mode
  const Tin* z;       // or null
  const T* A;         // (dim, dstate)[,2]: A (selective) or Ad (LTI)
  const Tin* B;       // fixed (dim, dstate)[,2] or variable (batch, groups, dstate, length)[,2]
  const Tin* C;
  const T* D;         // or null
  const T* delta_bias;// or null
  const T* h0;        // (batch, dim, dstate)[,2] or null
  Tin* out;
  T* last_state;      // or null
  long long su_b, su_d, su_l, sd_b, sd_d, sd_l, sz_b, sz_d, sz_l, so_b, so_d, so_l;
};

constexpr int kMaxWarps = 8;

template <int kItems>
__host__ __device__ constexpr int tile_pitch() { return 32 * kItems + kItems * 4; }
/// Shared-memory position of chunk step j: 4 words of padding after every 32, so that the
/// 16-byte reads of consecutive lanes (kItems apart) fall in distinct banks.
__device__ __forceinline__ int pad_index(int j) { return j + (j >> 5) * 4; }

/// Loads kItems consecutive elements t0.. of a strided row (zero-filled past `length`).
template <class Tin, class T, int kItems>
__device__ __forceinline__ void load_row(const Tin* row, long long stride, int t0, int length,
                                         T (&v)[kItems]) {
  constexpr int kBytes = kItems * static_cast<int>(sizeof(Tin));
  if constexpr (kBytes % 16 == 0) {
    const Tin* p = row + t0;
    if (stride == 1 && t0 + kItems <= length && (reinterpret_cast<std::uintptr_t>(p) & 15u) == 0) {
      alignas(16) Tin tmp[kItems];
#pragma unroll
      for (int j = 0; j < kBytes / 16; ++j)
        reinterpret_cast<uint4*>(tmp)[j] = __ldg(reinterpret_cast<const uint4*>(p) + j);
#pragma unroll
      for (int i = 0; i < kItems; ++i) v[i] = static_cast<T>(Conv<Tin>::to_f(tmp[i]));
      return;
    }
  }
#pragma unroll
  for (int i = 0; i < kItems; ++i)
    v[i] = (t0 + i < length) ? load_as<Tin, T>(row + static_cast<long long>(t0 + i) * stride) : T(0);
}

template <class Tin, class T, int kItems>
__device__ __forceinline__ void store_row(Tin* row, long long stride, int t0, int length,
                                          const T (&v)[kItems]) {
  constexpr int kBytes = kItems * static_cast<int>(sizeof(Tin));
  if constexpr (kBytes % 16 == 0) {
    Tin* p = row + t0;
    if (stride == 1 && t0 + kItems <= length && (reinterpret_cast<std::uintptr_t>(p) & 15u) == 0) {
      alignas(16) Tin tmp[kItems];
#pragma unroll
      for (int i = 0; i < kItems; ++i) tmp[i] = store_cast<Tin, T>(v[i]);
#pragma unroll
      for (int j = 0; j < kBytes / 16; ++j)
        reinterpret_cast<uint4*>(p)[j] = reinterpret_cast<const uint4*>(tmp)[j];
      return;
    }
  }
#pragma unroll
  for (int i = 0; i < kItems; ++i)
    if (t0 + i < length) row[static_cast<long long>(t0 + i) * stride] = store_cast<Tin, T>(v[i]);
}

/// Bytes of dynamic shared memory the kernel needs.
template <class T, bool kComplex, int kItems>
inline std::size_t smem_bytes(int warps, int dstate, int stage_states, bool B_var, bool C_var) {
  const int comps = kComplex ? 2 : 1;
  const std::size_t tile = static_cast<std::size_t>(stage_states) * comps * tile_pitch<kItems>();
  const std::size_t n_tiles = (B_var ? 1u : 0u) + (C_var ? 1u : 0u);
  return (tile * n_tiles + static_cast<std::size_t>(warps) * dstate * comps) * sizeof(T);
}

template <class Tin, class T, bool kComplex, bool kLTI, int kItems>
__global__ void __launch_bounds__(kMaxWarps * 32)
chunked_scan_kernel(const Params<Tin, T> p) {
  using P = Pair<T, kComplex>;
  using WarpScan = cub::WarpScan<P>;
  constexpr int Tc = 32 * kItems;
  constexpr int Tp = tile_pitch<kItems>();
  constexpr int comps = kComplex ? 2 : 1;
  __shared__ typename WarpScan::TempStorage scan_storage[kMaxWarps];
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* smem = reinterpret_cast<T*>(smem_raw);

  const int warps = static_cast<int>(blockDim.x) >> 5;
  const int w = static_cast<int>(threadIdx.x) >> 5;
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int b = static_cast<int>(blockIdx.y);
  const int d0 = static_cast<int>(blockIdx.x) * warps;
  const int d = d0 + w;
  const bool active = d < p.dim;
  const int g = d0 / p.dim_per_group;  // the host makes every block lie inside one group
  const int N = p.dstate, L = p.length, NS = p.stage_states;

  const bool Bv = !kLTI && p.B_variable;
  const bool Cv = !kLTI && p.C_variable;
  T* sB = smem;
  T* sC = sB + (Bv ? NS * comps * Tp : 0);
  T* sH = sC + (Cv ? NS * comps * Tp : 0) + w * N * comps;  // this warp's running states

  const long long bd = static_cast<long long>(b) * p.dim + (active ? d : 0);
  for (int n = lane; n < N; n += 32)
    for (int c = 0; c < comps; ++c)
      sH[n * comps + c] = (active && p.h0) ? p.h0[(bd * N + n) * comps + c] : T(0);
  __syncwarp();

  const T Dd = (active && p.D) ? p.D[d] : T(0);
  const T bias = (active && p.delta_bias) ? p.delta_bias[d] : T(0);
  const Tin* u_row = p.u + b * p.su_b + (active ? d : 0) * p.su_d;
  const Tin* dl_row = kLTI ? nullptr : p.delta + b * p.sd_b + (active ? d : 0) * p.sd_d;
  const Tin* z_row = p.z ? p.z + b * p.sz_b + (active ? d : 0) * p.sz_d : nullptr;
  Tin* o_row = p.out + b * p.so_b + (active ? d : 0) * p.so_d;
  const T* A_row = p.A + static_cast<long long>(active ? d : 0) * N * comps;
  const Tin* Bf_row = p.B + static_cast<long long>(active ? d : 0) * N * comps;  // fixed B
  const Tin* Cf_row = p.C + static_cast<long long>(active ? d : 0) * N * comps;  // fixed C
  const long long bg_off = (static_cast<long long>(b) * p.groups + g) * N;       // variable B/C

  for (int c0 = 0; c0 < L; c0 += Tc) {
    const int t0 = c0 + lane * kItems;
    T u[kItems], dt[kItems], y[kItems];
    load_row<Tin, T, kItems>(u_row, p.su_l, t0, L, u);
    if constexpr (kLTI) {
#pragma unroll
      for (int i = 0; i < kItems; ++i) dt[i] = T(1);
    } else {
      load_row<Tin, T, kItems>(dl_row, p.sd_l, t0, L, dt);
#pragma unroll
      for (int i = 0; i < kItems; ++i) {
        T v = dt[i] + bias;
        dt[i] = p.softplus ? softplus(v) : v;
      }
    }
#pragma unroll
    for (int i = 0; i < kItems; ++i) y[i] = T(0);
    T zv[kItems];  // loaded now so that its latency hides behind the scan
    if (z_row) load_row<Tin, T, kItems>(z_row, p.sz_l, t0, L, zv);

    for (int n0 = 0; n0 < N; n0 += NS) {
      const int ns = min(NS, N - n0);
      if (Bv || Cv) {
        __syncthreads();  // the previous stage's tiles are no longer read
        // 16-byte loads, several in flight per thread, when the chunk is whole and aligned;
        // a scalar zero-filling path at the sequence's end or for unaligned data.
        constexpr int VEC = 16 / static_cast<int>(sizeof(Tin));
        constexpr int kBatch = 4;
        constexpr int vec_per_row = Tc * comps / VEC;
        const bool vec_ok = c0 + Tc <= L && (static_cast<long long>(L) * comps) % VEC == 0 &&
                            (reinterpret_cast<std::uintptr_t>(p.B) & 15u) == 0 &&
                            (reinterpret_cast<std::uintptr_t>(p.C) & 15u) == 0;
        if (vec_ok) {
          const int total_v = ns * vec_per_row;
          for (int base = static_cast<int>(threadIdx.x); base < total_v;
               base += static_cast<int>(blockDim.x) * kBatch) {
            uint4 qb[kBatch], qc[kBatch];
#pragma unroll
            for (int k = 0; k < kBatch; ++k) {
              const int v = base + k * static_cast<int>(blockDim.x);
              if (v < total_v) {
                const int nl = v / vec_per_row, e0 = (v - nl * vec_per_row) * VEC;
                const long long src = ((bg_off + n0 + nl) * L + c0) * comps + e0;
                if (Bv) qb[k] = __ldg(reinterpret_cast<const uint4*>(p.B + src));
                if (Cv) qc[k] = __ldg(reinterpret_cast<const uint4*>(p.C + src));
              }
            }
#pragma unroll
            for (int k = 0; k < kBatch; ++k) {
              const int v = base + k * static_cast<int>(blockDim.x);
              if (v < total_v) {
                const int nl = v / vec_per_row, e0 = (v - nl * vec_per_row) * VEC;
                const Tin* eb = reinterpret_cast<const Tin*>(&qb[k]);
                const Tin* ec = reinterpret_cast<const Tin*>(&qc[k]);
#pragma unroll
                for (int j = 0; j < VEC; ++j) {
                  const int e = e0 + j, tl = e / comps, c = e - tl * comps;
                  const int dst = (nl * comps + c) * Tp + pad_index(tl);
                  if (Bv) sB[dst] = static_cast<T>(Conv<Tin>::to_f(eb[j]));
                  if (Cv) sC[dst] = static_cast<T>(Conv<Tin>::to_f(ec[j]));
                }
              }
            }
          }
        } else {
          const int total = ns * Tc;
          for (int idx = static_cast<int>(threadIdx.x); idx < total; idx += static_cast<int>(blockDim.x)) {
            const int nl = idx / Tc, j = idx - nl * Tc, t = c0 + j;
            const long long src = ((bg_off + n0 + nl) * L + t) * comps;
            for (int c = 0; c < comps; ++c) {
              const int dst = (nl * comps + c) * Tp + pad_index(j);
              if (Bv) sB[dst] = t < L ? load_as<Tin, T>(p.B + src + c) : T(0);
              if (Cv) sC[dst] = t < L ? load_as<Tin, T>(p.C + src + c) : T(0);
            }
          }
        }
        __syncthreads();
      }
      if (!active) continue;

      for (int nl = 0; nl < ns; ++nl) {
        const int n = n0 + nl;
        // Per-item coefficients of this state.
        T ar[kItems], br[kItems], cr[kItems];
        T ai[kItems], bi[kItems], ci[kItems];
        (void)ai; (void)bi; (void)ci;
        {
          T Bc[comps], Cc[comps];
          if (!Bv) for (int c = 0; c < comps; ++c) Bc[c] = load_as<Tin, T>(Bf_row + n * comps + c);
          if (!Cv) for (int c = 0; c < comps; ++c) Cc[c] = load_as<Tin, T>(Cf_row + n * comps + c);
          const T* tB = sB + nl * comps * Tp + pad_index(lane * kItems);
          const T* tC = sC + nl * comps * Tp + pad_index(lane * kItems);
          if constexpr (kComplex) {
            const T Are = A_row[n * 2], Aim = A_row[n * 2 + 1];
#pragma unroll
            for (int i = 0; i < kItems; ++i) {
              const bool in = t0 + i < L;
              if constexpr (kLTI) {
                ar[i] = in ? Are : T(1);
                ai[i] = in ? Aim : T(0);
              } else {
                const T mag = exp_t(dt[i] * Are);
                T s, co;
                sincos_t(dt[i] * Aim, &s, &co);
                ar[i] = in ? mag * co : T(1);
                ai[i] = in ? mag * s : T(0);
              }
              const T Bre = Bv ? tB[i] : Bc[0], Bim = Bv ? tB[Tp + i] : Bc[1];
              const T x = dt[i] * u[i];
              br[i] = in ? x * Bre : T(0);
              bi[i] = in ? x * Bim : T(0);
              cr[i] = Cv ? tC[i] : Cc[0];
              ci[i] = Cv ? tC[Tp + i] : Cc[1];
            }
          } else {
            const T A2 = A_row[n] * T(1.4426950408889634);  // exp(x A) = 2^(x A log2 e)
#pragma unroll
            for (int i = 0; i < kItems; ++i) {
              const bool in = t0 + i < L;
              if constexpr (kLTI) ar[i] = in ? A_row[n] : T(1);
              else ar[i] = in ? exp2_t(dt[i] * A2) : T(1);
              const T Bre = Bv ? tB[i] : Bc[0];
              br[i] = in ? dt[i] * u[i] * Bre : T(0);
              cr[i] = Cv ? tC[i] : Cc[0];
            }
          }
        }
        // Fold this lane's steps into one aggregate.
        P agg = P::identity();
        Combine<T, kComplex> op;
#pragma unroll
        for (int i = 0; i < kItems; ++i) {
          if constexpr (kComplex) agg = op(agg, P{ar[i], ai[i], br[i], bi[i]});
          else agg = op(agg, P{ar[i], br[i]});
        }
        P incl, excl;
        WarpScan(scan_storage[w]).Scan(agg, incl, excl, op);
        if (lane == 0) excl = P::identity();
        const P total = cub::ShuffleIndex<32>(incl, 31, 0xffffffffu);
        // Replay the lane's steps from the state entering them.
        if constexpr (kComplex) {
          const T pr = sH[n * 2], pi = sH[n * 2 + 1];
          T hr = excl.ar * pr - excl.ai * pi + excl.br;
          T hi = excl.ar * pi + excl.ai * pr + excl.bi;
#pragma unroll
          for (int i = 0; i < kItems; ++i) {
            const T nr = ar[i] * hr - ai[i] * hi + br[i];
            const T ni = ar[i] * hi + ai[i] * hr + bi[i];
            hr = nr;
            hi = ni;
            y[i] += T(2) * (cr[i] * hr - ci[i] * hi);
          }
          const T nr = total.ar * pr - total.ai * pi + total.br;
          const T ni = total.ar * pi + total.ai * pr + total.bi;
          __syncwarp();
          if (lane == 0) {
            sH[n * 2] = nr;
            sH[n * 2 + 1] = ni;
          }
        } else {
          const T prev = sH[n];
          T h = excl.a * prev + excl.b;
#pragma unroll
          for (int i = 0; i < kItems; ++i) {
            h = ar[i] * h + br[i];
            y[i] += cr[i] * h;
          }
          const T next = total.a * prev + total.b;
          __syncwarp();
          if (lane == 0) sH[n] = next;
        }
        __syncwarp();
      }
    }
    if (!active) continue;
#pragma unroll
    for (int i = 0; i < kItems; ++i) {
      T o = y[i] + Dd * u[i];
      if (z_row) o *= silu(zv[i]);
      y[i] = o;
    }
    store_row<Tin, T, kItems>(o_row, p.so_l, t0, L, y);
  }
  if (active && p.last_state) {
    __syncwarp();
    for (int n = lane; n < N; n += 32)
      for (int c = 0; c < comps; ++c) p.last_state[(bd * N + n) * comps + c] = sH[n * comps + c];
  }
}

}  // namespace ssm::detail::scan

// ---- host-side launch -------------------------------------------------------------------------
#include <algorithm>

#include "kernels/core/cuda_check.cuh"

namespace ssm::detail::scan {

/// Largest warps-per-block in {4, 2, 1} that keeps every block inside one B/C group.
inline int pick_warps(int dim_per_group) {
  for (int w : {4, 2}) if (dim_per_group % w == 0) return w;
  return 1;
}

template <class Tin, class T, bool kComplex, bool kLTI, int kItems>
void launch_items(Params<Tin, T> p, const char* where, cudaStream_t stream) {
  const int comps = kComplex ? 2 : 1;
  const bool Bv = !kLTI && p.B_variable, Cv = !kLTI && p.C_variable;
  const int warps = kLTI ? 4 : pick_warps(p.dim_per_group);
  const int n_tiles = (Bv ? 1 : 0) + (Cv ? 1 : 0);
  if (n_tiles == 0) {
    p.stage_states = p.dstate;
  } else {
    constexpr std::size_t kTileBudget = 40 * 1024;  // bytes of B/C tiles per block
    const std::size_t per_state = static_cast<std::size_t>(comps) * tile_pitch<kItems>() * n_tiles * sizeof(T);
    p.stage_states = static_cast<int>(std::clamp<std::size_t>(kTileBudget / std::max<std::size_t>(per_state, 1), 1, static_cast<std::size_t>(p.dstate)));
  }
  const std::size_t smem = smem_bytes<T, kComplex, kItems>(warps, p.dstate, p.stage_states, Bv, Cv);
  auto kernel = chunked_scan_kernel<Tin, T, kComplex, kLTI, kItems>;
  if (smem > 48 * 1024)
    SSM_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                        static_cast<int>(smem)),
                   where);
  require(p.batch <= 65535, where, "batch", "must be <= 65535 on the GPU, got ", p.batch);
  const dim3 grid(static_cast<unsigned>((p.dim + warps - 1) / warps), static_cast<unsigned>(p.batch));
  kernel<<<grid, static_cast<unsigned>(warps * 32), smem, stream>>>(p);
  SSM_CUDA_CHECK_LAUNCH(where);
}

/// Runs the scan described by p (complex-ness and LTI mode chosen at run time); returns once
/// the launch is queued on `stream` (the caller synchronizes).
template <class Tin, class T>
void launch(const Params<Tin, T>& p, bool complex, bool lti, const char* where, cudaStream_t stream = nullptr) {
  constexpr bool kWide = std::is_same_v<T, float>;  // float compute: 8 steps a lane when real
  if (complex) {
    if (lti) launch_items<Tin, T, true, true, 4>(p, where, stream);
    else launch_items<Tin, T, true, false, 4>(p, where, stream);
  } else {
    if (lti) launch_items<Tin, T, false, true, kWide ? 8 : 4>(p, where, stream);
    else launch_items<Tin, T, false, false, kWide ? 8 : 4>(p, where, stream);
  }
}

}  // namespace ssm::detail::scan
