#pragma once
// Internal: the CUDA backends of the scan ops, implemented in kernels/scan/*.cu and called by
// the public entry points (src/scan/*.cpp) with Device::cuda when SSM_WITH_CUDA is defined.
// The arguments have already passed validate(); all pointers are device pointers. Each
// function enqueues its work on the legacy default stream (so a following cudaMemcpy on that
// stream sees the results); launch/CUDA errors are raised as ssm::Error.
#include "ssm/scan/diag_scan.hpp"
#include "ssm/scan/selective_scan.hpp"
#include "ssm/scan/state_update.hpp"

namespace ssm::detail {

void selective_scan_cuda(const SelectiveScanArgs<float>& args);
void selective_scan_cuda(const SelectiveScanArgs<double>& args);

void selective_state_update_cuda(const SelectiveStateUpdateArgs<float>& args);
void selective_state_update_cuda(const SelectiveStateUpdateArgs<double>& args);

void diag_scan_cuda(const DiagScanArgs<float>& args);
void diag_scan_cuda(const DiagScanArgs<double>& args);

}  // namespace ssm::detail
