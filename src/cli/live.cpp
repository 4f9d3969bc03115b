// ssmkit live: PortAudio duplex stream, input -> model -> output in the callback.
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <thread>
#include <utility>

#include "commands.hpp"
#include "ssm/core/error.hpp"
#if SSM_WITH_AUDIO
#include "ssm/io/audio/live_audio.hpp"
#endif

namespace ssm::cli {

#if SSM_WITH_AUDIO
namespace {

std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the SIGINT flag must be lock-free");
extern "C" void on_sigint(int) { g_stop.store(true, std::memory_order_relaxed); }

}  // namespace
#endif

int cmd_live(const ModelSource& source, const std::string& in_dev, const std::string& out_dev, int block, int channels,
             double rate, double seconds, bool list_devices) {
#if SSM_WITH_AUDIO
  if (list_devices) {
    const auto devices = io::list_audio_devices();
    require(!devices.empty(), "ssmkit live", "--list-devices",
            "PortAudio finds no audio device (no sound card, and no JACK server running; see docs/cli.md for "
            "a JACK dummy server)");
    for (const auto& d : devices)
      std::printf("%3d  %-40s %-12s in %2d  out %2d  %6.0f Hz%s%s\n", d.index, d.name.c_str(), d.host_api.c_str(),
                  d.max_input_channels, d.max_output_channels, d.default_sample_rate,
                  d.default_input ? "  [default in]" : "", d.default_output ? "  [default out]" : "");
    return 0;
  }
  source.validate();
  require(block >= 1 && block <= 8192, "ssmkit live", "--block", "must be in [1, 8192], got ", block);
  require(channels >= 1 && channels <= 64, "ssmkit live", "--channels", "must be in [1, 64], got ", channels);
  require(rate == 0 || (std::isfinite(rate) && rate >= 1 && rate <= 2147483647.0), "ssmkit live", "--rate",
          "must be in [1, 2147483647] Hz (leave it out for the device's rate), got ", rate);
  require(std::isfinite(seconds) && seconds >= 0, "ssmkit live", "--seconds",
          "must be >= 0 (0: until Ctrl-C), got ", seconds);
  const auto model = source.make(channels);
  require(channels == model->channels(), "ssmkit live", "--channels", "the model has ", model->channels(),
          " channels but the stream has ", channels);
  // LiveAudio hosts the model's library streamer directly: PortAudio's buffers go to it as they are.
  const auto streamer = model->make_streamer();

  io::LiveAudio audio;
  io::LiveAudioConfig cfg;
  cfg.input_device = in_dev;
  cfg.output_device = out_dev;
  cfg.channels = channels;
  cfg.sample_rate = rate;
  cfg.block = block;
  try {
    audio.open(cfg, *streamer);
  } catch (const Error& e) {
    // LiveAudio names its own fields; say the options they came from.
    std::string m = e.what();
    for (const auto& [field, option] : {std::pair<std::string, std::string>{"'input_device'", "'--in'"},
                                        {"'output_device'", "'--out'"}, {"'sample_rate'", "'--rate'"},
                                        {"'block'", "'--block'"}, {"'channels'", "'--channels'"},
                                        {" input_device", " --in"}, {" output_device", " --out"}})
      for (std::size_t at = m.find(field); at != std::string::npos; at = m.find(field, at + option.size()))
        m.replace(at, field.size(), option);
    throw Error(m);
  }
  std::printf("model   : %s\n", model->describe().c_str());
  std::printf("stream  : %s -> %s, %d channel(s), %g Hz, block %d, latency in %.1f ms / out %.1f ms\n",
              audio.input_name().c_str(), audio.output_name().c_str(), audio.channels(), audio.sample_rate(),
              audio.block(), 1e3 * audio.input_latency(), 1e3 * audio.output_latency());
  std::printf("running : Ctrl-C to stop\n");
  std::fflush(stdout);

  g_stop.store(false);
  auto previous = std::signal(SIGINT, on_sigint);
  audio.start();
  const auto t0 = std::chrono::steady_clock::now();
  auto next = t0 + std::chrono::seconds(1);
  while (!g_stop.load(std::memory_order_relaxed) && audio.running()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const auto now = std::chrono::steady_clock::now();
    if (seconds > 0 && now - t0 >= std::chrono::duration<double>(seconds)) break;
    if (now >= next) {
      next += std::chrono::seconds(1);
      const io::LiveAudioStats s = audio.stats();
      std::printf("%6.1f s  callbacks %-8llu xruns %-4llu load %5.1f%%  peak %5.1f%%\n",
                  std::chrono::duration<double>(now - t0).count(), static_cast<unsigned long long>(s.callbacks),
                  static_cast<unsigned long long>(s.xruns), 100 * s.cpu_load, 100 * s.peak_load);
      std::fflush(stdout);
    }
  }
  audio.stop();
  audio.close();
  std::signal(SIGINT, previous);
  const io::LiveAudioStats s = audio.stats();
  std::printf("stopped : %llu callbacks, %llu frames, %llu xruns (input under/over %llu/%llu, output under/over "
              "%llu/%llu), peak load %.1f%%\n",
              static_cast<unsigned long long>(s.callbacks), static_cast<unsigned long long>(s.frames),
              static_cast<unsigned long long>(s.xruns), static_cast<unsigned long long>(s.input_underflows),
              static_cast<unsigned long long>(s.input_overflows), static_cast<unsigned long long>(s.output_underflows),
              static_cast<unsigned long long>(s.output_overflows), 100 * s.peak_load);
  return 0;
#else
  (void)source, (void)in_dev, (void)out_dev, (void)block, (void)channels, (void)rate, (void)seconds, (void)list_devices;
  throw Error("ssmkit live: this build of ssmkit has no live audio (built with SSM_WITH_AUDIO=OFF)");
#endif
}

}  // namespace ssm::cli
