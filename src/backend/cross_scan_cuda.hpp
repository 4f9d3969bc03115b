#pragma once
// Internal: the CUDA backends of the cross-scan op (kernels/scan/cross_scan.cu), called by
// src/scan/cross_scan.cpp with Device::cuda when SSM_WITH_CUDA is defined. Arguments have passed
// validate(); pointers are device pointers; each call runs on the legacy default stream of the
// current device and returns after synchronizing. CUDA errors are raised as ssm::Error.
#include "ssm/scan/cross_scan.hpp"

namespace ssm::detail {

/// The fused kernel (one block per (batch, channel tile) runs the four directions in turn).
void cross_selective_scan_cuda(const CrossScanArgs<float>& args);

/// The unfused recipe on the GPU: gather kernels build the four direction-ordered copies, then
/// ssm::selective_scan (CUDA, groups = 4), then a merge kernel sums the four into out.
void cross_selective_scan_unfused_cuda(const CrossScanArgs<float>& args);
void cross_selective_scan_unfused_cuda(const CrossScanArgs<double>& args);

}  // namespace ssm::detail
