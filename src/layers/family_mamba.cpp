// The "mamba" model family: MambaModel behind Model<T> / Streamer<T>, registered by name, and
// Hugging Face checkpoint directories of model_type "mamba".
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "layers/families.hpp"
#include "layers/family.hpp"
#include "layers/shared_streamer.hpp"
#include "ssm/layers/mamba_model.hpp"

namespace ssm {
namespace {

// spec.channels streams share one copy of the weights (shared_streamer.hpp).
template <class T>
using MambaStreamer = detail::SharedWeightsStreamer<T, MambaModel<T>>;

template <class T>
class MambaFamilyModel final : public detail::SequenceModel<T, MambaModel<T>> {
public:
  explicit MambaFamilyModel(MambaModel<T> m) : detail::SequenceModel<T, MambaModel<T>>(std::move(m), "mamba model") {
    this->info_ = describe(this->m_.config());
  }
  std::unique_ptr<Streamer<T>> make_streamer() const override { return this->m_.make_streamer(); }

private:
  static ModelInfo describe(const MambaModelConfig& c) {
    ModelInfo info = detail::sequence_info(
        "mamba",
        c.vocab_size == 0 ? "residual stack of Mamba blocks with encoder/decoder maps"
        : c.output == MambaOutput::logits
            ? "Mamba language model: token embedding, residual stack of Mamba blocks, LM head"
            : "Mamba language model backbone: token embedding, residual stack, last hidden states",
        c, {Mode::scan, Mode::stream}, detail::mamba_stack_details(c.d_input, c.d_output, c.n_layers, c.block));
    if (c.vocab_size > 0)
      info.details.push_back({"input", "token ids (one a frame, integers in [0, " + std::to_string(c.vocab_size) +
                                           ")); output " +
                                           (c.output == MambaOutput::logits ? "logits" : "hidden states")});
    return info;
  }
  void offline(const T* in, int batch, int length, T* out, Mode mode, Device device, double) const override {
    if (mode != Mode::scan) this->reject(mode, device, "must be scan or stream (Mamba is not LTI: no conv mode), got ");
    this->m_.forward(in, batch, length, out, device);
  }
};

}  // namespace

template <class T>
std::unique_ptr<Model<T>> detail::load_hf_checkpoint(const std::string& dir) {
  const std::filesystem::path cfg = std::filesystem::path(dir) / "config.json";
  std::ifstream in(cfg, std::ios::binary);
  if (!in)
    throw Error("load_model: '" + dir +
                "' is a directory without a readable config.json (a Hugging Face "
                "checkpoint directory has config.json and model.safetensors)");
  std::ostringstream text;
  text << in.rdbuf();
  std::string type;
  try {
    const auto j = nlohmann::json::parse(text.str());
    if (j.is_object() && j.contains("model_type") && j["model_type"].is_string())
      type = j["model_type"].get<std::string>();
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
  return model_family<MambaFamilyModel, MambaModel>(
      "mamba", "residual stack of Mamba blocks (mamba_ssm MixerModel names) with encoder/decoder maps");
}

template <class T>
std::unique_ptr<Streamer<T>> MambaModel<T>::make_streamer() const {
  return std::make_unique<MambaStreamer<T>>(*this, cfg_.d_input, cfg_.d_output);
}
template std::unique_ptr<Streamer<float>> MambaModel<float>::make_streamer() const;
template std::unique_ptr<Streamer<double>> MambaModel<double>::make_streamer() const;

}  // namespace ssm
