#include "ssm/stream/dense_filter.hpp"

#include <algorithm>
#include <cmath>

#include "ssm/core/denormals.hpp"
#include "ssm/core/error.hpp"

namespace ssm {

template <class T>
DenseFilter<T>::DenseFilter(ContinuousSystem sys, Discretization how) : sys_(std::move(sys)), how_(how) {
  sys_.validate("DenseFilter");
  if (how_.method == Method::foh)
    require(how_.convention == Convention::control, "DenseFilter", "method",
            "foh needs the control convention");
  x0_ = Vector::Zero(sys_.states());
  x_ = x0_;
}

template <class T>
void DenseFilter<T>::prepare(const StreamSpec& spec) {
  require(std::isfinite(spec.sample_rate) && spec.sample_rate > 0, "DenseFilter::prepare",
          "sample_rate", "must be finite and > 0, got ", spec.sample_rate);
  require(std::isfinite(spec.time_scale) && spec.time_scale > 0, "DenseFilter::prepare",
          "time_scale", "must be finite and > 0, got ", spec.time_scale);
  prepare_dt(spec.time_scale / spec.sample_rate, spec.max_block);
}

template <class T>
void DenseFilter<T>::prepare_dt(double dt, int max_block) {
  require(max_block >= 1, "DenseFilter::prepare", "max_block", "must be >= 1, got ", max_block);
  discrete_ = discretize(sys_, dt, how_);
  Ad_ = discrete_.Ad.template cast<T>();
  Bd_ = discrete_.Bd.template cast<T>();
  Cd_ = discrete_.Cd.template cast<T>();
  Dd_ = discrete_.Dd.template cast<T>();
  tmp_ = Vector::Zero(sys_.states());
  if (x_.size() != sys_.states()) x_ = x0_;
  max_block_ = max_block;
  prepared_ = true;
}

template <class T>
void DenseFilter<T>::process(const T* u, T* y) noexcept {
  const auto P = sys_.outputs(), M = sys_.inputs();
  Eigen::Map<Vector> yv(y, P);
  if (!prepared_) { yv.setZero(); return; }
  ScopedFlushDenormals ftz;
  Eigen::Map<const Vector> uv(u, M);
  if (how_.convention == Convention::control) {
    yv.noalias() = Cd_ * x_;
    yv.noalias() += Dd_ * uv;
    tmp_.noalias() = Ad_ * x_;
    tmp_.noalias() += Bd_ * uv;
    x_.swap(tmp_);
  } else {
    tmp_.noalias() = Ad_ * x_;
    tmp_.noalias() += Bd_ * uv;
    x_.swap(tmp_);
    yv.noalias() = Cd_ * x_;
    yv.noalias() += Dd_ * uv;
  }
}

template <class T>
void DenseFilter<T>::process(const T* u, T* y, std::size_t frames) noexcept {
  const auto P = sys_.outputs(), M = sys_.inputs();
  for (std::size_t f = 0; f < frames; ++f) process(u + f * M, y + f * P);
}

template <class T>
void DenseFilter<T>::reset() noexcept {
  x_ = x0_;  // same size: Eigen copies without reallocating
}

template <class T>
bool DenseFilter<T>::set_state(std::span<const T> x) noexcept {
  if (static_cast<Eigen::Index>(x.size()) != x_.size()) return false;
  for (T v : x)
    if (!std::isfinite(v)) return false;  // a NaN state would persist until reset()
  std::copy(x.begin(), x.end(), x_.data());
  return true;
}

template <class T>
void DenseFilter<T>::set_initial_state(std::span<const T> x0) {
  require(static_cast<Eigen::Index>(x0.size()) == sys_.states(), "DenseFilter::set_initial_state",
          "x0", "must have ", sys_.states(), " values, got ", x0.size());
  for (auto v : x0) require(std::isfinite(static_cast<double>(v)), "DenseFilter::set_initial_state", "x0", "must be finite");
  x0_ = Eigen::Map<const Vector>(x0.data(), sys_.states());
  x_ = x0_;
}

template class DenseFilter<float>;
template class DenseFilter<double>;

}  // namespace ssm
