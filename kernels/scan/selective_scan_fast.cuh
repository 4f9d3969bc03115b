#pragma once
// The fast selective-scan forward kernel (Mamba S6) for the common case: real A, float32
// compute with float32 or bf16 storage, dstate N in {4, 8, 16, 32}, time-contiguous rows of
// u/delta/z/out, fixed or variable (grouped) B/C. Everything else goes to the chunked warp
// scan of scan_kernel.cuh. Semantics: include/ssm/scan/selective_scan.hpp.
//
// Work decomposition (one block = kThreads = 128 threads)
//   * A block owns CH = 128 / N channels d0 .. d0+CH-1 of one batch element, all inside one
//     B/C group (the host requires (dim / groups) % CH == 0). Thread tid = c N + n owns the
//     state h[c][n] in a register and walks time SEQUENTIALLY: no scan operator, no carries.
//   * Time goes in chunks of T steps (T = 32 for N = 4, else 64). Per chunk:
//       1. the raw u, delta, z (CH x T) and variable B, C (N x T) of the chunk, loaded into
//          registers during the previous chunk, are turned into shared-memory tiles
//          dt = softplus(delta + bias) and du = dt u (once per (c, t), not per state), B, C;
//          the thread that will store out[c][t] keeps gate = silu(z) and D u gate in registers.
//          Steps past the end of the sequence get dt = du = 0, i.e. h is left unchanged.
//       2. the next chunk's raw data is requested (coalesced 16-/8-byte vector loads when the
//          rows are aligned, a guarded scalar path otherwise), so its latency hides behind 3-4;
//       3. __syncthreads; each thread runs its T steps
//            h = 2^(dt A log2 e) h + du B_t ,  p_t = C_t h
//          from float4 shared-memory reads (4 steps a read) and writes p to a padded row of
//          a (128 x T) partial tile;
//       4. __syncthreads; out[c][t] = (sum_n p[c][n][t]) gate + D u gate, summed over the N
//          rows of channel c by the thread that loaded (c, t), stored coalesced.
//     So u, delta, z, B, C are read once and out written once; the states never leave the SM.
//   * Shared rows have a pitch of T + 4 floats, so the float4 accesses of any 8 consecutive
//     lanes (one 128-bit wavefront) hit distinct banks or the same address.
//   * Math: exp through ex2.approx.ftz of a pre-scaled A (flushes results below 2^-126 to
//     zero), softplus(x) = x above 20 else log1pf(__expf(x)), silu through __expf and
//     __fdividef (exact limits: z -> -inf gives -0); accuracy well inside the 1e-4 relative
//     tolerance of the conformance cases against float64.
#include <cuda_runtime.h>
#include <cuda_bf16.h>

#include <climits>
#include <cstdint>

#include "core/cuda_check.cuh"

