#include "ssm/stream/diag_filter.hpp"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "core/simd.hpp"
#include "stream/diag_filter_kernel.hpp"
#include "ssm/core/denormals.hpp"
#include "ssm/core/error.hpp"

namespace ssm {

namespace {

using detail::diagf::Coeffs;
using detail::diagf::kTile;

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
  detail::require_cpu_isa("DiagFilter::prepare");
  const DiagonalDiscrete d = discretize(model_, method_, dt_scale, alpha_);  // validates, may throw
  const int H = model_.H, N2 = model_.N2;
  namespace df = detail::diagf;
  const bool lanes = H >= df::kLanesMinH;
  const int hp = (H + df::kChannelPad - 1) / df::kChannelPad * df::kChannelPad;
  const int m = lanes ? (N2 + df::kModeGroup - 1) / df::kModeGroup * df::kModeGroup
                      : (N2 + df::kModePad - 1) / df::kModePad * df::kModePad;
  const int stride = lanes ? hp : m;
  const std::size_t n = static_cast<std::size_t>(lanes ? m : H) * stride;
  std::vector<T> ar(n, T(0)), ai(n, T(0)), br(n, T(0)), bi(n, T(0)), cr(n, T(0)), ci(n, T(0));
  lanes_ = lanes;
  stride_ = stride;
  for (int h = 0; h < H; ++h)
    for (int k = 0; k < N2; ++k) {
      const std::size_t i = model_.index(h, k), j = slot(h, k);
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
  d_.assign(static_cast<std::size_t>(lanes ? hp : H), T(0));
  std::copy(model_.D.begin(), model_.D.end(), d_.begin());
  xr_.assign(n, T(0));
  xi_.assign(n, T(0));
  modes_ = m;
  tile_u_.assign(lanes ? static_cast<std::size_t>(kTile) * hp : 0, T(0));
  tile_y_.assign(tile_u_.size(), T(0));
  dt_ = d.dt;
}

template <class T>
void DiagFilter<T>::run_tiles(const T* u, T* y, std::size_t frames, std::ptrdiff_t cs, std::ptrdiff_t fs,
                              const T* const* in, T* const* out) noexcept {
  const int H = model_.H;
  const Coeffs<T> k{ar_.data(), ai_.data(), br_.data(), bi_.data(), cr_.data(), ci_.data(), d_.data(),
                    xr_.data(), xi_.data(), H, modes_, stride_};
  const std::ptrdiff_t S = stride_;
  T* U = tile_u_.data();
  T* Y = tile_y_.data();
  for (std::size_t t0 = 0; t0 < frames; t0 += kTile) {
    const int nt = static_cast<int>(std::min<std::size_t>(kTile, frames - t0));
    for (int t = 0; t < nt; ++t) {
      const std::ptrdiff_t tt = static_cast<std::ptrdiff_t>(t0) + t;
      if (in)
        for (int h = 0; h < H; ++h) U[t * S + h] = in[h][tt];
      else
        for (int h = 0; h < H; ++h) U[t * S + h] = u[h * cs + tt * fs];
    }
    detail::diagf::run_lanes(k, U, Y, nt);
    for (int t = 0; t < nt; ++t) {
      const std::ptrdiff_t tt = static_cast<std::ptrdiff_t>(t0) + t;
      if (out)
        for (int h = 0; h < H; ++h) out[h][tt] = Y[t * S + h];
      else
        for (int h = 0; h < H; ++h) y[h * cs + tt * fs] = Y[t * S + h];
    }
  }
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
  if (lanes_) return run_tiles(u, y, frames, cs, fs, nullptr, nullptr);
  const Coeffs<T> k{ar_.data(), ai_.data(), br_.data(), bi_.data(), cr_.data(), ci_.data(), d_.data(),
                    xr_.data(), xi_.data(), model_.H, modes_, stride_};
  detail::diagf::run_modes(k, u, y, frames, cs, fs);
}

template <class T>
void DiagFilter<T>::do_process(const T* const* in, T* const* out, int n) noexcept {
  ScopedFlushDenormals ftz;
  if (lanes_) return run_tiles(nullptr, nullptr, static_cast<std::size_t>(n), 0, 0, in, out);
  for (int h = 0; h < model_.H; ++h) {
    // One channel: the kernel over channel h's coefficient and state rows.
    const std::size_t o = static_cast<std::size_t>(h) * stride_;
    const Coeffs<T> k{ar_.data() + o, ai_.data() + o, br_.data() + o, bi_.data() + o, cr_.data() + o,
                      ci_.data() + o, d_.data() + h, xr_.data() + o, xi_.data() + o, 1, modes_, stride_};
    detail::diagf::run_modes(k, in[h], out[h], static_cast<std::size_t>(n), 0, 1);
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
      const std::size_t i = model_.index(h, k), j = slot(h, k);
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
      const std::size_t i = model_.index(h, k), j = slot(h, k);
      xr_[j] = re[i];
      xi_[j] = im[i];
    }
  return true;
}

template class DiagFilter<float>;
template class DiagFilter<double>;

}  // namespace ssm
