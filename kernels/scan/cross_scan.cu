// CUDA backend of ssm::cross_selective_scan (include/ssm/scan/cross_scan.hpp).
//
// Fused kernel: one block of 128 threads owns (batch b, a tile of CH channels) and runs the four
// directions in turn over ONE copy of u, delta, B, C (read through the index map pos_k(l)), so
// the merged output is summed in the fixed order 0, 1, 2, 3 by the block that owns it:
// deterministic, no atomics, one launch. Per direction and chunk of T = 32 steps:
//   1. load: each thread takes CH T / 128 (channel, step) elements: u, delta (+ bias,
//      softplus), dt u into shared tiles; the B_k, C_k columns of the chunk's positions into
//      shared [n][t] tiles. The raw values were fetched into registers while the previous chunk
//      was scanned, so the global latency hides behind the scan. The element order follows the unit stride (channels fastest for
//      channels-last u / delta, states fastest for B / C inside x_proj rows), so the loads of
//      a warp are contiguous for every direction alike: the column-major directions cost the
//      same as the row-major ones.
//   2. scan: channel c's NP = P S states (dstate padded to a power of two; padding states
//      have A = B = C = 0) are split over P lanes, S states each in registers; 4 steps at a time
//      from float4 shared reads, h = 2^(dt A log2e) h + du B_t[n], y = sum_n C_t[n] h, the
//      partial sums reduced over the P lanes by the fast selective scan's transpose-reduce
//      (reduce4 / store_reduced4 and its lane order, selective_scan_fast.cuh) into a shared y tile.
//   3. merge: the thread that loaded (c, t) adds y into out at pos_k(l) (direction 0 writes
//      y + (sum_k D_k) u from the u it kept in registers). A later direction reads what an
//      earlier one wrote at the same position (the block's barriers order these global
//      accesses); that read is issued before the chunk's scan, so its latency hides too.
// Math (ex2.approx, softplus) is the fast selective scan's (selective_scan_fast.cuh).
//
// Unfused recipe (baseline and second path): gather kernels write the four direction-ordered
// copies (batch, 4, C, L) of u, delta, B, C; ssm's CUDA selective scan with groups = 4; a merge
// kernel sums the four outputs back at their positions in the order 0..3.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <climits>
#include <cstdint>

#include "scan/cross_scan_cuda.hpp"
#include "scan/cross_scan_ext.hpp"
#include "scan/scan_cuda.hpp"
#include "scan/selective_scan_ext.hpp"
#include "scan/selective_scan_fast.cuh"
#include "ssm/core/device_buffer.hpp"

