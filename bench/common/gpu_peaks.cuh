#pragma once
// Device peaks measured by the GPU benches in their own run, so every figure is a fraction of a
// rate of the same machine at the same moment: the FP32 FMA rate (independent FMA chains in
// every thread of a full grid) and the device-to-device copy bandwidth (cudaMemcpy of a large
// buffer, bytes read + written).
#include <cuda_runtime.h>

#include "common/cuda_timing.hpp"
#include "ssm/core/device_buffer.hpp"

namespace ssm::bench {

__global__ void fma_peak_kernel(float* out, int iters) {
  float v[8];
#pragma unroll
  for (int i = 0; i < 8; ++i) v[i] = 1e-3f * static_cast<float>(threadIdx.x + 37 * i);
  const float a = 0.999f, b = 1e-4f;
  for (int k = 0; k < iters; ++k) {
#pragma unroll
    for (int i = 0; i < 8; ++i) v[i] = fmaf(v[i], a, b);
  }
  float s = 0.f;
#pragma unroll
  for (int i = 0; i < 8; ++i) s += v[i];
  if (s == 12345.f) out[0] = s;  // keeps the chains alive; never true in practice
}

/// FP32 FMA instructions a second (one FMA = 2 flops).
inline double fma_per_second() {
  int dev = 0, sms = 0;
  check(cudaGetDevice(&dev), "cudaGetDevice");
  check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev), "attribute");
  const int threads = 256, blocks = sms * 8, iters = 1 << 14;
  ssm::DeviceBuffer<float> sink(1);
  const double ms = median_event_ms([&] { fma_peak_kernel<<<blocks, threads>>>(sink.data(), iters); }, 5, 1);
  check(cudaGetLastError(), "fma_peak_kernel");
  return double(blocks) * threads * iters * 8 / (ms * 1e-3);
}

/// Device copy bandwidth in bytes a second (read + write), over `bytes` copied.
inline double copy_bytes_per_second(std::size_t bytes = std::size_t(1) << 30) {
  ssm::DeviceBuffer<char> a(bytes), b(bytes);
  check(cudaMemset(a.data(), 1, bytes), "cudaMemset");
  const double ms = median_event_ms(
      [&] { check(cudaMemcpy(b.data(), a.data(), bytes, cudaMemcpyDeviceToDevice), "cudaMemcpy"); }, 5, 1);
  return 2.0 * double(bytes) / (ms * 1e-3);
}

}  // namespace ssm::bench
