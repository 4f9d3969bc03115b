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

#include "backend/cross_scan_cuda.hpp"
#include "backend/cross_scan_ext.hpp"
#include "backend/scan_cuda.hpp"
#include "backend/selective_scan_ext.hpp"
#include "kernels/scan/selective_scan_fast.cuh"
#include "kernels/scan/cross_scan_kernel.cuh"
#include "ssm/core/device_buffer.hpp"

namespace ssm::detail {
namespace cross {

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