namespace ssm::detail::scan_fast {

/// Kernel parameters; the time strides of u, delta, z, out are 1 (checked by the host).
template <class Tin>
struct FastParams {
  int batch, dim, length, groups, dim_per_group;
  bool softplus;
  bool vec_rows;  // u, delta, z, out rows allow aligned 4-element vector accesses
  bool vec_bc;    // variable B/C rows allow aligned 4-element vector loads
  const Tin* u;
  const Tin* delta;
  const Tin* z;          // or null
  const Tin* B;          // fixed (dim, N) or variable (batch, groups, N, length)
  const Tin* C;
  const float* A;        // (dim, N)
  const float* D;        // or null
  const float* delta_bias;  // or null
  const float* h0;       // (batch, dim, N) or null
  Tin* out;
  float* last_state;     // (batch, dim, N) or null
  long long su_b, su_d, sd_b, sd_d, sz_b, sz_d, so_b, so_d;
};

template <int N>
struct Cfg {
  static_assert(N == 4 || N == 8 || N == 16 || N == 32, "dstate must be 4, 8, 16 or 32");
  static constexpr int kThreads = 128;
  static constexpr int kCh = kThreads / N;                // channels a block
  static constexpr int kT = N == 4 ? 32 : 64;             // time steps a chunk
  static constexpr int kPitch = kT + 4;                   // floats a shared row
  static constexpr int kG = kT / 4;                       // 4-step groups a row
  static constexpr int kRowGroups = kCh * kG;             // u/delta/z/out groups a chunk
  static constexpr int kBCGroups = N * kG;                // B or C groups a chunk
  static constexpr int kKU = (kRowGroups + kThreads - 1) / kThreads;
  static constexpr int kKB = (kBCGroups + kThreads - 1) / kThreads;
  static constexpr bool kUFull = kRowGroups % kThreads == 0;
  static constexpr bool kBFull = kBCGroups % kThreads == 0;
  // s_dt, s_du (CH rows), s_B, s_C (N rows), s_p (kThreads rows)
  static constexpr int kSmemFloats = (2 * kCh + 2 * N + kThreads) * kPitch;
  static constexpr std::size_t kSmemBytes = static_cast<std::size_t>(kSmemFloats) * sizeof(float);
};

// ---- 4-element raw storage: float4 (float32) or uint2 (4 bf16) --------------------------------
template <class Tin> struct Raw4;
template <> struct Raw4<float> { using type = float4; };
template <> struct Raw4<__nv_bfloat16> { using type = uint2; };

__device__ __forceinline__ float4 to_f4(const float4& r) { return r; }
__device__ __forceinline__ float4 to_f4(const uint2& r) {
  return make_float4(__uint_as_float(r.x << 16), __uint_as_float(r.x & 0xffff0000u),
                     __uint_as_float(r.y << 16), __uint_as_float(r.y & 0xffff0000u));
}

/// Elements t .. t+3 of a time-contiguous row; zeros past `length`. `vec`: the row start is
/// aligned to 4 elements (t is always a multiple of 4), so a whole group is one vector load.
__device__ __forceinline__ float4 load_raw4(const float* row, int t, int length, bool vec) {
  if (vec && t + 4 <= length) return __ldg(reinterpret_cast<const float4*>(row + t));
  float4 r;
  r.x = t < length ? __ldg(row + t) : 0.f;
  r.y = t + 1 < length ? __ldg(row + t + 1) : 0.f;
  r.z = t + 2 < length ? __ldg(row + t + 2) : 0.f;
  r.w = t + 3 < length ? __ldg(row + t + 3) : 0.f;
  return r;
}
__device__ __forceinline__ uint2 load_raw4(const __nv_bfloat16* row, int t, int length, bool vec) {
  if (vec && t + 4 <= length) return __ldg(reinterpret_cast<const uint2*>(row + t));
  const auto* s = reinterpret_cast<const unsigned short*>(row);
  unsigned e[4];
#pragma unroll
  for (int i = 0; i < 4; ++i) e[i] = t + i < length ? static_cast<unsigned>(__ldg(s + t + i)) : 0u;
  return make_uint2(e[0] | (e[1] << 16), e[2] | (e[3] << 16));
}

/// Stores elements t .. t+3 of a row (those before `length`).
__device__ __forceinline__ void store4(float* row, int t, int length, bool vec, const float4& v) {
  if (vec && t + 4 <= length) {
    *reinterpret_cast<float4*>(row + t) = v;
    return;
  }
  const float e[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
  for (int i = 0; i < 4; ++i)
    if (t + i < length) row[t + i] = e[i];
}
__device__ __forceinline__ void store4(__nv_bfloat16* row, int t, int length, bool vec, const float4& v) {
  const __nv_bfloat16 e[4] = {__float2bfloat16_rn(v.x), __float2bfloat16_rn(v.y),
                              __float2bfloat16_rn(v.z), __float2bfloat16_rn(v.w)};
  if (vec && t + 4 <= length) {
    uint2 r;
    r.x = static_cast<unsigned>(__bfloat16_as_ushort(e[0])) |
          (static_cast<unsigned>(__bfloat16_as_ushort(e[1])) << 16);
    r.y = static_cast<unsigned>(__bfloat16_as_ushort(e[2])) |
          (static_cast<unsigned>(__bfloat16_as_ushort(e[3])) << 16);
    *reinterpret_cast<uint2*>(row + t) = r;
    return;
  }
#pragma unroll
  for (int i = 0; i < 4; ++i)
    if (t + i < length) row[t + i] = e[i];
}

__device__ __forceinline__ float to_f(float v) { return v; }
__device__ __forceinline__ float to_f(__nv_bfloat16 v) { return __bfloat162float(v); }

// ---- math ---------------------------------------------------------------------------------------
/// 2^x, one MUFU.EX2 (results below 2^-126 flush to zero).
__device__ __forceinline__ float ex2_approx(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}
/// log(1 + e^x): x itself above 20 (the correction e^-x < 2.1e-9 is below float's half-ulp of x).
__device__ __forceinline__ float softplus_f(float x) { return x > 20.f ? x : log1pf(__expf(x)); }
/// z / (1 + e^-z); for z < -88, e^-z = inf and the quotient is -0 (the limit).
__device__ __forceinline__ float silu_f(float z) { return __fdividef(z, 1.f + __expf(-z)); }

__device__ __forceinline__ float4 ld4(const float* p) { return *reinterpret_cast<const float4*>(p); }
__device__ __forceinline__ void st4(float* p, const float4& v) { *reinterpret_cast<float4*>(p) = v; }

template <class Tin, int N, bool kBv, bool kCv>
__global__ void __launch_bounds__(Cfg<N>::kThreads)
fast_scan_kernel(const FastParams<Tin> p) {
  using K = Cfg<N>;
  constexpr int NT = K::kThreads, CH = K::kCh, T = K::kT, P = K::kPitch, G = K::kG;
  constexpr int KU = K::kKU, KB = K::kKB;
  constexpr float kLog2e = 1.4426950408889634f;
  using Raw = typename Raw4<Tin>::type;

  extern __shared__ __align__(16) float smem_f[];
  float* s_dt = smem_f;
  float* s_du = s_dt + CH * P;
  float* s_B = s_du + CH * P;
  float* s_C = s_B + N * P;
  float* s_p = s_C + N * P;

  const int tid = static_cast<int>(threadIdx.x);
  const int blocks_per_batch = p.dim / CH;
  const int b = static_cast<int>(blockIdx.x) / blocks_per_batch;
  const int d0 = (static_cast<int>(blockIdx.x) - b * blocks_per_batch) * CH;
  const int g = d0 / p.dim_per_group;  // the whole block lies in this group
  const int L = p.length;

  // ---- scan role: state (sc, sn) of channel d0 + sc ----
  const int sc = tid / N, sn = tid % N;
  const long long a_idx = static_cast<long long>(d0 + sc) * N + sn;
  const long long st_idx = (static_cast<long long>(b) * p.dim + d0 + sc) * N + sn;
  const float A2 = p.A[a_idx] * kLog2e;
  float bfix = 0.f, cfix = 0.f;
  if constexpr (!kBv) bfix = to_f(p.B[a_idx]);
  if constexpr (!kCv) cfix = to_f(p.C[a_idx]);
  float h = p.h0 ? p.h0[st_idx] : 0.f;

  // ---- load role: row groups i = tid + k NT (channel i / G, steps 4 (i % G) ..) ----
  float bias_k[KU], D_k[KU];
  long long ou_k[KU], od_k[KU], oz_k[KU], oo_k[KU];
#pragma unroll
  for (int k = 0; k < KU; ++k) {
    const int i = tid + k * NT;
    const int c = (K::kUFull || i < K::kRowGroups) ? i / G : 0;
    const int d = d0 + c;
    bias_k[k] = p.delta_bias ? p.delta_bias[d] : 0.f;
    D_k[k] = p.D ? p.D[d] : 0.f;
    ou_k[k] = b * p.su_b + d * p.su_d;
    od_k[k] = b * p.sd_b + d * p.sd_d;
    oz_k[k] = b * p.sz_b + d * p.sz_d;
    oo_k[k] = b * p.so_b + d * p.so_d;
  }
  const long long bc_base = (static_cast<long long>(b) * p.groups + g) * N;  // row of state 0

  Raw ru[KU], rd[KU], rz[KU], rb[KB], rc[KB];
#pragma unroll
  for (int k = 0; k < KU; ++k) ru[k] = rd[k] = rz[k] = Raw{};
#pragma unroll
  for (int k = 0; k < KB; ++k) rb[k] = rc[k] = Raw{};

  auto load_chunk = [&](int c0) {
#pragma unroll
    for (int k = 0; k < KU; ++k) {
      const int i = tid + k * NT;
      if (K::kUFull || i < K::kRowGroups) {
        const int t = c0 + (i % G) * 4;
        ru[k] = load_raw4(p.u + ou_k[k], t, L, p.vec_rows);
        rd[k] = load_raw4(p.delta + od_k[k], t, L, p.vec_rows);
        if (p.z) rz[k] = load_raw4(p.z + oz_k[k], t, L, p.vec_rows);
      }
    }
#pragma unroll
    for (int k = 0; k < KB; ++k) {
      const int i = tid + k * NT;
      if (K::kBFull || i < K::kBCGroups) {
        const int n = i / G, t = c0 + (i % G) * 4;
        const long long row = (bc_base + n) * L;
        if constexpr (kBv) rb[k] = load_raw4(p.B + row, t, L, p.vec_bc);
        if constexpr (kCv) rc[k] = load_raw4(p.C + row, t, L, p.vec_bc);
      }
    }
  };

  load_chunk(0);
  for (int c0 = 0; c0 < L; c0 += T) {
    // 1. raw chunk -> shared dt, du, B, C; gate and D u gate kept for the output.
    float4 gate[KU], sg[KU];
#pragma unroll
    for (int k = 0; k < KU; ++k) {
      gate[k] = sg[k] = make_float4(0.f, 0.f, 0.f, 0.f);
      const int i = tid + k * NT;
      if (K::kUFull || i < K::kRowGroups) {
        const int c = i / G, j = (i % G) * 4, t = c0 + j;
        const float4 uu = to_f4(ru[k]), dd = to_f4(rd[k]);
        float dt[4] = {dd.x + bias_k[k], dd.y + bias_k[k], dd.z + bias_k[k], dd.w + bias_k[k]};
        const float uv[4] = {uu.x, uu.y, uu.z, uu.w};
        float gv[4] = {1.f, 1.f, 1.f, 1.f};
        if (p.z) {
          const float4 zz = to_f4(rz[k]);
          gv[0] = silu_f(zz.x); gv[1] = silu_f(zz.y); gv[2] = silu_f(zz.z); gv[3] = silu_f(zz.w);
        }
        float du[4], s[4];
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          if (p.softplus) dt[e] = softplus_f(dt[e]);
          if (t + e >= L) dt[e] = 0.f;  // past the end: a = 1, b = 0, h unchanged
          du[e] = dt[e] * uv[e];
          s[e] = D_k[k] * uv[e] * gv[e];
        }
        st4(s_dt + c * P + j, make_float4(dt[0], dt[1], dt[2], dt[3]));
        st4(s_du + c * P + j, make_float4(du[0], du[1], du[2], du[3]));
        gate[k] = make_float4(gv[0], gv[1], gv[2], gv[3]);
        sg[k] = make_float4(s[0], s[1], s[2], s[3]);
      }
    }
#pragma unroll
    for (int k = 0; k < KB; ++k) {
      const int i = tid + k * NT;
      if (K::kBFull || i < K::kBCGroups) {
        const int n = i / G, j = (i % G) * 4;
        if constexpr (kBv) st4(s_B + n * P + j, to_f4(rb[k]));
        if constexpr (kCv) st4(s_C + n * P + j, to_f4(rc[k]));
      }
    }
    // 2. the next chunk's loads fly while this one is scanned.
    if (c0 + T < L) load_chunk(c0 + T);
    __syncthreads();

    // 3. sequential scan of this thread's state over the chunk's steps.
    {
      const int steps = min(T, L - c0);
      const int n4 = (steps + 3) >> 2;
      const float* pdt = s_dt + sc * P;
      const float* pdu = s_du + sc * P;
      const float* pB = s_B + sn * P;
      const float* pC = s_C + sn * P;
      float* pp = s_p + tid * P;
#pragma unroll 2
      for (int q = 0; q < n4; ++q) {
        const int j = q * 4;
        const float4 dt4 = ld4(pdt + j), du4 = ld4(pdu + j);
        float4 b4, c4;
        if constexpr (kBv) b4 = ld4(pB + j); else b4 = make_float4(bfix, bfix, bfix, bfix);
        if constexpr (kCv) c4 = ld4(pC + j); else c4 = make_float4(cfix, cfix, cfix, cfix);
        const float a0 = ex2_approx(dt4.x * A2), a1 = ex2_approx(dt4.y * A2),
                    a2 = ex2_approx(dt4.z * A2), a3 = ex2_approx(dt4.w * A2);
        float4 o;
        h = fmaf(a0, h, du4.x * b4.x); o.x = c4.x * h;
        h = fmaf(a1, h, du4.y * b4.y); o.y = c4.y * h;
        h = fmaf(a2, h, du4.z * b4.z); o.z = c4.z * h;
        h = fmaf(a3, h, du4.w * b4.w); o.w = c4.w * h;
        st4(pp + j, o);
      }
    }
    __syncthreads();

    // 4. y = sum over the channel's N partial rows; out = y gate + D u gate.
#pragma unroll
    for (int k = 0; k < KU; ++k) {
      const int i = tid + k * NT;
      if (K::kUFull || i < K::kRowGroups) {
        const int c = i / G, j = (i % G) * 4, t = c0 + j;
        if (t < L) {
          float4 y = make_float4(0.f, 0.f, 0.f, 0.f);
          const float* pr = s_p + c * N * P + j;
#pragma unroll
          for (int n = 0; n < N; ++n) {
            const float4 v = ld4(pr + n * P);
            y.x += v.x; y.y += v.y; y.z += v.z; y.w += v.w;
          }
          const float4 o = make_float4(fmaf(y.x, gate[k].x, sg[k].x), fmaf(y.y, gate[k].y, sg[k].y),
                                       fmaf(y.z, gate[k].z, sg[k].z), fmaf(y.w, gate[k].w, sg[k].w));
          store4(p.out + oo_k[k], t, L, p.vec_rows, o);
        }
      }
    }
    // No third barrier: the next chunk's step 1 writes s_dt/s_du/s_B/s_C, which step 3 of this
    // chunk finished reading before the second barrier; s_p is next written after the next
    // chunk's first barrier, which every thread reaches only after its step 4 here.
  }
  if (p.last_state) p.last_state[st_idx] = h;
}

// ---- host side --------------------------------------------------------------------------------

template <class Tin, int N, bool kBv, bool kCv>
void launch_t(const FastParams<Tin>& p, const char* where) {
  using K = Cfg<N>;
  auto kernel = fast_scan_kernel<Tin, N, kBv, kCv>;
  if constexpr (K::kSmemBytes > 48 * 1024) {
    static const bool attr_set = [&] {
      SSM_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                          static_cast<int>(K::kSmemBytes)),
                     where);
      return true;
    }();
    (void)attr_set;
  }
  const long long blocks = static_cast<long long>(p.batch) * (p.dim / K::kCh);
  require(blocks <= INT_MAX, where, "batch*dim", "must give at most 2^31-1 blocks on the GPU");
  kernel<<<static_cast<unsigned>(blocks), K::kThreads, K::kSmemBytes>>>(p);
  SSM_CUDA_CHECK_LAUNCH(where);
}

