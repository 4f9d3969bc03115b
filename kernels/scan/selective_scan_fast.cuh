#pragma once
// The fast selective-scan forward kernel (Mamba S6) for the common case: real A, float32
// compute with float32 or bf16 storage, dstate N in {4, 8, 16, 32}, time-contiguous rows of
// u/delta/z/out, fixed or variable (grouped) B/C. Everything else goes to the chunked warp
// scan of scan_kernel.cuh. Semantics: include/ssm/scan/selective_scan.hpp.
//
// Work decomposition (one block = 128 threads; S = states a thread, a template parameter)
//   * Each channel's N states are split over P = N / S lanes of a warp; lane g of
//     channel c holds the S states n = g S + s (s < S) in registers and walks time
//     SEQUENTIALLY: no scan operator and no carries between chunks. A block owns
//     CH = 128 / P channels d0 .. d0+CH-1 of one batch element inside one B/C group (the
//     host requires (dim / groups) % CH == 0). S trades parallelism (batch x dim x P threads)
//     against shared-memory and shuffle traffic per state-step: the host takes the largest S
//     that still gives every SM about three blocks (S = 4 for B=8, D=2048, N=16).
//   * Time split (thin problems, e.g. B=1, D=1536: 48 blocks of S = 4 on 132 SMs): the
//     sequence is cut into K segments run by different blocks (gridDim.y). A state pass runs
//     segments 0 .. K-2 on u, delta, B only and records each one's end state from h = 0
//     (segment 0: from h0) and its sum of dt; the output pass runs every segment from the state
//     carried over the earlier ones, H_k = 2^(A log2 e sum dt_k) H_(k-1) + h_k (A is real and
//     diagonal, so a segment's decay is one exp of its dt sum).
//   * Time goes in chunks of T steps (T = 64 for CH <= 16, 16 for CH = 128, else 32). Per chunk:
//       1. the raw u, delta, z (CH x T) and variable B, C (N x T) of the chunk, copied during
//          the previous chunk into staging slots of shared memory (cp.async, 16 bytes a copy;
//          each slot is staged and read by one thread, so it needs no barrier), become tiles
//          dt = softplus(delta + bias) and du = dt u (once per (c, t), not per state), B, C;
//          gate = silu(z) and D u gate go to shared slots read back only by the same thread.
//          Steps past the end of the sequence get dt = du = 0, i.e. h is left unchanged.
//       2. the next chunk's raw data is requested (coalesced cp.async when the rows are
//          aligned, a guarded scalar path otherwise), so its latency hides behind 3-4;
//       3. __syncthreads; each lane runs the chunk's steps, 4 at a time from float4 shared reads:
//            h_s = 2^(dt A_s log2 e) h_s + du B_t[n] ,  y_t += C_t[n] h_s   (its S states)
//          then the P partial sums of 4 steps are combined by a transpose-reduce over the
//          channel's lanes (log2 P shuffle rounds; the first two halve the values each lane
//          carries, so 4 steps cost 3 shuffles for P = 4) and the lane left holding step t
//          writes y[c][t] to shared memory. A group's shuffles run while the next group
//          computes (their latency hidden), its store after that group's shared reads;
//       4. __syncthreads; out[c][t] = y gate + D u gate by the thread that loaded (c, t),
//          stored coalesced.
//     So u, delta, z, B, C are read once and out written once; the states never leave the SM.
//   * Shared rows have a pitch of T + 4 floats. B and C rows are stored permuted (state
//     n = g S + s goes to row s P + g), so the P lanes of a channel read P consecutive rows:
//     every float4 access is conflict-free or a broadcast.
//   * Lane order: a warp holds W = 32 / P channels, and lane g W + w runs state slice g of its
//     channel w (the P lanes of a channel are W apart). The W lanes that read the same B/C row
//     are then adjacent, which the shared-memory unit serves in fewer wavefronts than the same
//     reads spread over the warp (channel-major lanes read dt/du in fewer wavefronts but B/C,
//     S times as many, in more; the Nsight figures are in docs/cuda.md).
//   * Math: exp through ex2.approx.ftz of a pre-scaled A (flushes results below 2^-126 to
//     zero); softplus(x) = x above 20, a 4-term series of e^x below -3.5, else
//     log2(1 + e^x) ln 2 (MUFU ex2/lg2, branch-free); silu through __expf and __fdividef
//     (exact limits: z -> -inf gives -0); accuracy well inside the 1e-4 relative tolerance of
//     the conformance cases against float64.
#include <cuda_runtime.h>
#include <cuda_bf16.h>

#include <climits>
#include <type_traits>
#include <cstdint>

#include "kernels/core/cuda_check.cuh"

