// ssmkit spectrogram: an audio file's log-magnitude STFT (ssm::log_stft: Hann window, --size,
// --hop) as a (time x frequency) grid through a 2D model (a VMamba stage: --model FILE with
// ssmkit.arch "vmamba" and d_input 1, or a random one from --seed), written as .npy
// (frames, bins, d_output) and, with --figure, a PNG of the input and output grids (matplotlib;
// the data behind it in <figure>_data/).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "commands.hpp"
#include "figure.hpp"  // tools/plot: matplotlib
#include "ssm/conv/stft.hpp"
#include "ssm/core/error.hpp"
#include "ssm/io/npy.hpp"
#include "ssm/layers/registry.hpp"
#include "ssm/layers/vmamba_model.hpp"
#if SSM_WITH_AUDIO
#include "ssm/io/audio/audio_file.hpp"
#endif

namespace ssm::cli {

namespace {

// (rows = frequency, cols = time) for the heat map of a (frames, bins, channels) grid's channel 0.
std::vector<float> freq_major(const std::vector<float>& g, int frames, int bins, int channels) {
  std::vector<float> v(static_cast<std::size_t>(frames) * bins);
  for (int t = 0; t < frames; ++t)
    for (int f = 0; f < bins; ++f)
      v[static_cast<std::size_t>(f) * frames + t] = g[(static_cast<std::size_t>(t) * bins + f) * channels];
  return v;
}

// The figure (matplotlib, tools/plot/figure.hpp): input and output grids side by side.
void draw(const std::string& path, const std::string& title, double seconds, double khz, const std::vector<float>& in,
          const std::vector<float>& out, int frames, int bins) {
  const auto a = freq_major(in, frames, bins, 1), b = freq_major(out, frames, bins, 1);
  plot::Figure fig(1, 2, 12, 5.6);
  fig.title(title);
  fig.axes(0, 0).image(a.data(), bins, frames, 0, seconds, 0, khz, "log magnitude")
      .title("input: log-magnitude STFT").xlabel("time (s)").ylabel("kHz");
  fig.axes(0, 1).image(b.data(), bins, frames, 0, seconds, 0, khz)
      .title("SS2D model output (channel 0)").xlabel("time (s)").ylabel("kHz");
  fig.save(path);
}

}  // namespace

int cmd_spectrogram(const SpectrogramOptions& o) {
  constexpr const char* w = "ssmkit spectrogram";
  require(o.size >= 2, w, "--size", "must be >= 2, got ", o.size);
  require(o.hop >= 1, w, "--hop", "must be >= 1, got ", o.hop);
  require(!o.output.empty(), w, "--output", "must name a .npy file");
  require(o.device == "cpu" || o.device == "cuda", w, "--device", "must be cpu or cuda, got '", o.device, "'");
#if SSM_WITH_AUDIO
  const io::AudioBuffer audio = io::read_audio(o.input);
  require(audio.frames >= 1, w, "IN", "has no samples: '", o.input, "'");
  // Mono: the mean of the channels.
  std::vector<float> mono(static_cast<std::size_t>(audio.frames), 0.f);
  const double seconds = audio.seconds();
  const int channels = audio.channels;
  const double rate = audio.sample_rate;
  for (int ch = 0; ch < audio.channels; ++ch) {
    const auto s = audio.channel(ch);
    for (std::size_t i = 0; i < mono.size(); ++i) mono[i] += s[i] / static_cast<float>(audio.channels);
  }
#else
  std::vector<float> mono;
  const double seconds = 0;
  const int channels = 0;
  const double rate = 0;
  fail(w, "IN", "needs audio file support: ssmkit was built with SSM_WITH_AUDIO=OFF");
#endif
  const LogSpectrogram spec = log_stft(mono.data(), static_cast<std::int64_t>(mono.size()), o.size, o.hop);

  const std::vector<std::int64_t> shape{1, spec.frames, spec.bins, 1};
  const Device device = o.device == "cuda" ? Device::cuda : Device::cpu;
  std::vector<float> y;
  int dout = 1;
  if (!o.model_file.empty()) {
    const auto model = load_model<float>(o.model_file);
    require(model->info().d_input == 1, w, "--model", "must take one input channel (d_input = 1), got d_input = ",
            model->info().d_input);
    const auto out_shape = model->output_shape(shape);  // throws for sequence models (rank 3)
    require(out_shape.size() == 4, w, "--model", "must be a grid model (e.g. arch vmamba), got arch ",
            model->info().arch);
    dout = static_cast<int>(out_shape.back());
    y.resize(static_cast<std::size_t>(spec.frames) * spec.bins * dout);
    model->forward(spec.values.data(), shape, y.data(), model->info().modes.at(0), device);
  } else {
    VMambaModelConfig c;
    c.n_layers = 1;
    c.block.d_model = 16;
    c.block.d_inner = 32;
    c.block.d_state = 8;
    c.block.d_conv = 3;
    c.block.dt_rank = 1;
    c.d_ff = 32;
    const VMambaModel<float> m(c, random_vmamba_model<float>(c, o.seed));
    y.resize(static_cast<std::size_t>(spec.frames) * spec.bins);
    m.forward(spec.values.data(), 1, spec.frames, spec.bins, y.data(), device);
  }
  io::save_npy<float>(o.output, {spec.frames, spec.bins, dout}, y.data(), y.size());
  std::printf("spectrogram: %s (%.2f s, %d channel(s) averaged) -> %d frames x %d bins (size %d, hop %d)\n",
              o.input.c_str(), seconds, channels, spec.frames, spec.bins, o.size, o.hop);
  std::printf("  model   : %s\n", o.model_file.empty() ? ("random vmamba stage, seed " + std::to_string(o.seed)).c_str()
                                                        : o.model_file.c_str());
  std::printf("  output  : %s (%d x %d x %d)\n", o.output.c_str(), spec.frames, spec.bins, dout);
  if (!o.figure.empty()) {
    std::vector<float> ch0(static_cast<std::size_t>(spec.frames) * spec.bins);
    for (std::size_t i = 0; i < ch0.size(); ++i) ch0[i] = y[i * static_cast<std::size_t>(dout)];
    draw(o.figure, "ssmkit spectrogram: " + std::filesystem::path(o.input).filename().string(), seconds,
         rate / 2e3, spec.values, ch0, spec.frames, spec.bins);
    std::printf("  figure  : %s\n", o.figure.c_str());
  }
  return 0;
}

}  // namespace ssm::cli
