#pragma once
// Live audio through PortAudio: a duplex stream that calls an AudioProcessor from the audio
// callback. Available when ssmkit is built with SSM_WITH_AUDIO.
//
//   struct Gain : ssm::io::AudioProcessor {
//     void prepare(double, int, int) override {}
//     void process(const float* const* in, float* const* out, int frames) noexcept override {
//       for (int i = 0; i < frames; ++i) out[0][i] = 0.5f * in[0][i];
//     }
//   } gain;
//   ssm::io::LiveAudio audio;                       // Pa_Initialize (Pa_Terminate in ~LiveAudio)
//   audio.open({.channels = 1, .block = 64}, gain); // resolves devices, calls gain.prepare()
//   audio.start();  ...  auto s = audio.stats();  ...  audio.stop();
//
// Host API: JACK when PortAudio has it and a JACK server is running (prefer_jack), else
// PortAudio's default host API. Devices are that host API's defaults, or named by PortAudio
// device index ("3") or by name (exact, else a unique case-insensitive substring).
//
// Real-time contract of the callback: PortAudio delivers interleaved float32 frames; the
// callback deinterleaves them into planar buffers allocated by open(), calls
// AudioProcessor::process(in, out, frames) with frames <= block (in[c][i], out[c][i] for channel
// c < channels, frame i), interleaves the output, and updates the statistics with relaxed
// atomic stores. It never allocates, locks, throws or logs (tests/io/test_live_audio_audio.cpp
// checks the processor's part on a real stream and the adapter's part with a guard that counts
// allocations and locks). AudioProcessor::process must keep the same contract.
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

namespace ssm::io {

/// The real-time processing interface a LiveAudio stream drives.
struct AudioProcessor {
  virtual ~AudioProcessor() = default;
  /// Called by LiveAudio::open() (not real-time: may allocate): the stream's sample rate, the
  /// largest `frames` process() will see, and the channel count of both `in` and `out`.
  virtual void prepare(double sample_rate, int max_block, int channels) = 0;
  /// Called from the audio thread. in[c] and out[c] hold `frames` samples of channel c
  /// (planar); they do not alias. Must not allocate, lock, throw, log or block.
  virtual void process(const float* const* in, float* const* out, int frames) noexcept = 0;
};

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

/// Deinterleaves PortAudio's frames into planar buffers, runs the processor, interleaves the
/// result. The real-time core of LiveAudio, usable (and tested) on its own.
class InterleavedAdapter {
public:
  /// Allocates planar buffers for `channels` x `max_block` (not real-time).
  void prepare(int channels, int max_block);
  /// in: frames x channels interleaved (nullptr: silence); out: same layout. Blocks longer than
  /// max_block are processed in max_block pieces. No allocation, locks or throws. Before
  /// prepare() it does nothing (the channel count, hence the layout, is unknown).
  void run(const float* in, float* out, int frames, AudioProcessor& processor) noexcept;
  int channels() const noexcept { return channels_; }
  int max_block() const noexcept { return max_block_; }

private:
  int channels_ = 0, max_block_ = 0;
  std::vector<float> in_, out_;                // channels x max_block, planar
  std::vector<const float*> in_ptrs_;
  std::vector<float*> out_ptrs_;
};

/// Devices of every host API (initializes PortAudio for the duration of the call).
std::vector<AudioDevice> list_audio_devices();

/// One duplex stream. The control functions (open/start/stop/close) are meant for one thread;
/// stats() may be called from any thread at any time.
class LiveAudio {
public:
  /// Initializes PortAudio (Pa_Initialize); throws ssm::Error on failure.
  LiveAudio();
  /// Stops and closes the stream, then Pa_Terminate.
  ~LiveAudio();
  LiveAudio(const LiveAudio&) = delete;
  LiveAudio& operator=(const LiveAudio&) = delete;

  /// Devices of every host API.
  std::vector<AudioDevice> devices() const;
  /// Name of the host API open() will use for `prefer_jack`.
  std::string host_api(bool prefer_jack = true) const;

  /// Resolves the devices, validates the format, calls processor.prepare(rate, block, channels)
  /// and opens (does not start) the stream. `processor` must outlive the stream. Throws
  /// ssm::Error naming the argument: unknown or ambiguous device, too few channels, unsupported
  /// rate, devices of different host APIs, or a PortAudio error.
  void open(const LiveAudioConfig& config, AudioProcessor& processor);
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

private:
  friend struct LiveAudioCallback;
  int callback(const float* in, float* out, unsigned long frames, unsigned long status) noexcept;
  int resolve_device(const std::string& spec, bool input, int host_api) const;

  void* stream_ = nullptr;  // PaStream*
  AudioProcessor* processor_ = nullptr;
  InterleavedAdapter adapter_;
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
