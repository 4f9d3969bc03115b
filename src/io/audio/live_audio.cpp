#include "ssm/io/audio/live_audio.hpp"

#include <fcntl.h>
#include <portaudio.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "ssm/core/error.hpp"

namespace ssm::io {

namespace {

[[noreturn]] void pa_fail(const char* where, PaError err) {
  std::string msg = std::string(where) + ": PortAudio error: " + Pa_GetErrorText(err);
  if (err == paUnanticipatedHostError) {
    if (const PaHostErrorInfo* h = Pa_GetLastHostErrorInfo(); h && h->errorText)
      msg += std::string(" (host: ") + h->errorText + ")";
  }
  throw Error(msg);
}

// The host APIs' libraries (ALSA, JACK) print dozens of diagnostic lines on stderr while
// PortAudio probes them (a missing JACK server, ALSA's unused PCM plugins), before any error of
// ours. QuietStderr sends file descriptor 2 to /dev/null for the duration of a probe (PortAudio
// initialization, opening a stream), unless SSM_AUDIO_VERBOSE is set to a non-empty value.
// Not used on the audio thread.
class QuietStderr {
public:
  QuietStderr() {
    const char* v = std::getenv("SSM_AUDIO_VERBOSE");
    if (v && *v) return;
    std::fflush(stderr);
    saved_ = ::dup(2);
    const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (saved_ < 0 || null < 0 || ::dup2(null, 2) < 0) restore();
    if (null >= 0) ::close(null);
  }
  ~QuietStderr() { restore(); }
  QuietStderr(const QuietStderr&) = delete;
  QuietStderr& operator=(const QuietStderr&) = delete;

private:
  void restore() noexcept {
    if (saved_ < 0) return;
    std::fflush(stderr);
    ::dup2(saved_, 2);
    ::close(saved_);
    saved_ = -1;
  }
  int saved_ = -1;
};

PaError quiet_initialize() {
  QuietStderr quiet;
  return Pa_Initialize();
}

// RAII for Pa_Initialize / Pa_Terminate (PortAudio counts nested initializations).
struct PaScope {
  bool ok = false;
  explicit PaScope(const char* where) {
    const PaError e = quiet_initialize();
    if (e != paNoError) pa_fail(where, e);
    ok = true;
  }
  ~PaScope() { if (ok) Pa_Terminate(); }
  PaScope(const PaScope&) = delete;
  PaScope& operator=(const PaScope&) = delete;
};

std::vector<AudioDevice> enumerate() {
  std::vector<AudioDevice> out;
  const int n = Pa_GetDeviceCount();
  for (int i = 0; i < n; ++i) {
    const PaDeviceInfo* d = Pa_GetDeviceInfo(i);
    if (!d) continue;
    const PaHostApiInfo* h = Pa_GetHostApiInfo(d->hostApi);
    AudioDevice a;
    a.index = i;
    a.name = d->name ? d->name : "";
    a.host_api = h && h->name ? h->name : "";
    a.max_input_channels = d->maxInputChannels;
    a.max_output_channels = d->maxOutputChannels;
    a.default_sample_rate = d->defaultSampleRate;
    a.default_input = h && h->defaultInputDevice == i;
    a.default_output = h && h->defaultOutputDevice == i;
    out.push_back(std::move(a));
  }
  return out;
}

int choose_host_api(bool prefer_jack) {
  if (prefer_jack) {
    const PaHostApiIndex j = Pa_HostApiTypeIdToHostApiIndex(paJACK);
    if (j >= 0) return j;
  }
  const PaHostApiIndex d = Pa_GetDefaultHostApi();
  if (d < 0) pa_fail("LiveAudio", d);
  return d;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

double monotonic_seconds() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);  // vDSO: no system call, no lock
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

}  // namespace

// ---- LiveAudio ------------------------------------------------------------------------------
struct LiveAudioCallback {
  static int call(const void* in, void* out, unsigned long frames, const PaStreamCallbackTimeInfo*,
                  PaStreamCallbackFlags status, void* user) {
    return static_cast<LiveAudio*>(user)->callback(in, out, frames, status);
  }
};

std::vector<AudioDevice> list_audio_devices() {
  PaScope pa("list_audio_devices");
  return enumerate();
}

LiveAudio::LiveAudio() {
  const PaError e = quiet_initialize();
  if (e != paNoError) pa_fail("LiveAudio", e);
}

LiveAudio::~LiveAudio() {
  if (stream_) {
    auto* s = static_cast<PaStream*>(stream_);
    if (Pa_IsStreamActive(s) == 1) Pa_AbortStream(s);
    Pa_CloseStream(s);
    stream_ = nullptr;
  }
  Pa_Terminate();
}

std::vector<AudioDevice> LiveAudio::devices() const { return enumerate(); }

std::string LiveAudio::host_api(bool prefer_jack) const {
  const PaHostApiInfo* h = Pa_GetHostApiInfo(choose_host_api(prefer_jack));
  return h && h->name ? h->name : "";
}

int LiveAudio::resolve_device(const std::string& spec, bool input, int host) const {
  const char* arg = input ? "input_device" : "output_device";
  const auto devs = enumerate();
  const PaHostApiInfo* h = Pa_GetHostApiInfo(host);
  auto has_channels = [&](const AudioDevice& d) {
    return (input ? d.max_input_channels : d.max_output_channels) >= channels_;
  };
  auto list = [&] {
    std::string s;
    for (const auto& d : devs)
      if ((input ? d.max_input_channels : d.max_output_channels) > 0)
        s += "\n  " + std::to_string(d.index) + ": '" + d.name + "' (" + d.host_api + ", " +
             std::to_string(input ? d.max_input_channels : d.max_output_channels) + (input ? " in)" : " out)");
    return s.empty() ? std::string(" (none)") : s;
  };

  int index = paNoDevice;
  if (spec.empty()) {
    index = h ? (input ? h->defaultInputDevice : h->defaultOutputDevice) : paNoDevice;
    if (index == paNoDevice)
      fail("LiveAudio::open", arg, "is empty (the default), but host API '", h && h->name ? h->name : "?",
           "' has no default ", input ? "input" : "output", " device; devices:", list());
  } else if (std::all_of(spec.begin(), spec.end(), [](unsigned char c) { return std::isdigit(c); })) {
    index = spec.size() <= 9 ? std::stoi(spec) : -1;
    require(index >= 0 && index < static_cast<int>(devs.size()), "LiveAudio::open", arg,
            "must be a device index below ", devs.size(), ", got ", spec, "; devices:", list());
  } else {
    // Exact name on the chosen host API, then exact name anywhere, then a unique
    // case-insensitive substring (chosen host API first).
    auto pick = [&](auto match, bool this_host_only) {
      std::vector<int> hits;
      for (const auto& d : devs)
        if ((input ? d.max_input_channels : d.max_output_channels) > 0 && match(d) &&
            (!this_host_only || Pa_GetDeviceInfo(d.index)->hostApi == host))
          hits.push_back(d.index);
      return hits;
    };
    const std::string key = lower(spec);
    std::vector<int> hits = pick([&](const AudioDevice& d) { return d.name == spec; }, true);
    if (hits.empty()) hits = pick([&](const AudioDevice& d) { return d.name == spec; }, false);
    if (hits.empty()) hits = pick([&](const AudioDevice& d) { return lower(d.name).find(key) != std::string::npos; }, true);
    if (hits.empty()) hits = pick([&](const AudioDevice& d) { return lower(d.name).find(key) != std::string::npos; }, false);
    if (hits.empty()) fail("LiveAudio::open", arg, "names no ", input ? "input" : "output", " device: '", spec, "'; devices:", list());
    if (hits.size() > 1) {
      std::string names;
      for (int i : hits) names += "\n  " + std::to_string(i) + ": '" + devs[static_cast<std::size_t>(i)].name + "'";
      fail("LiveAudio::open", arg, "'", spec, "' is ambiguous; it matches:", names, "\n(use the index)");
    }
    index = hits.front();
  }
  const AudioDevice& d = devs[static_cast<std::size_t>(index)];
  require(has_channels(d), "LiveAudio::open", arg, "'", d.name, "' has ",
          input ? d.max_input_channels : d.max_output_channels, input ? " input" : " output",
          " channels, fewer than the requested ", channels_);
  return index;
}

void LiveAudio::open(const LiveAudioConfig& config, Streamer<float>& streamer) {
  const char* where = "LiveAudio::open";
  require(!stream_, where, "this", "already has an open stream (close() it first)");
  require(config.channels >= 1, where, "channels", "must be >= 1, got ", config.channels);
  require(config.block >= 1 && config.block <= 65536, where, "block", "must be in [1, 65536] frames, got ", config.block);
  require(std::isfinite(config.sample_rate) && config.sample_rate >= 0, where, "sample_rate",
          "must be finite and >= 0 (0: device default), got ", config.sample_rate);
  require(std::isfinite(config.latency) && config.latency >= 0, where, "latency",
          "must be finite and >= 0 seconds (0: device default), got ", config.latency);

  const int wi = streamer.input_width(), wo = streamer.output_width();
  require((wi == 1 && wo == 1) || (wi == config.channels && wo == config.channels), where, "streamer",
          "must take 1 value a frame (one stream per channel) or config.channels = ", config.channels,
          " values a frame in and out (one stream of wide frames), got ", wi, " in, ", wo, " out");
  const bool planar = wi == 1 && wo == 1;
  channels_ = config.channels;
  const int host = choose_host_api(config.prefer_jack);
  const int in_dev = resolve_device(config.input_device, true, host);
  const int out_dev = resolve_device(config.output_device, false, host);
  const PaDeviceInfo* di = Pa_GetDeviceInfo(in_dev);
  const PaDeviceInfo* dout = Pa_GetDeviceInfo(out_dev);
  require(di->hostApi == dout->hostApi, where, "input_device",
          "and output_device must belong to the same host API for a duplex stream, got '", di->name, "' (",
          Pa_GetHostApiInfo(di->hostApi)->name, ") and '", dout->name, "' (", Pa_GetHostApiInfo(dout->hostApi)->name,
          ")");

  const double rate = config.sample_rate > 0 ? config.sample_rate : dout->defaultSampleRate;
  PaStreamParameters ip{}, op{};
  ip.device = in_dev;
  ip.channelCount = channels_;
  ip.sampleFormat = planar ? (paFloat32 | paNonInterleaved) : paFloat32;
  ip.suggestedLatency = config.latency > 0 ? config.latency : di->defaultLowInputLatency;
  op.device = out_dev;
  op.channelCount = channels_;
  op.sampleFormat = planar ? (paFloat32 | paNonInterleaved) : paFloat32;
  op.suggestedLatency = config.latency > 0 ? config.latency : dout->defaultLowOutputLatency;
  if (const PaError e = Pa_IsFormatSupported(&ip, &op, rate); e != paFormatIsSupported)
    fail(where, "sample_rate", rate, " Hz with ", channels_, " channels is not supported by '", di->name, "' -> '",
         dout->name, "': ", Pa_GetErrorText(e));

  // Not real-time: the streamer and the pointer arrays allocate here, before the callback runs.
  StreamSpec spec;
  spec.sample_rate = rate;
  spec.max_block = config.block;
  spec.channels = planar ? channels_ : 1;
  streamer.prepare(spec);
  silence_.assign(static_cast<std::size_t>(config.block) * static_cast<std::size_t>(channels_), 0.0f);
  in_ptrs_.assign(static_cast<std::size_t>(channels_), nullptr);
  out_ptrs_.assign(static_cast<std::size_t>(channels_), nullptr);
  planar_ = planar;
  streamer_ = &streamer;
  rate_ = rate;
  block_ = config.block;
  input_name_ = di->name;
  output_name_ = dout->name;

  PaStream* s = nullptr;
  PaError e;
  {
    QuietStderr quiet;
    e = Pa_OpenStream(&s, &ip, &op, rate, static_cast<unsigned long>(config.block), paDitherOff,
                      &LiveAudioCallback::call, this);
  }
  if (e != paNoError) {
    streamer_ = nullptr;
    pa_fail(where, e);
  }
  stream_ = s;
}

void LiveAudio::start() {
  require(stream_ != nullptr, "LiveAudio::start", "this", "has no open stream (call open() first)");
  if (running()) return;
  for (auto* a : {&callbacks_, &frames_, &xruns_, &in_under_, &in_over_, &out_under_, &out_over_})
    a->store(0, std::memory_order_relaxed);
  cpu_load_.store(0.0, std::memory_order_relaxed);
  peak_load_.store(0.0, std::memory_order_relaxed);
  auto* s = static_cast<PaStream*>(stream_);
  if (Pa_IsStreamStopped(s) != 1) Pa_StopStream(s);  // finished by itself earlier: rearm
  if (const PaError e = Pa_StartStream(s); e != paNoError) pa_fail("LiveAudio::start", e);
}

void LiveAudio::stop() {
  if (!stream_) return;
  auto* s = static_cast<PaStream*>(stream_);
  if (Pa_IsStreamStopped(s) == 1) return;
  if (const PaError e = Pa_StopStream(s); e != paNoError) pa_fail("LiveAudio::stop", e);
}

void LiveAudio::close() {
  if (!stream_) return;
  auto* s = static_cast<PaStream*>(stream_);
  PaError e = paNoError;
  if (Pa_IsStreamStopped(s) != 1) e = Pa_StopStream(s);
  const PaError e2 = Pa_CloseStream(s);
  stream_ = nullptr;
  streamer_ = nullptr;
  if (e != paNoError) pa_fail("LiveAudio::close", e);
  if (e2 != paNoError) pa_fail("LiveAudio::close", e2);
}

bool LiveAudio::running() const noexcept {
  return stream_ && Pa_IsStreamActive(static_cast<PaStream*>(stream_)) == 1;
}

double LiveAudio::input_latency() const noexcept {
  if (!stream_) return 0;
  const PaStreamInfo* i = Pa_GetStreamInfo(static_cast<PaStream*>(stream_));
  return i ? i->inputLatency : 0;
}

double LiveAudio::output_latency() const noexcept {
  if (!stream_) return 0;
  const PaStreamInfo* i = Pa_GetStreamInfo(static_cast<PaStream*>(stream_));
  return i ? i->outputLatency : 0;
}

LiveAudioStats LiveAudio::stats() const noexcept {
  LiveAudioStats s;
  constexpr auto r = std::memory_order_relaxed;
  s.callbacks = callbacks_.load(r);
  s.frames = frames_.load(r);
  s.xruns = xruns_.load(r);
  s.input_underflows = in_under_.load(r);
  s.input_overflows = in_over_.load(r);
  s.output_underflows = out_under_.load(r);
  s.output_overflows = out_over_.load(r);
  s.cpu_load = cpu_load_.load(r);
  s.peak_load = peak_load_.load(r);
  return s;
}

// The audio thread. One writer per counter: plain load + store (no read-modify-write needed).
int LiveAudio::callback(const void* in, void* out, unsigned long frames, unsigned long status) noexcept {
  constexpr auto r = std::memory_order_relaxed;
  const double t0 = monotonic_seconds();
  auto bump = [](std::atomic<std::uint64_t>& a, std::uint64_t by = 1) { a.store(a.load(r) + by, r); };
  if (status & (paInputUnderflow | paInputOverflow | paOutputUnderflow | paOutputOverflow)) {
    bump(xruns_);
    if (status & paInputUnderflow) bump(in_under_);
    if (status & paInputOverflow) bump(in_over_);
    if (status & paOutputUnderflow) bump(out_under_);
    if (status & paOutputOverflow) bump(out_over_);
  }
  if (streamer_ && out) {
    const int nb = block_, C = channels_;
    if (planar_) {
      // PortAudio's per-channel buffers go to the streamer as they are; a buffer longer than
      // the block is walked by pointer offsets.
      const auto* const* ins = static_cast<const float* const*>(in);
      auto* const* outs = static_cast<float* const*>(out);
      for (unsigned long at = 0; at < frames; at += static_cast<unsigned long>(nb)) {
        const int n = static_cast<int>(std::min<unsigned long>(static_cast<unsigned long>(nb), frames - at));
        for (int c = 0; c < C; ++c) {
          const float* src = ins && ins[c] ? ins[c] + at : silence_.data();
          in_ptrs_[static_cast<std::size_t>(c)] = src;
          out_ptrs_[static_cast<std::size_t>(c)] = outs[c] + at;
        }
        streamer_->process(in_ptrs_.data(), out_ptrs_.data(), n);
      }
    } else {
      const auto* ins = static_cast<const float*>(in);
      auto* outs = static_cast<float*>(out);
      for (unsigned long at = 0; at < frames; at += static_cast<unsigned long>(nb)) {
        const int n = static_cast<int>(std::min<unsigned long>(static_cast<unsigned long>(nb), frames - at));
        const std::size_t off = static_cast<std::size_t>(at) * static_cast<std::size_t>(C);
        streamer_->process_interleaved(ins ? ins + off : silence_.data(), outs + off, n);
      }
    }
  }
  bump(callbacks_);
  bump(frames_, frames);
  // Pa_GetStreamCpuLoad is the one PortAudio call documented as allowed inside the callback; the
  // host APIs implement it as a plain read of the stream's load measurer (PaUtil_GetCpuLoad).
  if (stream_) cpu_load_.store(Pa_GetStreamCpuLoad(static_cast<PaStream*>(stream_)), r);
  const double load = (monotonic_seconds() - t0) / (static_cast<double>(frames) / rate_);
  if (load > peak_load_.load(r)) peak_load_.store(load, r);
  return paContinue;
}

}  // namespace ssm::io