namespace ssm::detail {
namespace cross {

using scan_fast::ex2_approx;
using scan_fast::softplus_f;
using scan_fast::to_f;

__device__ __forceinline__ double to_v(double v) { return v; }
__device__ __forceinline__ float to_v(float v) { return v; }
__device__ __forceinline__ float to_v(__nv_bfloat16 v) { return __bfloat162float(v); }

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

template <class Tin>
Params<Tin> make_params(const CrossScanArgs<float>& a, const Tin* u, const Tin* delta, const Tin* B,
                        const Tin* C, float* out) {
  Params<Tin> p{};
  const int L = a.length();
  p.batch = a.batch; p.dim = a.dim; p.N = a.dstate; p.H = a.height; p.W = a.width; p.L = L;
  p.softplus = a.delta_softplus;
  p.u = u; p.delta = delta; p.B = B; p.C = C; p.out = out;
  p.A = a.A; p.D = a.D; p.delta_bias = a.delta_bias; p.h0 = a.h0; p.last_state = a.last_state;
  const Strides3 su = a.u_strides.resolved(a.dim, L), so = a.out_strides.resolved(a.dim, L),
                 sd = a.delta_strides.resolved(4LL * a.dim, L);
  const Strides4 sB = a.B_strides.resolved(4, a.dstate, L), sC = a.C_strides.resolved(4, a.dstate, L);
  p.su_b = su.b; p.su_d = su.d; p.su_l = su.l;
  p.sd_b = sd.b; p.sd_d = sd.d; p.sd_l = sd.l;
  p.so_b = so.b; p.so_d = so.d; p.so_l = so.l;
  p.sB_b = sB.b; p.sB_g = sB.g; p.sB_n = sB.n; p.sB_l = sB.l;
  p.sC_b = sC.b; p.sC_g = sC.g; p.sC_n = sC.n; p.sC_l = sC.l;
  return p;
}

/// Whether the fused kernel takes this dstate (padded to a power of two <= 64).
bool fused_applies(int dstate) { return dstate >= 1 && dstate <= 64; }

template <class Tin, int P, int S>
void launch_ps(const Params<Tin>& p, const char* where) {
  constexpr int CH = Cfg<P, S>::kCh;
  const long long blocks = static_cast<long long>(p.batch) * ((p.dim + CH - 1) / CH);
  require(blocks <= INT_MAX, where, "batch*dim", "must give at most 2^31-1 blocks on the GPU");
  cross_scan_kernel<Tin, P, S><<<static_cast<unsigned>(blocks), Cfg<P, S>::kThreads>>>(p);
  SSM_CUDA_CHECK_LAUNCH(where);
}

template <class Tin>
void launch_fused(const Params<Tin>& p, const char* where) {
  // (P lanes a channel, S states a lane): P S >= dstate; P grows with dstate so that S stays <= 4.
  if (p.N <= 4) launch_ps<Tin, 4, 1>(p, where);
  else if (p.N <= 8) launch_ps<Tin, 4, 2>(p, where);
  else if (p.N <= 16) launch_ps<Tin, 8, 2>(p, where);
  else if (p.N <= 32) launch_ps<Tin, 8, 4>(p, where);
  else launch_ps<Tin, 16, 4>(p, where);
}

// ---- unfused recipe -------------------------------------------------------------------------

/// dst (batch, 4, C, L) contiguous = src[b sb + k sk + c sc + pos_k(l) sl].
template <class Tin>
__global__ void gather_kernel(const Tin* src, long long sb, long long sk, long long sc, long long sl, Tin* dst,
                              int batch, int C, int H, int W) {
  const int L = H * W;
  const long long total = static_cast<long long>(batch) * 4 * C * L;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    const int l = static_cast<int>(i % L);
    const long long r = i / L;
    const int c = static_cast<int>(r % C);
    const int k = static_cast<int>((r / C) % 4);
    const long long b = r / (4LL * C);
    dst[i] = src[b * sb + k * sk + c * sc + static_cast<long long>(position(k, l, H, W, L)) * sl];
  }
}

/// out[b, c, p] = sum_{k = 0..3} ys[b, k dim + c, l_k(p)] (l_k: the step of direction k at p).
template <class Tin, class Tout>
__global__ void merge_kernel(const Tin* ys, Tout* out, long long so_b, long long so_d, long long so_l, int batch,
                             int dim, int H, int W) {
  const int L = H * W;
  const long long total = static_cast<long long>(batch) * dim * L;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    const int pos = static_cast<int>(i % L);
    const long long r = i / L;
    const int c = static_cast<int>(r % dim);
    const long long b = r / dim;
    const int h = pos / W, w = pos % W;
    const int lt = w * H + h;  // column-major step of pos
    const int ls[4] = {pos, lt, L - 1 - pos, L - 1 - lt};
    Tout acc = 0;
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const Tout v = static_cast<Tout>(to_v(ys[((b * 4 + k) * dim + c) * L + ls[k]]));
      acc = k == 0 ? v : acc + v;
    }
    out[b * so_b + c * so_d + pos * so_l] = acc;
  }
}

unsigned grid_for(long long n) {
  const long long blocks = (n + 255) / 256;
  return static_cast<unsigned>(blocks < 65535 * 16 ? (blocks < 1 ? 1 : blocks) : 65535 * 16);
}

template <class Tin>
struct UnfusedBufs {
  Tin *us, *ds, *Bs, *Cs, *ys;
};

template <class Tin>
UnfusedBufs<Tin> carve(const CrossScanArgs<float>& a, void* ws) {
  const std::size_t L = static_cast<std::size_t>(a.length());
  const std::size_t nu = static_cast<std::size_t>(a.batch) * 4 * a.dim * L;
  const std::size_t nb = static_cast<std::size_t>(a.batch) * 4 * a.dstate * L;
  Tin* base = static_cast<Tin*>(ws);
  return {base, base + nu, base + 2 * nu, base + 2 * nu + nb, base + 2 * nu + 2 * nb};
}

