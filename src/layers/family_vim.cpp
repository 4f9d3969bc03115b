// The "vim" model family: VimModel (Vision Mamba classifier) behind Model<T>, registered by
// name. Grid input (batch, H, W, in_chans) -> logits (batch, num_classes); not causal, so no
// streamer. Device::cuda uploads the blocks' weights on the first GPU forward (once).
#include <memory>
#include <mutex>

#include "layers/families.hpp"
#include "layers/family.hpp"
#include "ssm/layers/vim_model.hpp"

namespace ssm {
namespace {

template <class T>
class VimFamilyModel final : public detail::OfflineModel<T> {
public:
  explicit VimFamilyModel(VimModel<T> m)
      : detail::OfflineModel<T>("vim model", "Vision Mamba is not causal (bidirectional scans over the tokens)"),
        m_(std::move(m)),
        gpu_once_(std::make_unique<std::once_flag>()) {
    const VimModelConfig& c = m_.config();
    this->info_ = {"vim",
                   "Vision Mamba: patch embedding, middle class token, stack of bidirectional Mamba blocks, head",
                   c.to_json(),
                   c.in_chans,
                   c.num_classes,
                   false,
                   {Mode::scan},
                   {{"sizes", "image " + std::to_string(c.img_h) + " x " + std::to_string(c.img_w) + " x " +
                                  std::to_string(c.in_chans) + ", patch " + std::to_string(c.patch_size) + " stride " +
                                  std::to_string(c.stride) + ", " +
                                  detail::sizes({{"tokens", c.tokens()},
                                                 {"embed_dim", c.block.d_model},
                                                 {"d_inner", c.block.d_inner},
                                                 {"depth", c.depth},
                                                 {"d_state", c.block.d_state},
                                                 {"classes", c.num_classes}})},
                    {"pooling", c.cls_token ? "middle class token" : "mean over tokens"}}};
  }
  std::vector<std::int64_t> output_shape(const std::vector<std::int64_t>& s) const override {
    const VimModelConfig& c = m_.config();
    require(s.size() == 4 && s[0] >= 1 && s[1] == c.img_h && s[2] == c.img_w && s[3] == c.in_chans, this->where_,
            "input", "must be (batch, ", c.img_h, ", ", c.img_w, ", ", c.in_chans, ") with batch >= 1");
    return {s[0], c.num_classes};
  }
  void forward(const T* in, const std::vector<std::int64_t>& s, T* out, Mode mode, Device device,
               double /*sample_rate*/) const override {
    output_shape(s);
    require(mode == Mode::scan, this->where_, "mode", "must be scan (bidirectional: no stream or conv mode), got ",
            to_string(mode));
    if (device == Device::cuda) std::call_once(*gpu_once_, [this] { m_.to_device(); });
    m_.forward(in, static_cast<int>(s[0]), out, device);
  }

private:
  mutable VimModel<T> m_;  // mutated only by the one-time upload (call_once)
  std::unique_ptr<std::once_flag> gpu_once_;
};

}  // namespace

ModelFamily detail::vim_family() {
  return model_family<VimFamilyModel, VimModel>("vim",
                                                "Vision Mamba classifier (hustvl/Vim names: patch_embed, cls_token, "
                                                "pos_embed, layers.{i}.mixer bimamba v2, head)");
}

}  // namespace ssm
