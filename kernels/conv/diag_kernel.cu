// CUDA Vandermonde kernel of a diagonal (S4D) model (see diag_kernel_cuda.hpp).
#include <cuda_runtime.h>

#include <cmath>
#include <vector>

#include "backend/diag_kernel_cuda.hpp"
#include "kernels/core/cuda_check.cuh"
#include "kernels/core/device_checks.cuh"
#include "ssm/core/device_buffer.hpp"

namespace ssm::detail {
namespace {

constexpr int kTaps = 32;  // taps per exactly evaluated power

// Thread (h, chunk c) writes K[h, 32c .. 32c+31].
__global__ void vandermonde(int H, int N2, const double* __restrict__ wr, const double* __restrict__ wi,
                            const double* __restrict__ lr, const double* __restrict__ li, long long L,
                            float* __restrict__ K) {
  const long long chunks = (L + kTaps - 1) / kTaps;
  const long long idx = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
  if (idx >= chunks * H) return;
  const int h = static_cast<int>(idx / chunks);
  const long long l0 = (idx % chunks) * kTaps;
  float acc[kTaps];
#pragma unroll
  for (int j = 0; j < kTaps; ++j) acc[j] = 0.f;
  const double fl = static_cast<double>(l0);
  for (int n = 0; n < N2; ++n) {
    const long long i = static_cast<long long>(h) * N2 + n;
    const double a_re = lr[i], a_im = li[i];
    // Step Ad and start power Ad^l0 (exp(-inf) = 0 handles Ad = 0).
    double s_sin, s_cos;
    sincos(a_im, &s_sin, &s_cos);
    const double sm = exp(a_re);
    const float sr = static_cast<float>(sm * s_cos), si = static_cast<float>(sm * s_sin);
    double pr = 1.0, pi = 0.0;
    if (l0 > 0) {
      double ps, pc;
      sincos(fl * a_im, &ps, &pc);
      const double m = exp(fl * a_re);
      pr = m * pc;
      pi = m * ps;
    }
    float zr = static_cast<float>(wr[i] * pr - wi[i] * pi);
    float zi = static_cast<float>(wr[i] * pi + wi[i] * pr);
#pragma unroll
    for (int j = 0; j < kTaps; ++j) {
      acc[j] += zr;
      const float r = zr * sr - zi * si;
      zi = zr * si + zi * sr;
      zr = r;
    }
  }
  float* row = K + static_cast<long long>(h) * L;
#pragma unroll
  for (int j = 0; j < kTaps; ++j)
    if (l0 + j < L) row[l0 + j] = 2.f * acc[j];
}

}  // namespace

void vandermonde_kernel_cuda(int H, int N2, const double* W_re, const double* W_im,
                             const double* log_Ad_re, const double* log_Ad_im, std::ptrdiff_t L,
                             float* K) {
  require(H >= 1 && N2 >= 1, "vandermonde_kernel_cuda", "H, N2", "must be >= 1, got ", H, ", ", N2);
  require(L >= 1, "vandermonde_kernel_cuda", "L", "must be >= 1, got ", L);
  const long long threads = (static_cast<long long>(L) + kTaps - 1) / kTaps * H;
  const long long blocks = (threads + 127) / 128;
  require(blocks < (1LL << 31), "vandermonde_kernel_cuda", "L", "is too long for one launch");
  vandermonde<<<static_cast<unsigned>(blocks), 128>>>(H, N2, W_re, W_im, log_Ad_re, log_Ad_im, L, K);
  SSM_CUDA_CHECK_LAUNCH("vandermonde_kernel_cuda");
  SSM_CUDA_CHECK(cudaDeviceSynchronize(), "vandermonde_kernel_cuda");
}

void diag_kernel_cuda(const DiagonalSSM& model, Method method, std::ptrdiff_t L, float* K,
                      double dt_scale, double alpha) {
  require(L >= 1, "diag_kernel", "L", "must be >= 1, got ", L);
  require(K != nullptr, "diag_kernel", "K", "must not be null");
  const DiagonalDiscrete d = discretize(model, method, dt_scale, alpha);
  require_device_pointer(K, "diag_kernel", "K");
  const std::size_t HN = static_cast<std::size_t>(model.H) * model.N2;
  std::vector<double> wr(HN), wi(HN);
  for (std::size_t i = 0; i < HN; ++i) {
    const std::complex<double> w = model.C.get(i) * d.Bd.get(i);
    wr[i] = w.real();
    wi[i] = w.imag();
  }
  DeviceBuffer<double> wr_d(wr), wi_d(wi), lr_d(d.log_Ad.re), li_d(d.log_Ad.im);
  vandermonde_kernel_cuda(model.H, model.N2, wr_d.data(), wi_d.data(), lr_d.data(), li_d.data(), L, K);
  const long long n = static_cast<long long>(model.H) * static_cast<long long>(L);
  require(first_nonfinite(K, n, "diag_kernel") < 0, "diag_kernel", "model",
          "gives a non-finite kernel (unstable modes overflow over L = ", L, " taps?)");
}

}  // namespace ssm::detail
