// One S4D layer (s4d_layer.hpp): validation, offline modes and the real-time stream.
#include "ssm/layers/s4d_layer.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <type_traits>

#include "core/complex_diag_step.hpp"
#include "core/dispatch.hpp"
#include "layers/nn_ops.hpp"
#include "layers/resident_weights.hpp"
#include "layers/tensor_names.hpp"
#include "layers/s4d_kernel.hpp"
#include "layers/stream_kernels.hpp"
#include "ssm/conv/diag_kernel.hpp"
#include "ssm/conv/fftconv.hpp"
#include "ssm/core/device_buffer.hpp"
#include "ssm/core/error.hpp"
#include "ssm/core/view.hpp"
#include "ssm/discretize/discretize.hpp"
#include "ssm/scan/diag_scan.hpp"

namespace ssm {

namespace detail {
/// The float stream's output_linear packed for the vector kernels (stream_kernels.hpp).
struct S4DStreamWeights {
  layers_detail::rt::PackedLinear out;
  AlignedVector<float> D;  // the skip term, aligned for rt::s4d_recurrence
};
}  // namespace detail

using layers_detail::linear_gemm;

void S4DLayerConfig::validate(const char* where) const {
  require(d_model >= 1, where, "d_model", "must be >= 1, got ", d_model);
  require(d_state >= 2 && d_state % 2 == 0, where, "d_state", "must be even and >= 2 (N2 = d_state/2 complex modes), got ",
          d_state);
  require(norm_eps > 0 && std::isfinite(norm_eps), where, "norm_eps", "must be finite and > 0, got ", norm_eps);
  require(sample_rate > 0 && std::isfinite(sample_rate), where, "sample_rate", "must be finite and > 0 Hz, got ",
          sample_rate);
}

namespace {
// The recurrence of s4d_layer.hpp over z, y (n, H) time-major: the complex diagonal step of
// DiagFilter and the CPU diag_scan (src/core/complex_diag_step.hpp) with b = 1 + 0i. The
// offline stream mode and the double stream run it; the float stream runs rt::s4d_recurrence.
template <class T>
__attribute__((always_inline)) inline void recurrence_impl(const T* ad_re, const T* ad_im, const T* b_re,
                                                           const T* b_im, const T* w_re, const T* w_im,
                                                           const T* D, int H, int N2, T* h_re, T* h_im,
                                                           const T* z, T* y, std::ptrdiff_t n) noexcept {
  for (int h = 0; h < H; ++h) {
    const std::ptrdiff_t o = std::ptrdiff_t(h) * N2;
    for (std::ptrdiff_t t = 0; t < n; ++t) {
      const T u = z[t * H + h];
      y[t * H + h] = T(2) * detail::complex_diag_step(ad_re + o, ad_im + o, b_re + o, b_im + o, w_re + o,
                                                      w_im + o, h_re + o, h_im + o, N2, u) +
                     D[h] * u;
    }
  }
}
#if defined(SSM_ISA_VARIANTS)
template <class T>
SSM_TARGET_AVX512 void recurrence_avx512(const T* a, const T* b, const T* br, const T* bi, const T* c,
                                         const T* d, const T* D, int H, int N2, T* hr, T* hi, const T* z,
                                         T* y, std::ptrdiff_t n) noexcept {
  recurrence_impl(a, b, br, bi, c, d, D, H, N2, hr, hi, z, y, n);
}
template <class T>
SSM_TARGET_AVX2 void recurrence_avx2(const T* a, const T* b, const T* br, const T* bi, const T* c,
                                     const T* d, const T* D, int H, int N2, T* hr, T* hi, const T* z,
                                     T* y, std::ptrdiff_t n) noexcept {
  recurrence_impl(a, b, br, bi, c, d, D, H, N2, hr, hi, z, y, n);
}
#endif

template <class T>
void recurrence(const T* a, const T* b, const T* br, const T* bi, const T* c, const T* e, const T* D, int H,
                int N2, T* h_re, T* h_im, const T* z, T* y, std::ptrdiff_t n) noexcept {
#if defined(SSM_ISA_VARIANTS)
  using detail::Isa;
  if (detail::cpu_isa() == Isa::avx512)
    return recurrence_avx512(a, b, br, bi, c, e, D, H, N2, h_re, h_im, z, y, n);
  if (detail::cpu_isa() == Isa::avx2) return recurrence_avx2(a, b, br, bi, c, e, D, H, N2, h_re, h_im, z, y, n);
#endif
  recurrence_impl(a, b, br, bi, c, e, D, H, N2, h_re, h_im, z, y, n);
}

/// The stream's recurrence (float: rt::s4d_recurrence) on the mode-major layout (M, H): loops
/// over channels innermost, which the compiler vectorizes as they stand (no reduction).
template <class T>
void recurrence_mode_major(const T* ar, const T* ai, const T* wr, const T* wi, const T* D, std::ptrdiff_t H,
                           std::ptrdiff_t M, T* sr, T* si, const T* z, T* y, std::ptrdiff_t n) noexcept {
  for (std::ptrdiff_t t = 0; t < n; ++t) {
    const T* zt = z + t * H;
    T* yt = y + t * H;
    for (std::ptrdiff_t c = 0; c < H; ++c) yt[c] = T(0);
    for (std::ptrdiff_t m = 0; m < M; ++m) {
      const std::ptrdiff_t o = m * H;
#pragma omp simd
      for (std::ptrdiff_t c = 0; c < H; ++c) {
        const T r = ar[o + c] * sr[o + c] - ai[o + c] * si[o + c] + zt[c];
        const T i = ar[o + c] * si[o + c] + ai[o + c] * sr[o + c];
        sr[o + c] = r;
        si[o + c] = i;
        yt[c] += wr[o + c] * r - wi[o + c] * i;
      }
    }
    for (std::ptrdiff_t c = 0; c < H; ++c) yt[c] = T(2) * yt[c] + D[c] * zt[c];
  }
}

/// Ad and W = C Bd (zoh, B = 1) at dt * dt_scale into the split arrays, which have their size
/// already: no allocation. Channel-major (H, N2) or, with mode_major, (N2, H).
template <class T>
void discretize_into(const DiagonalSSM& s, double dt_scale, T* ad_re, T* ad_im, T* w_re, T* w_im,
                     bool mode_major = false) {
  for (int h = 0; h < s.H; ++h) {
    const double dt = s.dt(h) * dt_scale;
    require(std::isfinite(dt) && dt > 0, "S4DLayer::prepare", "dt", "must be finite and > 0 in channel ", h,
            ", got ", dt);
    for (int k = 0; k < s.N2; ++k) {
      const std::size_t i = s.index(h, k);
      std::complex<double> ad, bd;
      discretize_diag<double>(s.A.get(i), s.B.get(i), dt, Method::zoh, 0.0, ad, bd);
      const std::complex<double> w = s.C.get(i) * bd;  // fold Bd into the read-out
      const std::size_t o = mode_major ? std::size_t(k) * std::size_t(s.H) + std::size_t(h) : i;
      ad_re[o] = static_cast<T>(ad.real());
      ad_im[o] = static_cast<T>(ad.imag());
      w_re[o] = static_cast<T>(w.real());
      w_im[o] = static_cast<T>(w.imag());
    }
  }
}
}  // namespace

template <class T>
S4DLayer<T>::S4DLayer(const S4DLayerConfig& c, S4DLayerParams<T> p, int index)
    : cfg_(c), p_(std::move(p)), gpu_(std::make_shared<detail::ResidentWeights<T>>()) {
  const std::size_t H = c.d_model;
  layers_detail::CheckTensors<T> check("S4DModel");
  layers_detail::s4d_layer_tensors(check, c, index, p_);
  ssm_ = layers_detail::s4d_kernel_ssm(p_, c.d_model, c.modes(), c.sample_rate, "S4DModel");
  out_wt_ = layers_detail::transpose(p_.out_weight, 2 * std::ptrdiff_t(H), std::ptrdiff_t(H));
  if constexpr (std::is_same_v<T, float>) {
    auto w = std::make_shared<detail::S4DStreamWeights>();
    w->out = layers_detail::rt::pack_linear(p_.out_weight, p_.out_bias, 2 * std::ptrdiff_t(H), std::ptrdiff_t(H));
    w->D.assign(p_.D.begin(), p_.D.end());
    fast_ = std::move(w);
  }
}

// act, output_linear, GLU, residual, post-norm over `rows` rows: y (rows, H) is the SSM output
// (overwritten), x (rows, H) the residual stream, glu scratch (rows, 2H).
template <class T>
void S4DLayer<T>::tail(T* ys, std::ptrdiff_t rows, T* x, T* glu, bool offline) const noexcept {
  const std::ptrdiff_t H = cfg_.d_model, n = rows * H;
  if constexpr (std::is_same_v<T, float>) {
    if (!offline) {
      namespace rt = layers_detail::rt;
      rt::activate(cfg_.activation, ys, n);
      rt::linear(fast_->out, ys, rows, H, glu, 2 * H);
      rt::glu_residual(x, glu, 2 * H, rows, H);
      if (!cfg_.prenorm)
        rt::layer_norm(x, rows, H, p_.norm_weight.data(), p_.norm_bias.data(), float(cfg_.norm_eps), x);
      return;
    }
  }
  switch (cfg_.activation) {
    case Activation::gelu: for (std::ptrdiff_t k = 0; k < n; ++k) ys[k] = layers_detail::gelu(ys[k]); break;
    case Activation::silu: for (std::ptrdiff_t k = 0; k < n; ++k) ys[k] = layers_detail::silu(ys[k]); break;
    case Activation::relu: for (std::ptrdiff_t k = 0; k < n; ++k) ys[k] = std::max(ys[k], T(0)); break;
    case Activation::identity: break;
  }
  if (offline) linear_gemm(ys, rows, H, p_.out_weight.data(), p_.out_bias.data(), 2 * H, glu);
  else layers_detail::linear_rows_t(ys, rows, H, out_wt_.data(), p_.out_bias.data(), 2 * H, glu);
  for (std::ptrdiff_t r = 0; r < rows; ++r) {
    const T* g = glu + r * 2 * H;
    T* xr = x + r * H;
    for (std::ptrdiff_t c = 0; c < H; ++c) xr[c] += g[c] * layers_detail::sigmoid(g[H + c]);  // GLU
  }
  if (!cfg_.prenorm)
    layers_detail::layer_norm(x, rows, H, p_.norm_weight.data(), p_.norm_bias.data(), cfg_.norm_eps, x);
}

template <class T>
void S4DLayer<T>::forward(T* x, int batch, int length, Mode mode, double dt_scale, Device device) const {
  constexpr const char* w = "S4DModel::forward";
  const std::ptrdiff_t H = cfg_.d_model, N2 = cfg_.modes(), L = length, M = std::ptrdiff_t(batch) * L;
  std::vector<T> z(std::size_t(M * H)), ys(z.size()), glu(std::size_t(M * 2 * H));
  auto host_AB = [&] {
    std::vector<T> A(std::size_t(H * N2 * 2)), B(A.size());
    for (std::ptrdiff_t k = 0; k < H * N2; ++k) {
      A[std::size_t(2 * k)] = static_cast<T>(ssm_.A.re[std::size_t(k)]);
      A[std::size_t(2 * k + 1)] = static_cast<T>(ssm_.A.im[std::size_t(k)]);
      B[std::size_t(2 * k)] = T(1);
    }
    return std::make_pair(std::move(A), std::move(B));
  };
  // Device::cuda: A, B, C, D resident on the GPU (uploaded on the first cuda forward).
  const std::vector<DeviceBuffer<T>>* gw = nullptr;
  if (device == Device::cuda) {
    detail::require_cuda(w, "device");
    gw = &gpu_->get([&] {
      auto [A, B] = host_AB();
      return std::vector<std::vector<T>>{std::move(A), std::move(B), p_.C, p_.D};
    });
  }
  if (cfg_.prenorm)
    layers_detail::layer_norm(x, M, H, p_.norm_weight.data(), p_.norm_bias.data(), cfg_.norm_eps, z.data());
  else
    std::copy_n(x, M * H, z.data());
  const View3<const T> zv(z.data(), batch, H, L, L * H, 1, H);
  const View3<T> yv(ys.data(), batch, H, L, L * H, 1, H);
  // The conv mode on the GPU computes y = K * u by the recurrence itself (exact, no kernel
  // materialized) up to 64 modes: bench_conv_ssm_conv_cuda measures it 2.4-4x the kernel + FFT
  // path at 32 modes (docs/cuda.md); above that the FFT path's cost does not grow with the modes.
  constexpr std::ptrdiff_t kConvByRecurrenceMaxModes = 64;
  const bool conv_by_recurrence = mode == Mode::conv && device == Device::cuda && N2 <= kConvByRecurrenceMaxModes;
  switch (conv_by_recurrence ? Mode::scan : mode) {
    case Mode::stream: {
      const std::size_t n = std::size_t(H * N2);
      std::vector<T> ar(n), ai(n), wr(n), wi(n), br(n, T(1)), bi(n, T(0)), hr(n), hi(n);
      discretize_into(ssm_, dt_scale, ar.data(), ai.data(), wr.data(), wi.data());
      for (int b = 0; b < batch; ++b) {
        std::fill(hr.begin(), hr.end(), T(0));
        std::fill(hi.begin(), hi.end(), T(0));
        recurrence(ar.data(), ai.data(), br.data(), bi.data(), wr.data(), wi.data(), p_.D.data(), int(H), int(N2),
                   hr.data(), hi.data(), z.data() + b * L * H, ys.data() + b * L * H, L);
      }
      break;
    }
    case Mode::conv:
      if (device == Device::cpu) {
        const auto K = diag_kernel<T>(ssm_, Method::zoh, L, dt_scale);
        fftconv<T>(zv, K.data(), L, p_.D.data(), yv, device);
      } else if constexpr (std::is_same_v<T, float>) {
        // Kernel, convolution and output on the GPU (device pointers), D resident.
        DeviceBuffer<float> dK(std::size_t(H * L)), du(z), dy(ys.size());
        diag_kernel(ssm_, Method::zoh, L, dK.data(), Device::cuda, dt_scale);
        fftconv<float>(View3<const float>(du.data(), batch, H, L, L * H, 1, H), dK.data(), L, (*gw)[3].data(),
                       View3<float>(dy.data(), batch, H, L, L * H, 1, H), Device::cuda);
        dy.download(ys.data(), ys.size());
      } else {
        fail(w, "device", "cuda runs the conv mode in float32 only (use S4DModel<float>)");
      }
      break;
    case Mode::scan: {
      std::vector<T> dt(static_cast<std::size_t>(H));
      for (std::ptrdiff_t h = 0; h < H; ++h) dt[std::size_t(h)] = static_cast<T>(ssm_.dt(int(h)) * dt_scale);
      DiagScanArgs<T> a;
      a.batch = batch;
      a.channels = int(H);
      a.modes = int(N2);
      a.length = length;
      a.method = Method::zoh;
      a.u_strides = a.y_strides = Strides3{L * H, 1, H};
      if (device == Device::cpu) {
        auto [A, B] = host_AB();
        a.A = A.data();
        a.B = B.data();
        a.C = p_.C.data();
        a.D = p_.D.data();
        a.dt = dt.data();
        a.u = z.data();
        a.y = ys.data();
        diag_scan(a, Device::cpu);
      } else {
        DeviceBuffer<T> ddt(dt), du(z), dy(ys.size());  // dt depends on the call's rate
        a.A = (*gw)[0].data();
        a.B = (*gw)[1].data();
        a.C = (*gw)[2].data();
        a.D = (*gw)[3].data();
        a.dt = ddt.data();
        a.u = du.data();
        a.y = dy.data();
        diag_scan(a, device);
        dy.download(ys.data(), ys.size());
      }
      break;
    }
  }
  tail(ys.data(), M, x, glu.data(), true);
}

template <class T>
void S4DLayer<T>::prepare(double dt_scale, int max_block) {
  require(max_block >= 1, "S4DLayer::prepare", "max_block", "must be >= 1, got ", max_block);
  const std::size_t H = cfg_.d_model, n = H * std::size_t(cfg_.modes()), B = max_block;
  if (max_block > max_block_) {  // first prepare, or a longer block: allocate
    max_block_ = 0;
    for (auto* v : {&ad_re_, &ad_im_, &w_re_, &w_im_, &s_re_, &s_im_}) v->assign(n, T(0));
    z_.assign(B * H, T(0));
    y_.assign(B * H, T(0));
    glu_.assign(B * 2 * H, T(0));
  }
  discretize_into(ssm_, dt_scale, ad_re_.data(), ad_im_.data(), w_re_.data(), w_im_.data(), true);
  max_block_ = std::max(max_block_, max_block);
  reset();
}

template <class T>
void S4DLayer<T>::reset() noexcept {
  std::fill(s_re_.begin(), s_re_.end(), T(0));
  std::fill(s_im_.begin(), s_im_.end(), T(0));
}

template <class T>
void S4DLayer<T>::process(T* x, int n) noexcept {
  const std::ptrdiff_t H = cfg_.d_model, N2 = cfg_.modes();
  T* z = z_.data();
  if constexpr (std::is_same_v<T, float>) {
    namespace rt = layers_detail::rt;
    if (cfg_.prenorm)
      rt::layer_norm(x, n, H, p_.norm_weight.data(), p_.norm_bias.data(), float(cfg_.norm_eps), z);
    else
      std::copy_n(x, n * H, z);
    rt::s4d_recurrence(ad_re_.data(), ad_im_.data(), w_re_.data(), w_im_.data(), fast_->D.data(), H, N2,
                       s_re_.data(), s_im_.data(), z, y_.data(), n);
  } else {
    if (cfg_.prenorm)
      layers_detail::layer_norm(x, n, H, p_.norm_weight.data(), p_.norm_bias.data(), cfg_.norm_eps, z);
    else
      std::copy_n(x, n * H, z);
    recurrence_mode_major(ad_re_.data(), ad_im_.data(), w_re_.data(), w_im_.data(), p_.D.data(), H, N2, s_re_.data(),
                          s_im_.data(), z, y_.data(), n);
  }
  tail(y_.data(), n, x, glu_.data(), false);
}

template <class T>
T* S4DLayer<T>::save_state(T* dst) const noexcept {
  dst = std::copy(s_re_.begin(), s_re_.end(), dst);
  return std::copy(s_im_.begin(), s_im_.end(), dst);
}

template <class T>
const T* S4DLayer<T>::load_state(const T* src) noexcept {
  std::copy_n(src, s_re_.size(), s_re_.begin());
  src += s_re_.size();
  std::copy_n(src, s_im_.size(), s_im_.begin());
  return src + s_im_.size();
}

template class S4DLayer<float>;
template class S4DLayer<double>;

}  // namespace ssm
