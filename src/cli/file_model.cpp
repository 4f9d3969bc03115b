// Model files (`--model`, engine.hpp): any family the registry knows, behind the CLI's Model.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <limits>

#include "engine.hpp"
#include "model_support.hpp"
#include "ssm/core/error.hpp"
#include "ssm/io/safetensors.hpp"
#include "ssm/layers/registry.hpp"

namespace ssm::cli {

namespace {

// ---- model files (ssm::load_model, any registered family) ------------------------------------
// Streams of a model file: ssm::Model<float> from the registry, nothing family-specific here.
// A model with d_input = wi, d_output = wo run on a signal of C channels (C a multiple of wi)
// takes C / wi streams, stream s being the wi consecutive channels [s wi, (s + 1) wi), and
// writes C / wi * wo channels, stream s to [s wo, (s + 1) wo). So a one-channel model runs on
// every channel separately, and a batch (B, C, L) of C-channel signals is B streams of a C-input
// model (the streamer's spec.channels; offline, the batch).
class FileModel final : public Model {
public:
  FileModel(std::unique_ptr<ssm::Model<float>> model, std::string path, int channels, std::string params)
      : m_(std::move(model)), path_(std::move(path)), params_(std::move(params)) {
    const ModelInfo& in = m_->info();
    wi_ = in.d_input;
    wo_ = in.d_output;
    channels_ = channels <= 0 ? wi_ : channels;  // info: the model's own width
    require(channels_ % wi_ == 0, "ssmkit", "--model", "'", path_, "' takes frames of ", wi_,
            " channel(s) but the signal has ", channels_, " (a multiple of ", wi_, " is needed: ", wi_,
            " consecutive channels per stream)");
    streams_ = channels_ / wi_;
    rate_ = model_file_rate(in);
  }
  std::string describe() const override {
    std::string s = m_->info().arch + " model from '" + path_ + "', " + std::to_string(wi_) + " channel(s) per stream";
    if (wo_ != wi_) s += " in, " + std::to_string(wo_) + " out";
    return s + (streams_ > 1 ? ", " + std::to_string(streams_) + " streams" : std::string());
  }
  std::vector<std::pair<std::string, std::string>> details() const override {
    const ModelInfo& in = m_->info();
    std::vector<std::pair<std::string, std::string>> d;
    for (const auto& kv : in.details) d.push_back(kv);
    d.emplace_back("parameters", params_);
    d.emplace_back("causal", in.causal ? "yes (streams)" : "no (offline only)");
    return d;
  }
  int channels() const override { return channels_; }
  int output_channels() const override { return streams_ * wo_; }
  int input_group() const override { return wi_; }
  double sample_rate() const override { return rate_; }
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
      run_streamer(*s, channels_, output_channels(), in, out, frames, block, progress);
      return;
    }
    require(frames <= std::numeric_limits<int>::max(), "ssmkit", "IN", "signals longer than 2^31 frames need --mode stream");
    const std::size_t L = static_cast<std::size_t>(frames);
    // Planar (streams * wi, L) -> (streams, L, wi), and (streams, L, wo) -> planar; width 1 needs no copy.
    std::vector<float> u, y;
    const float* up = in;
    float* yp = out;
    if (wi_ > 1) {
      u.resize(static_cast<std::size_t>(channels_) * L);
      for (std::size_t s = 0; s < static_cast<std::size_t>(streams_); ++s)
        for (std::size_t c = 0; c < static_cast<std::size_t>(wi_); ++c)
          for (std::size_t t = 0; t < L; ++t) u[(s * L + t) * wi_ + c] = in[(s * wi_ + c) * L + t];
      up = u.data();
    }
    if (wo_ > 1) {
      y.resize(static_cast<std::size_t>(output_channels()) * L);
      yp = y.data();
    }
    m_->forward(up, {streams_, frames, wi_}, yp, mode, device, rate);
    if (wo_ > 1)
      for (std::size_t s = 0; s < static_cast<std::size_t>(streams_); ++s)
        for (std::size_t c = 0; c < static_cast<std::size_t>(wo_); ++c)
          for (std::size_t t = 0; t < L; ++t) out[(s * wo_ + c) * L + t] = y[(s * L + t) * wo_ + c];
    progress.advance(static_cast<double>(frames) * channels_);
  }
  std::unique_ptr<ssm::Streamer<float>> make_streamer() const override { return m_->make_streamer(); }
  int latency() const override { return m_->info().causal ? m_->make_streamer()->latency() : 0; }

private:
  std::unique_ptr<ssm::Model<float>> m_;
  std::string path_, params_;
  int channels_ = 1, wi_ = 1, wo_ = 1, streams_ = 1;
  double rate_ = 0;
};

