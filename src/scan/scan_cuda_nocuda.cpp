// The CUDA backends of the scan ops without CUDA: detail::dispatch / require_cuda
// (src/core/dispatch.hpp) throw before any of these can be called, so they are unreachable; they
// are defined (throwing the same error) so that a build without CUDA links whatever the
// compiler emits for the entry points' CUDA branches.
#ifndef SSM_WITH_CUDA
#include "backend/scan_cuda.hpp"
#include "backend/bidirectional_scan_cuda.hpp"
#include "backend/cross_scan_cuda.hpp"
#include "ssm/core/error.hpp"

namespace ssm::detail {
namespace {
[[noreturn]] void no_cuda(const char* where) {
  throw Error(concat(where, ": argument 'device' cuda requested but ssmkit was built without CUDA"));
}
}  // namespace

void selective_scan_cuda(const SelectiveScanArgs<float>&) { no_cuda("selective_scan"); }
void selective_scan_cuda(const SelectiveScanArgs<double>&) { no_cuda("selective_scan"); }
void selective_scan_cuda(const SelectiveScanArgs<float>&, const CudaStream&) { no_cuda("selective_scan"); }
void selective_scan_cuda(const SelectiveScanArgs<double>&, const CudaStream&) { no_cuda("selective_scan"); }
void selective_state_update_cuda(const SelectiveStateUpdateArgs<float>&) { no_cuda("selective_state_update"); }
void selective_state_update_cuda(const SelectiveStateUpdateArgs<double>&) { no_cuda("selective_state_update"); }
void selective_state_update_cuda(const SelectiveStateUpdateArgs<float>&, const CudaStream&) {
  no_cuda("selective_state_update");
}
void selective_state_update_cuda(const SelectiveStateUpdateArgs<double>&, const CudaStream&) {
  no_cuda("selective_state_update");
}
void bidirectional_scan_cuda(const BidirectionalScanArgs<float>&, bool) { no_cuda("bidirectional_selective_scan"); }
void bidirectional_scan_cuda(const BidirectionalScanArgs<double>&, bool) { no_cuda("bidirectional_selective_scan"); }
void bidirectional_scan_cuda(const BidirectionalScanArgs<float>&, BidirKernel, bool) { no_cuda("bidirectional_selective_scan"); }
void cross_selective_scan_cuda(const CrossScanArgs<float>&) { no_cuda("cross_selective_scan"); }
void cross_selective_scan_unfused_cuda(const CrossScanArgs<float>&) { no_cuda("cross_selective_scan_unfused"); }
void cross_selective_scan_unfused_cuda(const CrossScanArgs<double>&) { no_cuda("cross_selective_scan_unfused"); }
void diag_scan_cuda(const DiagScanArgs<float>&) { no_cuda("diag_scan"); }
void diag_scan_cuda(const DiagScanArgs<double>&) { no_cuda("diag_scan"); }
void diag_scan_cuda(const DiagScanArgs<float>&, const CudaStream&) { no_cuda("diag_scan"); }
void diag_scan_cuda(const DiagScanArgs<double>&, const CudaStream&) { no_cuda("diag_scan"); }
void diag_scan_cuda(const DiagScanArgs<float>&, const DiagScanCudaConfig&) { no_cuda("diag_scan"); }
void diag_scan_cuda(const DiagScanArgs<double>&, const DiagScanCudaConfig&) { no_cuda("diag_scan"); }

}  // namespace ssm::detail
#endif
