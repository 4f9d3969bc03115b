#pragma once
// Live audio through PortAudio: a duplex stream whose callback runs any ssm::Streamer<float>
// (stream/streamer.hpp: a DiagFilter, a DenseFilter, a PartitionedConvolver, a model's streamer
// from ssm::load_model, or your own). Available when ssmkit is built with SSM_WITH_AUDIO.
//
//   ssm::DiagFilter<float> filter(ssm::s4d_init(ssm::S4DInit::lin, 2, 32));
//   ssm::io::LiveAudio audio;                          // Pa_Initialize (Pa_Terminate in ~LiveAudio)
//   audio.open({.channels = 2, .block = 64}, filter);  // resolves devices, prepares the streamer
//   audio.start();  ...  auto s = audio.stats();  ...  audio.stop();
//
// Host API: JACK when PortAudio has it and a JACK server is running (prefer_jack), else
// PortAudio's default host API. Devices are that host API's defaults, or named by PortAudio
// device index ("3") or by name (exact, else a unique case-insensitive substring).
//
// How the streamer sees the audio (no copy beyond PortAudio's own buffers):
//   input_width() == output_width() == 1   the streamer is prepared with channels = config
//       channels; the stream is opened non-interleaved (paNonInterleaved) and the callback
//       passes PortAudio's per-channel buffers to Streamer::process (planar) as they are;
//   input_width() == output_width() == config.channels (C > 1)   one stream of C-wide frames
//       (a model with d_input = C): prepared with channels = 1; the stream is interleaved and
//       the callback passes PortAudio's buffers to process_interleaved, which for one channel is
//       the planar layout itself.
// Anything else is refused by open() (ssm::Error naming 'streamer').
//
// Real-time contract of the callback: Streamer::process* with frames <= block (a longer
// callback buffer is cut into pieces by pointer offsets), then relaxed atomic stores of the
// statistics. It never allocates, locks, throws or logs (tests/io/test_live_audio_audio.cpp
// checks it on a real stream and on callback_for_test() under a guard); the streamer keeps
// the same contract (tests/stream/test_streamer_contract.cpp). Input missing (nullptr, or a
// null channel) reads as silence from a buffer allocated by open().
//
// Statistics (stats(), readable from any thread while the stream runs):
//   xruns         callbacks whose status flags reported any input/output underflow/overflow
//                 (PortAudio's paInputUnderflow, paInputOverflow, paOutputUnderflow,
//                 paOutputOverflow; the four are also counted separately);
//   cpu_load      Pa_GetStreamCpuLoad(): PortAudio's smoothed fraction of the block period
//                 spent in the callback (0..1, > 1 when it cannot keep up);
//   peak_load     the largest single callback's duration / block period since start().
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "ssm/stream/streamer.hpp"

namespace ssm::io {

/// One PortAudio device.
struct AudioDevice {
  int index = -1;  // PortAudio device index (valid until Pa_Terminate)
  std::string name;
  std::string host_api;
  int max_input_channels = 0, max_output_channels = 0;
  double default_sample_rate = 0;
  bool default_input = false, default_output = false;  // default of its host API
};

struct LiveAudioConfig {
  std::string input_device;   // "": host API default; "<digits>": device index; else a name
  std::string output_device;  // same
  int channels = 1;           // input and output channels (>= 1)
  double sample_rate = 0;     // Hz; 0: the output device's default rate
  int block = 64;             // frames per callback (fixed; PortAudio adapts to the host buffer)
  double latency = 0;         // suggested latency in seconds; 0: the devices' default low latency
  bool prefer_jack = true;    // use the JACK host API when available
};

struct LiveAudioStats {
  std::uint64_t callbacks = 0, frames = 0;
  std::uint64_t xruns = 0;  // callbacks with any of the four flags below
  std::uint64_t input_underflows = 0, input_overflows = 0, output_underflows = 0, output_overflows = 0;
  double cpu_load = 0, peak_load = 0;
};

/// Devices of every host API (initializes PortAudio for the duration of the call).
std::vector<AudioDevice> list_audio_devices();

/// One duplex stream. The control functions (open/start/stop/close) are meant for one thread;
/// stats() may be called from any thread at any time.
class LiveAudio {
public:
  /// Initializes PortAudio (Pa_Initialize); throws ssm::Error on failure. While PortAudio
  /// probes the host APIs (here, in list_audio_devices() and in open()) stderr is sent to
  /// /dev/null: ALSA and JACK print dozens of diagnostic lines there. SSM_AUDIO_VERBOSE=1 keeps them.
  LiveAudio();
  /// Stops and closes the stream, then Pa_Terminate.
  ~LiveAudio();
  LiveAudio(const LiveAudio&) = delete;
  LiveAudio& operator=(const LiveAudio&) = delete;