std::string count_values(const io::SafeTensors& f) {
  std::int64_t n = 0;
  for (const auto& name : f.names()) n += f.info(name).numel();
  return std::to_string(n);
}

}  // namespace

double model_file_rate(const ModelInfo& info) {
  double rate = 0;
  try {
    const auto cfg = nlohmann::json::parse(info.config_json);
    if (cfg.is_object() && cfg.contains("sample_rate") && cfg["sample_rate"].is_number())
      rate = cfg["sample_rate"].get<double>();
  } catch (const nlohmann::json::exception&) {
    rate = 0;  // the registry validated the config; no rate of its own then
  }
  return std::isfinite(rate) && rate > 0 ? rate : 0;
}

int model_file_vocab(const ModelInfo& info) {
  try {
    const auto cfg = nlohmann::json::parse(info.config_json);
    if (cfg.is_object() && cfg.contains("vocab_size") && cfg["vocab_size"].is_number_integer())
      return std::max(0, cfg["vocab_size"].get<int>());
  } catch (const nlohmann::json::exception&) {
  }
  return 0;
}

bool is_checkpoint_dir(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_directory(path, ec);
}

void check_model_path(const std::string& path, const char* arg) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    require(fs::is_regular_file(fs::path(path) / "config.json", ec), "ssmkit", arg, "'", path,
            "' is a directory without config.json: expected a model file (.safetensors with ssmkit.arch metadata) or a "
            "Hugging Face checkpoint directory (config.json + model.safetensors, as save_pretrained writes it)");
    require(fs::is_regular_file(fs::path(path) / "model.safetensors", ec), "ssmkit", arg, "'", path,
            "' is a directory without model.safetensors: a Hugging Face checkpoint directory holds config.json and "
            "model.safetensors (save_pretrained(..., safe_serialization=True); sharded checkpoints are not read)");
    return;
  }
  require(fs::is_regular_file(path, ec), "ssmkit", arg, "'", path, "': no such file or directory");
  std::string ext = path.size() >= 12 ? path.substr(path.size() - 12) : std::string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  require(ext == ".safetensors", "ssmkit", arg, "'", path,
          "': expected a .safetensors model file or a Hugging Face checkpoint directory");
}

std::unique_ptr<ssm::Model<float>> open_model(const std::string& path, const char* arg) {
  check_model_path(path, arg);
  try {
    if (is_checkpoint_dir(path)) return ssm::load_model<float>(path);
    const io::SafeTensors f = io::SafeTensors::load(path);
    require(!f.meta("ssmkit.arch", "").empty(), "ssmkit", arg, "'", path,
            "' is a safetensors file without 'ssmkit.arch' metadata: not a model file");
    // The registry dispatches on ssmkit.arch (an unknown arch is an ssm::Error listing the known ones).
    return ssm::load_model<float>(f, path);
  } catch (const Error& e) {
    const std::string what = e.what();
    if (what.rfind("ssmkit: ", 0) == 0) throw;  // already names the argument
    fail("ssmkit", arg, "'", path, "': ", what);
  }
}

std::unique_ptr<Model> load_model_file(const std::string& path, int channels) {
  auto model = open_model(path, "--model");
  const int vocab = model_file_vocab(model->info());
  require(vocab == 0, "ssmkit", "--model", "'", path, "' is a token model (", model->info().arch, ", vocab_size ", vocab,
          ": token ids in, ", model->info().d_output == vocab ? "logits" : "hidden states",
          " out), not a signal filter: ssmkit run takes its token ids as .npy arrays (docs/cli.md, Token models)");
  std::string params;
  {
    const io::SafeTensors f =
        io::SafeTensors::load(is_checkpoint_dir(path) ? (std::filesystem::path(path) / "model.safetensors").string() : path);
    params = count_values(f);
  }
  return std::make_unique<FileModel>(std::move(model), path, channels, params);
}

}  // namespace ssm::cli
