#pragma once
// Internal: deterministic pseudo-random fills of device arrays (counter-based hash, so any
// size fills at memory speed). For benches and tests that need large inputs on the GPU
// without host generation. Device pointers; synchronous; CUDA errors throw ssm::Error.
#include <cstddef>
#include <cstdint>

namespace ssm::detail {

/// x[i] = lo + (hi - lo) * U_i, U_i uniform in [0, 1) from (seed, i).
void fill_uniform(float* x, std::size_t n, std::uint64_t seed, float lo, float hi);
/// Same values rounded to bfloat16 (raw bit patterns).
void fill_uniform_bf16(std::uint16_t* x, std::size_t n, std::uint64_t seed, float lo, float hi);

}  // namespace ssm::detail