/// Gathers the four direction-ordered copies of u, delta, B, C (shape fields and strides of `a`).
template <class Tin, class Args>
void gather_all(const Args& a, const Tin* u, const Tin* delta, const Tin* B, const Tin* C, Tin* us, Tin* ds,
                Tin* Bs, Tin* Cs, const char* where) {
  const int L = a.length();
  const Strides3 su = a.u_strides.resolved(a.dim, L), sd = a.delta_strides.resolved(4LL * a.dim, L);
  const Strides4 sB = a.B_strides.resolved(4, a.dstate, L), sC = a.C_strides.resolved(4, a.dstate, L);
  const long long nu = static_cast<long long>(a.batch) * 4 * a.dim * L;
  const long long nb = static_cast<long long>(a.batch) * 4 * a.dstate * L;
  gather_kernel<Tin><<<grid_for(nu), 256>>>(u, su.b, 0, su.d, su.l, us, a.batch, a.dim, a.height, a.width);
  gather_kernel<Tin><<<grid_for(nu), 256>>>(delta, sd.b, a.dim * sd.d, sd.d, sd.l, ds, a.batch, a.dim, a.height,
                                            a.width);
  gather_kernel<Tin><<<grid_for(nb), 256>>>(B, sB.b, sB.g, sB.n, sB.l, Bs, a.batch, a.dstate, a.height, a.width);
  gather_kernel<Tin><<<grid_for(nb), 256>>>(C, sC.b, sC.g, sC.n, sC.l, Cs, a.batch, a.dstate, a.height, a.width);
  SSM_CUDA_CHECK_LAUNCH(where);
}

template <class T, class Tin>
SelectiveScanArgs<T> scan_args(const CrossScanArgs<T>& a, const UnfusedBufs<Tin>& w) {
  SelectiveScanArgs<T> s;
  s.batch = a.batch;
  s.dim = 4 * a.dim;
  s.dstate = a.dstate;
  s.length = a.length();
  s.groups = 4;
  s.delta_softplus = a.delta_softplus;
  s.u = reinterpret_cast<const T*>(w.us);
  s.delta = reinterpret_cast<const T*>(w.ds);
  s.A = a.A;
  s.B = reinterpret_cast<const T*>(w.Bs);
  s.C = reinterpret_cast<const T*>(w.Cs);
  s.D = a.D;
  s.delta_bias = a.delta_bias;
  s.h0 = a.h0;
  s.out = reinterpret_cast<T*>(w.ys);
  s.last_state = a.last_state;
  return s;
}

template <class Tin, class Tout, class Args>
void merge_all(const Args& a, const Tin* ys, Tout* out, const char* where) {
  const int L = a.length();
  const Strides3 so = a.out_strides.resolved(a.dim, L);
  merge_kernel<Tin, Tout><<<grid_for(static_cast<long long>(a.batch) * a.dim * L), 256>>>(
      ys, out, so.b, so.d, so.l, a.batch, a.dim, a.height, a.width);
  SSM_CUDA_CHECK_LAUNCH(where);
}

}  // namespace cross

// ---- entry points -----------------------------------------------------------------------------

void cross_selective_scan_cuda_async(const CrossScanArgs<float>& a) {
  const char* where = "cross_selective_scan_cuda";
  if (!cross::fused_applies(a.dstate)) {
    require(false, where, "dstate", "must be <= 64 for the fused CUDA kernel, got ", a.dstate);
  }
  cross::launch_fused(cross::make_params<float>(a, a.u, a.delta, a.B, a.C, a.out), where);
}

void cross_selective_scan_cuda(const CrossScanArgs<float>& a) {
  if (!cross::fused_applies(a.dstate)) {  // very large dstate: the recipe (the legacy scan takes any)
    cross_selective_scan_unfused_cuda(a);
    return;
  }
  cross_selective_scan_cuda_async(a);
  SSM_CUDA_CHECK(cudaDeviceSynchronize(), "cross_selective_scan_cuda");
}

void cross_selective_scan_cuda_bf16(const CrossScanArgs<float>& args, const CrossScanBf16& io, bool synchronize) {
  const char* where = "cross_selective_scan_cuda_bf16";
  require(io.u && io.delta && io.B && io.C && io.out, where, "io", "must give device pointers u, delta, B, C and out");
  CrossScanArgs<float> shape = args;
  shape.u = reinterpret_cast<const float*>(io.u);
  shape.delta = reinterpret_cast<const float*>(io.delta);
  shape.B = reinterpret_cast<const float*>(io.B);
  shape.C = reinterpret_cast<const float*>(io.C);
  shape.out = io.out;
  shape.validate();
  require(cross::fused_applies(args.dstate), where, "dstate", "must be <= 64, got ", args.dstate);
  cross::launch_fused(cross::make_params<__nv_bfloat16>(
                          args, reinterpret_cast<const __nv_bfloat16*>(io.u),
                          reinterpret_cast<const __nv_bfloat16*>(io.delta),
                          reinterpret_cast<const __nv_bfloat16*>(io.B),
                          reinterpret_cast<const __nv_bfloat16*>(io.C), io.out),
                      where);
  if (synchronize) SSM_CUDA_CHECK(cudaDeviceSynchronize(), where);
}

