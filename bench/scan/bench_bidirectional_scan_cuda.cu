// GPU bidirectional selective scan (Vim bimamba v2) at Vim-S shape (B=32, L=197, d_inner 768,
// N 16; D, delta_bias, softplus, z gate, out_scale 0.5), float32 and bf16 storage, Vim's scan
// layout (batch, dim, length) contiguous. Measured in the same run (median of event-timed runs):
//   * fused    detail::bidirectional_scan_cuda{,_bf16}: one zeroing kernel + one launch for both
//              directions (direction 1 through the reversed index map, merged in the write)
//   * unfused  the recipe built from ssmkit's own CUDA pieces: flip kernels for direction 1's
//              u, delta, B, C and z, two selective scans (the automatic kernel), then a kernel
//              that flips direction 1's output back and adds (x 0.5)
//   * copy     cudaMemcpy device-to-device of the bytes the fused op must move (u, delta, B, C
//              of both directions and z read once, out written once; half read, half written)
// Prints: ms, fused speed-up over unfused (goal >= 2), fraction of copy bandwidth = copy time /
// fused time (goal >= 0.5). Also a larger batch (B=128) of the same layer.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "common/cuda_timing.hpp"
#include "backend/fill.hpp"
#include "backend/bidirectional_scan_cuda.hpp"
#include "backend/selective_scan_ext.hpp"
#include "ssm/core/device_buffer.hpp"
#include "ssm/scan/bidirectional_scan.hpp"

namespace {

using ssm::DeviceBuffer;
using ssm::bench::check;

template <class E>
__global__ void reverse_rows(const E* src, E* dst, long long rows, int L) {
  const long long n = rows * L;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    const long long r = i / L;
    const int t = static_cast<int>(i % L);
    dst[r * L + (L - 1 - t)] = src[i];
  }
}

__device__ __forceinline__ float ld(const float* p, long long i) { return p[i]; }
__device__ __forceinline__ float ld(const __nv_bfloat16* p, long long i) { return __bfloat162float(p[i]); }
__device__ __forceinline__ void st(float* p, long long i, float v) { p[i] = v; }
__device__ __forceinline__ void st(__nv_bfloat16* p, long long i, float v) { p[i] = __float2bfloat16_rn(v); }

template <class E>
__global__ void merge_rows(const E* o0, const E* o1, E* out, long long rows, int L) {
  const long long n = rows * L;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    const long long r = i / L;
    const int t = static_cast<int>(i % L);
    st(out, i, 0.5f * (ld(o0, i) + ld(o1, r * L + (L - 1 - t))));
  }
}

int grid_for(long long n) { return static_cast<int>(std::min<long long>((n + 255) / 256, 65536)); }

struct Shape {
  int B, D, N, L;
  bool bf16;
  std::string name() const {
    return std::string(bf16 ? "bf16" : "f32") + "_B" + std::to_string(B) + "_D" + std::to_string(D) + "_N" +
           std::to_string(N) + "_L" + std::to_string(L);
  }
};

struct Row {
  double fused = 0, one_launch = 0, two_kernel = 0, unfused = 0, copy = 0, bytes = 0;
};

