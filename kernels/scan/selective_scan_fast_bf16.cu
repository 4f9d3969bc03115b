// The fast selective-scan kernel's instantiations for bf16 storage (selective_scan_fast.cuh);
// the launcher is called from selective_scan.cu.
#include "kernels/scan/selective_scan_fast.cuh"

namespace ssm::detail::scan_fast {
template void launch<__nv_bfloat16>(const FastParams<__nv_bfloat16>&, int, int, int, const char*, cudaStream_t);
template void launch_reverse<__nv_bfloat16>(const FastParams<__nv_bfloat16>&, int, int, const char*, cudaStream_t);
template void launch_bidir<__nv_bfloat16>(const FastParams<__nv_bfloat16>&, const FastParams<__nv_bfloat16>&, int, int, const char*, cudaStream_t);
}  // namespace ssm::detail::scan_fast