template <class Tin, int N>
void launch_n(const FastParams<Tin>& p, bool B_var, bool C_var, const char* where) {
  if (B_var && C_var) launch_t<Tin, N, true, true>(p, where);
  else if (B_var) launch_t<Tin, N, true, false>(p, where);
  else if (C_var) launch_t<Tin, N, false, true>(p, where);
  else launch_t<Tin, N, false, false>(p, where);
}

/// Queues the fast kernel (the caller checked that it applies: dstate in {4, 8, 16, 32},
/// real A, (dim/groups) % (128/dstate) == 0, time strides 1).
template <class Tin>
void launch(const FastParams<Tin>& p, int dstate, bool B_var, bool C_var, const char* where) {
  switch (dstate) {
    case 4: launch_n<Tin, 4>(p, B_var, C_var, where); break;
    case 8: launch_n<Tin, 8>(p, B_var, C_var, where); break;
    case 16: launch_n<Tin, 16>(p, B_var, C_var, where); break;
    case 32: launch_n<Tin, 32>(p, B_var, C_var, where); break;
    default: require(false, where, "dstate", "must be 4, 8, 16 or 32 for the fast kernel, got ", dstate);
  }
}

/// Channels a block of the fast kernel for dstate (0 when the kernel does not support it).
inline int channels_per_block(int dstate) {
  return (dstate == 4 || dstate == 8 || dstate == 16 || dstate == 32) ? 128 / dstate : 0;
}

}  // namespace ssm::detail::scan_fast