/// E: float or __nv_bfloat16 storage of the streamed tensors (float A, D, bias).
template <class E>
Row run(const Shape& s) {
  const long long seq = static_cast<long long>(s.B) * s.D * s.L, bc = static_cast<long long>(s.B) * s.N * s.L;
  DeviceBuffer<E> u[2], dl[2], Bm[2], Cm[2];
  DeviceBuffer<E> z(seq), out(seq), ur(seq), dr(seq), zr(seq), Br(bc), Cr(bc), o0(seq), o1(seq);
  DeviceBuffer<float> A[2], Dv[2], bias[2];
  auto fill = [](DeviceBuffer<E>& b, std::uint64_t seed, float lo, float hi) {
    if constexpr (sizeof(E) == 4) ssm::detail::fill_uniform(reinterpret_cast<float*>(b.data()), b.size(), seed, lo, hi);
    else ssm::detail::fill_uniform_bf16(reinterpret_cast<std::uint16_t*>(b.data()), b.size(), seed, lo, hi);
  };
  for (int k = 0; k < 2; ++k) {
    u[k] = DeviceBuffer<E>(seq); dl[k] = DeviceBuffer<E>(seq); Bm[k] = DeviceBuffer<E>(bc); Cm[k] = DeviceBuffer<E>(bc);
    fill(u[k], 10 + k, -1, 1);
    fill(dl[k], 20 + k, -3, -1);
    fill(Bm[k], 30 + k, -1, 1);
    fill(Cm[k], 40 + k, -1, 1);
    A[k] = DeviceBuffer<float>(static_cast<std::size_t>(s.D) * s.N);
    Dv[k] = DeviceBuffer<float>(s.D);
    bias[k] = DeviceBuffer<float>(s.D);
    ssm::detail::fill_uniform(A[k].data(), A[k].size(), 50 + k, -4.f, -0.5f);
    ssm::detail::fill_uniform(Dv[k].data(), Dv[k].size(), 60 + k, -1.f, 1.f);
    ssm::detail::fill_uniform(bias[k].data(), bias[k].size(), 70 + k, -0.3f, 0.3f);
  }
  fill(z, 80, -1, 1);

  // fused
  ssm::BidirectionalScanArgs<float> a;
  a.batch = s.B; a.dim = s.D; a.dstate = s.N; a.length = s.L;
  a.delta_softplus = true;
  a.out_scale = 0.5f;
  for (int k = 0; k < 2; ++k) {
    a.dir[k].u = reinterpret_cast<const float*>(u[k].data());
    a.dir[k].delta = reinterpret_cast<const float*>(dl[k].data());
    a.dir[k].B = reinterpret_cast<const float*>(Bm[k].data());
    a.dir[k].C = reinterpret_cast<const float*>(Cm[k].data());
    a.dir[k].A = A[k].data();
    a.dir[k].D = Dv[k].data();
    a.dir[k].delta_bias = bias[k].data();
  }
  a.z = reinterpret_cast<const float*>(z.data());
  a.out = reinterpret_cast<float*>(out.data());
  ssm::detail::BidirectionalScanBf16 io;
  for (int k = 0; k < 2; ++k) {
    io.u[k] = reinterpret_cast<const std::uint16_t*>(u[k].data());
    io.delta[k] = reinterpret_cast<const std::uint16_t*>(dl[k].data());
    io.B[k] = reinterpret_cast<const std::uint16_t*>(Bm[k].data());
    io.C[k] = reinterpret_cast<const std::uint16_t*>(Cm[k].data());
  }
  io.z = reinterpret_cast<const std::uint16_t*>(z.data());
  io.out = reinterpret_cast<std::uint16_t*>(out.data());
  a.validate();
  auto fused_with = [&](ssm::detail::BidirKernel k) {
    if constexpr (sizeof(E) == 4) ssm::detail::bidirectional_scan_cuda(a, k, false);
    else ssm::detail::bidirectional_scan_cuda_bf16(a, io, k, false);
  };
  auto fused = [&] { fused_with(ssm::detail::BidirKernel::fast_one_launch); };
  auto one_launch = [&] { fused_with(ssm::detail::BidirKernel::one_launch); };
  auto two_kernel = [&] { fused_with(ssm::detail::BidirKernel::two_kernel); };

  // unfused recipe
  auto plain = [&](int k, const E* uu, const E* dd, const E* BB, const E* CC, const E* zz, E* o) {
    ssm::SelectiveScanArgs<float> p;
    p.batch = s.B; p.dim = s.D; p.dstate = s.N; p.length = s.L;
    p.delta_softplus = true;
    p.A = A[k].data(); p.D = Dv[k].data(); p.delta_bias = bias[k].data();
    p.u = reinterpret_cast<const float*>(uu); p.delta = reinterpret_cast<const float*>(dd);
    p.B = reinterpret_cast<const float*>(BB); p.C = reinterpret_cast<const float*>(CC);
    p.z = reinterpret_cast<const float*>(zz); p.out = reinterpret_cast<float*>(o);
    if constexpr (sizeof(E) == 4) {
      ssm::detail::selective_scan_cuda_async(p);
    } else {
      ssm::detail::SelectiveScanBf16 b;
      b.u = reinterpret_cast<const std::uint16_t*>(uu); b.delta = reinterpret_cast<const std::uint16_t*>(dd);
      b.B = reinterpret_cast<const std::uint16_t*>(BB); b.C = reinterpret_cast<const std::uint16_t*>(CC);
      b.z = reinterpret_cast<const std::uint16_t*>(zz); b.out = reinterpret_cast<std::uint16_t*>(o);
      ssm::detail::selective_scan_cuda_bf16(p, b, false);
    }
  };
  const long long rows = static_cast<long long>(s.B) * s.D, bcrows = static_cast<long long>(s.B) * s.N;
  auto unfused = [&] {
    reverse_rows<E><<<grid_for(seq), 256>>>(u[1].data(), ur.data(), rows, s.L);
    reverse_rows<E><<<grid_for(seq), 256>>>(dl[1].data(), dr.data(), rows, s.L);
    reverse_rows<E><<<grid_for(seq), 256>>>(z.data(), zr.data(), rows, s.L);
    reverse_rows<E><<<grid_for(bc), 256>>>(Bm[1].data(), Br.data(), bcrows, s.L);
    reverse_rows<E><<<grid_for(bc), 256>>>(Cm[1].data(), Cr.data(), bcrows, s.L);
    plain(0, u[0].data(), dl[0].data(), Bm[0].data(), Cm[0].data(), z.data(), o0.data());
    plain(1, ur.data(), dr.data(), Br.data(), Cr.data(), zr.data(), o1.data());
    merge_rows<E><<<grid_for(seq), 256>>>(o0.data(), o1.data(), out.data(), rows, s.L);
  };

  Row r;
  r.bytes = static_cast<double>(sizeof(E)) * (2.0 * (2 * seq + 2 * bc) + 2.0 * seq);
  const std::size_t half = static_cast<std::size_t>(r.bytes / 2);
  DeviceBuffer<char> src(half), dst(half);
  r.copy = ssm::bench::median_event_ms(
      [&] { check(cudaMemcpyAsync(dst.data(), src.data(), half, cudaMemcpyDeviceToDevice), "copy"); }, 20, 100);
  r.fused = ssm::bench::median_event_ms(fused, 20, 3);
  r.one_launch = ssm::bench::median_event_ms(one_launch, 20, 3);
  r.two_kernel = ssm::bench::median_event_ms(two_kernel, 20, 3);
  r.unfused = ssm::bench::median_event_ms(unfused, 20, 3);
  check(cudaDeviceSynchronize(), "sync");
  return r;
}

}  // namespace

