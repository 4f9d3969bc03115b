#pragma once
// The fused cross-scan kernel of kernels/scan/cross_scan.cu (the file comment there describes
// it), in a header of its own so that tests/scan/test_cross_scan_emu.cpp can compile the very
// same code for the host under a small SIMT emulation (threads, barriers, warp shuffles).
// Needs, before inclusion: the CUDA built-ins, float4, and scan_fast::{ex2_approx, softplus_f,
// ld4, reduce4, store_reduced4} (kernels/scan/selective_scan_fast.cuh on the device).

namespace ssm::detail::cross {

using scan_fast::ex2_approx;
using scan_fast::softplus_f;

__device__ __forceinline__ double to_v(double v) { return v; }
__device__ __forceinline__ float to_v(float v) { return v; }
#ifdef __CUDACC__
__device__ __forceinline__ float to_v(__nv_bfloat16 v) { return __bfloat162float(v); }
#endif

template <class Tin>
struct Params {
  int batch, dim, N, H, W, L;
  bool softplus;
  const Tin* u;
  const Tin* delta;
  const Tin* B;
  const Tin* C;
  const float* A;
  const float* D;
  const float* delta_bias;
  const float* h0;
  float* out;
  float* last_state;
  long long su_b, su_d, su_l, sd_b, sd_d, sd_l, so_b, so_d, so_l;
  long long sB_b, sB_g, sB_n, sB_l, sC_b, sC_g, sC_n, sC_l;
};

__device__ __forceinline__ int position(int k, int l, int H, int W, int L) {
  const int s = k >= 2 ? L - 1 - l : l;
  return (k & 1) ? (s % H) * W + s / H : s;
}

template <int P, int S>
struct Cfg {
  static constexpr int kThreads = 128;
  static constexpr int kNP = P * S;          // padded dstate
  static constexpr int kCh = kThreads / P;   // channels a block
  static constexpr int kW = 32 / P;          // channels a warp
  static constexpr int kT = 32;              // steps a chunk
  static constexpr int kG = kT / 4;          // 4-step groups a chunk
  static constexpr int kPitch = kT + 4;      // shared row pitch (16-byte rows for float4)
  static constexpr int kKU = kCh * kT / kThreads;   // (channel, step) elements a thread
  static constexpr int kKB = kNP * kT / kThreads;   // (state, step) elements of B (and C) a thread
};

template <class Tin, int P, int S>
__global__ void __launch_bounds__(128) cross_scan_kernel(const Params<Tin> p) {
  using K = Cfg<P, S>;
  constexpr int CH = K::kCh, T = K::kT, PITCH = K::kPitch, NP = K::kNP, KU = K::kKU, KB = K::kKB,
                NT = K::kThreads, W = K::kW, G = K::kG;
  constexpr float kLog2e = 1.4426950408889634f;
  __shared__ __align__(16) float s_dt[CH * PITCH];
  __shared__ __align__(16) float s_du[CH * PITCH];
  __shared__ __align__(16) float s_y[CH * PITCH];
  __shared__ __align__(16) float s_B[NP * PITCH];
  __shared__ __align__(16) float s_C[NP * PITCH];
  // Positions pos_k(l) of the chunk's steps (-1 past L), computed once a chunk by T threads
  // (one integer division each for the column-major directions) instead of by every element.
  // Three buffers by chunk number: the next chunk's table is written while slow threads may
  // still read the previous chunk's in their merge.
  __shared__ int s_pos[3][T];

  const int tid = static_cast<int>(threadIdx.x);
  const int tiles = (p.dim + CH - 1) / CH;
  const int b = static_cast<int>(blockIdx.x) / tiles;
  const int c0 = (static_cast<int>(blockIdx.x) - b * tiles) * CH;
  const int dim = p.dim, N = p.N, L = p.L;

  // Scan role (the fast kernel's lane order): lane g W + w of a warp runs state slice g of the
  // warp's channel w, states n = g S + s; B/C rows are stored permuted (state n = g S + s in
  // row s P + g) so that the P lanes of a channel read P consecutive rows.
  const int sc = (tid >> 5) * W + (tid & 31) % W, g = (tid & 31) / W;
  const int cs = c0 + sc;
  const bool cs_ok = cs < dim;

  // Load / merge role: element e -> (channel ce, step te) of the chunk; B/C element e -> (state, step).
  // Channels fastest and states fastest (the unit strides of the channels-last layout): CH and
  // NP divide 128, so an element's channel (state) is the same for every e and its step is
  // affine in e. Other layouts are read correctly, with less coalescing.
  auto ce = [&](int) { return tid % CH; };
  auto te = [&](int e) { return tid / CH + e * (NT / CH); };
  auto nb_ = [&](int) { return tid % NP; };
  auto tb_ = [&](int e) { return tid / NP + e * (NT / NP); };
  float Dsum[KU], u_keep[KU];
#pragma unroll
  for (int e = 0; e < KU; ++e) {
    const int c = c0 + ce(e);
    float d = 0.f;
    if (c < dim && p.D)
      for (int k = 0; k < 4; ++k) d += p.D[k * dim + c];
    Dsum[e] = d;
  }
  const long long ub = static_cast<long long>(b) * p.su_b;
  const long long db = static_cast<long long>(b) * p.sd_b;
  const long long ob = static_cast<long long>(b) * p.so_b;

  // Raw values of the next chunk, fetched into registers while the current chunk is scanned.
  float ru[KU], rd[KU], rb[KB], rc[KB];
  auto fetch = [&](int k, const int* pos_t) {
    const long long Bb = static_cast<long long>(b) * p.sB_b + k * p.sB_g;
    const long long Cb = static_cast<long long>(b) * p.sC_b + k * p.sC_g;
#pragma unroll
    for (int e = 0; e < KU; ++e) {
      const int c = c0 + ce(e);
      const long long pos = pos_t[te(e)];
      ru[e] = 0.f;
      rd[e] = 0.f;
      if (pos >= 0 && c < dim) {
        ru[e] = to_v(p.u[ub + c * p.su_d + pos * p.su_l]);
        rd[e] = to_v(p.delta[db + (static_cast<long long>(k) * dim + c) * p.sd_d + pos * p.sd_l]);
      }
    }
#pragma unroll
    for (int e = 0; e < KB; ++e) {
      const int n = nb_(e);
      const long long pos = pos_t[tb_(e)];
      rb[e] = 0.f;
      rc[e] = 0.f;
      if (n < N && pos >= 0) {
        rb[e] = to_v(p.B[Bb + n * p.sB_n + pos * p.sB_l]);
        rc[e] = to_v(p.C[Cb + n * p.sC_n + pos * p.sC_l]);
      }
    }
  };

  auto fill_pos = [&](int* dst, int k, int l0) {
    if (tid < T) dst[tid] = l0 + tid < L ? position(k, l0 + tid, p.H, p.W, L) : -1;
  };
  int chunk = 0;  // chunks done over all directions: selects the s_pos buffer

  for (int k = 0; k < 4; ++k) {
    float A2[S], h[S];
    const long long jrow = static_cast<long long>(k) * dim + cs;
    const long long hrow = (static_cast<long long>(b) * 4 * dim + jrow) * N;
#pragma unroll
    for (int s = 0; s < S; ++s) {
      const int n = g * S + s;
      const bool ok = cs_ok && n < N;
      A2[s] = ok ? p.A[jrow * N + n] * kLog2e : 0.f;
      h[s] = (ok && p.h0) ? p.h0[hrow + n] : 0.f;
    }
    float bias[KU];
#pragma unroll
    for (int e = 0; e < KU; ++e) {
      const int c = c0 + ce(e);
      bias[e] = (c < dim && p.delta_bias) ? p.delta_bias[k * dim + c] : 0.f;
    }
    fill_pos(s_pos[chunk % 3], k, 0);
    __syncthreads();
    fetch(k, s_pos[chunk % 3]);

    for (int l0 = 0; l0 < L; l0 += T, ++chunk) {
      const int* pos_cur = s_pos[chunk % 3];
      int* pos_next = s_pos[(chunk + 1) % 3];
      if (l0 + T < L) fill_pos(pos_next, k, l0 + T);
      // 1. the fetched chunk -> shared dt = softplus(delta + bias), du = dt u (0 past L), B, C
#pragma unroll
      for (int e = 0; e < KU; ++e) {
        float d = rd[e] + bias[e];
        if (p.softplus) d = softplus_f(d);
        if (l0 + te(e) >= L || c0 + ce(e) >= dim) d = 0.f;
        u_keep[e] = ru[e];
        s_dt[ce(e) * PITCH + te(e)] = d;
        s_du[ce(e) * PITCH + te(e)] = d * ru[e];
      }
#pragma unroll
      for (int e = 0; e < KB; ++e) {
        const int n = nb_(e), r = (n % S) * P + n / S;
        s_B[r * PITCH + tb_(e)] = rb[e];
        s_C[r * PITCH + tb_(e)] = rc[e];
      }
      __syncthreads();
      // 2. the next chunk's loads fly while this one is scanned
      if (l0 + T < L) fetch(k, pos_next);
      // ... and so do the reads of the partial sums this chunk adds to (directions 1..3; the
      // earlier directions' writes are ordered before the barrier above)
      float ro[KU];
#pragma unroll
      for (int e = 0; e < KU; ++e) {
        const int c = c0 + ce(e);
        const long long pos = pos_cur[te(e)];
        ro[e] = (k > 0 && pos >= 0 && c < dim) ? p.out[ob + c * p.so_d + pos * p.so_l] : 0.f;
      }

      // 3. scan, 4 steps at a time from float4 shared reads; the partial sums of a step group are
      //    reduced over the channel's P lanes while the next group computes (selective_scan_fast.cuh)
      {
        const float* pdt = s_dt + sc * PITCH;
        const float* pdu = s_du + sc * PITCH;
        float* py = s_y + sc * PITCH;
        float4 pend = make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll 2
        for (int q = 0; q < G; ++q) {
          const int j = q * 4;
          const float4 dt4 = scan_fast::ld4(pdt + j), du4 = scan_fast::ld4(pdu + j);
          float y0 = 0.f, y1 = 0.f, y2 = 0.f, y3 = 0.f;
          const float4 red = scan_fast::reduce4<P, W>(pend.x, pend.y, pend.z, pend.w, g);
#pragma unroll
          for (int s = 0; s < S; ++s) {
            const int r = s * P + g;
            const float4 b4 = scan_fast::ld4(s_B + r * PITCH + j), c4 = scan_fast::ld4(s_C + r * PITCH + j);
            const float a0 = ex2_approx(dt4.x * A2[s]), a1 = ex2_approx(dt4.y * A2[s]),
                        a2 = ex2_approx(dt4.z * A2[s]), a3 = ex2_approx(dt4.w * A2[s]);
            float hs = h[s];
            hs = fmaf(a0, hs, du4.x * b4.x); y0 = fmaf(c4.x, hs, y0);
            hs = fmaf(a1, hs, du4.y * b4.y); y1 = fmaf(c4.y, hs, y1);
            hs = fmaf(a2, hs, du4.z * b4.z); y2 = fmaf(c4.z, hs, y2);
            hs = fmaf(a3, hs, du4.w * b4.w); y3 = fmaf(c4.w, hs, y3);
            h[s] = hs;
          }
          if (q > 0) scan_fast::store_reduced4<P>(red, py + j - 4, g);
          pend = make_float4(y0, y1, y2, y3);
        }
        scan_fast::store_reduced4<P>(scan_fast::reduce4<P, W>(pend.x, pend.y, pend.z, pend.w, g), py + (G - 1) * 4, g);
      }
      __syncthreads();

      // 4. merge into out (no third barrier: step 1 of the next chunk writes s_dt, s_du, s_B, s_C,
      //    which the scan finished reading before the barrier above; s_y is next written after the
      //    next chunk's first barrier, which every thread reaches after this step)
#pragma unroll
      for (int e = 0; e < KU; ++e) {
        const int t = te(e), c = c0 + ce(e);
        const long long pos = pos_cur[t];
        if (pos >= 0 && c < dim) {
          float* o = p.out + ob + c * p.so_d + pos * p.so_l;
          const float y = s_y[ce(e) * PITCH + t];
          *o = k == 0 ? y + Dsum[e] * u_keep[e] : ro[e] + y;
        }
      }
    }
    if (p.last_state) {
#pragma unroll
      for (int s = 0; s < S; ++s) {
        const int n = g * S + s;
        if (cs_ok && n < N) p.last_state[hrow + n] = h[s];
      }
    }
  }
}

}  // namespace ssm::detail::cross
