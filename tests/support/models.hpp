#pragma once
// The small models (and model configs) of the test programs, one definition each (header-only:
// the LV2 fixture writer, which links no test support, includes it too). The tiny_* sizes are the
// smallest that still exercise every part of a family (two layers, several modes / states /
// experts); each function's parameters are what its callers vary.
#include <cstdint>
#include <string>

#include "ssm/layers/bst_model.hpp"
#include "ssm/layers/mamba_model.hpp"
#include "ssm/layers/moe_mamba_model.hpp"
#include "ssm/layers/s4d_model.hpp"
#include "ssm/layers/vim_model.hpp"
#include "ssm/layers/vmamba_model.hpp"

namespace ssm::test {

/// d_model 8, d_inner 16, d_state 4, d_conv 4, dt_rank 1 (silu, conv bias, no projection biases).
inline MambaBlockConfig tiny_mamba_block() {
  MambaBlockConfig b;
  b.d_model = 8;
  b.d_inner = 16;
  b.d_state = 4;
  b.d_conv = 4;
  b.dt_rank = 1;
  return b;
}

/// n_layers tiny Mamba blocks between d_input -> d_output linear maps.
inline MambaModelConfig tiny_mamba(int d_input = 1, int d_output = 1, int n_layers = 2) {
  MambaModelConfig c;
  c.d_input = d_input;
  c.d_output = d_output;
  c.n_layers = n_layers;
  c.block = tiny_mamba_block();
  return c;
}

/// H = d_model 4, d_state 8 (4 complex modes), at `sample_rate` Hz.
inline S4DModelConfig tiny_s4d(int d_input = 1, int d_output = 1, int n_layers = 2, double sample_rate = 16000) {
  S4DModelConfig c;
  c.d_input = d_input;
  c.d_output = d_output;
  c.n_layers = n_layers;
  c.d_model = 4;
  c.d_state = 8;
  c.sample_rate = sample_rate;
  return c;
}

/// d_model 8, 4 modes, d_ff 16, 2 heads; blocks of `block_size` rows with `context` rows before.
inline BSTModelConfig tiny_bst(int d_input = 1, int d_output = 1, int n_layers = 1, int block_size = 16,
                               int context = 4) {
  BSTModelConfig c;
  c.d_input = d_input;
  c.d_output = d_output;
  c.n_layers = n_layers;
  c.layer.d_model = 8;
  c.layer.modes = 4;
  c.layer.d_ff = 16;
  c.layer.block_size = block_size;
  c.layer.context = context;
  c.layer.n_heads = 2;
  return c;
}

/// Tiny Mamba blocks, each followed by 4 experts of d_ff 16 (top_k of them per token).
inline MoEMambaModelConfig tiny_moe_mamba(int d_input = 1, int d_output = 1, int n_layers = 1, int top_k = 1) {
  MoEMambaModelConfig c;
  c.d_input = d_input;
  c.d_output = d_output;
  c.n_layers = n_layers;
  c.layer.mixer = tiny_mamba_block();
  c.layer.moe.d_model = c.layer.mixer.d_model;
  c.layer.moe.d_ff = 16;
  c.layer.moe.n_experts = 4;
  c.layer.moe.top_k = top_k;
  return c;
}

/// A mixture-of-experts FFN of E experts (d_model -> d_ff -> d_model, activation a), top_k of them
/// a token; every bias present or none.
inline MoEFFNConfig moe_ffn_config(int d_model, int d_ff, int n_experts, int top_k, Activation a, bool biases) {
  MoEFFNConfig c;
  c.d_model = d_model;
  c.d_ff = d_ff;
  c.n_experts = n_experts;
  c.top_k = top_k;
  c.activation = a;
  c.router_bias = c.fc1_bias = c.fc2_bias = biases;
  return c;
}

/// SS2D of d_model 8, d_inner 16, d_state 4, d_conv 3 (a 3 x 3 depthwise conv), dt_rank 1.
inline SS2DBlockConfig tiny_ss2d_block() {
  SS2DBlockConfig b;
  b.d_model = 8;
  b.d_inner = 16;
  b.d_state = 4;
  b.d_conv = 3;
  b.dt_rank = 1;
  return b;
}

/// n_layers VSSBlocks of tiny SS2D (MLP of d_ff when d_ff > 0) over d_input-channel grids.
inline VMambaModelConfig tiny_vmamba(int d_input = 1, int d_output = 1, int n_layers = 1, int d_ff = 0) {
  VMambaModelConfig c;
  c.d_input = d_input;
  c.d_output = d_output;
  c.n_layers = n_layers;
  c.d_ff = d_ff;
  c.block = tiny_ss2d_block();
  return c;
}

/// Vision Mamba on img_h x img_w x in_chans images in 4 x 4 patches: depth bidirectional blocks
/// of d_model 8, d_inner 16, d_state 4, d_conv 3, dt_rank 1; num_classes logits.
inline VimModelConfig tiny_vim(int img_h, int img_w, int in_chans, int depth, int num_classes) {
  VimModelConfig c;
  c.img_h = img_h;
  c.img_w = img_w;
  c.patch_size = c.stride = 4;
  c.in_chans = in_chans;
  c.depth = depth;
  c.num_classes = num_classes;
  c.block.d_model = 8;
  c.block.d_inner = 16;
  c.block.d_state = 4;
  c.block.d_conv = 3;
  c.block.dt_rank = 1;
  return c;
}

/// The model of `c` with its family's random_* parameters drawn from `seed`.
template <class T>
MambaModel<T> random_model(const MambaModelConfig& c, std::uint64_t seed) {
  return MambaModel<T>(c, random_mamba_model<T>(c, seed));
}
template <class T>
S4DModel<T> random_model(const S4DModelConfig& c, std::uint64_t seed) {
  return S4DModel<T>(c, random_s4d_model<T>(c, seed));
}
template <class T>
BSTModel<T> random_model(const BSTModelConfig& c, std::uint64_t seed) {
  return BSTModel<T>(c, random_bst_model<T>(c, seed));
}
template <class T>
MoEMambaModel<T> random_model(const MoEMambaModelConfig& c, std::uint64_t seed) {
  return MoEMambaModel<T>(c, random_moe_mamba_model<T>(c, seed));
}

template <class T>
VMambaModel<T> random_model(const VMambaModelConfig& c, std::uint64_t seed) {
  return VMambaModel<T>(c, random_vmamba_model<T>(c, seed));
}
template <class T>
VimModel<T> random_model(const VimModelConfig& c, std::uint64_t seed) {
  return VimModel<T>(c, random_vim_model<T>(c, seed));
}

/// Writes random_model<T>(c, seed) as a model file at `path`; returns the path.
template <class T, class Config>
std::string save_random_model(const Config& c, std::uint64_t seed, const std::string& path) {
  random_model<T>(c, seed).save(path);
  return path;
}

}  // namespace ssm::test