  /// Devices of every host API.
  std::vector<AudioDevice> devices() const;
  /// Name of the host API open() will use for `prefer_jack`.
  std::string host_api(bool prefer_jack = true) const;

  /// Resolves the devices, validates the format, prepares `streamer` with {rate, block, 1,
  /// channels} (see the top of this file for the two layouts) and opens (does not start) the
  /// stream. `streamer` must outlive the stream and must not be re-prepared while it is open.
  /// Throws ssm::Error naming the argument: unknown or ambiguous device, too few channels,
  /// unsupported rate, devices of different host APIs, a streamer whose widths fit neither
  /// layout, or a PortAudio error.
  void open(const LiveAudioConfig& config, Streamer<float>& streamer);
  /// Resets the statistics and starts the callbacks.
  void start();
  /// Stops after the pending buffers have played (Pa_StopStream). No-op when not running.
  void stop();
  /// Stops and closes. No-op when not open.
  void close();

  bool is_open() const noexcept { return stream_ != nullptr; }
  bool running() const noexcept;
  double sample_rate() const noexcept { return rate_; }
  int block() const noexcept { return block_; }
  int channels() const noexcept { return channels_; }
  /// Device names the open stream uses.
  const std::string& input_name() const noexcept { return input_name_; }
  const std::string& output_name() const noexcept { return output_name_; }
  /// The stream's reported input / output latency in seconds (0 when not open).
  double input_latency() const noexcept;
  double output_latency() const noexcept;

  /// A snapshot of the counters (any thread, lock-free).
  LiveAudioStats stats() const noexcept;
  /// True when the open stream is non-interleaved (planar: width-1 streamer).
  bool planar() const noexcept { return planar_; }

  /// The callback body exactly as PortAudio calls it (planar(): `in`/`out` are arrays of
  /// channel pointers, else interleaved frames), for tests without a device; needs open().
  int callback_for_test(const void* in, void* out, unsigned long frames, unsigned long status = 0) noexcept {
    return callback(in, out, frames, status);
  }

private:
  friend struct LiveAudioCallback;
  int callback(const void* in, void* out, unsigned long frames, unsigned long status) noexcept;
  int resolve_device(const std::string& spec, bool input, int host_api) const;

  void* stream_ = nullptr;  // PaStream*
  Streamer<float>* streamer_ = nullptr;
  bool planar_ = true;
  std::vector<float> silence_;                  // block * channels zeros (missing input)
  std::vector<const float*> in_ptrs_;           // per-channel pointers, offset per piece
  std::vector<float*> out_ptrs_;
  double rate_ = 0;
  int block_ = 0, channels_ = 0;
  std::string input_name_, output_name_;

  std::atomic<std::uint64_t> callbacks_{0}, frames_{0}, xruns_{0};
  std::atomic<std::uint64_t> in_under_{0}, in_over_{0}, out_under_{0}, out_over_{0};
  std::atomic<double> cpu_load_{0.0}, peak_load_{0.0};
  static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<double>::is_always_lock_free,
                "the callback's counters must be lock-free");
};

}  // namespace ssm::io
