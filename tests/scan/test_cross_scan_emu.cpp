// The fused CUDA cross-scan kernel (kernels/scan/cross_scan_kernel.cuh, the very code the GPU
// runs) executed on the host under a small SIMT emulation, so that its index maps, shared-memory
// tiles, barriers and warp reductions are checked on machines without a GPU: every CUDA thread
// of a block is a std::thread; __syncthreads is a barrier of the block's 128 threads;
// __shfl_xor_sync exchanges through a per-warp buffer between two warp barriers; __shared__
// arrays are function-local statics (one block runs at a time). ex2.approx becomes exp2f and
// the fast softplus log1p(exp); the transpose-reduce helpers are host copies of those in
// kernels/scan/selective_scan_fast.cuh (same lane arithmetic). Checked against the CPU op on
// shapes covering every (P, S) configuration (dstate 3, 8, 16, 32, 64), padding channels
// (dim not a multiple of the block's channels), L not a multiple of the 32-step chunk, H = 1,
// W = 1, h0 / last_state, and both the channels-last and the contiguous layouts.
#define BOOST_TEST_MODULE scan_cross_scan_emu
#include <boost/test/unit_test.hpp>

#include <barrier>
#include <cmath>
#include <memory>
#include <thread>
#include <vector>

#include "scan/cross_scan_problem.hpp"
#include "ssm/scan/cross_scan.hpp"

// ---- the SIMT emulation ---------------------------------------------------------------------
namespace emu {
struct Dim3 {
  unsigned x = 0, y = 0, z = 0;
};
thread_local Dim3 threadIdx, blockIdx;
std::barrier<>* block_barrier = nullptr;
std::barrier<>* warp_barrier[4] = {};
float warp_buf[4][32];
}  // namespace emu
using emu::blockIdx;
using emu::threadIdx;

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))

struct float4 {
  float x, y, z, w;
};
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline void __syncthreads() { emu::block_barrier->arrive_and_wait(); }
inline float __shfl_xor_sync(unsigned, float v, int off) {
  const unsigned t = threadIdx.x, w = t / 32, lane = t % 32;
  emu::warp_buf[w][lane] = v;
  emu::warp_barrier[w]->arrive_and_wait();
  const float r = emu::warp_buf[w][lane ^ static_cast<unsigned>(off)];
  emu::warp_barrier[w]->arrive_and_wait();
  return r;
}

namespace ssm::detail::scan_fast {
inline float ex2_approx(float x) { return std::exp2(x); }
inline float softplus_f(float x) { return x > 20.f ? x : std::log1p(std::exp(x)); }
inline float4 ld4(const float* p) { return {p[0], p[1], p[2], p[3]}; }
inline void st4(float* p, const float4& v) { p[0] = v.x; p[1] = v.y; p[2] = v.z; p[3] = v.w; }
// Host copies of selective_scan_fast.cuh's reduce4 / store_reduced4.
template <int P, int GS>
inline float4 reduce4(float v0, float v1, float v2, float v3, int g) {
  constexpr unsigned kAll = 0xffffffffu;
  if constexpr (P == 1) {
    return make_float4(v0, v1, v2, v3);
  } else {
    const bool up1 = (g & (P / 2)) != 0;
    const float s0 = up1 ? v0 : v2, s1 = up1 ? v1 : v3;
    float k0 = up1 ? v2 : v0, k1 = up1 ? v3 : v1;
    k0 += __shfl_xor_sync(kAll, s0, (P / 2) * GS);
    k1 += __shfl_xor_sync(kAll, s1, (P / 2) * GS);
    if constexpr (P == 2) {
      return make_float4(k0, k1, 0.f, 0.f);
    } else {
      const bool up2 = (g & (P / 4)) != 0;
      float k = up2 ? k1 : k0;
      k += __shfl_xor_sync(kAll, up2 ? k0 : k1, (P / 4) * GS);
      for (int o = P / 8; o >= 1; o /= 2) k += __shfl_xor_sync(kAll, k, o * GS);
      return make_float4(k, 0.f, 0.f, 0.f);
    }
  }
}
template <int P>
inline void store_reduced4(const float4& r, float* dst, int g) {
  if constexpr (P == 1) {
    st4(dst, r);
  } else if constexpr (P == 2) {
    dst[(g & 1) ? 2 : 0] = r.x;
    dst[((g & 1) ? 2 : 0) + 1] = r.y;
  } else {
    if ((g & (P / 4 - 1)) == 0) dst[((g & (P / 2)) ? 2 : 0) + ((g & (P / 4)) ? 1 : 0)] = r.x;
  }
}
}  // namespace ssm::detail::scan_fast

