// The "vmamba" model family: VMambaModel (a VMamba stage of VSSBlocks over an H x W grid)
// behind Model<T>, registered by name. Not causal (2D scans): no streamer, Mode::scan only.
#include <memory>

#include "layers/families.hpp"
#include "ssm/core/error.hpp"
#include "ssm/layers/model_file.hpp"
#include "ssm/layers/vmamba_model.hpp"

namespace ssm {
namespace {

template <class T>
class VMambaFamilyModel final : public Model<T> {
public:
  explicit VMambaFamilyModel(VMambaModel<T> m) : m_(std::move(m)) {
    const VMambaModelConfig& c = m_.config();
    info_.arch = "vmamba";
    info_.description = "VMamba stage: VSSBlocks (LayerNorm, SS2D 2D cross-scan, MLP) over an H x W grid";
    info_.config_json = c.to_json();
    info_.d_input = c.d_input;
    info_.d_output = c.d_output;
    info_.causal = false;
    info_.modes = {Mode::scan};
    info_.details = {
        {"sizes", "d_input " + std::to_string(c.d_input) + ", d_model " + std::to_string(c.block.d_model) +
                      ", d_inner " + std::to_string(c.block.d_inner) + ", n_layers " + std::to_string(c.n_layers) +
                      ", d_state " + std::to_string(c.block.d_state) + ", d_conv " + std::to_string(c.block.d_conv) +
                      " (k x k), d_ff " + std::to_string(c.d_ff) + ", d_output " + std::to_string(c.d_output)},
        {"input", "(batch, H, W, d_input) channels-last; any H, W >= 1"},
        {"streaming", "none (the four-direction 2D scan is not causal)"}};
  }
  const ModelInfo& info() const noexcept override { return info_; }
  std::vector<std::int64_t> output_shape(const std::vector<std::int64_t>& s) const override {
    constexpr const char* w = "vmamba model";
    require(s.size() == 4, w, "input", "must have shape (batch, H, W, d_input), got rank ", s.size());
    require(s[0] >= 1 && s[1] >= 1 && s[2] >= 1, w, "input", "batch, H and W must be >= 1, got ", shape_string(s));
    require(s[3] == info_.d_input, w, "input", "last dimension must be d_input = ", info_.d_input, ", got ",
            shape_string(s));
    return {s[0], s[1], s[2], info_.d_output};
  }
  void forward(const T* in, const std::vector<std::int64_t>& s, T* out, Mode mode, Device device,
               double) const override {
    output_shape(s);
    require(mode == Mode::scan, "vmamba model", "mode", "must be scan (2D scans are offline), got ", to_string(mode));
    m_.forward(in, static_cast<int>(s[0]), static_cast<int>(s[1]), static_cast<int>(s[2]), out, device);
  }
  std::unique_ptr<Streamer<T>> make_streamer() const override {
    throw Error("vmamba model: argument 'mode' stream is not available: VMamba's 2D cross-scan is not causal");
  }

private:
  VMambaModel<T> m_;
  ModelInfo info_;
};

}  // namespace

ModelFamily detail::vmamba_family() {
  ModelFamily f;
  f.arch = "vmamba";
  f.summary = "VMamba stage of VSSBlocks (ln_1, self_attention = SS2D, ln_2, mlp) over H x W grids";
  f.load_f32 = [](const io::SafeTensors& file) -> std::unique_ptr<Model<float>> {
    return std::make_unique<VMambaFamilyModel<float>>(VMambaModel<float>::from_file(file));
  };
  f.load_f64 = [](const io::SafeTensors& file) -> std::unique_ptr<Model<double>> {
    return std::make_unique<VMambaFamilyModel<double>>(VMambaModel<double>::from_file(file));
  };
  return f;
}

}  // namespace ssm
