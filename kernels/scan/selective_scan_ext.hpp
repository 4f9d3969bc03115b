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

/// Which CUDA kernel runs a float32 / bf16 selective scan.
///   automatic: what the environment variable SSM_CUDA_SCAN_KERNEL says (read once per
///              process: "legacy", "fast" or "auto"; unset means "auto"); "auto" and "fast"
///              run the fast kernel whenever it applies, else the legacy one.
///   legacy:    always the chunked warp scan (kernels/scan/scan_kernel.cuh).
///   fast:      the sequential-in-time kernel (kernels/scan/selective_scan_fast.cuh); a call
///              with args it does not support throws ssm::Error.
/// double precision always runs the legacy kernel.
enum class ScanKernel { automatic, legacy, fast };

/// Whether the fast kernel supports args: real A, dstate in {4, 8, 16, 32},
/// (dim / groups) % (128 / dstate) == 0, and time stride 1 for u, delta, out (and z if given).
/// Shapes and strides only (pointers are not read).
bool selective_scan_fast_applies(const SelectiveScanArgs<float>& args);

/// The kernel a call with `choice` runs for args: "fast" or "legacy" (throws like the call
/// would for ScanKernel::fast with unsupported args, or for a bad SSM_CUDA_SCAN_KERNEL).
const char* selective_scan_kernel_name(const SelectiveScanArgs<float>& args,
                                       ScanKernel choice = ScanKernel::automatic);

/// float32 selective scan on `kernel` (validates args; returns after synchronizing).
void selective_scan_cuda_with(const SelectiveScanArgs<float>& args, ScanKernel kernel);

/// Selective scan whose u, delta, z, B, C, out are bf16 (taken from `io`; the float pointers
/// of the same name in `args` are ignored); A, D, delta_bias, h0, last_state stay float32 in
/// `args`. Validates the shape part of args. synchronize = false returns right after the
/// launch on the default stream (errors of the kernel then surface at the next sync).
void selective_scan_cuda_bf16(const SelectiveScanArgs<float>& args, const SelectiveScanBf16& io,
                              bool synchronize = true, ScanKernel kernel = ScanKernel::automatic);

/// float32 selective scan that returns after queuing the kernel on the default stream
/// (args must have passed validate()); for timing loops.
void selective_scan_cuda_async(const SelectiveScanArgs<float>& args,
                               ScanKernel kernel = ScanKernel::automatic);

}  // namespace ssm::detail
