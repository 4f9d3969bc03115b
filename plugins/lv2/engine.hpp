#pragma once
// The audio engine of the ssmkit LV2 plugin: one prepared Streamer<float> (stream/streamer.hpp)
// behind the plugin's planar audio ports, a delay line that aligns the dry signal with the
// model's latency, and the wet/dry mix. Engines are built outside the audio thread (the LV2
// worker or state restore), handed to run() as one pointer, and freed outside it again.
//
// Per audio channel c and frame t, with L = latency() and w the wet gain:
//   y[c][t]   = streamer output (the model's stream path, the same call `ssmkit run --mode stream` makes)
//   out[c][t] = w * y[c][t] + (1 - w) * in[c][t - L]     (in[c][t - L] = 0 for t < L)
// w = 1 copies y exactly; w ramps linearly over a block when the control changes.
//
// Channel mapping (as `ssmkit run`): a streamer of width 1 runs spec.channels = channels
// independent streams (one per audio channel); a streamer of width w > 1 (a model with
// d_input = d_output = w) takes channels / w streams of w consecutive audio channels.
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "ssm/stream/streamer.hpp"

namespace ssm::lv2 {

/// What an engine runs: nothing (pass-through), a model file or a built-in filter spec.
struct Source {
  enum class Kind { none, model, filter };
  Kind kind = Kind::none;
  std::string text;  // model: absolute path of the .safetensors file; filter: the spec (docs/cli.md)
  bool operator==(const Source&) const = default;
};

class Engine {
public:
  /// Loads source (the model registry through the CLI's load_model_file, or the CLI's filter-spec
  /// grammar) and prepares it for `channels` audio channels at `rate` Hz and blocks of up to
  /// max_block frames. Throws ssm::Error naming the file or spec and what was expected.
  /// Kind::none gives a pass-through engine.
  static std::unique_ptr<Engine> build(const Source& source, double rate, int max_block, int channels);

  /// An engine around any unprepared streamer (what build() does after loading). Throws
  /// ssm::Error when its frame widths do not tile `channels`.
  Engine(std::unique_ptr<Streamer<float>> streamer, Source source, std::string description, double rate,
         int max_block, int channels);

  /// n frames (0 <= n <= max_block()) of every channel; in[c] and out[c] may alias. The wet gain
  /// goes linearly from wet_from (frame 0) to wet_to (frame n - 1); both in [0, 1].
  /// Real-time safe: no allocation, lock, throw or log.
  void process(const float* const* in, float* const* out, int n, float wet_from, float wet_to) noexcept;
  /// Streams and dry delay line back to silence. Real-time safe.
  void reset() noexcept;

  int latency() const noexcept { return latency_; }
  int max_block() const noexcept { return max_block_; }
  int channels() const noexcept { return channels_; }
  const Source& source() const noexcept { return source_; }
  /// One line: what runs (the model's describe()).
  const std::string& description() const noexcept { return description_; }

private:
  std::unique_ptr<Streamer<float>> streamer_;  // null: pass-through
  Source source_;
  std::string description_;
  int max_block_ = 0, channels_ = 0, width_ = 1, streams_ = 0, latency_ = 0;
  std::vector<float> dry_;               // channels x max_block: the input of the block (aliasing-safe)
  std::vector<float> delay_;             // channels x latency: ring of past dry samples
  std::size_t delay_pos_ = 0;
  std::vector<float> frames_in_, frames_out_;  // streams x max_block x width (width > 1)
  std::vector<const float*> in_ptrs_;
  std::vector<float*> out_ptrs_;
};

}  // namespace ssm::lv2
