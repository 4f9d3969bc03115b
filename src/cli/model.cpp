// Model's shared behaviour (engine.hpp): the planar streaming adapters behind Model::streamer(),
// the mode list, the impulse response, and the helpers every model kind uses (model_support.hpp).
#include <algorithm>
#include <cstdio>

#include "engine.hpp"
#include "model_support.hpp"
#include "ssm/core/error.hpp"

namespace ssm::cli {

namespace {

// A library streamer of one-value frames behind the CLI's planar interface: the planar channel
// pointers go straight through (no copy); ssm::Streamer cuts blocks longer than max_block.
class LibStreamer final : public Streamer {
public:
  explicit LibStreamer(std::unique_ptr<ssm::Streamer<float>> s) : s_(std::move(s)) {}
  void process(const float* const* in, float* const* out, int frames) noexcept override {
    s_->process(in, out, frames);
  }
  void reset() noexcept override { s_->reset(); }

private:
  std::unique_ptr<ssm::Streamer<float>> s_;
};

// Frames of wi values in, wo out: stream s covers input channels [s * wi, (s + 1) * wi) and
// output channels [s * wo, (s + 1) * wo); frames are interleaved into (n, wi) rows (the model's
// frame layout) through scratch of max_block frames.
class WideStreamer final : public Streamer {
public:
  WideStreamer(std::unique_ptr<ssm::Streamer<float>> st, int streams, int wi, int wo)
      : st_(std::move(st)), streams_(streams), wi_(wi), wo_(wo) {
    const std::size_t nb = static_cast<std::size_t>(st_->spec().max_block), S = static_cast<std::size_t>(streams);
    in_.assign(S * nb * static_cast<std::size_t>(wi), 0.f);
    out_.assign(S * nb * static_cast<std::size_t>(wo), 0.f);
    for (std::size_t s = 0; s < S; ++s) {
      ip_.push_back(in_.data() + s * nb * static_cast<std::size_t>(wi));
      op_.push_back(out_.data() + s * nb * static_cast<std::size_t>(wo));
    }
  }
  void process(const float* const* in, float* const* out, int frames) noexcept override {
    const int nb = st_->spec().max_block;
    for (int at = 0; at < frames; at += nb) {
      const int n = std::min(nb, frames - at);
      for (int s = 0; s < streams_; ++s)
        for (int i = 0; i < n; ++i)
          for (int c = 0; c < wi_; ++c)
            in_[(static_cast<std::size_t>(s) * static_cast<std::size_t>(nb) + static_cast<std::size_t>(i)) * wi_ + c] =
                in[s * wi_ + c][at + i];
      st_->process(ip_.data(), op_.data(), n);
      for (int s = 0; s < streams_; ++s)
        for (int i = 0; i < n; ++i)
          for (int c = 0; c < wo_; ++c) out[s * wo_ + c][at + i] = op_[static_cast<std::size_t>(s)][i * wo_ + c];
    }
  }
  void reset() noexcept override { st_->reset(); }

private:
  std::unique_ptr<ssm::Streamer<float>> st_;
  int streams_, wi_, wo_;
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
  const int wi = st->input_width(), wo = st->output_width();
  require(wi >= 1 && wo >= 1 && channels() % wi == 0 && output_channels() == channels() / wi * wo, "ssmkit", "--model",
          "frames of ", wi, " in / ", wo, " out values do not tile ", channels(), " -> ", output_channels(),
          " channel(s)");
  StreamSpec spec;
  spec.sample_rate = rate;
  spec.max_block = std::max(1, max_block);
  spec.channels = channels() / wi;
  st->prepare(spec);
  if (wi == 1 && wo == 1) return std::make_unique<LibStreamer>(std::move(st));
  return std::make_unique<WideStreamer>(std::move(st), spec.channels, wi, wo);
}

std::vector<float> Model::impulse_response(double rate, std::int64_t length) const {
  const int C = channels();
  std::vector<float> in(static_cast<std::size_t>(C) * static_cast<std::size_t>(length), 0.f);
  std::vector<float> out(static_cast<std::size_t>(output_channels()) * static_cast<std::size_t>(length));
  for (int c = 0; c < C; ++c) in[static_cast<std::size_t>(c) * static_cast<std::size_t>(length)] = 1.f;
  Progress quiet;
  run(Mode::stream, Device::cpu, in.data(), out.data(), length, rate, 512, quiet);
  out.resize(static_cast<std::size_t>(length));
  return out;
}

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
void run_streamer(Streamer& s, int C, int Cout, const float* in, float* out, std::int64_t frames, int block,
                  Progress& progress) {
  std::vector<const float*> ip(static_cast<std::size_t>(C));
  std::vector<float*> op(static_cast<std::size_t>(Cout));
  const std::size_t L = static_cast<std::size_t>(frames);
  for (std::int64_t t = 0; t < frames; t += block) {
    const int n = static_cast<int>(std::min<std::int64_t>(block, frames - t));
    for (int c = 0; c < C; ++c) ip[static_cast<std::size_t>(c)] = in + static_cast<std::size_t>(c) * L + t;
    for (int c = 0; c < Cout; ++c) op[static_cast<std::size_t>(c)] = out + static_cast<std::size_t>(c) * L + t;
    s.process(ip.data(), op.data(), n);
    progress.advance(static_cast<double>(n) * C);
  }
}

std::string fmt(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

}  // namespace ssm::cli
