// Long convolution y = K * u + D u on the GPU when the kernel comes from a diagonal SSM (S4D-Lin,
// 32 complex modes a channel: the conv mode of an S4D layer), every path in one run:
//   fft_percall  what a conv-mode forward costs: the kernel K (H, L) by the Vandermonde product on
//                the GPU (diag_kernel), its spectra (CudaFFTConv), the convolution;
//   fft_cached   CudaFFTConv::apply alone, spectra kept (the cuFFT baseline);
//   recurrence   no FFT: diag_scan's register-resident sequential scan of the same system, exact
//                (O(L N2) a channel, no kernel materialized);
//   gemm_T<n>    no FFT: the chunked-GEMM formulation (kernels/scan/diag_scan_gemm.cuh), chunks of
//                n samples: Toeplitz product within a chunk, modes carried across chunks, FP32
//                SGEMM (what diag_scan picks on its own for these shapes: T = 128);
// with the fraction of the FP32 FMA rate for the recurrence's 4 N2 real multiply-adds a sample
// (the work of the op, whichever path does it), both rates measured in the same run,
// the fraction of the copy bandwidth (u read, y written), and the largest difference of the recurrence to fft_cached relative to max |y|.
// `python3 bench/conv/torch_fftconv_ref.py LOG` adds the ratio of each path to torch.fft.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "backend/fill.hpp"
#include "backend/scan_cuda.hpp"
#include "common/compare.hpp"
#include "common/cuda_timing.hpp"
#include "common/gpu_peaks.cuh"
#include "ssm/continuous/diagonal.hpp"
#include "ssm/conv/diag_kernel.hpp"
#include "ssm/conv/fftconv_cuda.hpp"
#include "ssm/core/device.hpp"
#include "ssm/core/device_buffer.hpp"
#include "ssm/scan/diag_scan.hpp"

namespace {

using ssm::bench::check;
using ssm::bench::max_rel_diff;

}  // namespace

