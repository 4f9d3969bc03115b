// The "vmamba" model family: VMambaModel (a VMamba stage of VSSBlocks over an H x W grid)
// behind Model<T>, registered by name. Not causal (2D scans): no streamer, Mode::scan only.
#include "layers/families.hpp"
#include "layers/family.hpp"
#include "ssm/layers/model_file.hpp"
#include "ssm/layers/vmamba_model.hpp"

namespace ssm {
namespace {

template <class T>
class VMambaFamilyModel final : public detail::OfflineModel<T> {
public:
  explicit VMambaFamilyModel(VMambaModel<T> m)
      : detail::OfflineModel<T>("vmamba model", "VMamba's 2D cross-scan is not causal"), m_(std::move(m)) {
    const VMambaModelConfig& c = m_.config();
    this->info_ = {"vmamba",
                   "VMamba stage: VSSBlocks (LayerNorm, SS2D 2D cross-scan, MLP) over an H x W grid",
                   c.to_json(),
                   c.d_input,
                   c.d_output,
                   false,
                   {Mode::scan},
                   {{"sizes", detail::sizes({{"d_input", c.d_input},
                                             {"d_model", c.block.d_model},
                                             {"d_inner", c.block.d_inner},
                                             {"n_layers", c.n_layers},
                                             {"d_state", c.block.d_state},
                                             {"d_conv", c.block.d_conv}}) +
                                  " (k x k), " + detail::sizes({{"d_ff", c.d_ff}, {"d_output", c.d_output}})},
                    {"input", "(batch, H, W, d_input) channels-last; any H, W >= 1"},
                    {"streaming", "none (the four-direction 2D scan is not causal)"}}};
  }
  std::vector<std::int64_t> output_shape(const std::vector<std::int64_t>& s) const override {
    const char* w = this->where_;
    const int d_input = this->info_.d_input;
    require(s.size() == 4, w, "input", "must have shape (batch, H, W, d_input), got rank ", s.size());
    require(s[0] >= 1 && s[1] >= 1 && s[2] >= 1, w, "input", "batch, H and W must be >= 1, got ", shape_string(s));
    require(s[3] == d_input, w, "input", "last dimension must be d_input = ", d_input, ", got ", shape_string(s));
    return {s[0], s[1], s[2], this->info_.d_output};
  }
  void forward(const T* in, const std::vector<std::int64_t>& s, T* out, Mode mode, Device device,
               double) const override {
    output_shape(s);
    require(mode == Mode::scan, this->where_, "mode", "must be scan (2D scans are offline), got ", to_string(mode));
    m_.forward(in, static_cast<int>(s[0]), static_cast<int>(s[1]), static_cast<int>(s[2]), out, device);
  }

private:
  VMambaModel<T> m_;
};

}  // namespace

ModelFamily detail::vmamba_family() {
  return model_family<VMambaFamilyModel, VMambaModel>(
      "vmamba", "VMamba stage of VSSBlocks (ln_1, self_attention = SS2D, ln_2, mlp) over H x W grids");
}

}  // namespace ssm
