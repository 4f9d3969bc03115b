// Deterministic device fills (see fill.hpp).
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "kernels/core/cuda_check.cuh"
#include "backend/fill.hpp"

namespace ssm::detail {
namespace {

__device__ __forceinline__ float hash_uniform(std::uint64_t seed, std::uint64_t i) {
  std::uint64_t z = seed * 0x9E3779B97F4A7C15ull + i + 0x632BE59BD9B4E019ull;  // splitmix64
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<float>(z >> 40) * (1.0f / 16777216.0f);
}

template <class T>
__global__ void fill_kernel(T* x, std::size_t n, std::uint64_t seed, float lo, float span) {
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    const float v = lo + span * hash_uniform(seed, i);
    if constexpr (std::is_same_v<T, float>) x[i] = v;
    else {
      const __nv_bfloat16 b = __float2bfloat16(v);
      x[i] = *reinterpret_cast<const std::uint16_t*>(&b);
    }
  }
}

template <class T>
void fill(T* x, std::size_t n, std::uint64_t seed, float lo, float hi) {
  if (n == 0) return;
  const std::size_t blocks = std::min<std::size_t>((n + 255) / 256, 65536);
  fill_kernel<T><<<static_cast<unsigned>(blocks), 256>>>(x, n, seed, lo, hi - lo);
  SSM_CUDA_CHECK_LAUNCH("fill_uniform");
  SSM_CUDA_CHECK(cudaDeviceSynchronize(), "fill_uniform");
}

}  // namespace

void fill_uniform(float* x, std::size_t n, std::uint64_t seed, float lo, float hi) { fill(x, n, seed, lo, hi); }
void fill_uniform_bf16(std::uint16_t* x, std::size_t n, std::uint64_t seed, float lo, float hi) {
  fill(x, n, seed, lo, hi);
}

}  // namespace ssm::detail
