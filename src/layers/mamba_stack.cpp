#include "layers/mamba_stack.hpp"

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

void mamba_block_to_json(nlohmann::ordered_json& j, const MambaBlockConfig& b, const char* width_key) {
  j[width_key] = b.d_model;
  j["d_inner"] = b.d_inner;
  j["d_state"] = b.d_state;
  j["d_conv"] = b.d_conv;
  j["dt_rank"] = b.dt_rank;
  j["in_proj_bias"] = b.in_proj_bias;
  j["conv_bias"] = b.conv_bias;
  j["out_proj_bias"] = b.out_proj_bias;
  j["hidden_act"] = to_string(b.hidden_act);
}

void residual_in_fp32_key(ConfigJson& j) {
  j.fixed_bool("residual_in_fp32", true, "(ssmkit keeps the residual in the compute type, float32 or float64)");
}

}  // namespace ssm::layers_detail
