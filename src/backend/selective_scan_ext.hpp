#pragma once
// Internal extensions of the CUDA selective scan beyond the public entry point, for benches
// and callers that manage their own synchronization (plain C++; no CUDA headers needed).
#include <cstdint>

#include "backend/selective_scan_params.hpp"

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
///              process: "legacy", "fast", "fast1", "fast2", "fast4", "split" or "auto"; unset means
///              "auto"); "auto" and "fast" run the fast kernel whenever it applies (with the
///              states-a-thread it picks), "fastS" forces S states a thread where that applies;
///              everything else runs the legacy kernel.
///   legacy:    always the chunked warp scan (kernels/scan/scan_kernel.cuh).
///   fast:      the sequential-in-time kernel (kernels/scan/selective_scan_fast.cuh) with the
///              states a thread S chosen from the shape (the largest S in {4, 2, 1} that still
///              gives every SM about three blocks; for thinner problems with long sequences, the
///              largest S with time split into segments run by different blocks: a pass that
///              records each segment's end state, then the output pass from the carried
///              states); fast_s1/s2/s4 force S in one pass; fast_split forces the time split
///              (at least 3 segments where the sequence has 3 chunks). A call with args the
///              chosen variant does not support throws ssm::Error.
/// double precision always runs the legacy kernel.
enum class ScanKernel { automatic, legacy, fast, fast_s1, fast_s2, fast_s4, fast_split };

/// Whether the fast kernel supports args with S states a thread (S = 0: with any S): real A,
/// dstate in {4, 8, 16, 32}, S in {1, 2, 4} with S <= dstate, (dim / groups) a multiple of the
/// block's channels 128 S / dstate, and time stride 1 for u, delta, out (and z if given).
/// Shapes and strides only (pointers are not read).
bool selective_scan_fast_applies(const SelectiveScanArgs<float>& args, int states_per_thread = 0);

/// The kernel a call with `choice` runs for args: "legacy", "fast1", "fast2", "fast4", or
/// with the time split "fast1-split", "fast2-split", "fast4-split"
/// (throws like the call would for an unsupported forced choice or a bad SSM_CUDA_SCAN_KERNEL).
const char* selective_scan_kernel_name(const SelectiveScanArgs<float>& args,
                                       ScanKernel choice = ScanKernel::automatic);

/// float32 selective scan on `kernel` (validates args; returns after synchronizing).
void selective_scan_cuda_with(const SelectiveScanArgs<float>& args, ScanKernel kernel);

/// Selective scan whose u, delta, z, B, C, out are bf16 (taken from `io`; the float pointers
/// of the same name in `args` are ignored); A, D, delta_bias, h0, last_state stay float32 in
/// `args`. Validates the shape part of args. Queued on `stream` (null: the legacy default
/// stream of the current device; else on the stream's device); synchronize = false returns
/// right after the launch (errors of the kernel then surface at the next sync of the stream).
void selective_scan_cuda_bf16(const SelectiveScanArgs<float>& args, const SelectiveScanBf16& io,
                              bool synchronize = true, ScanKernel kernel = ScanKernel::automatic,
                              const CudaStream* stream = nullptr);

/// float32 selective scan that returns after queuing the kernel on the default stream
/// (args must have passed validate()); for timing loops.
void selective_scan_cuda_async(const SelectiveScanArgs<float>& args,
                               ScanKernel kernel = ScanKernel::automatic);

}  // namespace ssm::detail
