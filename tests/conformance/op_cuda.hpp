#pragma once
// CUDA runs for conformance handlers whose CPU code lives in other files (op_diag.cpp,
// op_fftconv.cpp). Each helper takes the case (or the model the handler already built), runs
// the op's CUDA backend in float32 (uploading and downloading explicitly) and returns the
// outputs in the case's layout. Without SSM_WITH_CUDA they throw ssm::Error.
#include "conformance/conformance.hpp"
#include "ssm/discretize/diagonal.hpp"
#include "ssm/discretize/discretize.hpp"

namespace ssm::conformance {

/// `diag_kernel` on the GPU: output "K" (H, L) from the CUDA Vandermonde kernel.
Outputs cuda_diag_kernel(const DiagonalSSM& model, Method method, std::ptrdiff_t L);

/// ssm::fftconv(..., Device::cuda) on the fftconv case, inputs uploaded to device buffers
/// (the entry point takes device pointers). Output "y".
Outputs cuda_fftconv(const io::SafeTensors& st);
/// `fftconv` through the unfused cuFFT path (plan per call, separate skip pass): the second
/// CUDA path of the fftconv case beside ssm::fftconv(..., Device::cuda). Output "y".
Outputs cuda_fftconv_unfused(const io::SafeTensors& st);

/// `diag_filter` conv path on the GPU: K from diag_kernel(..., Device::cuda), y = K * u + D u by
/// ssm::fftconv on Device::cuda (device arrays throughout); the final state "h" from its closed form
/// h = Bd sum_t Ad^{L-1-t} u_t (float64 on the host, exact powers).
Outputs cuda_diag_filter_conv(const io::SafeTensors& st, const DiagonalSSM& model, Method method);

}  // namespace ssm::conformance
