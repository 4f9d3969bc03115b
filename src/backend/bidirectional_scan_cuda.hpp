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

/// Which CUDA kernel runs a float32 / bf16 scan: automatic (two_kernel where it applies, else
/// one_launch; measured fastest in bench_scan_bidirectional_scan_cuda, docs/vision.md); one_launch (a thread a channel-direction, both directions in one launch,
/// atomic merge onto a zeroed output); fast_one_launch (the fast selective-scan kernel for both
/// directions in one launch, direction 1 backward in time, atomic merge); two_kernel (the fast
/// kernel forward writing out, then backward adding onto it). The fast ones throw naming
/// 'kernel' where they do not apply. float64 always runs one_launch.
enum class BidirKernel { automatic, one_launch, fast_one_launch, two_kernel };

/// The float32 / float64 CUDA scan (args validated, device pointers, current device);
/// synchronize = false returns right after the launches (for timing loops).
void bidirectional_scan_cuda(const BidirectionalScanArgs<float>& args, bool synchronize = true);
void bidirectional_scan_cuda(const BidirectionalScanArgs<double>& args, bool synchronize = true);
void bidirectional_scan_cuda(const BidirectionalScanArgs<float>& args, BidirKernel kernel, bool synchronize = true);

/// The scan with bf16 storage taken from `io` (the float pointers of the same names in args
/// are ignored); float32 compute. Validates the shape part of args.
void bidirectional_scan_cuda_bf16(const BidirectionalScanArgs<float>& args, const BidirectionalScanBf16& io,
                                  bool synchronize = true);
void bidirectional_scan_cuda_bf16(const BidirectionalScanArgs<float>& args, const BidirectionalScanBf16& io,
                                  BidirKernel kernel, bool synchronize = true);

}  // namespace ssm::detail
