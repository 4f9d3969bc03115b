#pragma once
// Internal extensions of the CUDA cross-scan op beyond the public entry point, for benches and
// tests (plain C++; no CUDA headers needed). Device pointers throughout.
#include <cstddef>
#include <cstdint>

#include "ssm/scan/cross_scan.hpp"

namespace ssm::detail {

/// bfloat16 storage for the streamed inputs (raw bf16 bit patterns) with float32 compute; the
/// merged output stays float32 (the four directions are summed into it, and one rounding to
/// bf16 per partial sum would cost three extra roundings). Shapes, layouts and strides are
/// those of CrossScanArgs; A, D, delta_bias, h0, last_state stay float32 in args.
struct CrossScanBf16 {
  const std::uint16_t* u = nullptr;
  const std::uint16_t* delta = nullptr;
  const std::uint16_t* B = nullptr;
  const std::uint16_t* C = nullptr;
  float* out = nullptr;
};

/// The fused kernel with bf16 storage (validates the shape part of args; float pointers of args
/// named in io are ignored). synchronize = false returns right after the launch.
void cross_selective_scan_cuda_bf16(const CrossScanArgs<float>& args, const CrossScanBf16& io,
                                    bool synchronize = true);
/// The fused float32 kernel, returning right after the launch (args validated by the caller).
void cross_selective_scan_cuda_async(const CrossScanArgs<float>& args);

/// Bytes of device workspace the unfused recipe needs (its four direction-ordered copies of u,
/// delta, B, C and the scan output), for elements of `elem_bytes` bytes.
std::size_t cross_scan_unfused_workspace_bytes(const CrossScanArgs<float>& args, std::size_t elem_bytes);
/// The unfused recipe into a caller-owned workspace (no allocation; returns after the launches,
/// without synchronizing): gather kernels, ssm's CUDA selective scan (groups = 4), merge kernel.
void cross_selective_scan_unfused_cuda_ws(const CrossScanArgs<float>& args, void* workspace);
/// The same recipe with bf16 storage (gathered copies and scan output in bf16, merged into the
/// float32 io.out), on ssm's bf16 selective scan.
void cross_selective_scan_unfused_cuda_bf16_ws(const CrossScanArgs<float>& args, const CrossScanBf16& io,
                                               void* workspace);

}  // namespace ssm::detail
