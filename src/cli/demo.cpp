// ssmkit demo: generate a clip, run it through the default model in every mode, draw a figure.
#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdio>
#include <filesystem>
#include <numbers>
#include <random>

#include "commands.hpp"
#include "signals.hpp"
#include "ssm/core/error.hpp"
#include "ssm/io/png.hpp"

namespace fs = std::filesystem;

namespace ssm::cli {
namespace {

// In-place iterative radix-2 FFT (n a power of two).
void fft(std::vector<std::complex<double>>& a) {
  const std::size_t n = a.size();
  for (std::size_t i = 1, j = 0; i < n; ++i) {
    std::size_t bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) std::swap(a[i], a[j]);
  }
  for (std::size_t len = 2; len <= n; len <<= 1) {
    const double ang = -2 * std::numbers::pi / static_cast<double>(len);
    const std::complex<double> wl(std::cos(ang), std::sin(ang));
    for (std::size_t i = 0; i < n; i += len) {
      std::complex<double> w(1);
      for (std::size_t k = 0; k < len / 2; ++k) {
        const auto u = a[i + k], v = a[i + k + len / 2] * w;
        a[i + k] = u + v;
        a[i + k + len / 2] = u - v;
        w *= wl;
      }
    }
  }
}

// Magnitude spectrogram in dB: rows = frequency bins 0..win/2, cols = frames (Hann window).
struct Spectrogram {
  int rows = 0, cols = 0;
  std::vector<float> db;
  float max_db = -300;
};
Spectrogram spectrogram(const float* x, std::size_t n, int win, int hop) {
  Spectrogram s;
  s.rows = win / 2 + 1;
  s.cols = n >= static_cast<std::size_t>(win) ? static_cast<int>((n - win) / hop + 1) : 1;
  s.db.assign(static_cast<std::size_t>(s.rows) * s.cols, -300.f);
  std::vector<std::complex<double>> buf(static_cast<std::size_t>(win));
  for (int f = 0; f < s.cols; ++f) {
    for (int i = 0; i < win; ++i) {
      const std::size_t at = static_cast<std::size_t>(f) * hop + i;
      const double w = 0.5 - 0.5 * std::cos(2 * std::numbers::pi * i / win);
      buf[static_cast<std::size_t>(i)] = at < n ? w * x[at] : 0.0;
    }
    fft(buf);
    for (int r = 0; r < s.rows; ++r) {
      const float v = static_cast<float>(20 * std::log10(std::abs(buf[static_cast<std::size_t>(r)]) + 1e-12));
      s.db[static_cast<std::size_t>(r) * s.cols + f] = v;
      s.max_db = std::max(s.max_db, v);
    }
  }
  return s;
}

float peak(const std::vector<float>& v) {
  float m = 0;
  for (float x : v) m = std::max(m, std::fabs(x));
  return m;
}

void draw_figure(const std::string& path, const std::string& title, const std::string& subtitle, double rate,
                 const std::vector<float>& in, const std::vector<float>& out, const std::vector<float>& ir) {
  using namespace io;
  Canvas c(1200, 940);
  c.text(20, 12, title, black, 2);
  c.text(20, 34, subtitle, dark_grey);
  const double secs = static_cast<double>(in.size()) / rate;
  const int L = 70, W = 1100, Wh = 500;

  const double a = std::max(peak(in), 1e-6f) * 1.05, b = std::max(peak(out), 1e-6f) * 1.05;
  Plot(c, L, 70, W, 130, 0, secs, -a, a).axes().series(in.data(), in.size(), 0, 1 / rate, blue).title("input: chirp 50 Hz .. 8 kHz + clicks + noise").xlabel("time (s)");
  Plot(c, L, 240, W, 130, 0, secs, -b, b).axes().series(out.data(), out.size(), 0, 1 / rate, orange).title("output (stream mode)").xlabel("time (s)");

  const Spectrogram si = spectrogram(in.data(), in.size(), 1024, 256);
  const Spectrogram so = spectrogram(out.data(), out.size(), 1024, 256);
  const double top = std::max(si.max_db, so.max_db);
  Plot(c, L, 410, Wh, 220, 0, secs, 0, rate / 2e3).heat_map(si.db.data(), si.rows, si.cols, top - 80, top).axes(false)
      .title("input spectrogram (dB, 80 dB range)").xlabel("time (s)").ylabel("kHz");
  Plot(c, L + Wh + 100, 410, Wh, 220, 0, secs, 0, rate / 2e3).heat_map(so.db.data(), so.rows, so.cols, top - 80, top).axes(false)
      .title("output spectrogram").xlabel("time (s)").ylabel("kHz");

  // Impulse response (first 20 ms or its length) and its magnitude response.
  const std::size_t show = std::min<std::size_t>(ir.size(), static_cast<std::size_t>(0.02 * rate));
  float lo = 0, hi = 0;
  for (std::size_t i = 0; i < show; ++i) {
    lo = std::min(lo, ir[i]);
    hi = std::max(hi, ir[i]);
  }
  const double pad = std::max(1e-6, 0.05 * (hi - lo));
  Plot(c, L, 680, Wh, 200, 0, 1e3 * static_cast<double>(show) / rate, lo - pad, hi + pad).axes()
      .series(ir.data(), show, 0, 1e3 / rate, purple).title("impulse response (first samples)").xlabel("time (ms)");
  std::size_t nfft = 1;
  while (nfft < ir.size()) nfft <<= 1;
  std::vector<std::complex<double>> spec(nfft);
  for (std::size_t i = 0; i < ir.size(); ++i) spec[i] = ir[i];
  fft(spec);
  const std::size_t bins = nfft / 2 + 1;
  std::vector<double> mag(bins);
  double mtop = -300;
  for (std::size_t k = 0; k < bins; ++k) {
    mag[k] = 20 * std::log10(std::abs(spec[k]) + 1e-12);
    mtop = std::max(mtop, mag[k]);
  }
  Plot(c, L + Wh + 100, 680, Wh, 200, 0, rate / 2e3, mtop - 60, mtop + 5).axes()
      .series(mag.data(), bins, 0, rate / 1e3 / static_cast<double>(nfft), green).title("magnitude response (dB)").xlabel("kHz");
  c.save_png(path);
}

}  // namespace

int cmd_demo(const std::string& out_dir, const std::string& figure, const ModelSource& source) {
  source.validate();
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

  auto model = source.make(1);
  std::printf("ssmkit demo\n");
  std::printf("  model   : %s\n", model->describe().c_str());
  std::printf("  input   : %s (2 s at 48 kHz: chirp 50 Hz..8 kHz, clicks every 250 ms, noise)\n", clip.path.c_str());

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
  draw_figure(figure, "ssmkit demo", model->describe() + "   |   " + rtf_line, kRate, clip.data, stream_out, ir);
  std::printf("  figure  : %s\n", figure.c_str());
  return 0;
}

}  // namespace ssm::cli