std::size_t cross_scan_unfused_workspace_bytes(const CrossScanArgs<float>& a, std::size_t elem_bytes) {
  const std::size_t L = static_cast<std::size_t>(a.length());
  const std::size_t nu = static_cast<std::size_t>(a.batch) * 4 * a.dim * L;
  const std::size_t nb = static_cast<std::size_t>(a.batch) * 4 * a.dstate * L;
  return (3 * nu + 2 * nb) * elem_bytes;
}

void cross_selective_scan_unfused_cuda_ws(const CrossScanArgs<float>& a, void* ws) {
  const char* where = "cross_selective_scan_unfused_cuda";
  const auto w = cross::carve<float>(a, ws);
  cross::gather_all<float>(a, a.u, a.delta, a.B, a.C, w.us, w.ds, w.Bs, w.Cs, where);
  const SelectiveScanArgs<float> s = cross::scan_args<float>(a, w);
  s.validate();
  selective_scan_cuda_async(s);
  cross::merge_all<float, float>(a, w.ys, a.out, where);
}

void cross_selective_scan_unfused_cuda_bf16_ws(const CrossScanArgs<float>& a, const CrossScanBf16& io, void* ws) {
  const char* where = "cross_selective_scan_unfused_cuda_bf16";
  const auto w = cross::carve<__nv_bfloat16>(a, ws);
  cross::gather_all<__nv_bfloat16>(a, reinterpret_cast<const __nv_bfloat16*>(io.u),
                                   reinterpret_cast<const __nv_bfloat16*>(io.delta),
                                   reinterpret_cast<const __nv_bfloat16*>(io.B),
                                   reinterpret_cast<const __nv_bfloat16*>(io.C), w.us, w.ds, w.Bs, w.Cs, where);
  const SelectiveScanArgs<float> s = cross::scan_args<float>(a, w);  // pointers: shape only
  SelectiveScanBf16 sio;
  sio.u = reinterpret_cast<const std::uint16_t*>(w.us);
  sio.delta = reinterpret_cast<const std::uint16_t*>(w.ds);
  sio.B = reinterpret_cast<const std::uint16_t*>(w.Bs);
  sio.C = reinterpret_cast<const std::uint16_t*>(w.Cs);
  sio.out = reinterpret_cast<std::uint16_t*>(w.ys);
  selective_scan_cuda_bf16(s, sio, /*synchronize=*/false);
  cross::merge_all<__nv_bfloat16, float>(a, w.ys, io.out, where);
}

void cross_selective_scan_unfused_cuda(const CrossScanArgs<float>& a) {
  DeviceMemory ws(cross_scan_unfused_workspace_bytes(a, sizeof(float)));
  cross_selective_scan_unfused_cuda_ws(a, ws.get());
  SSM_CUDA_CHECK(cudaDeviceSynchronize(), "cross_selective_scan_unfused_cuda");
}

void cross_selective_scan_unfused_cuda(const CrossScanArgs<double>& a) {
  const char* where = "cross_selective_scan_unfused_cuda";
  const std::size_t L = static_cast<std::size_t>(a.length());
  const std::size_t nu = static_cast<std::size_t>(a.batch) * 4 * a.dim * L;
  const std::size_t nb = static_cast<std::size_t>(a.batch) * 4 * a.dstate * L;
  DeviceMemory ws((3 * nu + 2 * nb) * sizeof(double));
  double* base = static_cast<double*>(ws.get());
  cross::UnfusedBufs<double> w{base, base + nu, base + 2 * nu, base + 2 * nu + nb, base + 2 * nu + 2 * nb};
  cross::gather_all<double>(a, a.u, a.delta, a.B, a.C, w.us, w.ds, w.Bs, w.Cs, where);
  const SelectiveScanArgs<double> s = cross::scan_args<double>(a, w);
  s.validate();
  selective_scan_cuda(s);  // synchronizes
  cross::merge_all<double, double>(a, w.ys, a.out, where);
  SSM_CUDA_CHECK(cudaDeviceSynchronize(), where);
}

}  // namespace ssm::detail
