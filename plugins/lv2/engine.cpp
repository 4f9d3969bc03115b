#include "engine.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include "cli/engine.hpp"
#include "ssm/core/error.hpp"

namespace ssm::lv2 {

std::unique_ptr<Engine> Engine::build(const Source& source, double rate, int max_block, int channels) {
  switch (source.kind) {
    case Source::Kind::none:
      return std::make_unique<Engine>(nullptr, source, "pass-through (no model loaded)", rate, max_block, channels);
    case Source::Kind::model: {
      // The same loader as `ssmkit run --model` (model registry, d_input/d_output checks).
      auto m = cli::load_model_file(source.text, channels);
      return std::make_unique<Engine>(m->make_streamer(), source, m->describe(), rate, max_block, channels);
    }
    case Source::Kind::filter: {
      auto m = cli::make_model(cli::parse_filter_spec(source.text), channels);
      return std::make_unique<Engine>(m->make_streamer(), source, m->describe(), rate, max_block, channels);
    }
  }
  throw Error("ssmkit.lv2: argument 'source': unknown kind");
}

Engine::Engine(std::unique_ptr<Streamer<float>> streamer, Source source, std::string description, double rate,
               int max_block, int channels)
    : streamer_(std::move(streamer)), source_(std::move(source)), description_(std::move(description)),
      max_block_(max_block), channels_(channels) {
  require(channels >= 1, "ssmkit.lv2", "channels", "must be >= 1, got ", channels);
  require(max_block >= 1, "ssmkit.lv2", "max_block", "must be >= 1, got ", max_block);
  const std::size_t C = static_cast<std::size_t>(channels), nb = static_cast<std::size_t>(max_block);
  if (streamer_) {
    width_ = streamer_->input_width();
    require(width_ >= 1 && channels % width_ == 0 && streamer_->output_width() == width_, "ssmkit.lv2", "model",
            description_, ": frames of ", width_, " in / ", streamer_->output_width(), " out values do not tile ",
            channels, " audio channel(s) (a model needs d_input = d_output = 1 or = the channel count)");
    streams_ = channels / width_;
    StreamSpec spec;
    spec.sample_rate = rate;
    spec.max_block = max_block;
    spec.channels = streams_;
    streamer_->prepare(spec);
    latency_ = streamer_->latency();
    require(latency_ >= 0, "ssmkit.lv2", "model", description_, ": negative latency ", latency_);
    if (width_ > 1) {
      frames_in_.assign(static_cast<std::size_t>(streams_) * nb * static_cast<std::size_t>(width_), 0.f);
      frames_out_.assign(frames_in_.size(), 0.f);
    }
  }
  dry_.assign(C * nb, 0.f);
  delay_.assign(C * static_cast<std::size_t>(latency_), 0.f);
  in_ptrs_.assign(std::max<std::size_t>(C, 1), nullptr);
  out_ptrs_.assign(std::max<std::size_t>(C, 1), nullptr);
  if (width_ > 1)
    for (int s = 0; s < streams_; ++s) {
      in_ptrs_[static_cast<std::size_t>(s)] = frames_in_.data() + static_cast<std::size_t>(s) * nb * width_;
      out_ptrs_[static_cast<std::size_t>(s)] = frames_out_.data() + static_cast<std::size_t>(s) * nb * width_;
    }
}

void Engine::reset() noexcept {
  if (streamer_) streamer_->reset();
  std::fill(delay_.begin(), delay_.end(), 0.f);
  delay_pos_ = 0;
}

void Engine::process(const float* const* in, float* const* out, int n, float wet_from, float wet_to) noexcept {
  if (n <= 0) return;
  if (n > max_block_) {  // the plugin never asks for more; stay silent rather than overrun
    for (int c = 0; c < channels_; ++c) std::fill(out[c], out[c] + n, 0.f);
    return;
  }
  const std::size_t nb = static_cast<std::size_t>(max_block_);
  // The dry copy first: hosts may hand the same buffer as input and output.
  for (int c = 0; c < channels_; ++c) std::memcpy(dry_.data() + static_cast<std::size_t>(c) * nb, in[c], sizeof(float) * static_cast<std::size_t>(n));
  if (!streamer_) {
    for (int c = 0; c < channels_; ++c) std::memcpy(out[c], dry_.data() + static_cast<std::size_t>(c) * nb, sizeof(float) * static_cast<std::size_t>(n));
    return;
  }
  if (width_ == 1) {
    for (int c = 0; c < channels_; ++c) {
      in_ptrs_[static_cast<std::size_t>(c)] = dry_.data() + static_cast<std::size_t>(c) * nb;
      out_ptrs_[static_cast<std::size_t>(c)] = out[c];
    }
    streamer_->process(in_ptrs_.data(), out_ptrs_.data(), n);
  } else {
    const std::size_t w = static_cast<std::size_t>(width_);
    for (int s = 0; s < streams_; ++s)
      for (std::size_t k = 0; k < w; ++k) {
        const float* x = dry_.data() + (static_cast<std::size_t>(s) * w + k) * nb;
        float* f = frames_in_.data() + static_cast<std::size_t>(s) * nb * w;
        for (int i = 0; i < n; ++i) f[static_cast<std::size_t>(i) * w + k] = x[i];
      }
    streamer_->process(in_ptrs_.data(), out_ptrs_.data(), n);
    for (int s = 0; s < streams_; ++s)
      for (std::size_t k = 0; k < w; ++k) {
        const float* f = frames_out_.data() + static_cast<std::size_t>(s) * nb * w;
        float* y = out[static_cast<std::size_t>(s) * w + k];
        for (int i = 0; i < n; ++i) y[i] = f[static_cast<std::size_t>(i) * w + k];
      }
  }
  // Dry path: delayed by the latency so that it lines up with the wet signal. The delay line
  // advances on every block whatever the mix, so a later wet change finds the right samples.
  const std::size_t L = static_cast<std::size_t>(latency_);
  if (L > 0) {
    for (int c = 0; c < channels_; ++c) {
      float* x = dry_.data() + static_cast<std::size_t>(c) * nb;
      float* ring = delay_.data() + static_cast<std::size_t>(c) * L;
      std::size_t p = delay_pos_;
      for (int i = 0; i < n; ++i) {
        const float d = ring[p];
        ring[p] = x[i];
        x[i] = d;
        if (++p == L) p = 0;
      }
    }
    delay_pos_ = (delay_pos_ + static_cast<std::size_t>(n)) % L;
  }
  if (wet_from == 1.f && wet_to == 1.f) return;  // exactly the model's output
  const float step = n > 1 ? (wet_to - wet_from) / static_cast<float>(n - 1) : 0.f;
  for (int c = 0; c < channels_; ++c) {
    const float* x = dry_.data() + static_cast<std::size_t>(c) * nb;
    float* y = out[c];
    for (int i = 0; i < n; ++i) {
      const float g = n > 1 ? wet_from + step * static_cast<float>(i) : wet_to;
      y[i] = g * y[i] + (1.f - g) * x[i];
    }
  }
}

}  // namespace ssm::lv2
