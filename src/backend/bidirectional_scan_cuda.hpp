#pragma once
// CPU<->CUDA seam of the bidirectional scan (include/ssm/scan/bidirectional_scan.hpp): what
// src/scan/bidirectional_scan.cpp calls with Device::cuda, plus the entries
// for benches and callers that manage their own synchronization (plain C++, no CUDA headers).
#include <cstdint>

#include "ssm/scan/bidirectional_scan.hpp"

namespace ssm::detail {

/// bfloat16 storage (raw bf16 bit patterns, device pointers) for the streamed tensors of both
/// directions and the shared z / out; A, D, delta_bias, h0, last_state stay float32 in args.
struct BidirectionalScanBf16 {
  const std::uint16_t* u[2] = {nullptr, nullptr};
  const std::uint16_t* delta[2] = {nullptr, nullptr};
  const std::uint16_t* B[2] = {nullptr, nullptr};
  const std::uint16_t* C[2] = {nullptr, nullptr};
  const std::uint16_t* z = nullptr;  // or null
  std::uint16_t* out = nullptr;
};

/// The float32 / float64 CUDA scan (args validated, device pointers, current device);
/// synchronize = false returns right after the launches (for timing loops).
void bidirectional_scan_cuda(const BidirectionalScanArgs<float>& args, bool synchronize = true);
void bidirectional_scan_cuda(const BidirectionalScanArgs<double>& args, bool synchronize = true);

/// The scan with bf16 storage taken from `io` (the float pointers of the same names in args
/// are ignored); float32 compute. Validates the shape part of args.
void bidirectional_scan_cuda_bf16(const BidirectionalScanArgs<float>& args, const BidirectionalScanBf16& io,
                                  bool synchronize = true);

}  // namespace ssm::detail
