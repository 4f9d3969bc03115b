#pragma once
// Internal: the Streamer<T> of a model family whose model class streams one stream at a time
// (prepare(StreamSpec) for one stream, process_mono(in, out, n) on (n, d_input) frames, reset,
// state_size/save_state/load_state: MambaModel, S4DModel, and new families written the same
// way). spec.channels streams share ONE copy of the weights: the streamer keeps one model and
// one state slot per channel, and swaps a channel's state in and out around its block
// (save_state/load_state are exact and real-time safe, so the output is bit-identical to one
// model copy per channel). With one channel the model's own state is used, no swap.
//
//   template <class T> using MambaStreamer = detail::SharedWeightsStreamer<T, MambaModel<T>>;
//   MambaStreamer<T> s(model, cfg.d_input, cfg.d_output);  // copies the model once
#include <algorithm>
#include <cstddef>
#include <vector>

#include "ssm/stream/streamer.hpp"

namespace ssm::detail {

template <class T, class M>
class SharedWeightsStreamer final : public Streamer<T> {
public:
  SharedWeightsStreamer(const M& model, int d_input, int d_output, int latency = 0)
      : m_(model), di_(d_input), do_(d_output), latency_(latency) {}
  int input_width() const noexcept override { return di_; }
  int output_width() const noexcept override { return do_; }
  int latency() const noexcept override { return latency_; }

protected:
  void do_prepare(const StreamSpec& spec) override {
    StreamSpec one = spec;
    one.channels = 1;
    m_.prepare(one);
    S_ = m_.state_size();
    C_ = static_cast<std::size_t>(spec.channels);
    slots_.assign(C_ > 1 ? C_ * S_ : 0, T(0));
  }
  void do_process(const T* const* in, T* const* out, int n) noexcept override {
    if (C_ == 1) return m_.process_mono(in[0], out[0], n);
    for (std::size_t c = 0; c < C_; ++c) {
      T* slot = slots_.data() + c * S_;
      m_.load_state(slot);
      m_.process_mono(in[c], out[c], n);
      m_.save_state(slot);
    }
  }
  void do_reset() noexcept override {
    m_.reset();
    for (std::size_t c = 0; c < (C_ > 1 ? C_ : 0); ++c) m_.save_state(slots_.data() + c * S_);
  }
  std::size_t do_state_size() const noexcept override { return C_ * S_; }
  void do_save_state(T* dst) const noexcept override {
    if (C_ == 1) return m_.save_state(dst);
    std::copy(slots_.begin(), slots_.end(), dst);
  }
  void do_load_state(const T* src) noexcept override {
    if (C_ == 1) return m_.load_state(src);
    std::copy(src, src + slots_.size(), slots_.begin());
  }

private:
  M m_;  // the one copy of the weights (and the scratch of one stream)
  int di_, do_, latency_;
  std::size_t C_ = 1, S_ = 0;
  std::vector<T> slots_;  // (channels, state_size) when channels > 1
};

}  // namespace ssm::detail
