#pragma once
// Internal: the CUDA (cuFFT) backend of ssm::fftconv(..., Device::cuda), implemented in
// kernels/conv/fftconv.cu (declared in every build; only called through detail::dispatch, so a
// build without CUDA never references it).
//
// Contract (same as ssm::fftconv, float only): shapes, null pointers and overlap were checked by
// the entry point. u, k, D, y are DEVICE pointers of the current GPU (u and y with arbitrary
// strides as described by the views; anything else is refused with ssm::Error naming the
// argument). The backend reads k and D back to check them finite and to key its spectrum
// cache, checks u finite on the GPU, convolves
//   y[b,h,t] = sum_{j<=t, j<Lk} k[h,j] u[b,h,t-j] + D[h] u[b,h,t]   (D may be nullptr meaning 0)
// and returns once y is written. Throws ssm::Error on non-finite data and CUDA failures.
#include <cstddef>

#include "ssm/core/view.hpp"

namespace ssm::detail {

void fftconv_cuda(View3<const float> u, const float* k, std::ptrdiff_t Lk, const float* D,
                  View3<float> y);

}  // namespace ssm::detail
