#pragma once
// Internal: what the stacks of Mamba blocks share (Mamba, MoE-Mamba, Vim): the block's config
// keys (mamba_block_keys / mamba_block_to_json, one spelling and one set of defaults) and the
// flat streaming state of a stack of blocks (conv then ssm state, layer by layer). Files and
// parameters: model_io.hpp; the tensor names: tensor_names.hpp.
#include <algorithm>
#include <cstddef>

#include "layers/config_json.hpp"
#include "ssm/layers/mamba_block.hpp"

namespace ssm::layers_detail {

/// The streaming state of a stack of Mamba blocks as one flat array: for each layer its conv
/// state, then its ssm state. `States` is a range of objects with conv() and ssm() spans.
template <class States>
std::size_t mamba_states_size(const States& states) noexcept {
  std::size_t n = 0;
  for (const auto& s : states) n += s.conv().size() + s.ssm().size();
  return n;
}
template <class States, class T>
void save_mamba_states(const States& states, T* dst) noexcept {
  for (const auto& s : states) {
    dst = std::copy(s.conv().begin(), s.conv().end(), dst);
    dst = std::copy(s.ssm().begin(), s.ssm().end(), dst);
  }
}
template <class States, class T>
void load_mamba_states(States& states, const T* src) noexcept {
  for (auto& s : states) {
    std::copy_n(src, s.conv().size(), s.conv().begin());
    src += s.conv().size();
    std::copy_n(src, s.ssm().size(), s.ssm().begin());
    src += s.ssm().size();
  }
}

/// The Mamba block keys of a config (MambaModel's and MoE-Mamba's names and defaults):
/// d_model (or `width_key`), d_state, d_conv, d_inner | expand, dt_rank, in_proj_bias /
/// out_proj_bias (or "bias" for both), conv_bias, hidden_act.
MambaBlockConfig mamba_block_keys(ConfigJson& j, const char* width_key = "d_model", int d_conv_default = 4);

/// "hidden_act": "silu" (default; "swish" is the same function); anything else is refused by
/// name: the Mamba block computes silu only.
Activation mamba_activation(ConfigJson& j);

/// The keys mamba_block_keys reads, as to_json writes them: d_model (or `width_key`), d_inner,
/// d_state, d_conv, dt_rank, in_proj_bias, conv_bias, out_proj_bias, hidden_act, appended to j
/// in that order (a key j already holds keeps its place).
void mamba_block_to_json(nlohmann::ordered_json& j, const MambaBlockConfig& b, const char* width_key = "d_model");

/// "residual_in_fp32": may be given, must be true (the residual is kept in the compute type).
void residual_in_fp32_key(ConfigJson& j);

}  // namespace ssm::layers_detail
