#pragma once
// Internal: the unfused cuFFT convolution baseline (kernels/conv/fftconv.cu) for benches and as
// a second path in tests; plain C++ (no CUDA headers). The kept-spectra convolution is public:
// ssm::CudaFFTConv (include/ssm/conv/fftconv_cuda.hpp).
#include <cstddef>

#include "ssm/conv/fftconv_cuda.hpp"

namespace ssm::detail {

/// The textbook cuFFT convolution without reuse or fusion, as a baseline for benches and a
/// second path for tests: per call it plans, transforms the kernel, transforms u
/// (out of place), multiplies the spectra in one kernel, transforms back, and adds D u and
/// the 1/n scale in a separate pass. Same formula and device-pointer contract as above.
void fftconv_cuda_unfused(const float* u, const float* k, std::ptrdiff_t Lk, const float* D,
                          float* y, int batch, int H, std::ptrdiff_t L);

}  // namespace ssm::detail
