#pragma once
// VimModel: Vision Mamba (hustvl/Vim `VisionMamba`, bimamba v2 blocks) for image classification,
// with Vim's parameter names. For an image batch x (batch, H, W, in_chans), channels last:
//
//   patches  p[b, g] = patch_embed.proj(x)            strided conv: weight (D, C, k, k), bias (D),
//                                                    kernel k = patch_size, stride s; the
//                                                    (GH, GW) grid, GH = (H - k) / s + 1, flattened
//                                                    row-major: g = gh GW + gw (no padding)
//   tokens   t = [p_0 .. p_{P/2-1}, cls_token, p_{P/2} .. p_{P-1}]   (Vim's middle class token,
//                                                    position P/2 of P patches; no cls: t = p)
//            t += pos_embed                          (1, L, D), L = P (+ 1 with the cls token)
//   stack    r = t; for i < depth: r = r + layers.{i}.mixer(RMSNorm(r; layers.{i}.norm.weight))
//            (the mixers are BiMambaBlock: bimamba_block.hpp names under `layers.{i}.mixer.`;
//            Vim's fused add-norm with the residual kept in T is this pre-norm residual form)
//   h        = RMSNorm(r; norm_f.weight)            eps norm_eps (1e-5)
//   feature  = h[:, P/2, :] (cls token) or mean over the L tokens (no cls token)
//   logits   = feature head.weightᵀ + head.bias     (batch, num_classes)
// RMSNorm: x / sqrt(mean(x²) + eps) * w. PyTorch's Vim takes (batch, C, H, W): the exporter's
// check transposes; ssmkit's grid-model convention is channels last.
//
// Model file (model_file.hpp): ssmkit.arch = "vim", ssmkit.config JSON with
//   img_size (int or [H, W]), patch_size, stride (default patch_size), in_chans, embed_dim,
//   depth, d_state, d_conv, d_inner (or expand, default 2), dt_rank (int or "auto" =
//   ceil(embed_dim / 16)), if_divide_out, cls_token ("middle" | "none"), num_classes,
//   norm_eps, in_proj_bias, out_proj_bias, conv_bias.
// Not causal (bidirectional scans over the token sequence): offline only, Mode::scan.
// Devices: forward(..., Device::cuda) needs to_device() (every block's weights resident on
// the GPU; the embedding, norms and head run on the CPU between the blocks).
#include <cstdint>
#include <string>
#include <vector>

#include "ssm/core/device.hpp"
#include "ssm/io/safetensors.hpp"
#include "ssm/layers/bimamba_block.hpp"

namespace ssm {

struct VimModelConfig {
  int img_h = 224, img_w = 224;
  int patch_size = 16, stride = 16;
  int in_chans = 3;
  int depth = 1;
  int num_classes = 1000;
  bool cls_token = true;  // Vim's middle class token (feature = that token); false: mean pool
  double norm_eps = 1e-5;
  BiMambaBlockConfig block;  // d_model = embed_dim, d_inner, d_state, d_conv, dt_rank, flags

  int grid_h() const noexcept { return (img_h - patch_size) / stride + 1; }
  int grid_w() const noexcept { return (img_w - patch_size) / stride + 1; }
  int num_patches() const noexcept { return grid_h() * grid_w(); }
  int tokens() const noexcept { return num_patches() + (cls_token ? 1 : 0); }
  int cls_position() const noexcept { return num_patches() / 2; }

  /// Throws ssm::Error(where: argument '<field>' ...) for inconsistent sizes.
  void validate(const char* where) const;
  /// Parses the ssmkit.config JSON; throws ssm::Error naming the key and the expectation.
  static VimModelConfig from_json(const std::string& json);
  std::string to_json() const;
};

template <class T>
struct VimModelParams {
  std::vector<T> patch_weight, patch_bias;  // (D, C, k, k), (D)
  std::vector<T> cls_token;                 // (D) or empty without the cls token
  std::vector<T> pos_embed;                 // (L, D)
  std::vector<BiMambaBlockParams<T>> mixers;  // depth
  std::vector<std::vector<T>> norm_weight;  // depth x (D)
  std::vector<T> norm_f_weight;             // (D)
  std::vector<T> head_weight, head_bias;    // (num_classes, D), (num_classes)
};

/// Untrained parameters (random blocks, unit norms, small embeddings) for tests and benches.
template <class T>
VimModelParams<T> random_vim_model(const VimModelConfig& cfg, std::uint64_t seed);

template <class T>
class VimModel {
public:
  VimModel() = default;
  /// Validates every size against cfg (throws ssm::Error naming the parameter).
  VimModel(const VimModelConfig& cfg, VimModelParams<T> params);
  /// Reads a model file (arch "vim"), validating config and every tensor (none left over).
  static VimModel load(const std::string& path);
  static VimModel from_file(const io::SafeTensors& file);
  /// Writes a model file that load() reads back (F32 for float, F64 for double).
  void save(const std::string& path) const;

  const VimModelConfig& config() const noexcept { return cfg_; }
  const BiMambaBlock<T>& block(int i) const { return blocks_.at(static_cast<std::size_t>(i)); }

  /// Uploads every block's weights to the current CUDA device (throws without CUDA).
  void to_device();
  bool on_device() const noexcept { return !blocks_.empty() && blocks_.front().on_device(); }

  /// images (batch, img_h, img_w, in_chans) -> logits (batch, num_classes), host memory.
  void forward(const T* images, int batch, T* logits, Device device = Device::cpu) const;
  /// The normalized token sequence h (batch, tokens, embed_dim) before pooling (for checks).
  void features(const T* images, int batch, T* h, Device device = Device::cpu) const;

private:
  VimModelConfig cfg_{};
  VimModelParams<T> p_{};  // mixers moved into blocks_
  std::vector<BiMambaBlock<T>> blocks_;
};

extern template class VimModel<float>;
extern template class VimModel<double>;

}  // namespace ssm
