#pragma once
// The ssmkit program's view of a model: something that filters planar multi-channel signals
// in up to three modes (stream, conv, scan) and streams blocks in real time.
//
// Models come from a filter spec (`--filter`, see parse_filter_spec) or a model file
// (`--model`). A spec may leave the channel count open (S4D without H): the model is then
// bound to the input's channel count by make_model().
//
// Signals are planar float32: channel c occupies in[c * frames, (c + 1) * frames).
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ssm/core/device.hpp"
#include "ssm/core/mode.hpp"
#include "ssm/discretize/discretize.hpp"
#include "ssm/layers/model.hpp"
#include "ssm/stream/streamer.hpp"

namespace ssm::cli {

using ssm::Mode;  // ssm/core/mode.hpp: the library's one mode vocabulary

/// Progress bar on stderr: shown only when stderr is a terminal and the job has been running
/// for more than a second; a job is `total` units of work (samples x channels).
class Progress {
public:
  explicit Progress(double total = 0, std::string label = {});
  ~Progress();
  void reset(double total, std::string label);
  void advance(double units);
  void finish();

private:
  double total_ = 0, done_ = 0;
  std::string label_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool enabled_ = false, drawn_ = false;
};

/// Real-time streaming of planar blocks: in[c][i] for c < channels(), out[c][i] for
/// c < output_channels(), i < frames. process()/reset() never allocate, lock, throw or log;
/// frames may exceed the prepared max_block (processed in pieces).
class Streamer {
public:
  virtual ~Streamer() = default;
  virtual void process(const float* const* in, float* const* out, int frames) noexcept = 0;
  virtual void reset() noexcept = 0;
};

class Model {
public:
  virtual ~Model() = default;
  /// One line, e.g. "S4D-Lin diagonal SSM, H=2, N=64 (32 complex modes), zoh".
  virtual std::string describe() const = 0;
  /// Key/value lines for `ssmkit info`.
  virtual std::vector<std::pair<std::string, std::string>> details() const = 0;
  /// Channels of the signal the model processes (filters: each an independent SISO channel;
  /// model files: streams of input_group() consecutive channels each).
  virtual int channels() const = 0;
  /// Channels of the output signal (channels() / input_group() * d_output for a model file
  /// mapping d_input to d_output channels; channels() for the filters).
  virtual int output_channels() const { return channels(); }
  /// Consecutive signal channels that make one stream's frame (a model file's d_input; 1 for filters).
  virtual int input_group() const { return 1; }
  /// The model's own sample rate in Hz (a model file's config sample_rate), 0 when it has none.
  virtual double sample_rate() const { return 0; }
  virtual bool supports(Mode mode, Device device) const = 0;
  /// Offline filtering of channels() planar channels of `frames` samples at `rate` Hz into
  /// output_channels() planar channels.
  /// stream mode processes blocks of `block` frames. Throws ssm::Error for an unsupported
  /// mode/device combination.
  virtual void run(Mode mode, Device device, const float* in, float* out, std::int64_t frames,
                   double rate, int block, Progress& progress) const = 0;
  /// The library streamer (ssm::Streamer<float>, not prepared) of the model: either width 1
  /// (prepared with spec.channels = channels(): one stream per signal channel) or frames of w
  /// values in, w' out (prepared with channels() / w streams, each covering w consecutive input
  /// channels and w' consecutive output channels).
  /// LiveAudio hosts it directly.
  virtual std::unique_ptr<ssm::Streamer<float>> make_streamer() const = 0;
  /// make_streamer(), prepared at `rate` for blocks of max_block, behind the planar signal
  /// interface above (prepare-time allocation happens here).
  std::unique_ptr<Streamer> streamer(double rate, int max_block) const;
  /// Latency in samples of the stream path (0 for recurrent filters).
  virtual int latency() const { return 0; }

  /// The modes this model supports on `device`, in the order stream, conv, scan.
  std::vector<Mode> modes(Device device) const;
  /// Impulse response of channel 0 over `length` samples at `rate` (through the stream path).
  std::vector<float> impulse_response(double rate, std::int64_t length) const;
};

/// A parsed `--filter` spec:
///   hippo:<measure>[:N=64][:theta=0.01][:delay=<theta/2>][:method=bilinear]
///   s4d:<init>[:H=<channels>][:N=64][:seed=0][:dt_min=1e-3][:dt_max=1e-1][:method=zoh]
///   butter:lowpass[:order=8][:cutoff=1000][:method=zoh]   (a designed Butterworth low-pass)
/// (see docs/cli.md for the meaning of every key).
struct FilterSpec {
  std::string text;                         // the spec as given
  std::string family;                       // "hippo" | "s4d" | "butter"
  std::string variant;                      // measure or init
  std::map<std::string, std::string> keys;  // key=value pairs
};

/// The filter used when neither --model nor --filter is given.
inline constexpr const char* kDefaultFilter = "s4d:lin:N=64";
/// The demo's filter when neither is given: one a listener can name (the chirp fades above 1 kHz).
inline constexpr const char* kDemoFilter = "butter:lowpass:order=8:cutoff=1000";

/// Parses and validates a spec (keys, value syntax and ranges). Throws ssm::Error naming the
/// spec and the offending part.
FilterSpec parse_filter_spec(std::string_view text);
/// Builds the model of a spec for signals of `channels` channels.
std::unique_ptr<Model> make_model(const FilterSpec& spec, int channels);
/// Loads a model file (safetensors with ssmkit.arch metadata) or a Hugging Face checkpoint
/// directory as a signal model; a token model (model_file_vocab > 0) is refused naming --model
/// (ssmkit run takes it through open_model and token-id arrays).
std::unique_ptr<Model> load_model_file(const std::string& path, int channels);
/// Checks that `path` can be a model (a .safetensors file, or a directory with config.json and
/// model.safetensors); throws ssm::Error naming `arg` and the expectation otherwise.
void check_model_path(const std::string& path, const char* arg);
/// True when `path` is a directory (a Hugging Face checkpoint, once check_model_path passed).
bool is_checkpoint_dir(const std::string& path);
/// The library model behind `path` (ssm::load_model): a model file of any registered family or a
/// Hugging Face checkpoint directory. Every error names `arg` and the path.
std::unique_ptr<ssm::Model<float>> open_model(const std::string& path, const char* arg);
/// A model file's own sample rate: its config's sample_rate in Hz, 0 when it has none.
double model_file_rate(const ModelInfo& info);
/// A model's vocabulary: its config's vocab_size (> 0: a token model, token ids in), 0 for a
/// signal model.
int model_file_vocab(const ModelInfo& info);

}  // namespace ssm::cli
