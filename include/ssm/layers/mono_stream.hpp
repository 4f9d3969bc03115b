#pragma once
// MonoStream<Model, T>: the one-stream primitive of a model class that streams (MambaModel,
// S4DModel, MoEMambaModel), written once. Hosts do not call it: the model's make_streamer()
// returns a Streamer<T> (stream/streamer.hpp) of any number of channels built on it, whose
// channels share one copy of the weights (each channel's state is swapped in and out around
// its block; save/load are exact, so the output is that of one model copy per channel).
//
//   prepare(spec)           validates spec (StreamSpec::validate, and spec.channels == 1:
//                           several streams are make_streamer()'s job; ssm::Error naming
//                           'spec.channels'), then allocates the step states and the scratch of
//                           blocks of up to spec.max_block frames. Resets.
//   process_mono(in, out, n)  n frames of the one stream: in (n, d_input) -> out (n, d_output),
//                           row-major frames (Streamer<T>::process_mono's layout). Any n >= 0:
//                           more than max_block frames go through in pieces of max_block (the
//                           state carries over: the same output as one call). Before prepare()
//                           it writes zeros. Real-time safe; in and out may alias when
//                           d_input == d_output.
//   reset(), state_size(), save_state(dst), load_state(src)
//                           the model's own: the streaming state (every layer's recurrent
//                           state) as one flat array of state_size() values (0 before
//                           prepare()); save -> process -> load -> process reproduces the
//                           outputs bit for bit. Real-time safe.
//
// A model class derives from MonoStream<itself, T> and provides (privately, with
// `friend class MonoStream<M, T>`):
//   static constexpr const char* kPrepare;    "MambaModel::prepare": names it in messages
//   bool constructed() const noexcept;        false for a default-constructed model
//   void prepare_stream(const StreamSpec&);   allocates for spec.max_block (spec checked)
//   void process_block(const T* in, T* out, int n) noexcept;   0 <= n <= max_block frames
// and config().d_input / config().d_output.
#include <algorithm>
#include <cstddef>

#include "ssm/core/error.hpp"
#include "ssm/stream/streamer.hpp"

namespace ssm {

template <class Model, class T>
class MonoStream {
public:
  void prepare(const StreamSpec& spec) {
    constexpr const char* w = Model::kPrepare;  // no string built: re-preparing may not allocate
    require(self().constructed(), w, "this", "must be a constructed model");
    spec.validate(w);
    require(spec.channels == 1, w, "spec.channels",
            "must be 1 (one stream; make_streamer() streams any number of channels), got ", spec.channels);
    prepared_ = false;
    self().prepare_stream(spec);
    max_block_ = spec.max_block;
    prepared_ = true;
  }
  void process_mono(const T* in, T* out, int n) noexcept {
    const std::ptrdiff_t di = self().config().d_input, dout = self().config().d_output;
    if (!prepared_ || n < 0) {
      if (n > 0) std::fill(out, out + std::ptrdiff_t(n) * dout, T(0));
      return;
    }
    if (n <= max_block_) return self().process_block(in, out, n);
    for (int at = 0; at < n; at += max_block_)
      self().process_block(in + std::ptrdiff_t(at) * di, out + std::ptrdiff_t(at) * dout, std::min(max_block_, n - at));
  }
  /// The former name of process_mono.
  [[deprecated("process() means planar multi-channel in Streamer<T>: use make_streamer() or process_mono()")]]
  void process(const T* in, T* out, int n) noexcept {
    process_mono(in, out, n);
  }
  bool prepared() const noexcept { return prepared_; }

protected:
  int max_block() const noexcept { return max_block_; }

private:
  Model& self() noexcept { return static_cast<Model&>(*this); }
  const Model& self() const noexcept { return static_cast<const Model&>(*this); }
  bool prepared_ = false;
  int max_block_ = 0;
};

}  // namespace ssm
