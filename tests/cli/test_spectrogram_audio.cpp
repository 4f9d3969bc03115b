// `ssmkit spectrogram`, run as a user runs it (std::system): a stereo WAV's log-magnitude STFT
// through a VMamba model file gives the .npy the library computes in-process (log_stft of the
// channel mean, then VMambaModel::forward); the random default model runs and draws a PNG;
// bad options and models fail with status 1 and one line naming the option, leaving no output.
#define BOOST_TEST_MODULE cli_spectrogram
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <string>
#include <vector>

#include "ssm/conv/stft.hpp"
#include "ssm/io/audio/audio_file.hpp"
#include "ssm/io/npy.hpp"
#include "ssm/layers/mamba_model.hpp"
#include "ssm/layers/vmamba_model.hpp"
#include "support/models.hpp"
#include "support/testing.hpp"

namespace fs = std::filesystem;
using namespace ssm;

namespace {

const test::Ssmkit cli("cli_spectrogram");
std::string path(const std::string& name) { return cli.path(name); }
using Result = test::ProgramResult;
Result ssmkit(const std::string& args) { return cli(args); }

io::AudioBuffer stereo_chirp(double rate, std::int64_t frames) {
  io::AudioBuffer a(2, frames, rate);
  for (std::int64_t t = 0; t < frames; ++t) {
    const double s = double(t) / rate;
    a.channel(0)[std::size_t(t)] = float(0.5 * std::sin(2 * std::numbers::pi * (200 + 1500 * s) * s));
    a.channel(1)[std::size_t(t)] = float(0.3 * std::sin(2 * std::numbers::pi * 900 * s));
  }
  return a;
}

}  // namespace

BOOST_AUTO_TEST_CASE(model_file_output_equals_library_computation) {
  const auto audio = stereo_chirp(8000, 4000);
  const std::string wav = path("in.wav");
  io::write_audio(wav, audio, {io::AudioEncoding::float32});
  const VMambaModelConfig c = test::tiny_vmamba(1, 2, 1, 8);
  const auto model = test::random_model<float>(c, 3);
  model.save(path("vm.safetensors"));

  const Result r = ssmkit("spectrogram '" + wav + "' -o '" + path("out.npy") + "' --model '" + path("vm.safetensors") +
                          "' --size 128 --hop 32 --figure '" + path("fig.png") + "'");
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  const auto got = io::load_npy<float>(path("out.npy"));
  const int frames = 1 + (4000 - 128 + 31) / 32, bins = 65;
  BOOST_TEST((got.shape == std::vector<std::int64_t>{frames, bins, 2}));

  std::vector<float> mono(4000);
  for (std::size_t i = 0; i < mono.size(); ++i) mono[i] = audio.channel(0)[i] / 2 + audio.channel(1)[i] / 2;
  const auto spec = log_stft(mono.data(), 4000, 128, 32);
  std::vector<float> want(std::size_t(frames) * bins * 2);
  model.forward(spec.values.data(), 1, spec.frames, spec.bins, want.data());
  BOOST_TEST(test::max_abs_diff(got.data, want) <= 1e-4);

  std::ifstream png(path("fig.png"), std::ios::binary);
  char sig[8] = {};
  png.read(sig, 8);
  BOOST_TEST(std::string(sig + 1, 3) == "PNG");
}

BOOST_AUTO_TEST_CASE(random_default_model_runs) {
  const std::string wav = path("mono.wav");
  auto a = stereo_chirp(8000, 3000);
  io::AudioBuffer m(1, 3000, 8000);
  for (std::size_t i = 0; i < 3000; ++i) m.channel(0)[i] = a.channel(0)[i];
  io::write_audio(wav, m);
  const Result r = ssmkit("spectrogram '" + wav + "' -o '" + path("rnd.npy") + "'");
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  const auto got = io::load_npy<float>(path("rnd.npy"));
  BOOST_TEST((got.shape == std::vector<std::int64_t>{1 + (3000 - 512 + 127) / 128, 257, 1}));
  double mx = 0;
  for (float v : got.data) mx = std::max(mx, double(std::fabs(v)));
  BOOST_TEST(mx > 1e-3);
}

BOOST_AUTO_TEST_CASE(bad_options_and_models_fail_by_name) {
  const std::string wav = path("bad.wav");
  io::write_audio(wav, stereo_chirp(8000, 1000));
  test::save_random_model<float>(test::tiny_mamba(1, 1, 1), 1, path("seq.safetensors"));
  const std::string out = path("never.npy");
  for (auto [args, expect] : std::vector<std::pair<std::string, std::string>>{
           {"--size 1", "'--size'"},
           {"--hop 0", "'--hop'"},
           {"--model '" + path("seq.safetensors") + "'", "'input'"},
           {"--device tpu", "'--device'"}}) {
    const Result r = ssmkit("spectrogram '" + wav + "' -o '" + out + "' " + args);
    BOOST_TEST(r.status == 1, args);
    BOOST_TEST(r.err.find(expect) != std::string::npos, args << ": " << r.err);
    BOOST_TEST(!fs::exists(out));
  }
  const Result r = ssmkit("spectrogram '" + path("missing.wav") + "' -o '" + out + "'");
  BOOST_TEST(r.status == 1);
  BOOST_TEST(!fs::exists(out));
}
