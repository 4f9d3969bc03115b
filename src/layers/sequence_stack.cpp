#include "layers/sequence_stack.hpp"

namespace ssm::layers_detail {

Activation mamba_activation(ConfigJson& j) {
  const std::string act = j.string("hidden_act", "silu");
  if (act == "silu" || act == "swish") return Activation::silu;
  j.bad("hidden_act", "must be \"silu\" (the Mamba block computes no other activation), got \"" + act + "\"");
}

MambaBlockConfig mamba_block_keys(ConfigJson& j, const char* width_key, int d_conv_default) {
  MambaBlockConfig b;
  b.d_model = j.integer(width_key);
  b.d_state = j.integer("d_state", 16);
  b.d_conv = j.integer("d_conv", d_conv_default);
  b.d_inner = inner_size(j, b.d_model, width_key);
  b.dt_rank = dt_rank(j, b.d_model);
  const bool bias = j.boolean("bias", false);
  b.in_proj_bias = j.boolean("in_proj_bias", bias);
  b.out_proj_bias = j.boolean("out_proj_bias", bias);
  b.conv_bias = j.boolean("conv_bias", true);
  b.hidden_act = mamba_activation(j);
  return b;
}

}  // namespace ssm::layers_detail
