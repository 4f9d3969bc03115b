#pragma once
// Internal: the PyTorch tensor names and shapes of every model family's file, each listed once
// (model_io.hpp: one list is read, written and checked by three maps). A layer's list takes the
// prefix it stands under; a model's list takes the range of its layers' params (every layer
// read or written in file order: the params being read, or a view of the layer objects'
// params() being written; an empty range when a constructor checks the model's own tensors and
// each layer object checks its own).
//
// S4D, the S4 repository's example S4Model (s4d_model.hpp, s4d_layer.hpp):
//   encoder.weight (H, d_input), encoder.bias (H)
//   s4_layers.{i}.kernel.log_dt (H), .kernel.log_A_real (H, N2), .kernel.A_imag (H, N2),
//   s4_layers.{i}.kernel.C (H, N2, 2), s4_layers.{i}.D (H)
//   s4_layers.{i}.output_linear.0.weight (2H, H, 1) (read also as output_linear.weight (2H, H)),
//   s4_layers.{i}.output_linear.0.bias (2H) (or output_linear.bias), norms.{i}.weight/.bias (H)
//   decoder.weight (d_output, H), decoder.bias (d_output)
// BST (bst_layer.hpp, bst_model.hpp): encoder, layers.{i}.{norm1, ssm.kernel.*, ssm.D,
//   attn.{q,k,v,out}_proj, norm2, ffn.fc1, ffn.fc2}, decoder.
// Mamba (mamba_ssm's names: mamba_block.hpp, mamba_model.hpp): the block's in_proj, conv1d,
//   x_proj, dt_proj, A_log, D, out_proj; the stack's encoder | embeddings, layers.{i}.{mixer.*,
//   norm}, norm_f, decoder | lm_head. Vim's bidirectional block adds conv1d_b, x_proj_b,
//   dt_proj_b, A_b_log, D_b (bimamba_block.hpp); VMamba's SS2D (ss2d_block.hpp) and MoE-Mamba's
//   FFN (moe_ffn.hpp, moe_mamba.hpp) list theirs below.
// Per-layer sub-params a model keeps in its layer objects (mixers, self_attention, layers) come
// as a separate range (`blocks`); its own per-layer tensors (norms) are listed for every layer.
#include <cstdint>
#include <string>

#include "layers/model_io.hpp"

#include "ssm/layers/bimamba_block.hpp"
#include "ssm/layers/bst_layer.hpp"
#include "ssm/layers/mamba_block.hpp"
#include "ssm/layers/mamba_model.hpp"
#include "ssm/layers/moe_ffn.hpp"
#include "ssm/layers/moe_mamba.hpp"
#include "ssm/layers/moe_mamba_model.hpp"
#include "ssm/layers/s4d_layer.hpp"
#include "ssm/layers/ss2d_block.hpp"
#include "ssm/layers/vim_model.hpp"
#include "ssm/layers/vmamba_model.hpp"

