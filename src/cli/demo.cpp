// ssmkit demo: generate a clip, run it through the default model in every mode, draw a figure
// (matplotlib through tools/plot; the data behind it is kept in <figure>_data/).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numbers>
#include <random>

#include "commands.hpp"
#include "signals.hpp"
#include "ssm/core/error.hpp"
#include "figure.hpp"  // tools/plot: matplotlib

namespace fs = std::filesystem;

namespace ssm::cli {
namespace {

// The figure (drawn by matplotlib, tools/plot/figure.hpp): input and output waveforms, their
// spectrograms on one dB scale, the impulse response and its magnitude response.
void draw_figure(const std::string& path, const std::string& title, const std::string& subtitle, double rate,
                 const std::vector<float>& in, const std::vector<float>& out, const std::vector<float>& ir) {
  plot::Figure fig(4, 2, 12, 9.4);
  fig.title(title).subtitle(subtitle);
  fig.axes(0, 0, 1, 2).line(in.data(), in.size(), 0, 1 / rate, "", "tab:blue")
      .title("input: chirp 50 Hz .. 8 kHz + clicks + noise").xlabel("time (s)");
  fig.axes(1, 0, 1, 2).line(out.data(), out.size(), 0, 1 / rate, "", "tab:orange")
      .title("output (stream mode)").xlabel("time (s)");
  fig.axes(2, 0).specgram(in.data(), in.size(), rate).title("input spectrogram (80 dB range)").xlabel("time (s)").ylabel("kHz");
  fig.axes(2, 1).specgram(out.data(), out.size(), rate).title("output spectrogram").xlabel("time (s)").ylabel("kHz");
  const std::size_t show = std::min<std::size_t>(ir.size(), static_cast<std::size_t>(0.02 * rate));
  fig.axes(3, 0).line(ir.data(), show, 0, 1e3 / rate, "", "tab:purple")
      .title("impulse response (first 20 ms)").xlabel("time (ms)");
  fig.axes(3, 1).magnitude(ir.data(), ir.size(), rate, "tab:green").title("magnitude response (dB)").xlabel("kHz");
  fig.save(path);
}

}  // namespace

int cmd_demo(const std::string& out_dir, const std::string& figure, const ModelSource& given) {
  // Without --filter/--model the demo shows a filter a listener can name: a designed
  // Butterworth low-pass (the chirp fades above 1 kHz, the clicks turn into soft thumps).
  ModelSource source = given;
  const bool designed = source.model_file.empty() && source.filter_spec.empty();
  if (designed) source.filter_spec = kDemoFilter;
  source.validate();
  auto model = source.make(1);  // a model the demo cannot run fails before anything is written
  constexpr double kRate = 48000, kSeconds = 2;
  const auto L = static_cast<std::size_t>(kRate * kSeconds);
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  require(fs::is_directory(out_dir, ec), "ssmkit demo", "--out", "'", out_dir, "' cannot be created");
  if (const fs::path p = fs::path(figure).parent_path(); !p.empty()) fs::create_directories(p, ec);

  // The clip: an exponential chirp 50 Hz -> 8 kHz, a click every 250 ms, white noise.
  Signal clip;
  clip.path = (fs::path(out_dir) / "input.wav").string();
  clip.kind = SignalKind::audio;
  clip.channels = 1;
  clip.frames = static_cast<std::int64_t>(L);
  clip.rate = kRate;
  clip.data.resize(L);
  std::mt19937 rng(7);
  std::normal_distribution<float> noise(0.f, 0.005f);
  const double f0 = 50, f1 = 8000, k = std::log(f1 / f0) / kSeconds;
  for (std::size_t i = 0; i < L; ++i) {
    const double t = static_cast<double>(i) / kRate;
    const double phase = 2 * std::numbers::pi * f0 * (std::exp(k * t) - 1) / k;
    clip.data[i] = static_cast<float>(0.4 * std::sin(phase)) + noise(rng);
    if (i % static_cast<std::size_t>(kRate / 4) == static_cast<std::size_t>(kRate / 8)) clip.data[i] += 0.5f;
  }
  write_signal(clip.path, clip, clip.data);

  std::printf("ssmkit demo\n");
  std::printf("  model   : %s\n", model->describe().c_str());
  if (designed)
    std::printf("  what    : a designed 8th-order Butterworth low-pass at 1 kHz (%s), run as a state space\n"
                "            model: listen to output_stream.wav - the chirp fades out above 1 kHz, the clicks\n"
                "            become soft thumps; the figure shows the magnitude response falling 48 dB/octave\n",
                kDemoFilter);
  std::printf("  input   : %s (2 s at 48 kHz: chirp 50 Hz..8 kHz, clicks every 250 ms, noise)\n", clip.path.c_str());
  std::printf("  speed   : real-time factor = seconds of signal per second of compute (1 = just real time)\n");

  RunOptions o;
  o.source = source;
  o.inputs = {clip.path};
  o.quiet = true;
  std::vector<float> stream_out;
  std::string rtf_line;
  for (Mode m : model->modes(Device::cpu)) {
    o.mode = m;
    o.check = m == Mode::stream;
    o.outputs = {(fs::path(out_dir) / (std::string("output_") + to_string(m) + ".wav")).string()};
    const RunReport r = run_job(o);
    std::printf("  %-6s  : real-time factor %8.1fx  -> %s\n", to_string(m), r.real_time_factor, o.outputs[0].c_str());
    char buf[96];
    std::snprintf(buf, sizeof buf, "%s%s %.0fx", rtf_line.empty() ? "real-time factor: " : ", ", to_string(m),
                  r.real_time_factor);
    rtf_line += buf;
    for (const auto& [key, v] : r.max_diff)
      std::printf("  check   : max |%s| = %.3g (max |y| = %.3g)\n", key.c_str(), v, r.max_abs_output);
    if (m == Mode::stream) stream_out = read_signal(o.outputs[0], kRate).data;
  }
  const std::vector<float> ir = model->impulse_response(kRate, static_cast<std::int64_t>(kRate / 4));
  draw_figure(figure, "ssmkit demo   |   " + rtf_line, model->describe(), kRate, clip.data, stream_out, ir);
  std::printf("  figure  : %s (data: %s)\n", figure.c_str(), plot::Figure::data_dir(figure).c_str());
  return 0;
}

}  // namespace ssm::cli
