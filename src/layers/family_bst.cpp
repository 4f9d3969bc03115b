// The "bst" model family: BSTModel behind Model<T> / Streamer<T>, registered by name.
#include <memory>

#include "layers/families.hpp"
#include "layers/stream_forward.hpp"
#include "ssm/core/error.hpp"
#include "ssm/layers/bst_model.hpp"

namespace ssm {
namespace {

template <class T>
class BSTFamilyModel final : public Model<T> {
public:
  explicit BSTFamilyModel(BSTModel<T> m) : m_(std::move(m)) {
    const BSTModelConfig& c = m_.config();
    const BSTLayerConfig& l = c.layer;
    info_.arch = "bst";
    info_.description = "stack of Block-State Transformer layers (BST-SH) with encoder/decoder maps";
    info_.config_json = c.to_json();
    info_.d_input = c.d_input;
    info_.d_output = c.d_output;
    info_.causal = true;
    info_.modes = {Mode::conv, Mode::stream};
    const std::int64_t per_layer = std::int64_t(l.d_model) * (2 * l.modes + 3 * l.context + 2 * l.block_size) + 4;
    info_.details = {
        {"sizes", "d_input " + std::to_string(c.d_input) + ", d_model " + std::to_string(l.d_model) + ", n_layers " +
                      std::to_string(c.n_layers) + ", d_state " + std::to_string(2 * l.modes) + ", d_ff " +
                      std::to_string(l.d_ff) + ", n_heads " + std::to_string(l.n_heads) + ", d_output " +
                      std::to_string(c.d_output)},
        {"attention", "blocks of " + std::to_string(l.block_size) + " samples, " + std::to_string(l.context) +
                          " context rows before each block"},
        {"state size", std::to_string(per_layer * c.n_layers) + " values per stream"},
        {"latency", "0 samples (each layer is causal frame by frame)"}};
  }
  const ModelInfo& info() const noexcept override { return info_; }
  std::vector<std::int64_t> output_shape(const std::vector<std::int64_t>& s) const override {
    check_sequence_input(s, info_.d_input, "bst model");
    return {s[0], s[1], info_.d_output};
  }
  void forward(const T* in, const std::vector<std::int64_t>& s, T* out, Mode mode, Device device,
               double sample_rate) const override {
    output_shape(s);
    if (mode == Mode::conv) {
      m_.forward(in, static_cast<int>(s[0]), static_cast<int>(s[1]), out, device);
    } else if (mode == Mode::stream) {
      require(device == Device::cpu, "bst model", "device", "stream mode runs on the CPU");
      BSTModelStreamer<T> st(m_);
      detail::forward_by_streaming<T>(st, in, s[0], s[1], out, sample_rate > 0 ? sample_rate : 48000.0);
    } else {
      fail("bst model", "mode", "must be conv or stream (the context SSM is an FFT convolution offline), got ",
           to_string(mode));
    }
  }
  std::unique_ptr<Streamer<T>> make_streamer() const override { return std::make_unique<BSTModelStreamer<T>>(m_); }

private:
  BSTModel<T> m_;
  ModelInfo info_;
};

}  // namespace

ModelFamily detail::bst_family() {
  ModelFamily f;
  f.arch = "bst";
  f.summary = "Block-State Transformer stack (BST-SH layers: S4D context + block attention + FFN) with encoder/decoder";
  f.load_f32 = [](const io::SafeTensors& file) -> std::unique_ptr<Model<float>> {
    return std::make_unique<BSTFamilyModel<float>>(BSTModel<float>::from_file(file));
  };
  f.load_f64 = [](const io::SafeTensors& file) -> std::unique_ptr<Model<double>> {
    return std::make_unique<BSTFamilyModel<double>>(BSTModel<double>::from_file(file));
  };
  return f;
}

}  // namespace ssm
