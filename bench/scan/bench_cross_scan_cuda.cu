// GPU 2D cross-scan (VMamba SS2D's CrossScan + selective scan + CrossMerge) at the VMamba-T
// stage-1 shape (B = 32, 56 x 56, d_model 96, expand 2 -> d_inner 192, N = 16, dt_rank 6), in
// the layout SS2DBlock uses (channels-last u / delta / out; B, C inside the x_proj rows), float32
// and bf16 storage. Measured in the same run, per storage type:
//   fused    ssm's fused kernel (one launch, one copy of u, deterministic merge);
//   unfused  the recipe on ssmkit's own kernels: gather kernels for the four direction-ordered
//            copies of u, delta, B, C, ssm's CUDA selective scan (groups = 4), merge kernel
//            (workspace allocated once, outside the timing);
//   copy     cudaMemcpy device-to-device of the bytes the op must move: u, delta (4 dim), B, C
//            (4 N each) read once, out (float32) written once; half read, half written.
//   ex2      the compute floor: the op needs one exp a state-step (4 B dim N L of them, on the
//            MUFU pipe); a kernel of independent ex2 chains measures the device's ex2 rate and
//            ex2_ms = 4 B dim N L / rate (at this shape it exceeds the copy time, so the copy
//            fraction is bounded by copy_ms / ex2_ms).
// Prints time, speed-up fused / unfused (goal >= 2), the fraction of the copy bandwidth,
// copy time / fused time (goal >= 0.5), and the fraction of the roofline max(copy, ex2).
// Options: --batch B --hw S (image S x S) --reps R.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/cuda_timing.hpp"
#include "backend/fill.hpp"
#include "backend/cross_scan_ext.hpp"
#include "ssm/core/device_buffer.hpp"
#include "ssm/scan/cross_scan.hpp"

namespace {

using ssm::bench::check;

/// Independent chains x <- 2^-x (8 a thread): all MUFU.EX2, the pipe the scan's exp runs on.
__global__ void ex2_chains(float* out, int iters) {
  float v[8];
#pragma unroll
  for (int i = 0; i < 8; ++i) v[i] = 1e-3f * static_cast<float>(threadIdx.x + 37 * i);
  for (int k = 0; k < iters; ++k) {
#pragma unroll
    for (int i = 0; i < 8; ++i) asm volatile("ex2.approx.ftz.f32 %0, %1;" : "=f"(v[i]) : "f"(-v[i]));
  }
  float s = 0.f;
#pragma unroll
  for (int i = 0; i < 8; ++i) s += v[i];
  if (s == 12345.f) out[0] = s;
}

double ex2_per_second(int reps) {
  int dev = 0, sms = 1;
  check(cudaGetDevice(&dev), "cudaGetDevice");
  check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev), "cudaDeviceGetAttribute");
  ssm::DeviceBuffer<float> sink(1);
  const int blocks = sms * 8, threads = 256, iters = 4096;
  const double ms = ssm::bench::median_event_ms([&] { ex2_chains<<<blocks, threads>>>(sink.data(), iters); }, reps, 2);
  check(cudaGetLastError(), "ex2_chains");
  return double(blocks) * threads * iters * 8 / (ms * 1e-3);
}

struct Opts {
  int batch = 32, hw = 56, dim = 192, N = 16, R = 6, reps = 20;
};

