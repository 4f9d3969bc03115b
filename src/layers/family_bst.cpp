// The "bst" model family: BSTModel behind Model<T> / Streamer<T>, registered by name.
#include "layers/families.hpp"
#include "layers/family.hpp"
#include "ssm/layers/bst_model.hpp"

namespace ssm {
namespace {

template <class T>
class BSTFamilyModel final : public detail::SequenceModel<T, BSTModel<T>> {
public:
  explicit BSTFamilyModel(BSTModel<T> m) : detail::SequenceModel<T, BSTModel<T>>(std::move(m), "bst model") {
    this->info_ = describe(this->m_.config());
  }
  std::unique_ptr<Streamer<T>> make_streamer() const override {
    return std::make_unique<BSTModelStreamer<T>>(this->m_);
  }

private:
  static ModelInfo describe(const BSTModelConfig& c) {
    const BSTLayerConfig& l = c.layer;
    const std::int64_t per_layer = std::int64_t(l.d_model) * (2 * l.modes + 3 * l.context + 2 * l.block_size) + 4;
    return detail::sequence_info("bst", "stack of Block-State Transformer layers (BST-SH) with encoder/decoder maps", c,
                                 {Mode::conv, Mode::stream},
                                 {{"sizes", detail::sizes({{"d_input", c.d_input},
                                                           {"d_model", l.d_model},
                                                           {"n_layers", c.n_layers},
                                                           {"d_state", 2 * l.modes},
                                                           {"d_ff", l.d_ff},
                                                           {"n_heads", l.n_heads},
                                                           {"d_output", c.d_output}})},
                                  {"attention", "blocks of " + std::to_string(l.block_size) + " samples, " +
                                                    std::to_string(l.context) + " context rows before each block"},
                                  {"state size", std::to_string(per_layer * c.n_layers) + " values per stream"},
                                  {"latency", "0 samples (each layer is causal frame by frame)"}});
  }
  void offline(const T* in, int batch, int length, T* out, Mode mode, Device device, double) const override {
    if (mode != Mode::conv)
      this->reject(mode, device, "must be conv or stream (the context SSM is an FFT convolution offline), got ");
    this->m_.forward(in, batch, length, out, device);
  }
};

}  // namespace

ModelFamily detail::bst_family() {
  return model_family<BSTFamilyModel, BSTModel>(
      "bst", "Block-State Transformer stack (BST-SH layers: S4D context + block attention + FFN) with encoder/decoder");
}

}  // namespace ssm