namespace ssm::layers_detail {

// ---- S4D ------------------------------------------------------------------------------------

/// The S4D kernel and skip (S4DLayerParams, BSTLayerParams' context SSM): <pre>kernel.log_dt (H),
/// <pre>kernel.log_A_real (H, N2), <pre>kernel.A_imag (H, N2), <pre>kernel.C (H, N2, 2), <pre>D (H).
template <class Map, class P>
void s4d_kernel_tensors(Map& m, const std::string& pre, std::int64_t H, std::int64_t N2, P& p) {
  m.tensor(pre + "kernel.log_dt", {H}, p.log_dt);
  m.tensor(pre + "kernel.log_A_real", {H, N2}, p.log_A_real);
  m.tensor(pre + "kernel.A_imag", {H, N2}, p.A_imag);
  m.tensor(pre + "kernel.C", {H, N2, 2}, p.C);
  m.tensor(pre + "D", {H}, p.D);
}

/// Layer i (s4_layers.{i}.*, norms.{i}.*).
template <class Map, class P>
void s4d_layer_tensors(Map& m, const S4DLayerConfig& c, int i, P& p) {
  const std::int64_t H = c.d_model, N2 = c.modes();
  const std::string pre = "s4_layers." + std::to_string(i) + ".", nrm = "norms." + std::to_string(i) + ".";
  s4d_kernel_tensors(m, pre, H, N2, p);
  m.any({pre + "output_linear.0.weight", pre + "output_linear.weight"}, {{2 * H, H, 1}, {2 * H, H}}, p.out_weight);
  m.any({pre + "output_linear.0.bias", pre + "output_linear.bias"}, {{2 * H}}, p.out_bias);
  m.tensor(nrm + "weight", {H}, p.norm_weight);
  m.tensor(nrm + "bias", {H}, p.norm_bias);
}

template <class Map, class P, class Layers>
void s4d_model_tensors(Map& m, const S4DLayerConfig& layer, int d_input, int d_output, P& p, Layers&& layers) {
  const std::int64_t H = layer.d_model;
  m.linear("encoder", H, d_input, p.encoder_weight, p.encoder_bias);
  int i = 0;
  for (auto& l : layers) s4d_layer_tensors(m, layer, i++, l);
  m.linear("decoder", d_output, H, p.decoder_weight, p.decoder_bias);
}

// ---- BST ------------------------------------------------------------------------------------

/// One Block-State Transformer layer under `pre` (bst_layer.hpp); projection and FFN biases
/// optional.
template <class Map, class P>
void bst_layer_tensors(Map& m, const std::string& pre, const BSTLayerConfig& c, P& p) {
  const std::int64_t d = c.d_model, F = c.d_ff;
  m.tensor(pre + "norm1.weight", {d}, p.norm1_weight);
  m.tensor(pre + "norm1.bias", {d}, p.norm1_bias);
  s4d_kernel_tensors(m, pre + "ssm.", d, c.modes, p);
  m.linear(pre + "attn.q_proj", d, d, p.q_weight, p.q_bias, Bias::optional);
  m.linear(pre + "attn.k_proj", d, d, p.k_weight, p.k_bias, Bias::optional);
  m.linear(pre + "attn.v_proj", d, d, p.v_weight, p.v_bias, Bias::optional);
  m.linear(pre + "attn.out_proj", d, d, p.out_weight, p.out_bias, Bias::optional);
  m.tensor(pre + "norm2.weight", {d}, p.norm2_weight);
  m.tensor(pre + "norm2.bias", {d}, p.norm2_bias);
  m.linear(pre + "ffn.fc1", F, d, p.fc1_weight, p.fc1_bias, Bias::optional);
  m.linear(pre + "ffn.fc2", d, F, p.fc2_weight, p.fc2_bias, Bias::optional);
}

/// encoder, layers.{i}.*, decoder.
template <class Map, class P, class Layers>
void bst_model_tensors(Map& m, const BSTLayerConfig& layer, int d_input, int d_output, P& p, Layers&& layers) {
  const std::int64_t d = layer.d_model;
  m.linear("encoder", d, d_input, p.encoder_weight, p.encoder_bias);
  int i = 0;
  for (auto& l : layers) bst_layer_tensors(m, "layers." + std::to_string(i++) + ".", layer, l);
  m.linear("decoder", d_output, d, p.decoder_weight, p.decoder_bias);
}

// ---- Mamba blocks ---------------------------------------------------------------------------

template <class Map, class P>
void mamba_block_tensors(Map& m, const std::string& pre, const MambaBlockConfig& c, P& p) {
  const std::int64_t dm = c.d_model, di = c.d_inner, N = c.d_state, K = c.d_conv, R = c.dt_rank;
  m.tensor(pre + "in_proj.weight", {2 * di, dm}, p.in_proj_weight);
  m.flagged(c.in_proj_bias, pre + "in_proj.bias", {2 * di}, p.in_proj_bias);
  m.tensor(pre + "conv1d.weight", {di, 1, K}, p.conv1d_weight);
  m.flagged(c.conv_bias, pre + "conv1d.bias", {di}, p.conv1d_bias);
  m.tensor(pre + "x_proj.weight", {R + 2 * N, di}, p.x_proj_weight);
  m.linear(pre + "dt_proj", di, R, p.dt_proj_weight, p.dt_proj_bias);
  m.tensor(pre + "A_log", {di, N}, p.A_log);
  m.tensor(pre + "D", {di}, p.D);
  m.tensor(pre + "out_proj.weight", {dm, di}, p.out_proj_weight);
  m.flagged(c.out_proj_bias, pre + "out_proj.bias", {dm}, p.out_proj_bias);
}

/// Vim's bidirectional block: the forward branch under the Mamba names, then the backward one.
template <class Map, class P>
void bimamba_block_tensors(Map& m, const std::string& pre, const BiMambaBlockConfig& c, P& p) {
  const std::int64_t di = c.d_inner, N = c.d_state, K = c.d_conv, R = c.dt_rank;
  mamba_block_tensors(m, pre, c.forward_branch(), p.fwd);
  m.tensor(pre + "conv1d_b.weight", {di, 1, K}, p.conv1d_b_weight);
  m.flagged(c.conv_bias, pre + "conv1d_b.bias", {di}, p.conv1d_b_bias);
  m.tensor(pre + "x_proj_b.weight", {R + 2 * N, di}, p.x_proj_b_weight);
  m.linear(pre + "dt_proj_b", di, R, p.dt_proj_b_weight, p.dt_proj_b_bias);
  m.tensor(pre + "A_b_log", {di, N}, p.A_b_log);
  m.tensor(pre + "D_b", {di}, p.D_b);
}

/// VMamba's SS2D (four directions stacked in x_proj_weight, dt_projs_*, A_logs, Ds).
template <class Map, class P>
void ss2d_block_tensors(Map& m, const std::string& pre, const SS2DBlockConfig& c, P& p) {
  const std::int64_t dm = c.d_model, di = c.d_inner, N = c.d_state, K = c.d_conv, R = c.dt_rank;
  m.tensor(pre + "in_proj.weight", {2 * di, dm}, p.in_proj_weight);
  m.flagged(c.in_proj_bias, pre + "in_proj.bias", {2 * di}, p.in_proj_bias);
  m.tensor(pre + "conv2d.weight", {di, 1, K, K}, p.conv2d_weight);
  m.flagged(c.conv_bias, pre + "conv2d.bias", {di}, p.conv2d_bias);
  m.tensor(pre + "x_proj_weight", {4, R + 2 * N, di}, p.x_proj_weight);
  m.tensor(pre + "dt_projs_weight", {4, di, R}, p.dt_projs_weight);
  m.tensor(pre + "dt_projs_bias", {4, di}, p.dt_projs_bias);
  m.tensor(pre + "A_logs", {4 * di, N}, p.A_logs);
  m.tensor(pre + "Ds", {4 * di}, p.Ds);
  m.tensor(pre + "out_norm.weight", {di}, p.out_norm_weight);
  m.tensor(pre + "out_norm.bias", {di}, p.out_norm_bias);
  m.tensor(pre + "out_proj.weight", {dm, di}, p.out_proj_weight);
  m.flagged(c.out_proj_bias, pre + "out_proj.bias", {dm}, p.out_proj_bias);
}

/// The mixture of experts: router, experts.{e}.fc1, experts.{e}.fc2.
template <class Map, class P>
void moe_ffn_tensors(Map& m, const std::string& pre, const MoEFFNConfig& c, P& p) {
  const std::int64_t dm = c.d_model, df = c.d_ff, E = c.n_experts;
  m.tensor(pre + "router.weight", {E, dm}, p.router_weight);
  m.flagged(c.router_bias, pre + "router.bias", {E}, p.router_bias);
  m.items("experts", p.experts, std::size_t(E), "n_experts");
  for (std::int64_t e = 0; e < E; ++e) {
    const std::string q = pre + "experts." + std::to_string(e) + ".";
    auto& x = p.experts[std::size_t(e)];
    m.tensor(q + "fc1.weight", {df, dm}, x.fc1_weight);
    m.flagged(c.fc1_bias, q + "fc1.bias", {df}, x.fc1_bias);
    m.tensor(q + "fc2.weight", {dm, df}, x.fc2_weight);
    m.flagged(c.fc2_bias, q + "fc2.bias", {dm}, x.fc2_bias);
  }
}

/// A MoE-Mamba layer from its parts (params being read, or a layer object's pieces).
template <class Map, class V, class B, class E>
void moe_mamba_layer_tensors(Map& m, const std::string& pre, const MoEMambaLayerConfig& c, V& norm_weight, B& mixer,
                             V& moe_norm_weight, E& moe) {
  const std::int64_t dm = c.mixer.d_model;
  m.tensor(pre + "norm.weight", {dm}, norm_weight);
  mamba_block_tensors(m, pre + "mixer.", c.mixer, mixer);
  m.tensor(pre + "moe_norm.weight", {dm}, moe_norm_weight);
  moe_ffn_tensors(m, pre + "moe.", c.moe, moe);
}
template <class Map, class P>  // P: MoEMambaLayerParams<T> (const or not)
void moe_mamba_layer_tensors(Map& m, const std::string& pre, const MoEMambaLayerConfig& c, P& p) {
  moe_mamba_layer_tensors(m, pre, c, p.norm_weight, p.mixer, p.moe_norm_weight, p.moe);
}
template <class Map, class T>
void moe_mamba_layer_tensors(Map& m, const std::string& pre, const MoEMambaLayerConfig& c, const MoEMambaLayer<T>& l) {
  moe_mamba_layer_tensors(m, pre, c, l.norm_weight(), l.mixer().params(), l.moe_norm_weight(), l.moe().params());
}

// ---- Mamba-family stacks --------------------------------------------------------------------

/// MambaModel (mamba_model.hpp): `stack` prefixes the backbone (Hugging Face MambaForCausalLM:
/// "backbone."), `head` the LM head. `mixers`: the layers' MambaBlockParams.
template <class Map, class P, class Mixers>
void mamba_model_tensors(Map& m, const MambaModelConfig& c, P& p, Mixers&& mixers, const std::string& stack = "",
                         const std::string& head = "") {
  const std::int64_t dm = c.block.d_model, V = c.vocab_size;
  const bool tokens = c.vocab_size > 0, ln = c.norm == NormKind::layernorm;
  m.flagged(tokens, stack + "embeddings.weight", {V, dm}, p.embedding);
  m.linear_if(!tokens, "encoder", dm, c.d_input, p.encoder_weight, p.encoder_bias);
  const std::size_t L = std::size_t(c.n_layers);
  m.items("norm_weight", p.norm_weight, L);
  m.items("norm_bias", p.norm_bias, L);
  for (std::size_t i = 0; i < L; ++i) {
    const std::string pre = stack + "layers." + std::to_string(i) + ".";
    if (i < mixers.size()) mamba_block_tensors(m, pre + "mixer.", c.block, mixers[i]);
    m.tensor(pre + "norm.weight", {dm}, p.norm_weight[i]);
    m.flagged(ln, pre + "norm.bias", {dm}, p.norm_bias[i]);
  }
  m.tensor(stack + "norm_f.weight", {dm}, p.norm_f_weight);
  m.flagged(ln, stack + "norm_f.bias", {dm}, p.norm_f_bias);
  if (c.output == MambaOutput::logits) {  // tied: the embeddings are the head (MambaModel::read)
    m.flagged(!c.tie_embeddings, head + "lm_head.weight", {V, dm}, p.decoder_weight);
    m.flagged(false, "decoder.bias", {c.d_output}, p.decoder_bias);
  } else {
    m.linear_if(c.output == MambaOutput::linear, "decoder", c.d_output, dm, p.decoder_weight, p.decoder_bias);
  }
}

/// MoEMambaModel: encoder, layers.{i}.* (MoE-Mamba layers: params or layer objects), norm_f,
/// decoder.
template <class Map, class P, class Layers>
void moe_mamba_model_tensors(Map& m, const MoEMambaModelConfig& c, P& p, Layers&& layers) {
  const std::int64_t dm = c.layer.mixer.d_model;
  m.linear("encoder", dm, c.d_input, p.encoder_weight, p.encoder_bias);
  int i = 0;
  for (auto& l : layers) moe_mamba_layer_tensors(m, "layers." + std::to_string(i++) + ".", c.layer, l);
  m.tensor("norm_f.weight", {dm}, p.norm_f_weight);
  m.linear("decoder", c.d_output, dm, p.decoder_weight, p.decoder_bias);
}

/// VimModel (hustvl/Vim): patch_embed.proj, cls_token (when pooled by it), pos_embed,
/// layers.{i}.mixer (bidirectional blocks) and .norm, norm_f, head.
template <class Map, class P, class Mixers>
void vim_model_tensors(Map& m, const VimModelConfig& c, P& p, Mixers&& mixers) {
  const std::int64_t D = c.block.d_model, C = c.in_chans, k = c.patch_size;
  m.tensor("patch_embed.proj.weight", {D, C, k, k}, p.patch_weight);
  m.tensor("patch_embed.proj.bias", {D}, p.patch_bias);
  m.flagged(c.cls_token, "cls_token", {1, 1, D}, p.cls_token);
  m.tensor("pos_embed", {1, c.tokens(), D}, p.pos_embed);
  const std::size_t L = std::size_t(c.depth);
  m.items("layers.norm", p.norm_weight, L, "depth");
  for (std::size_t i = 0; i < L; ++i) {
    const std::string pre = "layers." + std::to_string(i) + ".";
    if (i < mixers.size()) bimamba_block_tensors(m, pre + "mixer.", c.block, mixers[i]);
    m.tensor(pre + "norm.weight", {D}, p.norm_weight[i]);
  }
  m.tensor("norm_f.weight", {D}, p.norm_f_weight);
  m.linear("head", c.num_classes, D, p.head_weight, p.head_bias);
}

/// VMambaModel: encoder, layers.{i}.{ln_1, self_attention (SS2D), ln_2, mlp.fc1, mlp.fc2} (the
/// MLP only when d_ff > 0), norm_f, decoder. `blocks`: the layers' SS2DBlockParams.
template <class Map, class P, class Blocks>
void vmamba_model_tensors(Map& m, const VMambaModelConfig& c, P& p, Blocks&& blocks) {
  const std::int64_t dm = c.block.d_model, ff = c.d_ff;
  m.linear("encoder", dm, c.d_input, p.encoder_weight, p.encoder_bias);
  const std::size_t L = std::size_t(c.n_layers);
  m.items("layers", p.layers, L);
  for (std::size_t i = 0; i < L; ++i) {
    const std::string pre = "layers." + std::to_string(i) + ".";
    auto& l = p.layers[i];
    m.tensor(pre + "ln_1.weight", {dm}, l.ln_1_weight);
    m.tensor(pre + "ln_1.bias", {dm}, l.ln_1_bias);
    if (i < blocks.size()) ss2d_block_tensors(m, pre + "self_attention.", c.block, blocks[i]);
    m.flagged(ff > 0, pre + "ln_2.weight", {dm}, l.ln_2_weight);
    m.flagged(ff > 0, pre + "ln_2.bias", {dm}, l.ln_2_bias);
    m.linear_if(ff > 0, pre + "mlp.fc1", ff, dm, l.fc1_weight, l.fc1_bias);
    m.linear_if(ff > 0, pre + "mlp.fc2", dm, ff, l.fc2_weight, l.fc2_bias);
  }
  m.tensor("norm_f.weight", {dm}, p.norm_f_weight);
  m.tensor("norm_f.bias", {dm}, p.norm_f_bias);
  m.linear("decoder", c.d_output, dm, p.decoder_weight, p.decoder_bias);
}

}  // namespace ssm::layers_detail
