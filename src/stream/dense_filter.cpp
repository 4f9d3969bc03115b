#include "ssm/stream/dense_filter.hpp"

#include <algorithm>
#include <cmath>

#include "core/simd.hpp"
#include "ssm/core/denormals.hpp"
#include "stream/dense_filter_kernel.hpp"
#include "ssm/core/error.hpp"

namespace ssm {

template <class T>
DenseFilter<T>::DenseFilter(ContinuousSystem sys, Discretization how) : sys_(std::move(sys)), how_(how) {
  sys_.validate("DenseFilter");
  if (how_.method == Method::foh)
    require(how_.convention == Convention::control, "DenseFilter", "method",
            "foh needs the control convention");
  x0_ = Vector::Zero(sys_.states());
}

template <class T>
void DenseFilter<T>::prepare_dt(double dt, int max_block, int channels) {
  require(std::isfinite(dt) && dt > 0, "DenseFilter::prepare_dt", "dt", "must be finite and > 0, got ", dt);
  dt_override_ = dt;
  struct Clear {
    double& d;
    ~Clear() { d = 0; }
  } clear{dt_override_};
  StreamSpec spec;
  spec.max_block = max_block;
  spec.channels = channels;
  Streamer<T>::prepare(spec);
}

template <class T>
void DenseFilter<T>::do_prepare(const StreamSpec& spec) {
  detail::require_cpu_isa("DenseFilter::prepare");
  const double dt = dt_override_ > 0 ? dt_override_ : spec.time_scale / spec.sample_rate;
  discrete_ = discretize(sys_, dt, how_);
  Ad_ = discrete_.Ad.template cast<T>();
  Bd_ = discrete_.Bd.template cast<T>();
  Cd_ = discrete_.Cd.template cast<T>();
  Dd_ = discrete_.Dd.template cast<T>();
  tmp_ = Vector::Zero(sys_.states());
  x_ = Matrix::Zero(sys_.states(), spec.channels);
}

template <class T>
void DenseFilter<T>::run(int c, const T* u, std::ptrdiff_t us, T* y, std::ptrdiff_t ys, int n) noexcept {
  const auto P = sys_.outputs(), M = sys_.inputs();
  ScopedFlushDenormals ftz;
  const int N = static_cast<int>(sys_.states());
  T* x = x_.col(c).data();
  T* t = tmp_.data();
  // The products per SIMD target (stream/dense_filter_kernel.hpp): Ad x + Bd u, Cd x + Dd u.
  for (int f = 0; f < n; ++f) {
    const T* uf = u + f * us;
    T* yf = y + f * ys;
    if (how_.convention == Convention::control) {
      detail::densef::gemv2(Cd_.data(), x, N, Dd_.data(), uf, static_cast<int>(M), static_cast<int>(P), yf);
      detail::densef::gemv2(Ad_.data(), x, N, Bd_.data(), uf, static_cast<int>(M), N, t);
      std::copy(t, t + N, x);
    } else {
      detail::densef::gemv2(Ad_.data(), x, N, Bd_.data(), uf, static_cast<int>(M), N, t);
      std::copy(t, t + N, x);
      detail::densef::gemv2(Cd_.data(), x, N, Dd_.data(), uf, static_cast<int>(M), static_cast<int>(P), yf);
    }
  }
}

template <class T>
void DenseFilter<T>::do_process(const T* const* in, T* const* out, int n) noexcept {
  const std::ptrdiff_t M = sys_.inputs(), P = sys_.outputs();
  for (int c = 0; c < static_cast<int>(x_.cols()); ++c) run(c, in[c], M, out[c], P, n);
}

template <class T>
void DenseFilter<T>::do_process_interleaved(const T* in, T* out, int n) noexcept {
  const std::ptrdiff_t M = sys_.inputs(), P = sys_.outputs(), C = x_.cols();
  for (int c = 0; c < static_cast<int>(C); ++c) run(c, in + c * M, C * M, out + c * P, C * P, n);
}

template <class T>
void DenseFilter<T>::do_reset() noexcept {
  for (Eigen::Index c = 0; c < x_.cols(); ++c) x_.col(c) = x0_;
}

template <class T>
void DenseFilter<T>::do_save_state(T* dst) const noexcept {
  std::copy_n(x_.data(), x_.size(), dst);
}

template <class T>
void DenseFilter<T>::do_load_state(const T* src) noexcept {
  std::copy_n(src, x_.size(), x_.data());
}

template <class T>
std::span<const T> DenseFilter<T>::channel_state(int c) const noexcept {
  if (c < 0 || c >= x_.cols()) return {};
  return {x_.data() + static_cast<std::size_t>(c) * static_cast<std::size_t>(x_.rows()),
          static_cast<std::size_t>(x_.rows())};
}

template <class T>
bool DenseFilter<T>::set_channel_state(std::span<const T> x, int c) noexcept {
  if (c < 0 || c >= x_.cols() || static_cast<Eigen::Index>(x.size()) != x_.rows()) return false;
  for (T v : x)
    if (!std::isfinite(v)) return false;  // a NaN state would persist until reset()
  std::copy(x.begin(), x.end(), x_.data() + static_cast<std::size_t>(c) * static_cast<std::size_t>(x_.rows()));
  return true;
}

template <class T>
void DenseFilter<T>::set_initial_state(std::span<const T> x0) {
  require(static_cast<Eigen::Index>(x0.size()) == sys_.states(), "DenseFilter::set_initial_state",
          "x0", "must have ", sys_.states(), " values, got ", x0.size());
  for (auto v : x0) require(std::isfinite(static_cast<double>(v)), "DenseFilter::set_initial_state", "x0", "must be finite");
  x0_ = Eigen::Map<const Vector>(x0.data(), sys_.states());
  this->reset();
}

template class DenseFilter<float>;
template class DenseFilter<double>;

}  // namespace ssm
