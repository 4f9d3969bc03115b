#pragma once
// VMambaModel: one VMamba stage, a stack of VSSBlocks (MzeroMiko/VMamba's names) over an
// (H x W) grid, with linear per-position input and output maps for signals:
//
//   x        = encoder(u)                              encoder.weight (d_model, d_input), encoder.bias
//   for i < n_layers:                                  VSSBlock
//     x      = x + self_attention( ln_1(x) )           layers.{i}.ln_1.{weight,bias}  LayerNorm
//                                                      layers.{i}.self_attention.*    SS2D names
//     x      = x + fc2( gelu( fc1( ln_2(x) ) ) )       layers.{i}.ln_2.{weight,bias}, layers.{i}.mlp.
//                                                      fc1.{weight (d_ff, d_model), bias},
//                                                      fc2.{weight (d_model, d_ff), bias}
//                                                      (d_ff = 0: no MLP, VMamba's mlp_ratio 0)
//   y        = decoder( norm_f(x) )                    norm_f.{weight,bias} LayerNorm,
//                                                      decoder.weight (d_output, d_model), decoder.bias
// self_attention is SS2DBlock (ss2d_block.hpp, VMamba's SS2D forward_corev0 with its tensor names
// under the prefix); LayerNorms use eps = norm_eps (VMamba: 1e-6; SS2D's own out_norm: 1e-5);
// gelu is the exact erf form. u (batch, H, W, d_input) -> y (batch, H, W, d_output), channels-last.
//
// Model file (model_file.hpp): ssmkit.arch = "vmamba", ssmkit.config = JSON with
//   d_input, d_output, d_model, n_layers, d_inner (or expand), d_state, d_conv, dt_rank
//   (number or "auto" = ceil(d_model / 16)), d_ff (0: no MLP), norm_eps, in_proj_bias,
//   conv_bias, out_proj_bias. docs/vision.md lists them; tools/export_vmamba.py writes them.
//
// Offline only (the 2D scans are not causal): forward() over whole grids. Device::cpu runs on
// the CPU; Device::cuda (float32) runs every SS2D block on the GPU with its weights resident
// (SS2DBlockCuda, uploaded at the first CUDA call) and the norms / MLP / residuals on the CPU;
// float64 on CUDA runs the blocks' cross-scans on the GPU.
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ssm/core/device.hpp"
#include "ssm/io/safetensors.hpp"
#include "ssm/layers/ss2d_block.hpp"
#include "ssm/layers/ss2d_block_cuda.hpp"

namespace ssm {

struct VMambaModelConfig {
  int d_input = 1, d_output = 1;
  int n_layers = 1;
  SS2DBlockConfig block;  // d_model, d_inner, d_state, d_conv, dt_rank, bias flags
  int d_ff = 0;           // MLP hidden size (VMamba: mlp_ratio * d_model); 0: no MLP
  double norm_eps = 1e-6;

  void validate(const char* where) const;
  /// Parses the ssmkit.config JSON; throws ssm::Error naming the key and the expectation.
  static VMambaModelConfig from_json(const std::string& json);
  std::string to_json() const;
};

template <class T>
struct VMambaLayerParams {
  std::vector<T> ln_1_weight, ln_1_bias;  // (d_model)
  SS2DBlockParams<T> self_attention;
  std::vector<T> ln_2_weight, ln_2_bias;  // (d_model); empty without MLP
  std::vector<T> fc1_weight, fc1_bias;    // (d_ff, d_model), (d_ff)
  std::vector<T> fc2_weight, fc2_bias;    // (d_model, d_ff), (d_model)
};

template <class T>
struct VMambaModelParams {
  std::vector<T> encoder_weight, encoder_bias;  // (d_model, d_input), (d_model)
  std::vector<VMambaLayerParams<T>> layers;     // n_layers
  std::vector<T> norm_f_weight, norm_f_bias;    // (d_model)
  std::vector<T> decoder_weight, decoder_bias;  // (d_output, d_model), (d_output)
};

/// Untrained parameters (VMamba-like initialization, unit norms) for tests and examples.
template <class T>
VMambaModelParams<T> random_vmamba_model(const VMambaModelConfig& cfg, std::uint64_t seed);

template <class T>
class VMambaModel {
public:
  VMambaModel() = default;
  /// Validates every size against cfg (throws ssm::Error naming the parameter).
  VMambaModel(const VMambaModelConfig& cfg, VMambaModelParams<T> params);
  ~VMambaModel();
  VMambaModel(VMambaModel&&) noexcept;
  VMambaModel& operator=(VMambaModel&&) noexcept;

  /// Reads a model file (arch "vmamba"), validating config and every tensor (no leftovers).
  static VMambaModel load(const std::string& path);
  static VMambaModel from_file(const io::SafeTensors& file);
  /// Writes a model file that load() reads back (F32 for float, F64 for double).
  void save(const std::string& path) const;

  const VMambaModelConfig& config() const noexcept { return cfg_; }

  /// u (batch, H, W, d_input) -> y (batch, H, W, d_output); y must not overlap u.
  /// Throws ssm::Error naming 'batch', 'height', 'width', 'u', 'y' or 'device'.
  void forward(const T* u, int batch, int height, int width, T* y, Device device = Device::cpu) const;

private:
  VMambaModelConfig cfg_{};
  VMambaModelParams<T> p_{};
  std::vector<SS2DBlock<T>> blocks_;
  // GPU copies of the blocks (float32), made at the first Device::cuda call.
  mutable std::unique_ptr<std::mutex> gpu_mutex_ = std::make_unique<std::mutex>();
  mutable std::vector<std::unique_ptr<SS2DBlockCuda>> gpu_;
};

extern template class VMambaModel<float>;
extern template class VMambaModel<double>;

}  // namespace ssm