#include "kernels/scan/cross_scan_kernel.cuh"

namespace {

using namespace ssm;
using ssm::test::Problem;
using ssm::test::Shape;

// Runs the kernel<float, P, S> over the grid of (batch, channel tiles), one block at a time.
template <int P, int S>
void launch(const detail::cross::Params<float>& p) {
  constexpr int CH = detail::cross::Cfg<P, S>::kCh;
  const int blocks = p.batch * ((p.dim + CH - 1) / CH);
  for (int blk = 0; blk < blocks; ++blk) {
    std::barrier<> block(128);
    std::vector<std::unique_ptr<std::barrier<>>> warps;
    for (int w = 0; w < 4; ++w) {
      warps.push_back(std::make_unique<std::barrier<>>(32));
      emu::warp_barrier[w] = warps.back().get();
    }
    emu::block_barrier = &block;
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < 128; ++t)
      threads.emplace_back([&, t] {
        threadIdx.x = t;
        blockIdx.x = static_cast<unsigned>(blk);
        detail::cross::cross_scan_kernel<float, P, S>(p);
      });
    for (auto& th : threads) th.join();
  }
}

// The host side of kernels/scan/cross_scan.cu (make_params, launch_fused), for the emulation.
void run_emulated(const CrossScanArgs<float>& a) {
  detail::cross::Params<float> p{};
  const int L = a.length();
  p.batch = a.batch; p.dim = a.dim; p.N = a.dstate; p.H = a.height; p.W = a.width; p.L = L;
  p.softplus = a.delta_softplus;
  p.u = a.u; p.delta = a.delta; p.B = a.B; p.C = a.C; p.out = a.out;
  p.A = a.A; p.D = a.D; p.delta_bias = a.delta_bias; p.h0 = a.h0; p.last_state = a.last_state;
  const Strides3 su = a.u_strides.resolved(a.dim, L), so = a.out_strides.resolved(a.dim, L),
                 sd = a.delta_strides.resolved(4LL * a.dim, L);
  const Strides4 sB = a.B_strides.resolved(4, a.dstate, L), sC = a.C_strides.resolved(4, a.dstate, L);
  p.su_b = su.b; p.su_d = su.d; p.su_l = su.l;
  p.sd_b = sd.b; p.sd_d = sd.d; p.sd_l = sd.l;
  p.so_b = so.b; p.so_d = so.d; p.so_l = so.l;
  p.sB_b = sB.b; p.sB_g = sB.g; p.sB_n = sB.n; p.sB_l = sB.l;
  p.sC_b = sC.b; p.sC_g = sC.g; p.sC_n = sC.n; p.sC_l = sC.l;
  if (p.N <= 4) launch<4, 1>(p);
  else if (p.N <= 8) launch<4, 2>(p);
  else if (p.N <= 16) launch<8, 2>(p);
  else if (p.N <= 32) launch<8, 4>(p);
  else launch<16, 4>(p);
}

double worst(const std::vector<float>& a, const std::vector<float>& b, double tol) {
  double w = a.size() == b.size() ? 0 : INFINITY;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    const double r = std::fabs(double(a[i]) - double(b[i])) / (tol + tol * std::fabs(double(b[i])));
    if (!(r <= w)) w = r;
  }
  return w;
}

}  // namespace

BOOST_AUTO_TEST_CASE(emulated_kernel_matches_cpu_op) {
  const std::vector<Shape> shapes = {
      {1, 19, 8, 5, 7, true},                        // (4, 2), padding channels, L = 35
      {2, 40, 3, 1, 37, false},                      // (4, 1), H = 1, contiguous layout, 2 tiles
      {1, 16, 16, 9, 1, true},                       // (8, 2), W = 1
      {1, 20, 32, 6, 6, true, false, false, false},  // (8, 4), no h0 / D / bias
      {1, 10, 64, 4, 9, false},                      // (16, 4)
  };
  std::uint64_t seed = 3;
  for (const Shape& s : shapes) {
    BOOST_TEST_CONTEXT("B=" << s.batch << " dim=" << s.dim << " N=" << s.dstate << " H=" << s.H << " W=" << s.W) {
      Problem<float> cpu(s, seed), gpu(s, seed);
      ++seed;
      cross_selective_scan(cpu.args);
      run_emulated(gpu.args);
      BOOST_TEST(worst(gpu.out, cpu.out, 1e-4) <= 1.0);
      BOOST_TEST(worst(gpu.last, cpu.last, 1e-4) <= 1.0);
    }
  }
}
