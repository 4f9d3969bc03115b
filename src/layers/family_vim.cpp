// The "vim" model family: VimModel (Vision Mamba classifier) behind Model<T>, registered by
// name. Grid input (batch, H, W, in_chans) -> logits (batch, num_classes); not causal, so no
// streamer. Device::cuda uploads the blocks' weights on the first GPU forward (once).
#include <memory>
#include <mutex>

#include "layers/families.hpp"
#include "ssm/core/error.hpp"
#include "ssm/layers/vim_model.hpp"

namespace ssm {
namespace {

template <class T>
class VimFamilyModel final : public Model<T> {
public:
  explicit VimFamilyModel(VimModel<T> m) : m_(std::move(m)), gpu_once_(std::make_unique<std::once_flag>()) {
    const VimModelConfig& c = m_.config();
    info_.arch = "vim";
    info_.description = "Vision Mamba: patch embedding, middle class token, stack of bidirectional Mamba blocks, head";
    info_.config_json = c.to_json();
    info_.d_input = c.in_chans;
    info_.d_output = c.num_classes;
    info_.causal = false;
    info_.modes = {Mode::scan};
    info_.details = {
        {"sizes", "image " + std::to_string(c.img_h) + " x " + std::to_string(c.img_w) + " x " +
                      std::to_string(c.in_chans) + ", patch " + std::to_string(c.patch_size) + " stride " +
                      std::to_string(c.stride) + ", tokens " + std::to_string(c.tokens()) + ", embed_dim " +
                      std::to_string(c.block.d_model) + ", d_inner " + std::to_string(c.block.d_inner) +
                      ", depth " + std::to_string(c.depth) + ", d_state " + std::to_string(c.block.d_state) +
                      ", classes " + std::to_string(c.num_classes)},
        {"pooling", c.cls_token ? "middle class token" : "mean over tokens"}};
  }
  const ModelInfo& info() const noexcept override { return info_; }
  std::vector<std::int64_t> output_shape(const std::vector<std::int64_t>& s) const override {
    const VimModelConfig& c = m_.config();
    require(s.size() == 4 && s[0] >= 1 && s[1] == c.img_h && s[2] == c.img_w && s[3] == c.in_chans, "vim model",
            "input", "must be (batch, ", c.img_h, ", ", c.img_w, ", ", c.in_chans, ") with batch >= 1");
    return {s[0], c.num_classes};
  }
  void forward(const T* in, const std::vector<std::int64_t>& s, T* out, Mode mode, Device device,
               double /*sample_rate*/) const override {
    output_shape(s);
    require(mode == Mode::scan, "vim model", "mode", "must be scan (bidirectional: no stream or conv mode), got ",
            to_string(mode));
    if (device == Device::cuda) std::call_once(*gpu_once_, [this] { m_.to_device(); });
    m_.forward(in, static_cast<int>(s[0]), out, device);
  }
  std::unique_ptr<Streamer<T>> make_streamer() const override {
    throw Error("vim model: argument 'mode' stream is not available: Vision Mamba is not causal "
                "(bidirectional scans over the tokens)");
  }

private:
  mutable VimModel<T> m_;  // mutated only by the one-time upload (call_once)
  std::unique_ptr<std::once_flag> gpu_once_;
  ModelInfo info_;
};

}  // namespace

ModelFamily detail::vim_family() {
  ModelFamily f;
  f.arch = "vim";
  f.summary = "Vision Mamba classifier (hustvl/Vim names: patch_embed, cls_token, pos_embed, layers.{i}.mixer bimamba v2, head)";
  f.load_f32 = [](const io::SafeTensors& file) -> std::unique_ptr<Model<float>> {
    return std::make_unique<VimFamilyModel<float>>(VimModel<float>::from_file(file));
  };
  f.load_f64 = [](const io::SafeTensors& file) -> std::unique_ptr<Model<double>> {
    return std::make_unique<VimFamilyModel<double>>(VimModel<double>::from_file(file));
  };
  return f;
}

}  // namespace ssm
