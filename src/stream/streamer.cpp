#include "ssm/stream/streamer.hpp"

#include <algorithm>
#include <cmath>

namespace ssm {

void StreamSpec::validate(const char* where) const {
  require(std::isfinite(sample_rate) && sample_rate > 0, where, "spec.sample_rate", "must be finite and > 0, got ",
          sample_rate);
  require(max_block >= 1, where, "spec.max_block", "must be >= 1, got ", max_block);
  require(std::isfinite(time_scale) && time_scale > 0, where, "spec.time_scale", "must be finite and > 0, got ",
          time_scale);
  require(channels >= 1, where, "spec.channels", "must be >= 1, got ", channels);
}

template <class T>
void Streamer<T>::prepare(const StreamSpec& spec) {
  spec.validate("Streamer::prepare");
  prepared_ = false;
  do_prepare(spec);
  spec_ = spec;
  const std::size_t C = static_cast<std::size_t>(spec.channels), nb = static_cast<std::size_t>(spec.max_block);
  in_ptrs_.assign(C, nullptr);
  out_ptrs_.assign(C, nullptr);
  piece_in_.assign(C, nullptr);
  piece_out_.assign(C, nullptr);
  if (C > 1) {
    in_planar_.assign(C * nb * static_cast<std::size_t>(input_width()), T(0));
    out_planar_.assign(C * nb * static_cast<std::size_t>(output_width()), T(0));
  } else {
    in_planar_.clear();
    out_planar_.clear();
  }
  prepared_ = true;
  do_reset();
}

template <class T>
void Streamer<T>::write_zeros(T* const* out, int n) const noexcept {
  if (n <= 0 || out == nullptr) return;
  const int C = prepared_ ? spec_.channels : 1;
  for (int c = 0; c < C; ++c)
    if (out[c]) std::fill_n(out[c], static_cast<std::size_t>(n) * static_cast<std::size_t>(output_width()), T(0));
}

template <class T>
void Streamer<T>::process(const T* const* in, T* const* out, int n) noexcept {
  if (n <= 0) return;
  if (!prepared_) return write_zeros(out, n);
  const int nb = spec_.max_block;
  if (n <= nb) return do_process(in, out, n);
  // Longer than max_block: pieces of max_block through the same implementation (the state
  // carries over, so the output is that of one call).
  const std::size_t C = static_cast<std::size_t>(spec_.channels);
  const std::size_t wi = static_cast<std::size_t>(input_width()), wo = static_cast<std::size_t>(output_width());
  for (int at = 0; at < n; at += nb) {
    for (std::size_t c = 0; c < C; ++c) {
      piece_in_[c] = in[c] + static_cast<std::size_t>(at) * wi;
      piece_out_[c] = out[c] + static_cast<std::size_t>(at) * wo;
    }
    do_process(piece_in_.data(), piece_out_.data(), std::min(nb, n - at));
  }
}

template <class T>
void Streamer<T>::process_interleaved(const T* in, T* out, int n) noexcept {
  if (n <= 0) return;
  if (!prepared_) {
    std::fill_n(out, static_cast<std::size_t>(n) * static_cast<std::size_t>(output_width()), T(0));
    return;
  }
  const int nb = spec_.max_block;
  const std::size_t C = static_cast<std::size_t>(spec_.channels);
  const std::size_t wi = static_cast<std::size_t>(input_width()), wo = static_cast<std::size_t>(output_width());
  for (int at = 0; at < n; at += nb)
    do_process_interleaved(in + static_cast<std::size_t>(at) * C * wi, out + static_cast<std::size_t>(at) * C * wo,
                           std::min(nb, n - at));
}

template <class T>
void Streamer<T>::do_process_interleaved(const T* in, T* out, int n) noexcept {
  const int C = spec_.channels, wi = input_width(), wo = output_width();
  if (C == 1) {
    in_ptrs_[0] = in;
    out_ptrs_[0] = out;
    do_process(in_ptrs_.data(), out_ptrs_.data(), n);
    return;
  }
  const std::size_t nb = static_cast<std::size_t>(spec_.max_block);
  for (int c = 0; c < C; ++c) {
    T* pin = in_planar_.data() + static_cast<std::size_t>(c) * nb * wi;
    for (int t = 0; t < n; ++t)
      std::copy_n(in + (static_cast<std::size_t>(t) * C + c) * wi, wi, pin + static_cast<std::size_t>(t) * wi);
    in_ptrs_[static_cast<std::size_t>(c)] = pin;
    out_ptrs_[static_cast<std::size_t>(c)] = out_planar_.data() + static_cast<std::size_t>(c) * nb * wo;
  }
  do_process(in_ptrs_.data(), out_ptrs_.data(), n);
  for (int c = 0; c < C; ++c) {
    const T* pout = out_ptrs_[static_cast<std::size_t>(c)];
    for (int t = 0; t < n; ++t)
      std::copy_n(pout + static_cast<std::size_t>(t) * wo, wo, out + (static_cast<std::size_t>(t) * C + c) * wo);
  }
}

template <class T>
void Streamer<T>::process_mono(const T* in, T* out, int n) noexcept {
  if (n <= 0) return;
  if (!prepared_ || spec_.channels != 1) {
    std::fill_n(out, static_cast<std::size_t>(n) * static_cast<std::size_t>(output_width()), T(0));
    return;
  }
  const int nb = spec_.max_block;
  const std::size_t wi = static_cast<std::size_t>(input_width()), wo = static_cast<std::size_t>(output_width());
  for (int at = 0; at < n; at += nb) {
    in_ptrs_[0] = in + static_cast<std::size_t>(at) * wi;
    out_ptrs_[0] = out + static_cast<std::size_t>(at) * wo;
    do_process(in_ptrs_.data(), out_ptrs_.data(), std::min(nb, n - at));
  }
}

template <class T>
std::vector<T> Streamer<T>::state() const {
  std::vector<T> s(state_size());
  save_state(s.data());
  return s;
}

template <class T>
void Streamer<T>::set_state(const std::vector<T>& s) {
  require(prepared_, "Streamer::set_state", "state", "needs a prepared streamer (call prepare() first)");
  require(s.size() == state_size(), "Streamer::set_state", "state", "must have ", state_size(),
          " values (state_size()), got ", s.size());
  load_state(s.data());
}

template class Streamer<float>;
template class Streamer<double>;

}  // namespace ssm
