#pragma once
// Internal: the CUDA (cuFFT) backend of ssm::fftconv, implemented in kernels/conv/fftconv.cu.
// Only declared when the library is built with SSM_WITH_CUDA.
//
// Contract (same as ssm::fftconv, float only): the arguments are already validated by the
// entry point (shapes match, Lk >= 1, k/D finite, y does not overlap u). u, k, D, y are HOST
// pointers (u and y with arbitrary strides as described by the views); the backend copies to
// the GPU, convolves (y[b,h,t] = sum_{j<=t, j<Lk} k[h,j] u[b,h,t-j] + D[h] u[b,h,t], D may be
// nullptr meaning 0) and copies back. Throws ssm::Error on CUDA failures.
#include <cstddef>

#include "ssm/core/view.hpp"

namespace ssm::detail {

#ifdef SSM_WITH_CUDA
void fftconv_cuda(View3<const float> u, const float* k, std::ptrdiff_t Lk, const float* D,
                  View3<float> y);
#endif

}  // namespace ssm::detail