int main() {
  const Shape shapes[] = {{32, 768, 16, 197, false}, {32, 768, 16, 197, true}, {128, 768, 16, 197, false},
                          {128, 768, 16, 197, true}};
  std::printf("bidirectional selective scan on the GPU (Vim layout (B, D, L), D, bias, softplus, z, x0.5)\n");
  std::printf("fused = fast_one_launch (the fast selective-scan kernel for both directions in\n"
              "one launch, direction 1 backward in time, atomic merge onto a zeroed out); 2-kernel = the same kernel\n"
              "forward then backward adding onto out (the automatic choice); thread/ch = one thread a channel-direction (the earlier design)\n");
  std::printf("%-28s %10s %10s %12s %10s %10s %14s %12s %16s\n", "shape", "fused ms", "2-kernel ms", "thread/ch ms",
              "unfused ms", "copy ms", "2-kernel x unf", "fused x unf", "2-kernel copy fr");
  for (const auto& s : shapes) {
    const Row r = s.bf16 ? run<__nv_bfloat16>(s) : run<float>(s);
    std::printf("%-28s %10.4f %10.4f %12.4f %10.4f %10.4f %14.2f %12.2f %16.3f\n", s.name().c_str(), r.fused,
                r.two_kernel, r.one_launch, r.unfused, r.copy, r.unfused / r.two_kernel, r.unfused / r.fused,
                r.copy / r.two_kernel);
  }
  return 0;
}
