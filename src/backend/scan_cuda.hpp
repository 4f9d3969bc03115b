#pragma once
// Internal: the CUDA backends of the scan ops, implemented in kernels/scan/*.cu and called by
// the public entry points (src/scan/*.cpp) with Device::cuda when SSM_WITH_CUDA is defined.
// The arguments have already passed validate(); all pointers are device pointers. Each
// function without a stream runs on the legacy default stream of the current device and
// returns once the work has finished; those with a CudaStream queue on it (on its device) and
// return at once. Launch/CUDA errors are raised as ssm::Error.
#include "ssm/scan/diag_scan.hpp"
#include "backend/selective_scan_params.hpp"
#include "ssm/scan/state_update.hpp"

namespace ssm::detail {

void selective_scan_cuda(const SelectiveScanArgs<float>& args);
void selective_scan_cuda(const SelectiveScanArgs<double>& args);
/// Queued on `stream` (on its device); returns without waiting.
void selective_scan_cuda(const SelectiveScanArgs<float>& args, const CudaStream& stream);
void selective_scan_cuda(const SelectiveScanArgs<double>& args, const CudaStream& stream);

void selective_state_update_cuda(const SelectiveStateUpdateArgs<float>& args);
void selective_state_update_cuda(const SelectiveStateUpdateArgs<double>& args);
void selective_state_update_cuda(const SelectiveStateUpdateArgs<float>& args, const CudaStream& stream);
void selective_state_update_cuda(const SelectiveStateUpdateArgs<double>& args, const CudaStream& stream);

void diag_scan_cuda(const DiagScanArgs<float>& args);
void diag_scan_cuda(const DiagScanArgs<double>& args);
void diag_scan_cuda(const DiagScanArgs<float>& args, const CudaStream& stream);
void diag_scan_cuda(const DiagScanArgs<double>& args, const CudaStream& stream);

/// Kernel choice of the CUDA diag_scan, for tests and the bench (0 = automatic). `legacy` runs
/// the chunked warp scan of scan_kernel.cuh instead of the register-resident sequential scan.
/// `gemm_chunk`: the chunked-GEMM formulation of kernels/scan/diag_scan_gemm.cu with chunks of
/// that many samples (16..1024); -1 never; 0 automatic: chosen when every other field is at its
/// default, the time strides of u and y are 1 and the problem is long enough (diag_scan.cu).
/// `tensor_core`: the fused FP64 tensor-core chunked kernel (kernels/scan/diag_scan_tc.cuh, chunks
/// of 64 samples, compute capability 8.0+, <= 64 modes): 1 forced, -1 never, 0 automatic (the
/// first choice where it applies, with every other field at its default).
struct DiagScanCudaConfig {
  int modes_per_thread = 0;  // 4, 8 or 16
  int chunks = 0;            // time chunks
  bool legacy = false;
  int gemm_chunk = 0;
  int tensor_core = 0;
};
void diag_scan_cuda(const DiagScanArgs<float>& args, const DiagScanCudaConfig& config);
void diag_scan_cuda(const DiagScanArgs<double>& args, const DiagScanCudaConfig& config);

}  // namespace ssm::detail
