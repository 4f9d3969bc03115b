// The "mamba" model family: MambaModel behind Model<T> / Streamer<T>, registered by name.
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "layers/families.hpp"
#include "layers/shared_streamer.hpp"
#include "layers/stream_forward.hpp"
#include "ssm/core/error.hpp"
#include "ssm/layers/mamba_model.hpp"

namespace ssm {
namespace {

// spec.channels streams share one copy of the weights (shared_streamer.hpp).
template <class T>
using MambaStreamer = detail::SharedWeightsStreamer<T, MambaModel<T>>;

template <class T>
class MambaFamilyModel final : public Model<T> {
public:
  explicit MambaFamilyModel(MambaModel<T> m) : m_(std::move(m)) {
    const MambaModelConfig& c = m_.config();
    info_.arch = "mamba";
    info_.description = c.vocab_size == 0 ? "residual stack of Mamba blocks with encoder/decoder maps"
                        : c.output == MambaOutput::logits
                            ? "Mamba language model: token embedding, residual stack of Mamba blocks, LM head"
                            : "Mamba language model backbone: token embedding, residual stack, last hidden states";
    info_.config_json = c.to_json();
    info_.d_input = c.d_input;
    info_.d_output = c.d_output;
    info_.causal = true;
    info_.modes = {Mode::scan, Mode::stream};
    const std::int64_t states = std::int64_t(c.n_layers) * c.block.d_inner * (c.block.d_state + c.block.d_conv);
    info_.details = {
        {"sizes", "d_input " + std::to_string(c.d_input) + ", d_model " + std::to_string(c.block.d_model) +
                      ", d_inner " + std::to_string(c.block.d_inner) + ", n_layers " + std::to_string(c.n_layers) +
                      ", d_state " + std::to_string(c.block.d_state) + ", d_conv " + std::to_string(c.block.d_conv) +
                      ", d_output " + std::to_string(c.d_output)},
        {"state size", std::to_string(states) + " values per stream (ssm_state + conv_state)"},
        {"latency", "0 samples (one step per sample)"}};
    if (c.vocab_size > 0)
      info_.details.push_back({"input", "token ids (one a frame, integers in [0, " + std::to_string(c.vocab_size) +
                                            ")); output " +
                                            (c.output == MambaOutput::logits ? "logits" : "hidden states")});
  }
  const ModelInfo& info() const noexcept override { return info_; }
  std::vector<std::int64_t> output_shape(const std::vector<std::int64_t>& s) const override {
    check_sequence_input(s, info_.d_input, "mamba model");
    return {s[0], s[1], info_.d_output};
  }
  void forward(const T* in, const std::vector<std::int64_t>& s, T* out, Mode mode, Device device,
               double sample_rate) const override {
    output_shape(s);
    if (mode == Mode::scan) {
      m_.forward(in, static_cast<int>(s[0]), static_cast<int>(s[1]), out, device);
    } else if (mode == Mode::stream) {
      require(device == Device::cpu, "mamba model", "device", "stream mode runs on the CPU");
      MambaStreamer<T> st(m_, m_.config().d_input, m_.config().d_output);
      detail::forward_by_streaming<T>(st, in, s[0], s[1], out, sample_rate > 0 ? sample_rate : 48000.0);
    } else {
      fail("mamba model", "mode", "must be scan or stream (Mamba is not LTI: no conv mode), got ", to_string(mode));
    }
  }
  std::unique_ptr<Streamer<T>> make_streamer() const override { return m_.make_streamer(); }

private:
  MambaModel<T> m_;
  ModelInfo info_;
};

}  // namespace

template <class T>
std::unique_ptr<Model<T>> detail::load_hf_checkpoint(const std::string& dir) {
  const std::filesystem::path cfg = std::filesystem::path(dir) / "config.json";
  std::ifstream in(cfg, std::ios::binary);
  if (!in) throw Error("load_model: '" + dir + "' is a directory without a readable config.json (a Hugging Face "
                       "checkpoint directory has config.json and model.safetensors)");
  std::ostringstream text;
  text << in.rdbuf();
  std::string type;
  try {
    const auto j = nlohmann::json::parse(text.str());
    if (j.is_object() && j.contains("model_type") && j["model_type"].is_string()) type = j["model_type"].get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    throw Error("load_model: '" + cfg.string() + "' is not valid JSON: " + e.what());
  }
  if (type != "mamba")
    throw Error("load_model: '" + cfg.string() + "' has model_type \"" + type +
                "\"; Hugging Face checkpoints of model_type \"mamba\" load directly");
  return std::make_unique<MambaFamilyModel<T>>(MambaModel<T>::from_hf_dir(dir));
}
template std::unique_ptr<Model<float>> detail::load_hf_checkpoint<float>(const std::string&);
template std::unique_ptr<Model<double>> detail::load_hf_checkpoint<double>(const std::string&);

ModelFamily detail::mamba_family() {
  ModelFamily f;
  f.arch = "mamba";
  f.summary = "residual stack of Mamba blocks (mamba_ssm MixerModel names) with encoder/decoder maps";
  f.load_f32 = [](const io::SafeTensors& file) -> std::unique_ptr<Model<float>> {
    return std::make_unique<MambaFamilyModel<float>>(MambaModel<float>::from_file(file));
  };
  f.load_f64 = [](const io::SafeTensors& file) -> std::unique_ptr<Model<double>> {
    return std::make_unique<MambaFamilyModel<double>>(MambaModel<double>::from_file(file));
  };
  return f;
}

template <class T>
std::unique_ptr<Streamer<T>> MambaModel<T>::make_streamer() const {
  return std::make_unique<MambaStreamer<T>>(*this, cfg_.d_input, cfg_.d_output);
}
template std::unique_ptr<Streamer<float>> MambaModel<float>::make_streamer() const;
template std::unique_ptr<Streamer<double>> MambaModel<double>::make_streamer() const;

}  // namespace ssm
