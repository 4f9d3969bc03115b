#include "engine.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>
#include <type_traits>

#include "ssm/discretize/diagonal.hpp"
#include "ssm/continuous/hippo.hpp"
#include "ssm/continuous/s4d_init.hpp"
#include "ssm/conv/diag_kernel.hpp"
#include "ssm/conv/fftconv.hpp"
#include "ssm/core/denormals.hpp"
#include "ssm/core/error.hpp"
#include "ssm/io/safetensors.hpp"
#include "ssm/layers/registry.hpp"
#include "ssm/scan/diag_scan.hpp"
#include "ssm/stream/dense_filter.hpp"
#include "ssm/stream/diag_filter.hpp"

namespace ssm::cli {


// ---- progress -------------------------------------------------------------------------------
Progress::Progress(double total, std::string label) { reset(total, std::move(label)); }
Progress::~Progress() { finish(); }

void Progress::reset(double total, std::string label) {
  finish();
  total_ = total;
  done_ = 0;
  label_ = std::move(label);
  start_ = last_draw_ = std::chrono::steady_clock::now();
  enabled_ = total > 0 && ::isatty(2) == 1;
  drawn_ = false;
}

void Progress::advance(double units) {
  done_ += units;
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - start_ < std::chrono::seconds(1) || now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double f = std::clamp(done_ / total_, 0.0, 1.0);
  constexpr int kWidth = 40;
  const int fill = static_cast<int>(f * kWidth);
  std::string bar(static_cast<std::size_t>(fill), '#');
  bar.append(static_cast<std::size_t>(kWidth - fill), '.');
  std::fprintf(stderr, "\r%s [%s] %3.0f%%", label_.c_str(), bar.c_str(), 100 * f);
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::finish() {
  if (drawn_) {
    std::fprintf(stderr, "\r%*s\r", static_cast<int>(label_.size()) + 50, "");
    std::fflush(stderr);
  }
  drawn_ = false;
  enabled_ = false;
}

namespace {

// A library streamer behind the CLI's planar interface: blocks longer than the prepared
// max_block are cut into pieces; planar channel pointers go straight through (no copy) when
// the streamer's frames are one value wide.
class LibStreamer final : public Streamer {
public:
  LibStreamer(std::unique_ptr<ssm::Streamer<float>> s, int channels) : s_(std::move(s)) {
    const std::size_t C = static_cast<std::size_t>(channels);
    ip_.assign(C, nullptr);
    op_.assign(C, nullptr);
  }
  void process(const float* const* in, float* const* out, int frames) noexcept override {
    const int nb = s_->spec().max_block;
    for (int at = 0; at < frames; at += nb) {
      const int n = std::min(nb, frames - at);
      for (std::size_t c = 0; c < ip_.size(); ++c) {
        ip_[c] = in[c] + at;
        op_[c] = out[c] + at;
      }
      s_->process(ip_.data(), op_.data(), n);
    }
  }
  void reset() noexcept override { s_->reset(); }

private:
  std::unique_ptr<ssm::Streamer<float>> s_;
  std::vector<const float*> ip_;
  std::vector<float*> op_;
};

// Width > 1: stream s covers signal channels [s * width, (s + 1) * width); frames are
// interleaved into (n, width) rows (the model's frame layout) through scratch of max_block.
class WideStreamer final : public Streamer {
public:
  WideStreamer(std::unique_ptr<ssm::Streamer<float>> st, int streams, int width)
      : st_(std::move(st)), streams_(streams), width_(width) {
    const std::size_t nb = static_cast<std::size_t>(st_->spec().max_block);
    in_.assign(static_cast<std::size_t>(streams) * nb * width, 0.f);
    out_.assign(in_.size(), 0.f);
    for (int s = 0; s < streams; ++s) {
      ip_.push_back(in_.data() + static_cast<std::size_t>(s) * nb * width);
      op_.push_back(out_.data() + static_cast<std::size_t>(s) * nb * width);
    }
  }
  void process(const float* const* in, float* const* out, int frames) noexcept override {
    const int nb = st_->spec().max_block;
    for (int at = 0; at < frames; at += nb) {
      const int n = std::min(nb, frames - at);
      for (int s = 0; s < streams_; ++s)
        for (int i = 0; i < n; ++i)
          for (int c = 0; c < width_; ++c)
            in_[static_cast<std::size_t>(s) * nb * width_ + static_cast<std::size_t>(i * width_ + c)] =
                in[s * width_ + c][at + i];
      st_->process(ip_.data(), op_.data(), n);
      for (int s = 0; s < streams_; ++s)
        for (int i = 0; i < n; ++i)
          for (int c = 0; c < width_; ++c)
            out[s * width_ + c][at + i] =
                out_[static_cast<std::size_t>(s) * nb * width_ + static_cast<std::size_t>(i * width_ + c)];
    }
  }
  void reset() noexcept override { st_->reset(); }

private:
  std::unique_ptr<ssm::Streamer<float>> st_;
  int streams_, width_;
  std::vector<float> in_, out_;
  std::vector<const float*> ip_;
  std::vector<float*> op_;
};


}  // namespace

// ---- model helpers --------------------------------------------------------------------------
std::vector<Mode> Model::modes(Device device) const {
  std::vector<Mode> out;
  for (Mode m : {Mode::stream, Mode::conv, Mode::scan})
    if (supports(m, device)) out.push_back(m);
  return out;
}

std::unique_ptr<Streamer> Model::streamer(double rate, int max_block) const {
  auto st = make_streamer();
  const int w = st->input_width();
  require(w >= 1 && channels() % w == 0 && st->output_width() == w, "ssmkit", "--model", "frames of ", w, " in / ",
          st->output_width(), " out values do not tile ", channels(), " channel(s)");
  StreamSpec spec;
  spec.sample_rate = rate;
  spec.max_block = std::max(1, max_block);
  spec.channels = channels() / w;
  st->prepare(spec);
  if (w == 1) return std::make_unique<LibStreamer>(std::move(st), spec.channels);
  return std::make_unique<WideStreamer>(std::move(st), spec.channels, w);
}

std::vector<float> Model::impulse_response(double rate, std::int64_t length) const {
  const int C = channels();
  std::vector<float> in(static_cast<std::size_t>(C) * static_cast<std::size_t>(length), 0.f);
  std::vector<float> out(in.size());
  for (int c = 0; c < C; ++c) in[static_cast<std::size_t>(c) * static_cast<std::size_t>(length)] = 1.f;
  Progress quiet;
  run(Mode::stream, Device::cpu, in.data(), out.data(), length, rate, 512, quiet);
  out.resize(static_cast<std::size_t>(length));
  return out;
}

namespace {

void require_supported(const Model& m, Mode mode, Device device) {
  require(m.supports(mode, device), "ssmkit", "--mode",
          "'", to_string(mode), "' is not available for this model on ", to_string(device),
          " (available: ", [&] {
            std::string s;
            for (Mode x : m.modes(device)) s += std::string(s.empty() ? "" : ", ") + to_string(x);
            return s.empty() ? std::string("none") : s;
          }(), ")");
}

// Runs a streamer over a whole planar signal in blocks.
void run_streamer(Streamer& s, int C, const float* in, float* out, std::int64_t frames, int block,
                  Progress& progress) {
  std::vector<const float*> ip(static_cast<std::size_t>(C));
  std::vector<float*> op(static_cast<std::size_t>(C));
  for (std::int64_t t = 0; t < frames; t += block) {
    const int n = static_cast<int>(std::min<std::int64_t>(block, frames - t));
    for (int c = 0; c < C; ++c) {
      ip[static_cast<std::size_t>(c)] = in + static_cast<std::size_t>(c) * static_cast<std::size_t>(frames) + t;
      op[static_cast<std::size_t>(c)] = out + static_cast<std::size_t>(c) * static_cast<std::size_t>(frames) + t;
    }
    s.process(ip.data(), op.data(), n);
    progress.advance(static_cast<double>(n) * C);
  }
}

std::string fmt(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

// ---- dense HiPPO filter ---------------------------------------------------------------------

class HippoModel final : public Model {
public:
  HippoModel(hippo::Measure measure, int N, double theta, double delay, Method method, int channels)
      : measure_(measure), N_(N), theta_(theta), delay_(delay), channels_(channels) {
    how_ = {method, Convention::ssm, 0.5};
    Eigen::RowVectorXd C(N);
    if (measure == hippo::Measure::legt) {
      // Delay-line read-out: the Legendre reconstruction of u(t - delay) over the window
      // [t - theta, t]; S4's LegT spans 2 time units, hence the time scale theta / 2.
      sys_ = hippo::system(measure, N, hippo::legt_delay_readout(N, delay, theta), 0.0, theta / 2);
    } else {
      // Reconstruction of the most recent input, normalized to unit DC gain.
      const auto tr = hippo::transition(measure, N);
      for (int n = 0; n < N; ++n)
        C(n) = measure == hippo::Measure::legs ? std::sqrt(2.0 * n + 1) : measure == hippo::Measure::lagt ? 1.0 : tr.B(n);
      sys_ = hippo::system(measure, N, C, 0.0, theta);
      const double g = -(sys_.C * sys_.A.fullPivLu().solve(sys_.B))(0, 0);
      if (std::isfinite(g) && std::fabs(g) > 1e-9) sys_.C /= g;
    }
  }
  std::string describe() const override {
    std::string s = std::string("HiPPO-") + hippo::to_string(measure_) + " dense filter, N=" + std::to_string(N_) +
                    ", theta=" + fmt(theta_) + " s";
    if (measure_ == hippo::Measure::legt) s += ", delay-line read-out at " + fmt(delay_) + " s";
    return s + ", " + ssm::to_string(how_.method) + ", " + std::to_string(channels_) + " channel(s)";
  }
  std::vector<std::pair<std::string, std::string>> details() const override {
    return {{"arch", std::string("hippo-") + hippo::to_string(measure_)},
            {"channels", std::to_string(channels_) + " (the same SISO filter on each)"},
            {"state size", std::to_string(N_) + " real states per channel"},
            {"parameters", std::to_string(N_ * N_ + 2 * N_ + 1) + " (A, B, C, D)"},
            {"latency", "0 samples (recurrent)"}};
  }
  int channels() const override { return channels_; }
  bool supports(Mode mode, Device device) const override {
    if (mode == Mode::stream) return device == Device::cpu;
    if (mode == Mode::conv) return true;
    return false;  // dense A: no diagonal scan
  }
  void run(Mode mode, Device device, const float* in, float* out, std::int64_t frames, double rate, int block,
           Progress& progress) const override {
    require_supported(*this, mode, device);
    if (mode == Mode::stream) {
      auto s = streamer(rate, block);
      run_streamer(*s, channels_, in, out, frames, block, progress);
      return;
    }
    // conv: K[l] = C Ad^l Bd in float64, cut once the state v_l = Ad^l Bd has decayed below
    // 1e-10 of its peak (the rest is below float32 resolution of the output).
    const DiscreteSystem d = discretize(sys_, 1.0 / rate, how_);
    std::vector<float> K;
    Eigen::VectorXd v = d.Bd.col(0);
    double peak = v.norm();
    for (std::int64_t l = 0; l < frames; ++l) {
      K.push_back(static_cast<float>((sys_.C * v)(0, 0)));
      v = d.Ad * v;
      const double nv = v.norm();
      peak = std::max(peak, nv);
      if (nv < 1e-10 * peak) break;
    }
    const float D = static_cast<float>(sys_.D(0, 0));
    std::vector<float> Dv(static_cast<std::size_t>(channels_), D);
    // Same kernel for every channel: treat channels as the batch.
    fftconv<float>(View3<const float>(in, channels_, 1, frames), K.data(), static_cast<std::ptrdiff_t>(K.size()),
                   Dv.data(), View3<float>(out, channels_, 1, frames), device);
    progress.advance(static_cast<double>(frames) * channels_);
  }
  std::unique_ptr<ssm::Streamer<float>> make_streamer() const override {
    // One DenseFilter streams every channel (spec.channels copies of the SISO system).
    return std::make_unique<DenseFilter<float>>(sys_, how_);
  }

private:
  hippo::Measure measure_;
  int N_;
  double theta_, delay_;
  int channels_;
  ContinuousSystem sys_;
  Discretization how_;
};

// ---- S4D diagonal model ---------------------------------------------------------------------
// Streams through the library's DiagFilter (ssm convention, split re/im, SIMD over modes):
//   x_t = Ad x_{t-1} + Bd u_t,   y_t = 2 Re(sum_n C x_t) + D u_t,
// channel h of the signal = channel h of the model, planar buffers passed through as they are.
class DiagSpecModel final : public Model {
public:
  DiagSpecModel(DiagonalSSM m, Method method, std::string origin) : m_(std::move(m)), method_(method), origin_(std::move(origin)) {}

  std::string describe() const override {
    return origin_ + " diagonal SSM (S4D), H=" + std::to_string(m_.H) + ", N=" + std::to_string(2 * m_.N2) + " (" +
           std::to_string(m_.N2) + " complex modes), " + ssm::to_string(method_);
  }
  std::vector<std::pair<std::string, std::string>> details() const override {
    double lo = INFINITY, hi = 0;
    for (int h = 0; h < m_.H; ++h) {
      lo = std::min(lo, m_.dt(h));
      hi = std::max(hi, m_.dt(h));
    }
    return {{"arch", "s4d"},
            {"channels", std::to_string(m_.H)},
            {"state size", std::to_string(2 * m_.N2) + " real states per channel (" + std::to_string(m_.N2) + " complex modes)"},
            {"parameters", std::to_string(m_.H * (6 * m_.N2 + 2)) + " (A, B, C complex; D, log_dt)"},
            {"dt", fmt(lo) + " .. " + fmt(hi) + " at " + fmt(m_.reference_rate) + " Hz"},
            {"latency", "0 samples (recurrent)"}};
  }
  int channels() const override { return m_.H; }
  bool supports(Mode mode, Device device) const override {
    if (mode == Mode::stream) return device == Device::cpu;
    return true;
  }
  void run(Mode mode, Device device, const float* in, float* out, std::int64_t frames, double rate, int block,
           Progress& progress) const override {
    require_supported(*this, mode, device);
    const int H = m_.H;
    if (mode == Mode::stream) {
      auto s = streamer(rate, block);
      run_streamer(*s, H, in, out, frames, block, progress);
    } else if (mode == Mode::conv) {
      std::vector<float> K(static_cast<std::size_t>(H) * static_cast<std::size_t>(frames));
      diag_kernel<float>(m_, method_, frames, K.data(), m_.reference_rate / rate);
      const std::vector<float> D(m_.D.begin(), m_.D.end());
      fftconv<float>(View3<const float>(in, 1, H, frames), K.data(), frames, D.data(),
                     View3<float>(out, 1, H, frames), device);
      progress.advance(static_cast<double>(frames) * H);
    } else {
      // Scan in time chunks, carrying the complex state between chunks.
      const std::size_t n = static_cast<std::size_t>(H) * static_cast<std::size_t>(m_.N2);
      std::vector<float> A(2 * n), B(2 * n), C(2 * n), state(2 * n, 0.f);
      for (std::size_t i = 0; i < n; ++i) {
        A[2 * i] = static_cast<float>(m_.A.re[i]);
        A[2 * i + 1] = static_cast<float>(m_.A.im[i]);
        B[2 * i] = static_cast<float>(m_.B.re[i]);
        B[2 * i + 1] = static_cast<float>(m_.B.im[i]);
        C[2 * i] = static_cast<float>(m_.C.re[i]);
        C[2 * i + 1] = static_cast<float>(m_.C.im[i]);
      }
      std::vector<float> D(m_.D.begin(), m_.D.end()), dt(static_cast<std::size_t>(H));
      for (int h = 0; h < H; ++h) dt[static_cast<std::size_t>(h)] = static_cast<float>(m_.dt(h) * m_.reference_rate / rate);
      constexpr std::int64_t kChunk = 1 << 16;
      for (std::int64_t t = 0; t < frames; t += kChunk) {
        const int len = static_cast<int>(std::min(kChunk, frames - t));
        DiagScanArgs<float> a;
        a.batch = 1;
        a.channels = H;
        a.modes = m_.N2;
        a.length = len;
        a.method = method_;
        a.A = A.data();
        a.B = B.data();
        a.C = C.data();
        a.D = D.data();
        a.dt = dt.data();
        a.u = in + t;
        a.y = out + t;
        a.h0 = state.data();
        a.last_state = state.data();
        a.u_strides = Strides3{H * frames, frames, 1};
        a.y_strides = a.u_strides;
        diag_scan(a, device);
        progress.advance(static_cast<double>(len) * H);
      }
    }
  }
  std::unique_ptr<ssm::Streamer<float>> make_streamer() const override {
    return std::make_unique<DiagFilter<float>>(m_, method_);
  }

private:
  DiagonalSSM m_;
  Method method_;
  std::string origin_;
};

// ---- spec parsing ---------------------------------------------------------------------------
[[noreturn]] void spec_error(const FilterSpec& s, const std::string& what) {
  throw Error("--filter '" + s.text + "': " + what);
}

double key_double(const FilterSpec& s, const std::string& key, double fallback) {
  auto it = s.keys.find(key);
  if (it == s.keys.end()) return fallback;
  const std::string& v = it->second;
  double x = 0;
  const auto r = std::from_chars(v.data(), v.data() + v.size(), x);
  if (r.ec != std::errc() || r.ptr != v.data() + v.size() || !std::isfinite(x))
    spec_error(s, key + "=" + v + " is not a finite number");
  return x;
}

long long key_int(const FilterSpec& s, const std::string& key, long long fallback) {
  auto it = s.keys.find(key);
  if (it == s.keys.end()) return fallback;
  const std::string& v = it->second;
  long long x = 0;
  const auto r = std::from_chars(v.data(), v.data() + v.size(), x);
  if (r.ec != std::errc() || r.ptr != v.data() + v.size()) spec_error(s, key + "=" + v + " is not an integer");
  return x;
}

Method key_method(const FilterSpec& s, Method fallback) {
  auto it = s.keys.find("method");
  if (it == s.keys.end()) return fallback;
  if (it->second == "zoh") return Method::zoh;
  if (it->second == "bilinear") return Method::bilinear;
  spec_error(s, "method=" + it->second + " is not one of zoh, bilinear");
}

}  // namespace

FilterSpec parse_filter_spec(std::string_view text) {
  FilterSpec s;
  s.text = std::string(text);
  std::vector<std::string> parts;
  std::size_t at = 0;
  while (true) {
    const std::size_t colon = text.find(':', at);
    parts.emplace_back(text.substr(at, colon == std::string_view::npos ? std::string_view::npos : colon - at));
    if (colon == std::string_view::npos) break;
    at = colon + 1;
  }
  if (parts.size() < 2 || parts[0].empty() || parts[1].empty())
    spec_error(s, "expected <family>:<variant>[:key=value...], e.g. hippo:legt:N=64:theta=0.01 or s4d:lin:N=64");
  s.family = parts[0];
  s.variant = parts[1];
  std::set<std::string> allowed;
  if (s.family == "hippo") {
    allowed = {"N", "theta", "delay", "method"};
    if (s.variant != "legs" && s.variant != "legt" && s.variant != "lagt" && s.variant != "fout")
      spec_error(s, "unknown HiPPO measure '" + s.variant + "' (expected legs, legt, lagt or fout)");
  } else if (s.family == "s4d") {
    allowed = {"H", "N", "seed", "dt_min", "dt_max", "method"};
    if (s.variant != "lin" && s.variant != "inv" && s.variant != "legs" && s.variant != "real")
      spec_error(s, "unknown S4D initialization '" + s.variant + "' (expected lin, inv, legs or real)");
  } else {
    spec_error(s, "unknown filter family '" + s.family + "' (expected hippo or s4d)");
  }
  for (std::size_t i = 2; i < parts.size(); ++i) {
    const std::size_t eq = parts[i].find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == parts[i].size())
      spec_error(s, "'" + parts[i] + "' is not key=value");
    const std::string key = parts[i].substr(0, eq);
    if (!allowed.count(key)) {
      std::string list;
      for (const auto& k : allowed) list += (list.empty() ? "" : ", ") + k;
      spec_error(s, "unknown key '" + key + "' for " + s.family + " (allowed: " + list + ")");
    }
    if (!s.keys.emplace(key, parts[i].substr(eq + 1)).second) spec_error(s, "key '" + key + "' given twice");
  }
  // Validate values now so that errors surface before any input is read.
  if (s.family == "hippo") {
    const long long N = key_int(s, "N", 64);
    if (N < 1 || N > 1024) spec_error(s, "N must be in [1, 1024], got " + std::to_string(N));
    if (s.variant == "fout" && N % 2) spec_error(s, "fout needs an even N, got " + std::to_string(N));
    const double theta = key_double(s, "theta", 0.01);
    if (!(theta > 0)) spec_error(s, "theta must be > 0 seconds, got " + fmt(theta));
    if (s.keys.count("delay") && s.variant != "legt") spec_error(s, "delay applies only to legt");
    const double delay = key_double(s, "delay", theta / 2);
    if (!(delay >= 0 && delay <= theta)) spec_error(s, "delay must be in [0, theta], got " + fmt(delay));
    key_method(s, Method::bilinear);
  } else {
    if (s.keys.count("H")) {
      const long long H = key_int(s, "H", 1);
      if (H < 1 || H > 65536) spec_error(s, "H must be in [1, 65536], got " + std::to_string(H));
    }
    const long long N = key_int(s, "N", 64);
    if (N < 2 || N % 2 || N > 4096) spec_error(s, "N (real state size) must be even and in [2, 4096], got " + std::to_string(N));
    if (key_int(s, "seed", 0) < 0) spec_error(s, "seed must be >= 0");
    const double lo = key_double(s, "dt_min", 1e-3), hi = key_double(s, "dt_max", 1e-1);
    if (!(lo > 0 && hi >= lo)) spec_error(s, "need 0 < dt_min <= dt_max");
    key_method(s, Method::zoh);
  }
  return s;
}

std::unique_ptr<Model> make_model(const FilterSpec& s, int channels) {
  require(channels >= 1, "make_model", "channels", "must be >= 1, got ", channels);
  if (s.family == "hippo") {
    const double theta = key_double(s, "theta", 0.01);
    return std::make_unique<HippoModel>(hippo::parse_measure(s.variant), static_cast<int>(key_int(s, "N", 64)), theta,
                                        key_double(s, "delay", theta / 2), key_method(s, Method::bilinear), channels);
  }
  const int H = static_cast<int>(key_int(s, "H", channels));
  if (H != channels && H != 1)
    spec_error(s, "H=" + std::to_string(H) + " but the input has " + std::to_string(channels) +
                      " channel(s) (give H equal to the channel count, H=1 to share one filter, or leave H out)");
  S4DInitOptions o;
  o.seed = static_cast<std::uint64_t>(key_int(s, "seed", 0));
  o.dt_min = key_double(s, "dt_min", 1e-3);
  o.dt_max = key_double(s, "dt_max", 1e-1);
  const int N2 = static_cast<int>(key_int(s, "N", 64) / 2);
  DiagonalSSM m = s4d_init(parse_s4d_init(s.variant), 1, N2, o);
  if (H == 1 && channels > 1) {
    // One filter shared by every channel: tile channel 0.
    DiagonalSSM t(channels, N2);
    t.reference_rate = m.reference_rate;
    for (int h = 0; h < channels; ++h) {
      for (int n = 0; n < N2; ++n) {
        t.A.set(t.index(h, n), m.a(0, n));
        t.B.set(t.index(h, n), m.b(0, n));
        t.C.set(t.index(h, n), m.c(0, n));
      }
      t.D[static_cast<std::size_t>(h)] = m.D[0];
      t.log_dt[static_cast<std::size_t>(h)] = m.log_dt[0];
    }
    m = std::move(t);
  } else if (H > 1) {
    m = s4d_init(parse_s4d_init(s.variant), H, N2, o);
  }
  const std::string names[] = {"S4D-Lin", "S4D-Inv", "S4D-LegS", "S4D-Real"};
  const std::string origin = names[static_cast<int>(parse_s4d_init(s.variant))];
  return std::make_unique<DiagSpecModel>(std::move(m), key_method(s, Method::zoh), origin);
}

namespace {

// ---- model files (ssm::load_model, any registered family) ------------------------------------
// Streams of a model file: ssm::Model<float> from the registry, nothing family-specific here.
// A model with d_input == d_output == C takes the C channels as one stream of C-wide frames; a
// model with d_input == d_output == 1 run on C channels processes each channel as its own
// stream (the streamer's spec.channels, channels = batch offline).
class FileModel final : public Model {
public:
  FileModel(std::unique_ptr<ssm::Model<float>> model, std::string path, int channels, std::string params)
      : m_(std::move(model)), path_(std::move(path)), params_(std::move(params)) {
    const ModelInfo& in = m_->info();
    require(in.d_input == in.d_output, "ssmkit", "--model", "'", path_, "' maps ", in.d_input,
            " input channel(s) to ", in.d_output, " output channel(s); ssmkit run/live need d_input == d_output");
    channels_ = channels <= 0 ? in.d_input : channels;  // info: the model's own width
    require(in.d_input == channels_ || in.d_input == 1, "ssmkit", "--model", "'", path_, "' takes ", in.d_input,
            " channel(s) per frame but the signal has ", channels_);
    width_ = in.d_input;
    streams_ = channels_ / width_;
  }
  std::string describe() const override {
    return m_->info().arch + " model from '" + path_ + "', " + std::to_string(width_) + " channel(s) per stream" +
           (streams_ > 1 ? ", " + std::to_string(streams_) + " streams" : std::string());
  }
  std::vector<std::pair<std::string, std::string>> details() const override {
    const ModelInfo& in = m_->info();
    std::vector<std::pair<std::string, std::string>> d = {{"arch", in.arch + " (" + in.description + ")"}};
    for (const auto& kv : in.details) d.push_back(kv);
    d.emplace_back("parameters", params_);
    d.emplace_back("causal", in.causal ? "yes (streams)" : "no (offline only)");
    return d;
  }
  int channels() const override { return channels_; }
  bool supports(Mode mode, Device device) const override {
    const auto& ms = m_->info().modes;
    if (std::find(ms.begin(), ms.end(), mode) == ms.end()) return false;
    return mode != Mode::stream || (device == Device::cpu && m_->info().causal);
  }
  void run(Mode mode, Device device, const float* in, float* out, std::int64_t frames, double rate, int block,
           Progress& progress) const override {
    require_supported(*this, mode, device);
    if (mode == Mode::stream) {
      auto s = streamer(rate, block);
      run_streamer(*s, channels_, in, out, frames, block, progress);
      return;
    }
    require(frames <= std::numeric_limits<int>::max(), "ssmkit", "IN", "signals longer than 2^31 frames need --mode stream");
    const std::int64_t L = frames;
    // Planar (streams * width, L) -> (streams, L, width) and back; width 1 needs no copy.
    std::vector<float> u, y;
    const float* up = in;
    float* yp = out;
    if (width_ > 1) {
      u.resize(static_cast<std::size_t>(channels_) * static_cast<std::size_t>(L));
      y.resize(u.size());
      for (int s = 0; s < streams_; ++s)
        for (int c = 0; c < width_; ++c)
          for (std::int64_t t = 0; t < L; ++t)
            u[(static_cast<std::size_t>(s) * L + t) * width_ + c] = in[(static_cast<std::size_t>(s) * width_ + c) * L + t];
      up = u.data();
      yp = y.data();
    }
    m_->forward(up, {streams_, L, width_}, yp, mode, device, rate);
    if (width_ > 1)
      for (int s = 0; s < streams_; ++s)
        for (int c = 0; c < width_; ++c)
          for (std::int64_t t = 0; t < L; ++t)
            out[(static_cast<std::size_t>(s) * width_ + c) * L + t] = y[(static_cast<std::size_t>(s) * L + t) * width_ + c];
    progress.advance(static_cast<double>(frames) * channels_);
  }
  std::unique_ptr<ssm::Streamer<float>> make_streamer() const override { return m_->make_streamer(); }
  int latency() const override { return m_->info().causal ? m_->make_streamer()->latency() : 0; }

private:
  std::unique_ptr<ssm::Model<float>> m_;
  std::string path_, params_;
  int channels_ = 1, width_ = 1, streams_ = 1;
};

std::string count_values(const io::SafeTensors& f) {
  std::int64_t n = 0;
  for (const auto& name : f.names()) n += f.info(name).numel();
  return std::to_string(n);
}

}  // namespace

std::unique_ptr<Model> load_model_file(const std::string& path, int channels) {
  {
    std::string ext = path.size() >= 12 ? path.substr(path.size() - 12) : std::string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    require(ext == ".safetensors", "ssmkit", "--model", "'", path, "': expected a .safetensors model file");
  }
  const io::SafeTensors f = io::SafeTensors::load(path);
  require(!f.meta("ssmkit.arch", "").empty(), "ssmkit", "--model", "'", path,
          "' is a safetensors file without 'ssmkit.arch' metadata: not a model file");
  // The registry dispatches on ssmkit.arch (an unknown arch is an ssm::Error listing the known ones).
  return std::make_unique<FileModel>(ssm::load_model<float>(f, path), path, channels, count_values(f));
}

}  // namespace ssm::cli
