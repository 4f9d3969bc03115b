// The fast selective-scan kernel's instantiations for f32 storage (selective_scan_fast.cuh);
// the launcher is called from selective_scan.cu.
#include "kernels/scan/selective_scan_fast.cuh"

namespace ssm::detail::scan_fast {
template void launch<float>(const FastParams<float>&, int, int, int, const char*, cudaStream_t);
template void launch_reverse<float>(const FastParams<float>&, int, int, const char*, cudaStream_t);
template void launch_bidir<float>(const FastParams<float>&, const FastParams<float>&, int, int, const char*, cudaStream_t);
}  // namespace ssm::detail::scan_fast