namespace ssm::detail::scan_fast {

/// Kernel parameters; the time strides of u, delta, z, out are 1 (checked by the host).
template <class Tin>
struct FastParams {
  int batch, dim, length, groups, dim_per_group;
  bool softplus;
  bool B_var, C_var;  // read by the instantiation for fixed B or C (kVarBC = false)
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
  // Time split (gridDim.y = segments): segment k covers steps [k seg_len, (k+1) seg_len) (seg_len a
  // multiple of the chunk); the state pass writes each segment's end state from h = 0 (segment 0:
  // from h0) to seg_h[(k, b, d, n)] and its sum of dt to seg_dt[(k, b, d)].
  int seg_len;
  float* seg_h;
  float* seg_dt;
  // The bidirectional merge (scan/bidirectional_scan.hpp): outputs are multiplied by out_scale,
  // then merge 0 stores them, 1 adds them onto what `out` holds (the other direction's part,
  // written by a kernel before on the same stream: read, add, store), 2 adds them atomically
  // (both directions in one launch onto a zeroed out: fl(0 + a + b) = fl(a + b) either order).
  float out_scale = 1.f;
  int merge = 0;
};

/// kPass of the kernel: one pass over the whole sequence, or the two passes of the time split.
enum Pass : int { kWhole = 0, kSegmentStates = 1, kSegmentOutputs = 2 };

/// Channels a block for dstate N and S states a thread (0: not a supported combination).
constexpr int channels_per_block(int N, int S) {
  const bool ok_n = N == 4 || N == 8 || N == 16 || N == 32;
  const bool ok_s = (S == 1 || S == 2 || S == 4) && S <= N;
  return ok_n && ok_s ? 128 / (N / S) : 0;
}

template <int N, int S>
struct Cfg {
  static_assert(channels_per_block(N, S) > 0, "dstate must be 4, 8, 16 or 32 and S 1, 2 or 4");
  static constexpr int kThreads = 128;
  static constexpr int kP = N / S;                        // lanes a channel
  static constexpr int kCh = kThreads / kP;               // channels a block
  static constexpr int kT = kCh <= 16 ? 64 : (kCh >= 128 ? 16 : 32);  // time steps a chunk (= chunk_steps)
  static constexpr int kPitch = kT + 4;                   // floats a shared row
  static constexpr int kG = kT / 4;                       // 4-step groups a row
  static constexpr int kRowGroups = kCh * kG;             // u/delta/z/out groups a chunk
  static constexpr int kBCGroups = N * kG;                // B or C groups a chunk
  static constexpr int kKU = (kRowGroups + kThreads - 1) / kThreads;
  static constexpr int kKB = (kBCGroups + kThreads - 1) / kThreads;
  static constexpr bool kUFull = kRowGroups % kThreads == 0;
  static constexpr bool kBFull = kBCGroups % kThreads == 0;
  // s_dt, s_du, s_y, s_gate, s_skip (CH rows), s_B, s_C (N rows), then the raw staging slots
  // (u, delta, z: KU x 128 groups each; B, C: KB x 128) of 16 bytes (4 floats or 4 bf16).
  static constexpr int kSmemFloats = (5 * kCh + 2 * N) * kPitch;
  static constexpr int kStageSlots = 3 * kKU * kThreads + 2 * kKB * kThreads;
  static constexpr std::size_t kSmemBytes =
      static_cast<std::size_t>(kSmemFloats) * sizeof(float) + static_cast<std::size_t>(kStageSlots) * 16;
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

/// Raw group t .. t+3 of a time-contiguous row into the shared slot `dst`: one cp.async
/// (16 bytes for float, 8 for bf16; completes at cp_async_wait) when the row allows a vector
/// access and the group is whole, else guarded loads (zeros past `length`) stored at once.
template <class Tin>
__device__ __forceinline__ void stage_raw4(typename Raw4<Tin>::type* dst, const Tin* row, int t, int length,
                                           bool vec) {
  using Raw = typename Raw4<Tin>::type;
  if (vec && t + 4 <= length) {
    const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(dst));
    if constexpr (sizeof(Raw) == 16)
      asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(row + t) : "memory");
    else
      asm volatile("cp.async.ca.shared.global [%0], [%1], 8;\n" ::"r"(s), "l"(row + t) : "memory");
  } else {
    *dst = load_raw4(row, t, length, false);
  }
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
__device__ __forceinline__ void cp_async_wait_all() { asm volatile("cp.async.wait_all;\n" ::: "memory"); }

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

/// Elements t .. t+3 of an output row as float (zeros past `length`), through the ordinary
/// (coherent) load path: the row was written by an earlier kernel on the stream.
__device__ __forceinline__ float4 load_plain4(const float* row, int t, int length, bool vec) {
  if (vec && t + 4 <= length) return *reinterpret_cast<const float4*>(row + t);
  float4 r;
  r.x = t < length ? row[t] : 0.f;
  r.y = t + 1 < length ? row[t + 1] : 0.f;
  r.z = t + 2 < length ? row[t + 2] : 0.f;
  r.w = t + 3 < length ? row[t + 3] : 0.f;
  return r;
}
__device__ __forceinline__ float4 load_plain4(const __nv_bfloat16* row, int t, int length, bool vec) {
  (void)vec;
  float e[4];
#pragma unroll
  for (int i = 0; i < 4; ++i) e[i] = t + i < length ? __bfloat162float(row[t + i]) : 0.f;
  return make_float4(e[0], e[1], e[2], e[3]);
}

/// out[t .. t+3] += v (those before `length`), atomically.
__device__ __forceinline__ void atomic_add4(float* row, int t, int length, const float4& v) {
  const float e[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
  for (int i = 0; i < 4; ++i)
    if (t + i < length) atomicAdd(row + t + i, e[i]);
}
__device__ __forceinline__ void atomic_add4(__nv_bfloat16* row, int t, int length, const float4& v) {
  const float e[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
  for (int i = 0; i < 4; ++i)
    if (t + i < length) atomicAdd(row + t + i, __float2bfloat16_rn(e[i]));
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
/// 2^x and log2(x), one MUFU instruction each (ex2 flushes results below 2^-126 to zero).
__device__ __forceinline__ float lg2_approx(float x) {
  float y;
  asm("lg2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}
/// log(1 + e^x), branch-free: x above 20; y - y^2/2 + y^3/3 - y^4/4 with y = e^x below -3.5
/// (y < 0.031: the series' relative error is under 2e-7); else log2(1 + y) ln 2 (result >= 0.03,
/// whose absolute error ~1e-7 is a relative 4e-6). 13 instructions, 2 of them MUFU.
__device__ __forceinline__ float softplus_f(float x) {
  const float y = ex2_approx(x * 1.4426950408889634f);
  const float series = y * fmaf(y, fmaf(y, fmaf(y, -0.25f, 1.f / 3.f), -0.5f), 1.f);
  const float lg = lg2_approx(1.f + y) * 0.6931471805599453f;
  const float r = x < -3.5f ? series : lg;
  return x > 20.f ? x : r;
}
/// z / (1 + e^-z); for z < -88, e^-z = inf and the quotient is -0 (the limit).
__device__ __forceinline__ float silu_f(float z) { return __fdividef(z, 1.f + __expf(-z)); }

__device__ __forceinline__ float4 ld4(const float* p) { return *reinterpret_cast<const float4*>(p); }
__device__ __forceinline__ void st4(float* p, const float4& v) { *reinterpret_cast<float4*>(p) = v; }

/// Sums (v0..v3), the partial outputs of 4 consecutive steps, over the P lanes of a channel
/// (lane `g` of P, GS lanes apart in one warp); store_reduced4 then writes the totals to
/// dst[0..3]. The first round swaps halves (each lane keeps 2 of the 4 steps), the second swaps
/// the last pair, the rest add: 4 steps cost 2 + 1 + log2(P / 4) shuffles, and the lane holding
/// step e = 2 (g & P/2 ? 1 : 0) + (g & P/4 ? 1 : 0) with g % (P / 4) == 0 stores it (P = 2: the
/// pair 2 (g & 1), +1; P = 1: all four). Split in two so that the scan can run the shuffles of
/// one step group while it computes the next (their latency hidden behind that work).
template <int P, int GS>
__device__ __forceinline__ float4 reduce4(float v0, float v1, float v2, float v3, int g) {
  constexpr unsigned kAll = 0xffffffffu;
  if constexpr (P == 1) {
    return make_float4(v0, v1, v2, v3);
  } else {
    const bool up1 = (g & (P / 2)) != 0;
    const float s0 = up1 ? v0 : v2, s1 = up1 ? v1 : v3;  // sent to the partner
    float k0 = up1 ? v2 : v0, k1 = up1 ? v3 : v1;        // kept: steps 2 up1, 2 up1 + 1
    k0 += __shfl_xor_sync(kAll, s0, (P / 2) * GS);
    k1 += __shfl_xor_sync(kAll, s1, (P / 2) * GS);
    if constexpr (P == 2) {
      return make_float4(k0, k1, 0.f, 0.f);
    } else {
      const bool up2 = (g & (P / 4)) != 0;
      float k = up2 ? k1 : k0;
      k += __shfl_xor_sync(kAll, up2 ? k0 : k1, (P / 4) * GS);
#pragma unroll
      for (int o = P / 8; o >= 1; o /= 2) k += __shfl_xor_sync(kAll, k, o * GS);
      return make_float4(k, 0.f, 0.f, 0.f);
    }
  }
}
template <int P>
__device__ __forceinline__ void store_reduced4(const float4& r, float* dst, int g) {
  if constexpr (P == 1) {
    st4(dst, r);
  } else if constexpr (P == 2) {
    *reinterpret_cast<float2*>(dst + ((g & 1) ? 2 : 0)) = make_float2(r.x, r.y);
  } else {
    if ((g & (P / 4 - 1)) == 0) dst[((g & (P / 2)) ? 2 : 0) + ((g & (P / 4)) ? 1 : 0)] = r.x;
  }
}

/// kVarBC: B and C both variable (the Mamba case, no per-step branch); otherwise p.B_var and
/// p.C_var say which of them is variable (fixed ones are (dim, N) and sit in registers).
/// kPass: kWhole scans the sequence (gridDim.y = 1). With the time split, kSegmentStates runs
/// segments 0 .. K-2 with u, delta, B only (no C, z, out) and records their end states and dt
/// sums; kSegmentOutputs runs all K segments, each starting from the state carried over the
/// earlier segments, H_k = 2^(A log2e sum dt_k) H_(k-1) + h_k, and writes the outputs.
/// kRev (kWhole only): the scan runs backward in time, g_t = 2^(dt_t A log2e) g_{t+1} + du_t B_t:
/// chunks are the same aligned tiles of original time, taken from the last to the first, and
/// each tile's steps from its last to its first; nothing is flipped in memory (the outputs go to
/// their original positions; steps past the end come first, with dt = 0, and leave h0 as it is).
template <class Tin, int N, int S, bool kVarBC, int kPass, bool kRev = false>
__device__ __forceinline__ void fast_scan_body(const FastParams<Tin>& p, const int seg, const int n_seg) {
  static_assert(!kRev || kPass == kWhole, "the reversed scan has no time split");
  constexpr bool kStates = kPass == kSegmentStates;  // no C, z, D, out
  using K = Cfg<N, S>;
  constexpr int NT = K::kThreads, P = K::kP, CH = K::kCh, T = K::kT, PITCH = K::kPitch, G = K::kG;
  constexpr int KU = K::kKU, KB = K::kKB;
  constexpr float kLog2e = 1.4426950408889634f;
  using Raw = typename Raw4<Tin>::type;

  extern __shared__ __align__(16) float smem_f[];
  float* s_dt = smem_f;
  float* s_du = s_dt + CH * PITCH;
  float* s_y = s_du + CH * PITCH;
  float* s_gate = s_y + CH * PITCH;  // silu(z) and D u silu(z): slots private to the thread
  float* s_skip = s_gate + CH * PITCH;  // that loads and stores (c, t) (no barrier needed)
  float* s_B = s_skip + CH * PITCH;
  float* s_C = s_B + N * PITCH;

  const int tid = static_cast<int>(threadIdx.x);
  const int blocks_per_batch = p.dim / CH;
  const int b = static_cast<int>(blockIdx.x) / blocks_per_batch;
  const int d0 = (static_cast<int>(blockIdx.x) - b * blocks_per_batch) * CH;
  const int grp = d0 / p.dim_per_group;  // the whole block lies in this group
  const int L = p.length;  // row length of B and C (their time stride)
  const int t_begin = kPass == kWhole ? 0 : seg * p.seg_len;
  const int t_end = kPass == kWhole ? L : min(L, t_begin + p.seg_len);  // steps of this block
  const bool bvar = kVarBC || p.B_var;
  const bool cvar = !kStates && (kVarBC || p.C_var);

  // ---- scan role: lane g of channel d0 + sc, states n = g S + s; lane g W + w of a warp
  // holds channel w of the warp's W (lane order: header) ----
  constexpr int W = 32 / P;
  const int sc = (tid >> 5) * W + (tid & 31) % W, g = (tid & 31) / W;
  const long long a_row = static_cast<long long>(d0 + sc) * N + g * S;
  const long long st_row = (static_cast<long long>(b) * p.dim + d0 + sc) * N + g * S;
  float A2[S], h[S], bfix[S], cfix[S];
#pragma unroll
  for (int s = 0; s < S; ++s) {
    A2[s] = p.A[a_row + s] * kLog2e;
    h[s] = (p.h0 && seg == 0) ? p.h0[st_row + s] : 0.f;  // later segments: from 0, or carried
    bfix[s] = bvar ? 0.f : to_f(p.B[a_row + s]);
    cfix[s] = (kStates || cvar) ? 0.f : to_f(p.C[a_row + s]);
  }
  if (kPass == kSegmentOutputs && seg > 0) {
    // The state entering this segment: segment 0's end state (from h0), carried across the
    // later segments' decays and end states (both recorded by the state pass).
    const long long per_seg = static_cast<long long>(p.batch) * p.dim;
    const long long ch = static_cast<long long>(b) * p.dim + d0 + sc;
#pragma unroll
    for (int s = 0; s < S; ++s) h[s] = p.seg_h[st_row + s];
    for (int j = 1; j < seg; ++j) {
      const float sdt = p.seg_dt[j * per_seg + ch];
#pragma unroll
      for (int s = 0; s < S; ++s)
        h[s] = fmaf(ex2_approx(sdt * A2[s]), h[s], p.seg_h[j * per_seg * N + st_row + s]);
    }
  }
  float dt_sum = 0.f;  // state pass: sum of dt over the segment

  // ---- load role: row groups i = tid + k NT (channel i / G, steps 4 (i % G) ..) ----
  // Row offsets are recomputed from the channel where used (kernel parameters live in the
  // constant bank), which keeps registers for the scan.
  float bias_k[KU], D_k[KU];
  int d_k[KU];
#pragma unroll
  for (int k = 0; k < KU; ++k) {
    const int i = tid + k * NT;
    const int c = (K::kUFull || i < K::kRowGroups) ? i / G : 0;
    const int d = d0 + c;
    bias_k[k] = p.delta_bias ? p.delta_bias[d] : 0.f;
    D_k[k] = p.D ? p.D[d] : 0.f;
    d_k[k] = d;
  }
  const long long bc_base = (static_cast<long long>(b) * p.groups + grp) * N;  // row of state 0

  // Raw staging: slot k NT + tid of each array belongs to this thread alone (it stages the
  // group and converts it), so reuse needs only this thread's cp.async.wait_all.
  Raw* st_u = reinterpret_cast<Raw*>(smem_f + K::kSmemFloats);  // 16-byte slots
  auto slot = [&](int array, int k) {  // array 0..2: u, delta, z (KU slots); 3, 4: B, C (KB)
    const int base = array < 3 ? array * KU * NT : 3 * KU * NT + (array - 3) * KB * NT;
    return reinterpret_cast<Raw*>(reinterpret_cast<char*>(st_u) + static_cast<std::size_t>(base + k * NT + tid) * 16);
  };

  auto load_chunk = [&](int c0) {
#pragma unroll
    for (int k = 0; k < KU; ++k) {
      const int i = tid + k * NT;
      if (K::kUFull || i < K::kRowGroups) {
        const int t = c0 + (i % G) * 4;
        const long long d = d_k[k];
        stage_raw4<Tin>(slot(0, k), p.u + (b * p.su_b + d * p.su_d), t, t_end, p.vec_rows);
        stage_raw4<Tin>(slot(1, k), p.delta + (b * p.sd_b + d * p.sd_d), t, t_end, p.vec_rows);
        if (!kStates && p.z) stage_raw4<Tin>(slot(2, k), p.z + (b * p.sz_b + d * p.sz_d), t, t_end, p.vec_rows);
      }
    }
#pragma unroll
    for (int k = 0; k < KB; ++k) {
      const int i = tid + k * NT;
      if (K::kBFull || i < K::kBCGroups) {
        const int n = i / G, t = c0 + (i % G) * 4;
        const long long row = (bc_base + n) * L;
        if (bvar) stage_raw4<Tin>(slot(3, k), p.B + row, t, t_end, p.vec_bc);
        if (cvar) stage_raw4<Tin>(slot(4, k), p.C + row, t, t_end, p.vec_bc);
      }
    }
    cp_async_commit();
  };

  const int n_chunks = (t_end - t_begin + T - 1) / T;
  auto chunk_start = [&](int ci) { return t_begin + (kRev ? n_chunks - 1 - ci : ci) * T; };
  load_chunk(chunk_start(0));
  for (int ci = 0; ci < n_chunks; ++ci) {
    const int c0 = chunk_start(ci);
    // 1. raw chunk -> shared dt, du, B, C, and gate, D u gate for the output.
    const bool full = c0 + T <= t_end;  // no step of the chunk past the end
    cp_async_wait_all();
#pragma unroll
    for (int k = 0; k < KU; ++k) {
      const int i = tid + k * NT;
      if (K::kUFull || i < K::kRowGroups) {
        const int c = i / G, j = (i % G) * 4, t = c0 + j;
        const float4 uu = to_f4(*slot(0, k)), dd = to_f4(*slot(1, k));
        float dt[4] = {dd.x + bias_k[k], dd.y + bias_k[k], dd.z + bias_k[k], dd.w + bias_k[k]};
        const float uv[4] = {uu.x, uu.y, uu.z, uu.w};
        float gv[4] = {1.f, 1.f, 1.f, 1.f};
        if (!kStates && p.z) {
          const float4 zz = to_f4(*slot(2, k));
          gv[0] = silu_f(zz.x); gv[1] = silu_f(zz.y); gv[2] = silu_f(zz.z); gv[3] = silu_f(zz.w);
        }
        float du[4], s[4];
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          if (p.softplus) dt[e] = softplus_f(dt[e]);
          if (!full && t + e >= t_end) dt[e] = 0.f;  // past the end: a = 1, b = 0, h unchanged
          du[e] = dt[e] * uv[e];
          s[e] = D_k[k] * uv[e] * gv[e];
        }
        st4(s_dt + c * PITCH + j, make_float4(dt[0], dt[1], dt[2], dt[3]));
        st4(s_du + c * PITCH + j, make_float4(du[0], du[1], du[2], du[3]));
        if (!kStates) {
          st4(s_gate + c * PITCH + j, make_float4(gv[0], gv[1], gv[2], gv[3]));
          st4(s_skip + c * PITCH + j, make_float4(s[0], s[1], s[2], s[3]));
        }
      }
    }
#pragma unroll
    for (int k = 0; k < KB; ++k) {
      const int i = tid + k * NT;
      if (K::kBFull || i < K::kBCGroups) {
        const int n = i / G, j = (i % G) * 4;
        const int r = (n % S) * P + n / S;  // permuted row: lanes of a channel read consecutive rows
        if (bvar) st4(s_B + r * PITCH + j, to_f4(*slot(3, k)));
        if (cvar) st4(s_C + r * PITCH + j, to_f4(*slot(4, k)));
      }
    }
    // 2. the next chunk's copies fly while this one is scanned (into the slots just read).
    if (ci + 1 < n_chunks) load_chunk(chunk_start(ci + 1));
    __syncthreads();

    // 3. sequential scan of this lane's S states over the chunk (all T steps: those past the
    //    end have dt = du = 0); every lane of the warp runs every step (full-mask shuffles).
    {
      const float* pdt = s_dt + sc * PITCH;
      const float* pdu = s_du + sc * PITCH;
      float* py = s_y + sc * PITCH;
      // The previous step group's partial sums are reduced across the channel's lanes while
      // this group computes (shuffle latency hidden), and stored after this group's shared
      // reads (a store before them would hold them back: same shared array to the compiler).
      float4 pend = make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll 2
      for (int qi = 0; qi < G; ++qi) {
        const int q = kRev ? G - 1 - qi : qi;
        const int j = q * 4;
        const float4 dt4 = ld4(pdt + j), du4 = ld4(pdu + j);
        float y0 = 0.f, y1 = 0.f, y2 = 0.f, y3 = 0.f;
        if constexpr (kStates) dt_sum += (dt4.x + dt4.y) + (dt4.z + dt4.w);
        float4 red = pend;
        if constexpr (!kStates) red = reduce4<P, W>(pend.x, pend.y, pend.z, pend.w, g);
#pragma unroll
        for (int s = 0; s < S; ++s) {
          const int r = s * P + g;
          const float4 b4 = bvar ? ld4(s_B + r * PITCH + j) : make_float4(bfix[s], bfix[s], bfix[s], bfix[s]);
          float4 c4 = make_float4(cfix[s], cfix[s], cfix[s], cfix[s]);
          if (cvar) c4 = ld4(s_C + r * PITCH + j);
          const float a0 = ex2_approx(dt4.x * A2[s]), a1 = ex2_approx(dt4.y * A2[s]),
                      a2 = ex2_approx(dt4.z * A2[s]), a3 = ex2_approx(dt4.w * A2[s]);
          float hs = h[s];
          if constexpr (kRev) {
            hs = fmaf(a3, hs, du4.w * b4.w); y3 = fmaf(c4.w, hs, y3);
            hs = fmaf(a2, hs, du4.z * b4.z); y2 = fmaf(c4.z, hs, y2);
            hs = fmaf(a1, hs, du4.y * b4.y); y1 = fmaf(c4.y, hs, y1);
            hs = fmaf(a0, hs, du4.x * b4.x); y0 = fmaf(c4.x, hs, y0);
          } else {
            hs = fmaf(a0, hs, du4.x * b4.x); y0 = fmaf(c4.x, hs, y0);
            hs = fmaf(a1, hs, du4.y * b4.y); y1 = fmaf(c4.y, hs, y1);
            hs = fmaf(a2, hs, du4.z * b4.z); y2 = fmaf(c4.z, hs, y2);
            hs = fmaf(a3, hs, du4.w * b4.w); y3 = fmaf(c4.w, hs, y3);
          }
          h[s] = hs;
        }
        if constexpr (!kStates) {
          if (qi > 0) store_reduced4<P>(red, py + (kRev ? j + 4 : j - 4), g);
          pend = make_float4(y0, y1, y2, y3);
        }
      }
      if constexpr (!kStates)
        store_reduced4<P>(reduce4<P, W>(pend.x, pend.y, pend.z, pend.w, g), py + (kRev ? 0 : (G - 1) * 4), g);
    }
    __syncthreads();

    // 4. out = y gate + D u gate (not in the state pass).
#pragma unroll
    for (int k = 0; k < (kStates ? 0 : KU); ++k) {
      const int i = tid + k * NT;
      if (K::kUFull || i < K::kRowGroups) {
        const int c = i / G, j = (i % G) * 4, t = c0 + j;
        if (t < t_end) {
          const float4 y = ld4(s_y + c * PITCH + j), gt = ld4(s_gate + c * PITCH + j),
                       sk = ld4(s_skip + c * PITCH + j);
          float4 o = make_float4(fmaf(y.x, gt.x, sk.x), fmaf(y.y, gt.y, sk.y),
                                 fmaf(y.z, gt.z, sk.z), fmaf(y.w, gt.w, sk.w));
          if (p.out_scale != 1.f) o = make_float4(o.x * p.out_scale, o.y * p.out_scale, o.z * p.out_scale, o.w * p.out_scale);
          Tin* orow = p.out + (b * p.so_b + static_cast<long long>(d_k[k]) * p.so_d);
          if (p.merge == 2) {
            atomic_add4(orow, t, t_end, o);
            continue;
          }
          if (p.merge == 1) {
            const float4 prev = load_plain4(orow, t, t_end, p.vec_rows);
            o = make_float4(prev.x + o.x, prev.y + o.y, prev.z + o.z, prev.w + o.w);
          }
          store4(p.out + (b * p.so_b + static_cast<long long>(d_k[k]) * p.so_d), t, t_end, p.vec_rows, o);
        }
      }
    }
    // No third barrier: the next chunk's step 1 writes s_dt/s_du/s_B/s_C, which step 3 of this
    // chunk finished reading before the second barrier; s_y is next written after the next
    // chunk's first barrier, which every thread reaches only after its step 4 here.
  }
  if constexpr (kStates) {
    const long long per_seg = static_cast<long long>(p.batch) * p.dim;
#pragma unroll
    for (int s = 0; s < S; ++s) p.seg_h[seg * per_seg * N + st_row + s] = h[s];
    if (g == 0) p.seg_dt[seg * per_seg + static_cast<long long>(b) * p.dim + d0 + sc] = dt_sum;
  } else if (p.last_state && seg == n_seg - 1) {
#pragma unroll
    for (int s = 0; s < S; ++s) p.last_state[st_row + s] = h[s];
  }
}

template <class Tin, int N, int S, bool kVarBC, int kPass, bool kRev = false>
__global__ void __launch_bounds__(Cfg<N, S>::kThreads, 4)  // <= 128 registers: 4 blocks an SM
fast_scan_kernel(const FastParams<Tin> p) {
  fast_scan_body<Tin, N, S, kVarBC, kPass, kRev>(p, static_cast<int>(blockIdx.y), static_cast<int>(gridDim.y));
}

/// Both directions of a bidirectional scan in one launch: blockIdx.y = 0 runs p0 forward, 1 runs
/// p1 backward (kRev); both add onto a zeroed output atomically (merge 2).
template <class Tin, int N, int S>
__global__ void __launch_bounds__(Cfg<N, S>::kThreads, 4)
bidir_fast_kernel(const FastParams<Tin> p0, const FastParams<Tin> p1) {
  if (blockIdx.y == 0) fast_scan_body<Tin, N, S, true, kWhole, false>(p0, 0, 1);
  else fast_scan_body<Tin, N, S, true, kWhole, true>(p1, 0, 1);
}

// ---- host side --------------------------------------------------------------------------------

template <class Tin, int N, int S, bool kVarBC, int kPass, bool kRev = false>
void launch_pass(const FastParams<Tin>& p, int segments, const char* where, cudaStream_t stream) {
  using K = Cfg<N, S>;
  auto kernel = fast_scan_kernel<Tin, N, S, kVarBC, kPass, kRev>;
  // The attribute belongs to the current device: set it on every call (a host-side setting,
  // microseconds), so that a later call on another GPU of the process has it too.
  if constexpr (K::kSmemBytes > 48 * 1024)
    SSM_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                        static_cast<int>(K::kSmemBytes)),
                   where);
  const long long blocks = static_cast<long long>(p.batch) * (p.dim / K::kCh);
  require(blocks <= INT_MAX, where, "batch*dim", "must give at most 2^31-1 blocks on the GPU");
  const dim3 grid(static_cast<unsigned>(blocks), static_cast<unsigned>(segments));
  kernel<<<grid, K::kThreads, K::kSmemBytes, stream>>>(p);
  SSM_CUDA_CHECK_LAUNCH(where);
}

/// One pass, or with segments > 1 the time split: the state pass over segments 0 .. K-2 into a
/// workspace (StreamScratch: stream-ordered, released after the output pass), then the outputs.
template <class Tin, int N, int S, bool kVarBC>
void launch_t(FastParams<Tin> p, int segments, const char* where, cudaStream_t stream) {
  constexpr int T = Cfg<N, S>::kT;
  const int chunks = (p.length + T - 1) / T;
  segments = segments < 1 ? 1 : (segments > chunks ? chunks : segments);
  if (segments == 1) {
    launch_pass<Tin, N, S, kVarBC, kWhole>(p, 1, where, stream);
    return;
  }
  p.seg_len = (chunks + segments - 1) / segments * T;
  segments = (p.length + p.seg_len - 1) / p.seg_len;  // no empty segment
  const std::size_t per_seg = static_cast<std::size_t>(p.batch) * p.dim;
  const std::size_t bytes = (segments - 1) * per_seg * (N + 1) * sizeof(float);
  const StreamScratch ws(bytes, stream, where);
  p.seg_h = static_cast<float*>(ws.get());
  p.seg_dt = p.seg_h + (segments - 1) * per_seg * N;
  launch_pass<Tin, N, S, kVarBC, kSegmentStates>(p, segments - 1, where, stream);
  launch_pass<Tin, N, S, kVarBC, kSegmentOutputs>(p, segments, where, stream);
}

template <class Tin, int N, int S>
void launch_s(const FastParams<Tin>& p, int segments, const char* where, cudaStream_t stream) {
  if (p.B_var && p.C_var) launch_t<Tin, N, S, true>(p, segments, where, stream);
  else launch_t<Tin, N, S, false>(p, segments, where, stream);
}

template <class Tin, int N>
void launch_n(const FastParams<Tin>& p, int S, int segments, const char* where, cudaStream_t stream) {
  switch (S) {
    case 1: launch_s<Tin, N, 1>(p, segments, where, stream); break;
    case 2: launch_s<Tin, N, 2>(p, segments, where, stream); break;
    case 4: launch_s<Tin, N, 4>(p, segments, where, stream); break;
    default: require(false, where, "states_per_thread", "must be 1, 2 or 4, got ", S);
  }
}

/// Queues the fast kernel on `stream` with S states a thread and the time split into `segments`
/// (1: none; clamped to the number of chunks). The caller checked that it applies:
/// channels_per_block(dstate, S) > 0 divides dim/groups, real A, time strides 1.
template <class Tin>
void launch(const FastParams<Tin>& p, int dstate, int S, int segments, const char* where, cudaStream_t stream) {
  switch (dstate) {
    case 4: launch_n<Tin, 4>(p, S, segments, where, stream); break;
    case 8: launch_n<Tin, 8>(p, S, segments, where, stream); break;
    case 16: launch_n<Tin, 16>(p, S, segments, where, stream); break;
    case 32: launch_n<Tin, 32>(p, S, segments, where, stream); break;
    default: require(false, where, "dstate", "must be 4, 8, 16 or 32 for the fast kernel, got ", dstate);
  }
}

/// The backward-in-time scan (kRev) in one pass, variable B and C (the bidirectional scan's
/// second direction); same preconditions as launch() with segments = 1.
template <class Tin>
void launch_reverse(const FastParams<Tin>& p, int dstate, int S, const char* where, cudaStream_t stream) {
  auto by_s = [&](auto n_const) {
    constexpr int N = decltype(n_const)::value;
    switch (S) {
      case 1: launch_pass<Tin, N, 1, true, kWhole, true>(p, 1, where, stream); break;
      case 2: launch_pass<Tin, N, 2, true, kWhole, true>(p, 1, where, stream); break;
      case 4: launch_pass<Tin, N, 4, true, kWhole, true>(p, 1, where, stream); break;
      default: require(false, where, "states_per_thread", "must be 1, 2 or 4, got ", S);
    }
  };
  switch (dstate) {
    case 4: by_s(std::integral_constant<int, 4>{}); break;
    case 8: by_s(std::integral_constant<int, 8>{}); break;
    case 16: by_s(std::integral_constant<int, 16>{}); break;
    case 32: by_s(std::integral_constant<int, 32>{}); break;
    default: require(false, where, "dstate", "must be 4, 8, 16 or 32 for the fast kernel, got ", dstate);
  }
}

/// Both directions in one launch (bidir_fast_kernel): p0 forward, p1 backward, merge 2 (the
/// caller zeroed the output). Same preconditions as launch_reverse.
template <class Tin>
void launch_bidir(const FastParams<Tin>& p0, const FastParams<Tin>& p1, int dstate, int S, const char* where,
                  cudaStream_t stream) {
  auto go = [&](auto n_const, auto s_const) {
    constexpr int N = decltype(n_const)::value, SS = decltype(s_const)::value;
    using K = Cfg<N, SS>;
    auto kernel = bidir_fast_kernel<Tin, N, SS>;
    if constexpr (K::kSmemBytes > 48 * 1024)
      SSM_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                          static_cast<int>(K::kSmemBytes)),
                     where);
    const long long blocks = static_cast<long long>(p0.batch) * (p0.dim / K::kCh);
    require(blocks <= INT_MAX, where, "batch*dim", "must give at most 2^31-1 blocks on the GPU");
    kernel<<<dim3(static_cast<unsigned>(blocks), 2), K::kThreads, K::kSmemBytes, stream>>>(p0, p1);
    SSM_CUDA_CHECK_LAUNCH(where);
  };
  auto by_s = [&](auto n_const) {
    switch (S) {
      case 1: go(n_const, std::integral_constant<int, 1>{}); break;
      case 2: go(n_const, std::integral_constant<int, 2>{}); break;
      case 4: go(n_const, std::integral_constant<int, 4>{}); break;
      default: require(false, where, "states_per_thread", "must be 1, 2 or 4, got ", S);
    }
  };
  switch (dstate) {
    case 4: by_s(std::integral_constant<int, 4>{}); break;
    case 8: by_s(std::integral_constant<int, 8>{}); break;
    case 16: by_s(std::integral_constant<int, 16>{}); break;
    case 32: by_s(std::integral_constant<int, 32>{}); break;
    default: require(false, where, "dstate", "must be 4, 8, 16 or 32 for the fast kernel, got ", dstate);
  }
}

// Instantiated once for each storage type, in selective_scan_fast_f32.cu and
// selective_scan_fast_bf16.cu (separate translation units: they compile in parallel).
extern template void launch<float>(const FastParams<float>&, int, int, int, const char*, cudaStream_t);
extern template void launch<__nv_bfloat16>(const FastParams<__nv_bfloat16>&, int, int, int, const char*, cudaStream_t);
extern template void launch_reverse<float>(const FastParams<float>&, int, int, const char*, cudaStream_t);
extern template void launch_reverse<__nv_bfloat16>(const FastParams<__nv_bfloat16>&, int, int, const char*, cudaStream_t);
extern template void launch_bidir<float>(const FastParams<float>&, const FastParams<float>&, int, int, const char*, cudaStream_t);
extern template void launch_bidir<__nv_bfloat16>(const FastParams<__nv_bfloat16>&, const FastParams<__nv_bfloat16>&, int, int, const char*, cudaStream_t);

/// Time steps a chunk of the fast kernel (0: unsupported dstate / S).
constexpr int chunk_steps(int N, int S) {
  const int ch = channels_per_block(N, S);
  return ch == 0 ? 0 : (ch <= 16 ? 64 : (ch >= 128 ? 16 : 32));
}

}  // namespace ssm::detail::scan_fast
