#include "ssm/conv/diag_kernel.hpp"

#include <cmath>
#include <vector>

#include "backend/diag_kernel_cuda.hpp"  // kernels/conv (reached through detail::dispatch only)
#include "core/dispatch.hpp"
#include "ssm/core/device_buffer.hpp"
#include "ssm/core/error.hpp"

namespace ssm {

namespace {
constexpr std::ptrdiff_t kChunk = 32;  // taps per exactly evaluated power
}

template <class T>
void vandermonde_kernel(std::ptrdiff_t N2, const double* W_re, const double* W_im,
                        const double* la_re, const double* la_im, std::ptrdiff_t L, T* K) {
  require(N2 >= 1, "vandermonde_kernel", "N2", "must be >= 1, got ", N2);
  require(L >= 1, "vandermonde_kernel", "L", "must be >= 1, got ", L);
  std::vector<T> zr(N2), zi(N2), sr(N2), si(N2);
  for (std::ptrdiff_t n = 0; n < N2; ++n) {  // step Ad = exp(log Ad)
    const double m = std::exp(la_re[n]);
    sr[n] = static_cast<T>(m * std::cos(la_im[n]));
    si[n] = static_cast<T>(m * std::sin(la_im[n]));
  }
  for (std::ptrdiff_t l0 = 0; l0 < L; l0 += kChunk) {
    // z_n = W_n Ad_n^l0, exactly from the exponent (l0 = 0: W even when log Ad = -inf).
    const double fl = static_cast<double>(l0);
    for (std::ptrdiff_t n = 0; n < N2; ++n) {
      double pr = 1, pi = 0;
      if (l0 > 0) {
        const double m = std::exp(fl * la_re[n]), ph = fl * la_im[n];
        pr = m * std::cos(ph);
        pi = m * std::sin(ph);
      }
      zr[n] = static_cast<T>(W_re[n] * pr - W_im[n] * pi);
      zi[n] = static_cast<T>(W_re[n] * pi + W_im[n] * pr);
    }
    const std::ptrdiff_t len = std::min(kChunk, L - l0);
    T* __restrict zr_p = zr.data();
    T* __restrict zi_p = zi.data();
    const T* __restrict sr_p = sr.data();
    const T* __restrict si_p = si.data();
    for (std::ptrdiff_t j = 0; j < len; ++j) {
      T acc = 0;
#pragma omp simd reduction(+ : acc)
      for (std::ptrdiff_t n = 0; n < N2; ++n) {
        acc += zr_p[n];
        const T r = zr_p[n] * sr_p[n] - zi_p[n] * si_p[n];
        const T i = zr_p[n] * si_p[n] + zi_p[n] * sr_p[n];
        zr_p[n] = r;
        zi_p[n] = i;
      }
      K[l0 + j] = T(2) * acc;
    }
  }
}

template <class T>
void diag_kernel(const DiagonalSSM& model, Method method, std::ptrdiff_t L, T* K, double dt_scale,
                 double alpha) {
  require(L >= 1, "diag_kernel", "L", "must be >= 1, got ", L);
  require(K != nullptr, "diag_kernel", "K", "must not be null");
  const DiagonalDiscrete d = discretize(model, method, dt_scale, alpha);
  const int H = model.H, N2 = model.N2;
  std::vector<double> wr(static_cast<std::size_t>(H) * N2), wi(wr.size());
  for (std::size_t i = 0; i < wr.size(); ++i) {
    const std::complex<double> w = model.C.get(i) * d.Bd.get(i);
    wr[i] = w.real();
    wi[i] = w.imag();
  }
#pragma omp parallel for schedule(static) if (static_cast<double>(H) * N2 * L > 1e5)
  for (int h = 0; h < H; ++h) {
    const std::size_t o = static_cast<std::size_t>(h) * N2;
    vandermonde_kernel<T>(N2, wr.data() + o, wi.data() + o, d.log_Ad.re.data() + o,
                          d.log_Ad.im.data() + o, L, K + static_cast<std::ptrdiff_t>(h) * L);
  }
  for (std::ptrdiff_t i = 0; i < static_cast<std::ptrdiff_t>(H) * L; ++i)
    require(std::isfinite(static_cast<double>(K[i])), "diag_kernel", "model",
            "gives a non-finite kernel (unstable modes overflow over L = ", L, " taps?)");
}

template <class T>
std::vector<T> diag_kernel(const DiagonalSSM& model, Method method, std::ptrdiff_t L, double dt_scale,
                           double alpha) {
  require(L >= 1, "diag_kernel", "L", "must be >= 1, got ", L);
  std::vector<T> K(static_cast<std::size_t>(model.H > 0 ? model.H : 0) * static_cast<std::size_t>(L));
  diag_kernel<T>(model, method, L, K.data(), dt_scale, alpha);
  return K;
}

void diag_kernel(const DiagonalSSM& model, Method method, std::ptrdiff_t L, float* K, Device device,
                 double dt_scale, double alpha) {
  detail::dispatch(
      "diag_kernel", device, [&] { diag_kernel<float>(model, method, L, K, dt_scale, alpha); },
      [&] { detail::diag_kernel_cuda(model, method, L, K, dt_scale, alpha); });
}

void diag_kernel_cuda_to_host(const DiagonalSSM& model, Method method, std::ptrdiff_t L, float* K,
                              double dt_scale, double alpha) {
  constexpr const char* w = "diag_kernel_cuda_to_host";
  require(L >= 1, w, "L", "must be >= 1, got ", L);
  require(K != nullptr, w, "K", "must not be null");
  detail::require_cuda(w, "device");
  DeviceBuffer<float> Kd(static_cast<std::size_t>(model.H > 0 ? model.H : 0) * static_cast<std::size_t>(L));
  diag_kernel(model, method, L, Kd.data(), Device::cuda, dt_scale, alpha);
  Kd.download(K, Kd.size());
}

template void vandermonde_kernel<float>(std::ptrdiff_t, const double*, const double*, const double*,
                                        const double*, std::ptrdiff_t, float*);
template void vandermonde_kernel<double>(std::ptrdiff_t, const double*, const double*, const double*,
                                         const double*, std::ptrdiff_t, double*);
template void diag_kernel<float>(const DiagonalSSM&, Method, std::ptrdiff_t, float*, double, double);
template void diag_kernel<double>(const DiagonalSSM&, Method, std::ptrdiff_t, double*, double, double);
template std::vector<float> diag_kernel<float>(const DiagonalSSM&, Method, std::ptrdiff_t, double, double);
template std::vector<double> diag_kernel<double>(const DiagonalSSM&, Method, std::ptrdiff_t, double, double);

}  // namespace ssm
