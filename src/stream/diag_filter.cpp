#include "ssm/stream/diag_filter.hpp"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "core/complex_diag_step.hpp"
#include "ssm/core/denormals.hpp"
#include "ssm/core/error.hpp"

namespace ssm {

namespace {

constexpr int kPad = 16;  // modes per channel are padded to a multiple of this

template <class T>
struct Kernel {
  const T *ar, *ai, *br, *bi, *cr, *ci, *d;
  T *xr, *xi;
  int H, stride;
};

// One channel over `frames` samples, modes n < count (an int, or std::integral_constant for a
// compile-time count): x_n = a_n x_n + b_n u (complex, split re/im), y = sum_n Re(c_n x_n) + d u
// (the stored c carries the factor 2 of 2 Re). Sample t of the channel is at base + t fs.
template <class T, class Count>
[[gnu::always_inline]] inline void run_channel(const T* __restrict ar, const T* __restrict ai,
                                               const T* __restrict br, const T* __restrict bi,
                                               const T* __restrict cr, const T* __restrict ci,
                                               T* __restrict xr, T* __restrict xi, Count count, T dh,
                                               const T* u, T* y, std::size_t frames, std::ptrdiff_t base,
                                               std::ptrdiff_t fs) noexcept {
  for (std::size_t t = 0; t < frames; ++t) {
    const std::ptrdiff_t at = base + static_cast<std::ptrdiff_t>(t) * fs;
    const T uu = u[at];
    y[at] = detail::complex_diag_step(ar, ai, br, bi, cr, ci, xr, xi, count, uu) + dh * uu;
  }
}

// The recurrence for all channels over `frames` samples. Channel-outer, time, then the SIMD
// mode loop: the channel's coefficients stay in L1 while its samples stream through.
template <class T>
[[gnu::always_inline]] inline void run(const Kernel<T>& k, const T* u, T* y, std::size_t frames,
                                       std::ptrdiff_t cs, std::ptrdiff_t fs) noexcept {
  for (int h = 0; h < k.H; ++h) {
    const std::size_t o = static_cast<std::size_t>(h) * k.stride;
    run_channel(k.ar + o, k.ai + o, k.br + o, k.bi + o, k.cr + o, k.ci + o, k.xr + o, k.xi + o, k.stride,
                k.d[h], u, y, frames, h * cs, fs);
  }
}

// The same with a compile-time mode count NP: coefficients and state are copied into local
// arrays that the compiler keeps in vector registers across the time loop (NP = 16 or 32:
// 6 coefficient + 2 state arrays of NP floats fit in 32 AVX-512 / 16 AVX2 registers or
// spill little), so each sample costs only the FMAs and one horizontal sum.
template <int NP, class T>
[[gnu::always_inline]] inline void run_fixed(const Kernel<T>& k, const T* u, T* y, std::size_t frames,
                                             std::ptrdiff_t cs, std::ptrdiff_t fs) noexcept {
  for (int h = 0; h < k.H; ++h) {
    const std::size_t o = static_cast<std::size_t>(h) * NP;
    T ar[NP], ai[NP], br[NP], bi[NP], cr[NP], ci[NP], xr[NP], xi[NP];
    for (int n = 0; n < NP; ++n) {
      ar[n] = k.ar[o + n]; ai[n] = k.ai[o + n]; br[n] = k.br[o + n]; bi[n] = k.bi[o + n];
      cr[n] = k.cr[o + n]; ci[n] = k.ci[o + n]; xr[n] = k.xr[o + n]; xi[n] = k.xi[o + n];
    }
    run_channel(ar, ai, br, bi, cr, ci, xr, xi, std::integral_constant<int, NP>{}, k.d[h], u, y, frames,
                h * cs, fs);
    for (int n = 0; n < NP; ++n) {
      k.xr[o + n] = xr[n];
      k.xi[o + n] = xi[n];
    }
  }
}

template <class T>
[[gnu::always_inline]] inline void run_any(const Kernel<T>& k, const T* u, T* y, std::size_t frames,
                                           std::ptrdiff_t cs, std::ptrdiff_t fs) noexcept {
  // Copying a channel's arrays in and out only pays off over several frames.
  if (frames >= 8 && k.stride == 16) run_fixed<16>(k, u, y, frames, cs, fs);
  else if (frames >= 8 && k.stride == 32) run_fixed<32>(k, u, y, frames, cs, fs);
  else run(k, u, y, frames, cs, fs);
}

#if defined(__x86_64__) && defined(__GNUC__)
#define SSM_DIAG_CLONES __attribute__((target_clones("arch=skylake-avx512", "arch=haswell", "default")))
#else
#define SSM_DIAG_CLONES
#endif

SSM_DIAG_CLONES void run_f32(const Kernel<float>& k, const float* u, float* y, std::size_t frames,
                             std::ptrdiff_t cs, std::ptrdiff_t fs) noexcept {
  run_any(k, u, y, frames, cs, fs);
}
SSM_DIAG_CLONES void run_f64(const Kernel<double>& k, const double* u, double* y, std::size_t frames,
                             std::ptrdiff_t cs, std::ptrdiff_t fs) noexcept {
  run_any(k, u, y, frames, cs, fs);
}

inline void dispatch(const Kernel<float>& k, const float* u, float* y, std::size_t f, std::ptrdiff_t cs,
                     std::ptrdiff_t fs) noexcept {
  run_f32(k, u, y, f, cs, fs);
}
inline void dispatch(const Kernel<double>& k, const double* u, double* y, std::size_t f,
                     std::ptrdiff_t cs, std::ptrdiff_t fs) noexcept {
  run_f64(k, u, y, f, cs, fs);
}

}  // namespace

template <class T>
DiagFilter<T>::DiagFilter(DiagonalSSM model, Method method, double alpha)
    : model_(std::move(model)), method_(method), alpha_(alpha) {
  model_.validate("DiagFilter");
  require(method != Method::foh, "DiagFilter", "method", "foh is not defined for the ssm convention");
  if (method != Method::zoh) {
    const double a = gbt_alpha(method, alpha);
    require(a >= 0 && a <= 1, "DiagFilter", "alpha", "must lie in [0, 1], got ", a);
  }
}

template <class T>
void DiagFilter<T>::prepare_scaled(double dt_scale, int max_block) {
  require(std::isfinite(dt_scale) && dt_scale > 0, "DiagFilter::prepare_scaled", "dt_scale",
          "must be finite and > 0, got ", dt_scale);
  // Keep the state across a re-discretization: save, prepare (which resets), restore.
  const bool keep = this->prepared();
  std::vector<T> saved = keep ? this->state() : std::vector<T>();
  dt_scale_override_ = dt_scale;
  struct Clear {
    double& d;
    ~Clear() { d = 0; }
  } clear{dt_scale_override_};
  StreamSpec spec;
  spec.max_block = max_block;
  spec.channels = model_.H;
  Streamer<T>::prepare(spec);
  if (keep) this->load_state(saved.data());
}

template <class T>
void DiagFilter<T>::do_prepare(const StreamSpec& spec) {
  require(spec.channels == model_.H, "DiagFilter::prepare", "spec.channels", "must equal the model's H = ",
          model_.H, " (one stream channel per model channel), got ", spec.channels);
  const double dt_scale =
      dt_scale_override_ > 0 ? dt_scale_override_ : spec.time_scale * model_.reference_rate / spec.sample_rate;
  const DiagonalDiscrete d = discretize(model_, method_, dt_scale, alpha_);  // validates, may throw
  const int H = model_.H, N2 = model_.N2;
  const int stride = (N2 + kPad - 1) / kPad * kPad;
  const std::size_t n = static_cast<std::size_t>(H) * stride;
  std::vector<T> ar(n, T(0)), ai(n, T(0)), br(n, T(0)), bi(n, T(0)), cr(n, T(0)), ci(n, T(0));
  for (int h = 0; h < H; ++h)
    for (int k = 0; k < N2; ++k) {
      const std::size_t i = model_.index(h, k), j = static_cast<std::size_t>(h) * stride + k;
      ar[j] = static_cast<T>(d.Ad.re[i]);
      ai[j] = static_cast<T>(d.Ad.im[i]);
      br[j] = static_cast<T>(d.Bd.re[i]);
      bi[j] = static_cast<T>(d.Bd.im[i]);
      cr[j] = static_cast<T>(2.0 * model_.C.re[i]);
      ci[j] = static_cast<T>(2.0 * model_.C.im[i]);
    }
  ar_.swap(ar);
  ai_.swap(ai);
  br_.swap(br);
  bi_.swap(bi);
  cr_.swap(cr);
  ci_.swap(ci);
  d_.assign(model_.D.begin(), model_.D.end());
  xr_.assign(n, T(0));
  xi_.assign(n, T(0));
  dt_ = d.dt;
  stride_ = stride;
}

template <class T>
void DiagFilter<T>::process_strided(const T* u, T* y, std::size_t frames, std::ptrdiff_t cs,
                                    std::ptrdiff_t fs) noexcept {
  if (!this->prepared()) {
    for (int h = 0; h < model_.H; ++h)
      for (std::size_t t = 0; t < frames; ++t) y[h * cs + static_cast<std::ptrdiff_t>(t) * fs] = T(0);
    return;
  }
  ScopedFlushDenormals ftz;
  const Kernel<T> k{ar_.data(), ai_.data(), br_.data(), bi_.data(), cr_.data(), ci_.data(), d_.data(),
                    xr_.data(), xi_.data(), model_.H, stride_};
  dispatch(k, u, y, frames, cs, fs);
}

template <class T>
void DiagFilter<T>::do_process(const T* const* in, T* const* out, int n) noexcept {
  ScopedFlushDenormals ftz;
  for (int h = 0; h < model_.H; ++h) {
    // One channel: the kernel over channel h's coefficient and state rows.
    const std::size_t o = static_cast<std::size_t>(h) * stride_;
    const Kernel<T> k{ar_.data() + o, ai_.data() + o, br_.data() + o, bi_.data() + o, cr_.data() + o,
                      ci_.data() + o, d_.data() + h, xr_.data() + o, xi_.data() + o, 1, stride_};
    dispatch(k, in[h], out[h], static_cast<std::size_t>(n), 0, 1);
  }
}

template <class T>
void DiagFilter<T>::do_process_interleaved(const T* in, T* out, int n) noexcept {
  process_strided(in, out, static_cast<std::size_t>(n), 1, model_.H);
}

template <class T>
void DiagFilter<T>::do_reset() noexcept {
  std::fill(xr_.begin(), xr_.end(), T(0));
  std::fill(xi_.begin(), xi_.end(), T(0));
}

template <class T>
void DiagFilter<T>::do_save_state(T* dst) const noexcept {
  const std::size_t n = static_cast<std::size_t>(model_.H) * model_.N2;
  get_state(std::span<T>(dst, n), std::span<T>(dst + n, n));
}

template <class T>
void DiagFilter<T>::do_load_state(const T* src) noexcept {
  const std::size_t n = static_cast<std::size_t>(model_.H) * model_.N2;
  set_state(std::span<const T>(src, n), std::span<const T>(src + n, n));
}

template <class T>
bool DiagFilter<T>::get_state(std::span<T> re, std::span<T> im) const noexcept {
  const std::size_t n = static_cast<std::size_t>(model_.H) * model_.N2;
  if (!this->prepared() || re.size() != n || im.size() != n) return false;
  for (int h = 0; h < model_.H; ++h)
    for (int k = 0; k < model_.N2; ++k) {
      const std::size_t i = model_.index(h, k), j = static_cast<std::size_t>(h) * stride_ + k;
      re[i] = xr_[j];
      im[i] = xi_[j];
    }
  return true;
}

template <class T>
bool DiagFilter<T>::set_state(std::span<const T> re, std::span<const T> im) noexcept {
  const std::size_t n = static_cast<std::size_t>(model_.H) * model_.N2;
  if (!this->prepared() || re.size() != n || im.size() != n) return false;
  for (int h = 0; h < model_.H; ++h)
    for (int k = 0; k < model_.N2; ++k) {
      const std::size_t i = model_.index(h, k), j = static_cast<std::size_t>(h) * stride_ + k;
      xr_[j] = re[i];
      xi_[j] = im[i];
    }
  return true;
}

template class DiagFilter<float>;
template class DiagFilter<double>;

}  // namespace ssm
