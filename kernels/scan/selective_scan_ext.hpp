#pragma once
// Internal extensions of the CUDA selective scan beyond the public entry point, for benches
// and callers that manage their own synchronization (plain C++; no CUDA headers needed).
#include <cstdint>

#include "ssm/scan/selective_scan.hpp"

namespace ssm::detail {

/// bfloat16 storage for the streamed tensors (raw bf16 bit patterns, device pointers), with
/// float32 compute. Shapes, layout and strides are those of SelectiveScanArgs.
struct SelectiveScanBf16 {
  const std::uint16_t* u = nullptr;
  const std::uint16_t* delta = nullptr;
  const std::uint16_t* z = nullptr;  // or null
  const std::uint16_t* B = nullptr;  // variable or fixed, as args.B_variable says
  const std::uint16_t* C = nullptr;
  std::uint16_t* out = nullptr;
};

/// Selective scan whose u, delta, z, B, C, out are bf16 (taken from `io`; the float pointers
/// of the same name in `args` are ignored); A, D, delta_bias, h0, last_state stay float32 in
/// `args`. Validates the shape part of args. synchronize = false returns right after the
/// launch on the default stream (errors of the kernel then surface at the next sync).
void selective_scan_cuda_bf16(const SelectiveScanArgs<float>& args, const SelectiveScanBf16& io,
                              bool synchronize = true);

/// float32 selective scan that returns after queuing the kernel on the default stream
/// (args must have passed validate()); for timing loops.
void selective_scan_cuda_async(const SelectiveScanArgs<float>& args);

}  // namespace ssm::detail
