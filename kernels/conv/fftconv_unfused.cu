// The unfused cuFFT convolution baseline (src/backend/fftconv_device.hpp): plan, transform k and
// u, multiply, transform back, then scale and add the skip in a second pass, all per call.
#include <cuda_runtime.h>
#include <cufft.h>

#include <algorithm>

#include "backend/fftconv_device.hpp"
#include "kernels/conv/cufft_plan.cuh"
#include "kernels/conv/spectral_kernels.cuh"
#include "kernels/core/cuda_check.cuh"
#include "ssm/conv/fftconv.hpp"
#include "ssm/core/device_buffer.hpp"

namespace ssm::detail {
namespace {
constexpr const char* kWhere = "fftconv_cuda";
}  // namespace

void fftconv_cuda_unfused(const float* u, const float* k, std::ptrdiff_t Lk, const float* D,
                          float* y, int batch, int H, std::ptrdiff_t L) {
  const long long taps = std::min<long long>(Lk, L);
  const long long n = fft_fast_size(std::max<long long>(2, L + taps - 1)), cpx = n / 2 + 1;
  const long long rows = static_cast<long long>(batch) * H;
  require(rows <= 65535, "fftconv_cuda_unfused", "batch", "times H must be <= 65535, got ", rows);
  DeviceBuffer<float> upad(static_cast<std::size_t>(rows * n)), kpad(static_cast<std::size_t>(H * n));
  DeviceBuffer<float2> U(static_cast<std::size_t>(rows * cpx)), K(static_cast<std::size_t>(H * cpx));
  CufftPlan fk(n, H, true, false, kWhere), fu(n, rows, true, false, kWhere), inv(n, rows, false, false, kWhere);
  launch_pad_rows(k, kpad.data(), taps, n, n, Lk, H, nullptr, kWhere);
  launch_pad_rows(u, upad.data(), L, n, n, L, rows, nullptr, kWhere);
  SSM_CUFFT_CHECK(cufftExecR2C(fk.get(), kpad.data(), reinterpret_cast<cufftComplex*>(K.data())), kWhere);
  SSM_CUFFT_CHECK(cufftExecR2C(fu.get(), upad.data(), reinterpret_cast<cufftComplex*>(U.data())), kWhere);
  launch_multiply_spectra(U.data(), K.data(), cpx, H, rows, nullptr, kWhere);
  SSM_CUFFT_CHECK(cufftExecC2R(inv.get(), reinterpret_cast<cufftComplex*>(U.data()), upad.data()), kWhere);
  launch_scale_add_skip(upad.data(), u, D, y, L, n, H, 1.0f / static_cast<float>(n), rows, nullptr, kWhere);
  SSM_CUDA_CHECK(cudaDeviceSynchronize(), kWhere);
}

}  // namespace ssm::detail
