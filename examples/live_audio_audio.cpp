// Live audio through a state space model: PortAudio duplex stream, input -> filter -> output
// in the callback. LiveAudio hosts any ssm::Streamer<float>; open() prepares it before the
// stream starts; process() is real-time safe (no allocation, locks or exceptions). Prints xruns and load once a second.
//
//   example_live_audio_audio [seconds=5] [block=64]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "ssm/continuous/hippo.hpp"
#include "ssm/io/audio/live_audio.hpp"
#include "ssm/stream/dense_filter.hpp"

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 5.0;
  const int block = argc > 2 ? std::atoi(argv[2]) : 64;
  try {
    // LegS with 8 states over a 2 ms time scale; C chosen for unit gain at DC (C = B / (B^T A^-1 B)).
    const auto t = ssm::hippo::legs(8);
    const double dc = -(t.B.transpose() * t.A.fullPivLu().solve(t.B))(0, 0);
    // One DenseFilter streams every channel (spec.channels copies); LiveAudio prepares it and
    // hands PortAudio's per-channel buffers to its planar process().
    ssm::DenseFilter<float> filter(ssm::hippo::system(ssm::hippo::Measure::legs, 8, t.B.transpose() / dc, 0.0, 0.002),
                                   ssm::Discretization{ssm::Method::bilinear, ssm::Convention::ssm, 0.5});

    ssm::io::LiveAudio audio;
    audio.open({.channels = 1, .block = block}, filter);
    std::printf("%s -> %s at %.0f Hz, block %d\n", audio.input_name().c_str(), audio.output_name().c_str(),
                audio.sample_rate(), audio.block());
    audio.start();
    for (int s = 1; s <= static_cast<int>(seconds); ++s) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      const auto st = audio.stats();
      std::printf("%3d s: %llu callbacks, %llu xruns, load %.1f%%\n", s, static_cast<unsigned long long>(st.callbacks),
                  static_cast<unsigned long long>(st.xruns), 100 * st.cpu_load);
    }
    audio.stop();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "example_live_audio: %s\n", e.what());
    return 1;
  }
  return 0;
}
