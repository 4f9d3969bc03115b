#pragma once
// ChannelStreamer<T, S>: a Streamer<T> (streamer.hpp) whose spec.channels streams each hold
// their own state object S next to one shared, immutable model (the BST layer and model
// streamers, the MoE-Mamba streamer). It writes the state half of the contract once:
// prepare() makes one S a channel (make_channel, which allocates), and reset / state_size /
// save_state / load_state walk the channels in order, each channel's state as one flat run of
// values. The implementation writes only make_channel and do_process (over ch_).
//
// S is one of
//   a state with state_size(), save(std::span<T>), load(std::span<const T>), reset()
//   a state with size(), save(T*), load(const T*), reset()
//   a range of those (a stack's states, layer after layer: the runs one after another).
// save -> process -> load -> process gives bit-identical outputs when S's save/load are exact.
#include <cstddef>
#include <span>
#include <vector>

#include "ssm/stream/streamer.hpp"

namespace ssm {

namespace detail {

template <class S>
std::size_t state_values(const S& s) noexcept {
  if constexpr (requires { s.state_size(); }) {
    return s.state_size();
  } else if constexpr (requires { s.begin(); s.end(); }) {
    std::size_t n = 0;
    for (const auto& part : s) n += state_values(part);
    return n;
  } else {
    return s.size();
  }
}

template <class T, class S>
T* save_values(const S& s, T* dst) noexcept {
  if constexpr (requires { s.state_size(); }) {
    s.save(std::span<T>(dst, s.state_size()));
    return dst + s.state_size();
  } else if constexpr (requires { s.begin(); s.end(); }) {
    for (const auto& part : s) dst = save_values(part, dst);
    return dst;
  } else {
    s.save(dst);
    return dst + s.size();
  }
}

template <class T, class S>
const T* load_values(S& s, const T* src) noexcept {
  if constexpr (requires { s.state_size(); }) {
    s.load(std::span<const T>(src, s.state_size()));
    return src + s.state_size();
  } else if constexpr (requires { s.begin(); s.end(); }) {
    for (auto& part : s) src = load_values(part, src);
    return src;
  } else {
    s.load(src);
    return src + s.size();
  }
}

template <class S>
void reset_values(S& s) noexcept {
  if constexpr (requires { s.reset(); }) {
    s.reset();
  } else {
    for (auto& part : s) reset_values(part);
  }
}

}  // namespace detail

template <class T, class S>
class ChannelStreamer : public Streamer<T> {
protected:
  /// A zeroed state of one channel for spec (allocates).
  virtual S make_channel(const StreamSpec& spec) const = 0;

  void do_prepare(const StreamSpec& spec) override {
    ch_.clear();
    for (int c = 0; c < spec.channels; ++c) ch_.push_back(make_channel(spec));
  }
  void do_reset() noexcept override { detail::reset_values(ch_); }
  std::size_t do_state_size() const noexcept override { return detail::state_values(ch_); }
  void do_save_state(T* dst) const noexcept override { detail::save_values(ch_, dst); }
  void do_load_state(const T* src) noexcept override { detail::load_values(ch_, src); }

  std::vector<S> ch_;  // one state a channel
};

}  // namespace ssm