void run(const Opts& o, bool bf16) {
  const long long L = static_cast<long long>(o.hw) * o.hw, M = o.batch * L, XD = o.R + 2 * o.N, XD4 = 4 * XD;
  ssm::CrossScanArgs<float> a;
  a.batch = o.batch; a.dim = o.dim; a.dstate = o.N; a.height = o.hw; a.width = o.hw;
  a.delta_softplus = true;
  a.u_strides = a.out_strides = ssm::Strides3{L * o.dim, 1, o.dim};
  a.delta_strides = ssm::Strides3{L * 4 * o.dim, 1, 4 * o.dim};
  a.B_strides = a.C_strides = ssm::Strides4{L * XD4, XD, 1, XD4};
  ssm::DeviceBuffer<float> A(4 * o.dim * o.N), D(4 * o.dim), bias(4 * o.dim), out(M * o.dim);
  ssm::detail::fill_uniform(A.data(), A.size(), 1, -8.f, -0.5f);
  ssm::detail::fill_uniform(D.data(), D.size(), 2, -1.f, 1.f);
  ssm::detail::fill_uniform(bias.data(), bias.size(), 3, -4.f, -2.f);
  a.A = A.data(); a.D = D.data(); a.delta_bias = bias.data(); a.out = out.data();
  const std::size_t esz = bf16 ? 2 : 4;
  ssm::DeviceMemory u(M * o.dim * esz), delta(M * 4 * o.dim * esz), xdbl(M * XD4 * esz);
  if (bf16) {
    ssm::detail::fill_uniform_bf16(static_cast<std::uint16_t*>(u.get()), M * o.dim, 4, -1.f, 1.f);
    ssm::detail::fill_uniform_bf16(static_cast<std::uint16_t*>(delta.get()), M * 4 * o.dim, 5, -1.f, 1.f);
    ssm::detail::fill_uniform_bf16(static_cast<std::uint16_t*>(xdbl.get()), M * XD4, 6, -1.f, 1.f);
  } else {
    ssm::detail::fill_uniform(static_cast<float*>(u.get()), M * o.dim, 4, -1.f, 1.f);
    ssm::detail::fill_uniform(static_cast<float*>(delta.get()), M * 4 * o.dim, 5, -1.f, 1.f);
    ssm::detail::fill_uniform(static_cast<float*>(xdbl.get()), M * XD4, 6, -1.f, 1.f);
  }
  ssm::DeviceMemory ws(ssm::detail::cross_scan_unfused_workspace_bytes(a, esz));
  ssm::detail::CrossScanBf16 io;
  if (bf16) {
    const auto* x = static_cast<const std::uint16_t*>(xdbl.get());
    io.u = static_cast<const std::uint16_t*>(u.get());
    io.delta = static_cast<const std::uint16_t*>(delta.get());
    io.B = x + o.R;
    io.C = x + o.R + o.N;
    io.out = out.data();
  } else {
    const auto* x = static_cast<const float*>(xdbl.get());
    a.u = static_cast<const float*>(u.get());
    a.delta = static_cast<const float*>(delta.get());
    a.B = x + o.R;
    a.C = x + o.R + o.N;
  }
  auto fused = [&] {
    if (bf16) ssm::detail::cross_selective_scan_cuda_bf16(a, io, false);
    else ssm::detail::cross_selective_scan_cuda_async(a);
  };
  auto unfused = [&] {
    if (bf16) ssm::detail::cross_selective_scan_unfused_cuda_bf16_ws(a, io, ws.get());
    else ssm::detail::cross_selective_scan_unfused_cuda_ws(a, ws.get());
  };
  if (!bf16) a.validate();
  const double bytes = double(M) * (o.dim + 4.0 * o.dim + 8.0 * o.N) * esz + double(M) * o.dim * 4.0;
  ssm::DeviceMemory src(static_cast<std::size_t>(bytes / 2)), dst(static_cast<std::size_t>(bytes / 2));
  check(cudaMemset(src.get(), 0, src.bytes()), "cudaMemset");
  const double t_copy = ssm::bench::median_event_ms(
      [&] { check(cudaMemcpy(dst.get(), src.get(), src.bytes(), cudaMemcpyDeviceToDevice), "cudaMemcpy"); }, o.reps, 3);
  const double t_fused = ssm::bench::median_event_ms(fused, o.reps, 3);
  check(cudaGetLastError(), "fused");
  const double t_unfused = ssm::bench::median_event_ms(unfused, o.reps, 3);
  check(cudaGetLastError(), "unfused");
  const double t_ex2 = 4.0 * M * o.dim * o.N / ex2_per_second(5) * 1e3;
  std::printf("%-5s B=%d %dx%d dim=%d N=%d  bytes=%.1f MB  copy %.4f ms  ex2 floor %.4f ms  fused %.4f ms  "
              "unfused %.4f ms\n      fused/unfused speed-up %.2fx (goal >= 2)  copy-bandwidth fraction %.2f "
              "(goal >= 0.5)  roofline fraction max(copy, ex2)/fused %.2f\n",
              bf16 ? "bf16" : "f32", o.batch, o.hw, o.hw, o.dim, o.N, bytes / 1e6, t_copy, t_ex2, t_fused, t_unfused,
              t_unfused / t_fused, t_copy / t_fused, std::max(t_copy, t_ex2) / t_fused);
  std::printf("SUMMARY cross_scan %s fused_ms=%.5f unfused_ms=%.5f copy_ms=%.5f\n", bf16 ? "bf16" : "f32", t_fused,
              t_unfused, t_copy);
}

}  // namespace

int main(int argc, char** argv) {
  Opts o;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--batch")) o.batch = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--hw")) o.hw = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--reps")) o.reps = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: %s [--batch B] [--hw S] [--reps R]\n", argv[0]);
      return 2;
    }
  }
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
    std::printf("SKIP: no GPU present\n");
    return 77;
  }
  try {
    run(o, false);
    run(o, true);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
