#pragma once
// The one streaming contract of ssmkit. Everything that streams (DenseFilter, DiagFilter,
// PartitionedConvolver, the S4D / Mamba / MoE-Mamba / BST models, ...) is a Streamer<T>, so
// that every host (the CLI, LiveAudio, an LV2 plugin, Python) is written once.
//
// Shape of the data:
//   spec.channels independent streams (audio channels; each keeps its own state). Every frame
//   of a channel holds input_width() values in and output_width() values out (1 for a filter
//   of a mono signal; d_input / d_output for a model over feature frames).
//   planar       in[c] -> n frames of channel c, (n, input_width()) row-major; out[c] likewise
//                with output_width(). This is the native layout: process() runs on it with no copy.
//   interleaved  in -> (n, channels, input_width()) row-major, out -> (n, channels, output_width()).
//                process_interleaved() converts through scratch allocated by prepare() unless
//                the implementation reads that layout natively (do_process_interleaved: the
//                filters do); with one channel the two layouts are the same memory and nothing
//                is copied.
//   mono         process_mono(): the one-channel form, (n, input_width()) -> (n, output_width()).
// One name, one layout: process() is always planar (pointer per channel), process_interleaved()
// always interleaved, process_mono() always one channel. No streamer adds a process() overload
// of another layout.
// Latency: output frame t depends on input frames <= t - latency() (0 for filters and the
//   per-sample models and the Block-State Transformer, whose block attention is causal row
//   by row; a streamer that has to collect a block first says so here).
//
// Real-time contract (docs/realtime.md; tests/stream/test_streamer_contract.cpp runs it over
// every streamer type):
//   prepare(spec)   validates spec (throws ssm::Error naming the field), allocates everything,
//                   resets. May be called again to change the spec.
//   process(...)    any n >= 0 (1 included) in any split of a signal gives the same output as
//                   one call over it; never allocates, locks, throws or logs. A block longer than
//                   spec.max_block is processed in pieces of max_block (the state carries over:
//                   the same output again). Before prepare() it writes zeros.
//   reset()         the state of a fresh prepare(); real-time safe.
//   state           save_state(dst) writes state_size() values, load_state(src) restores them;
//                   save -> process -> load -> process gives bit-identical outputs. Real-time
//                   safe (fixed size known after prepare()). state()/set_state() are the
//                   allocating conveniences (set_state checks the size and throws).
#include <cstddef>
#include <vector>

#include "ssm/core/error.hpp"

namespace ssm {

/// What a streamer is prepared for. Aggregate: {sample_rate, max_block, time_scale, channels}.
struct StreamSpec {
  double sample_rate = 48000.0;  // Hz; continuous models discretize at dt = time_scale / sample_rate
  int max_block = 512;           // largest n passed to process()
  double time_scale = 1.0;       // continuous time units per second (1: A is in 1/seconds)
  int channels = 1;              // independent streams, each with its own state

  /// Throws ssm::Error("<where>: argument 'spec.<field>' ...") unless sample_rate > 0 and
  /// finite, max_block >= 1, time_scale > 0 and finite, channels >= 1.
  void validate(const char* where) const;
};

template <class T>
class Streamer {
public:
  virtual ~Streamer() = default;

  /// Values per frame of one channel, in and out.
  virtual int input_width() const noexcept = 0;
  virtual int output_width() const noexcept = 0;
  /// Frames by which the output lags the input.
  virtual int latency() const noexcept { return 0; }

  /// Validates and stores spec, then prepares the implementation and the interleave scratch.
  void prepare(const StreamSpec& spec);
  bool prepared() const noexcept { return prepared_; }
  const StreamSpec& spec() const noexcept { return spec_; }

  /// Planar process (see the top of this file). Real-time safe.
  void process(const T* const* in, T* const* out, int n) noexcept;
  /// Interleaved process (see the top of this file). Real-time safe.
  void process_interleaved(const T* in, T* out, int n) noexcept;
  /// One channel (spec.channels == 1, else zeros): in (n, input_width()), out (n, output_width()).
  /// All three take any n >= 0: more than spec.max_block frames go through in pieces of max_block.
  void process_mono(const T* in, T* out, int n) noexcept;
  /// Back to the state of a fresh prepare(). Real-time safe; no-op before prepare().
  void reset() noexcept {
    if (prepared_) do_reset();
  }

  /// Number of values save_state() writes (0 before prepare()).
  std::size_t state_size() const noexcept { return prepared_ ? do_state_size() : 0; }
  /// Writes state_size() values to dst / restores them from src. Real-time safe.
  void save_state(T* dst) const noexcept {
    if (prepared_) do_save_state(dst);
  }
  void load_state(const T* src) noexcept {
    if (prepared_) do_load_state(src);
  }
  /// Allocating conveniences; set_state throws ssm::Error naming 'state' on a size mismatch.
  std::vector<T> state() const;
  void set_state(const std::vector<T>& s);

protected:
  /// For an implementation whose configuration changed outside prepare() (a new kernel): back to
  /// unprepared until the next prepare().
  void unprepare() noexcept { prepared_ = false; }

  // The implementation: called only after a successful prepare(), with 1 <= n <= max_block
  // (the public calls cut longer blocks).
  virtual void do_prepare(const StreamSpec& spec) = 0;
  virtual void do_process(const T* const* in, T* const* out, int n) noexcept = 0;
  virtual void do_reset() noexcept = 0;
  virtual std::size_t do_state_size() const noexcept = 0;
  virtual void do_save_state(T* dst) const noexcept = 0;
  virtual void do_load_state(const T* src) noexcept = 0;
  // Interleaved frames (see the top of this file). The default converts to planar through the
  // scratch of prepare() (no copy for one channel); a streamer that reads strided frames
  // natively overrides it. Called with 1 <= n <= max_block.
  virtual void do_process_interleaved(const T* in, T* out, int n) noexcept;

private:
  void write_zeros(T* const* out, int n) const noexcept;
  StreamSpec spec_{};
  bool prepared_ = false;
  std::vector<T> in_planar_, out_planar_;         // interleave scratch (channels > 1)
  std::vector<const T*> in_ptrs_, piece_in_;     // piece_*: process() of n > max_block
  std::vector<T*> out_ptrs_, piece_out_;
};

extern template class Streamer<float>;
extern template class Streamer<double>;

}  // namespace ssm
