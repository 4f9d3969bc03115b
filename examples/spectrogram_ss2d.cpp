// A 2D state space model over a spectrogram: the log-magnitude STFT of a signal (ssm::log_stft,
// FFTW, Hann window) is a (time x frequency) grid, and a VMamba stage (VSSBlocks around SS2D's
// four-direction cross-scan, include/ssm/layers/vmamba_model.hpp) runs over it like over an
// image: every output cell sees the whole grid through the row-major, column-major and reversed
// scans. Writes the result as .npy and a PNG of both grids (matplotlib; data in spectrogram_ss2d_data/).
//
//   example_spectrogram_ss2d [in.wav [model.safetensors]]
// Without arguments a chirp is synthesized and a random (untrained) stage is used, so the program
// runs anywhere; with a model file (tools/export_vmamba.py writes one; d_input must be 1) the
// trained stage runs instead. Output: spectrogram_ss2d.npy (frames, bins, d_output) and
// spectrogram_ss2d.png in the current directory. `ssmkit spectrogram` does the same from the CLI.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <string>
#include <vector>

#include "ssm/conv/stft.hpp"
#include "ssm/io/npy.hpp"
#include "ssm/layers/vmamba_model.hpp"
#include "figure.hpp"  // tools/plot: matplotlib
#if SSM_WITH_AUDIO
#include "ssm/io/audio/audio_file.hpp"
#endif

int main(int argc, char** argv) {
  try {
    double rate = 16000;
    std::vector<float> x;
    if (argc > 1) {
#if SSM_WITH_AUDIO
      const auto a = ssm::io::read_audio(argv[1]);
      rate = a.sample_rate;
      x.assign(a.channel(0).begin(), a.channel(0).end());  // first channel
#else
      std::fprintf(stderr, "built without audio file support: run without arguments\n");
      return 2;
#endif
    } else {
      x.resize(32000);  // 2 s: a chirp 200 Hz -> 6 kHz plus a steady 1 kHz tone
      for (std::size_t i = 0; i < x.size(); ++i) {
        const double t = double(i) / rate;
        x[i] = float(0.5 * std::sin(2 * std::numbers::pi * (200 + 1450 * t) * t) +
                     0.2 * std::sin(2 * std::numbers::pi * 1000 * t));
      }
    }
    const auto spec = ssm::log_stft(x.data(), std::int64_t(x.size()), 512, 128);

    ssm::VMambaModel<float> model;
    if (argc > 2) {
      model = ssm::VMambaModel<float>::load(argv[2]);
    } else {
      ssm::VMambaModelConfig c;  // one VSSBlock: d_model 16, d_inner 32, N 8, 3 x 3 conv, MLP 32
      c.block.d_model = 16;
      c.block.d_inner = 32;
      c.block.d_state = 8;
      c.block.d_conv = 3;
      c.block.dt_rank = 1;
      c.d_ff = 32;
      model = ssm::VMambaModel<float>(c, ssm::random_vmamba_model<float>(c, 7));
    }
    if (model.config().d_input != 1) {
      std::fprintf(stderr, "the model must take one input channel (d_input = 1)\n");
      return 2;
    }
    const int dout = model.config().d_output;
    std::vector<float> y(std::size_t(spec.frames) * spec.bins * dout);
    model.forward(spec.values.data(), 1, spec.frames, spec.bins, y.data());  // (1, H = frames, W = bins, 1)
    ssm::io::save_npy<float>("spectrogram_ss2d.npy", {spec.frames, spec.bins, dout}, y.data(), y.size());

    // Figure: heat maps want (rows = frequency, cols = time).
    auto freq_major = [&](const float* g, int stride) {
      std::vector<float> v(std::size_t(spec.frames) * spec.bins);
      for (int t = 0; t < spec.frames; ++t)
        for (int f = 0; f < spec.bins; ++f) v[std::size_t(f) * spec.frames + t] = g[(std::size_t(t) * spec.bins + f) * stride];
      return v;
    };
    const auto a = freq_major(spec.values.data(), 1), b = freq_major(y.data(), dout);
    const double secs = double(x.size()) / rate, khz = rate / 2e3;
    ssm::plot::Figure fig(1, 2, 12, 5.6);  // matplotlib (tools/plot/figure.hpp)
    fig.title("VMamba SS2D over a spectrogram");
    fig.axes(0, 0).image(a.data(), spec.bins, spec.frames, 0, secs, 0, khz).title("log-magnitude STFT")
        .xlabel("time (s)").ylabel("kHz");
    fig.axes(0, 1).image(b.data(), spec.bins, spec.frames, 0, secs, 0, khz).title("model output (channel 0)")
        .xlabel("time (s)").ylabel("kHz");
    fig.save("spectrogram_ss2d.png");
    std::printf("%zu samples at %.0f Hz -> %d frames x %d bins -> model -> spectrogram_ss2d.npy (%d x %d x %d), "
                "spectrogram_ss2d.png\n", x.size(), rate, spec.frames, spec.bins, spec.frames, spec.bins, dout);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