int main() {
  if (!ssm::cuda_available()) {
    std::printf("no GPU present\n");
    return 0;
  }
  std::printf("device: %s\n", ssm::cuda_description().c_str());
  const double copy_bw = ssm::bench::copy_bytes_per_second();
  const double fma_rate = ssm::bench::fma_per_second();
  std::printf("copy bandwidth %.3g B/s, FP32 FMA rate %.3g /s (both measured now)\n\n", copy_bw, fma_rate);
  struct P {
    const char* name;
    int B, H, N2;
    long long L;
  };
  // N8_ / N64_: the same problem with 8 and 64 modes (where the recurrence's cost moves).
  const P problems[] = {{"B8_H768_L64K", 8, 768, 32, 1LL << 16},
                        {"N8_B8_H768_L64K", 8, 768, 8, 1LL << 16},
                        {"N64_B8_H768_L64K", 8, 768, 64, 1LL << 16},
                        {"B1_H768_L1M", 1, 768, 32, 1LL << 20},
                        {"B8_H768_L1M", 8, 768, 32, 1LL << 20}};
  std::printf("%-14s %-12s %10s %9s %9s %12s %10s\n", "problem", "path", "ms", "copy fr", "FMA fr", "vs fft_cached",
              "max diff");
  for (const P& pr : problems) {
    const int H = pr.H, N2 = pr.N2;
    const long long L = pr.L;
    const std::size_t n = std::size_t(pr.B) * H * L, hn = std::size_t(H) * N2;
    ssm::DiagonalSSM m(H, N2);
    std::mt19937 rng(5);
    std::uniform_real_distribution<double> U(-1, 1);
    std::vector<double> dts(H);
    for (int h = 0; h < H; ++h) {
      dts[h] = std::exp(std::log(1e-3) + (h % 97) / 96.0 * (std::log(1e-1) - std::log(1e-3)));
      m.D[h] = U(rng);
      for (int k = 0; k < N2; ++k) {
        const std::size_t i = m.index(h, k);
        m.A.re[i] = -0.5;
        m.A.im[i] = M_PI * k;
        m.B.re[i] = 1.0;
        m.C.re[i] = float(U(rng) * 0.5);  // rounded as the float32 scan sees it
        m.C.im[i] = float(U(rng) * 0.5);
      }
    }
    m.set_dt(dts);
    std::vector<float> A(2 * hn), Bm(2 * hn), C(2 * hn), D(H), dt(H);
    for (int h = 0; h < H; ++h) {
      D[h] = float(m.D[h]);
      dt[h] = float(m.dt(h));
      for (int k = 0; k < N2; ++k) {
        const std::size_t i = m.index(h, k);
        A[2 * i] = float(m.A.re[i]);
        A[2 * i + 1] = float(m.A.im[i]);
        Bm[2 * i] = 1.f;
        C[2 * i] = float(m.C.re[i]);
        C[2 * i + 1] = float(m.C.im[i]);
      }
    }
    // The float64 model with dt rounded as the float32 scan sees it, for the kernel paths.
    for (int h = 0; h < H; ++h) dts[h] = double(dt[h]);
    m.set_dt(dts);
    ssm::DeviceBuffer<float> dA(A), dB(Bm), dC(C), dD(D), ddt(dt), u(n), y(n), K(std::size_t(H) * L);
    ssm::detail::fill_uniform(u.data(), n, 11, -1.f, 1.f);
    const int reps = L >= (1LL << 20) ? 3 : 5;
    const double bytes = 2.0 * double(n) * sizeof(float);
    const std::size_t probe = std::min<std::size_t>(n, std::size_t(1) << 24);
    std::vector<float> ref(probe), got(probe);
    auto row = [&](const char* path, double ms, double base_ms, double diff) {
      const double fma = 4.0 * double(n) * N2;
      std::printf("%-14s %-12s %10.3f %9.3f %9.3f %11.2fx %10.2e\n", pr.name, path, ms, bytes / (ms * 1e-3) / copy_bw,
                  fma / (ms * 1e-3) / fma_rate, base_ms / ms, diff);
      std::printf("SUMMARY fftconv %s_%s ms=%.4f\n", path, pr.name, ms);
    };
    double cached_ms = 0;
    {
      ssm::diag_kernel(m, ssm::Method::zoh, L, K.data(), ssm::Device::cuda);
      ssm::CudaFFTConv conv(H, L, K.data(), L, dD.data());
      cached_ms = ssm::bench::median_event_ms([&] { conv.apply(u.data(), y.data(), pr.B, L); }, reps, 1);
      check(cudaMemcpy(ref.data(), y.data(), probe * sizeof(float), cudaMemcpyDeviceToHost), "download");
    }
    const double percall_ms = ssm::bench::median_event_ms(
        [&] {
          ssm::diag_kernel(m, ssm::Method::zoh, L, K.data(), ssm::Device::cuda);
          ssm::CudaFFTConv conv(H, L, K.data(), L, dD.data());
          conv.apply(u.data(), y.data(), pr.B, L);
        },
        reps, 1);
    row("fft_percall", percall_ms, cached_ms, 0.0);
    row("fft_cached", cached_ms, cached_ms, 0.0);
    ssm::DiagScanArgs<float> a;
    a.batch = pr.B;
    a.channels = H;
    a.modes = N2;
    a.length = int(L);
    a.A = dA.data();
    a.B = dB.data();
    a.C = dC.data();
    a.D = dD.data();
    a.dt = ddt.data();
    a.u = u.data();
    a.y = y.data();
    ssm::detail::DiagScanCudaConfig rec_cfg;
    rec_cfg.gemm_chunk = -1;
    const double rec_ms = ssm::bench::median_event_ms([&] { ssm::detail::diag_scan_cuda(a, rec_cfg); }, reps, 1);
    check(cudaMemcpy(got.data(), y.data(), probe * sizeof(float), cudaMemcpyDeviceToHost), "download");
    row("recurrence", rec_ms, cached_ms, max_rel_diff(got, ref));
    for (int T : {64, 128, 256}) {
      ssm::detail::DiagScanCudaConfig cfg;
      cfg.gemm_chunk = T;
      const double ms = ssm::bench::median_event_ms([&] { ssm::detail::diag_scan_cuda(a, cfg); }, reps, 1);
      check(cudaMemcpy(got.data(), y.data(), probe * sizeof(float), cudaMemcpyDeviceToHost), "download");
      row(("gemm_T" + std::to_string(T)).c_str(), ms, cached_ms, max_rel_diff(got, ref));
    }
    {
      ssm::detail::DiagScanCudaConfig cfg;
      cfg.tensor_core = 1;
      const double ms = ssm::bench::median_event_ms([&] { ssm::detail::diag_scan_cuda(a, cfg); }, reps, 1);
      check(cudaMemcpy(got.data(), y.data(), probe * sizeof(float), cudaMemcpyDeviceToHost), "download");
      row("tc_fp64", ms, cached_ms, max_rel_diff(got, ref));
    }
  }
  return 0;
}
