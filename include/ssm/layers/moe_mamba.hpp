#pragma once
// One MoE-Mamba layer (FORMAT.md `moe_mamba_layer`): a Mamba block and a mixture-of-experts
// feed-forward, each pre-normed (RMSNorm) and residual. For x (batch, L, d_model), row-major:
//
//   h = x + MambaBlock( RMSNorm(x; norm.weight) )          block tensors under `mixer.`
//   y = h + MoEFFN( RMSNorm(h; moe_norm.weight) )          moe_ffn tensors under `moe.`
//   RMSNorm(v; w) = v / sqrt(mean(v²) + norm_eps) · w      per token, over d_model
//
// The Mamba block is MambaBlock (mamba_block.hpp) and the MoE is MoEFFN (moe_ffn.hpp): this
// layer only norms and adds. The MoE acts per token, so the layer is causal and its state is
// the block's: conv (batch, d_inner, d_conv) and ssm (batch, d_inner, d_state).
// Invariant: forward() over L tokens from a state leaves the state L calls of step() leave
// and gives the same outputs (to rounding; the routing of a token is computed the same way).
//
// Modes:
//   forward(..., Device)  offline scan: block scan (selective scan on `device`) and grouped MoE
//                         (on `device`: Device::cuda runs the MoE on the GPU, weights resident).
//   step(x, y, state)     one token per sequence; real-time safe on the CPU (no allocation, lock,
//                         throw or I/O); all scratch lives in the state from make_state().
#include <cstdint>
#include <string>
#include <vector>

#include "ssm/core/device.hpp"
#include "ssm/io/safetensors.hpp"
#include "ssm/layers/mamba_block.hpp"
#include "ssm/layers/moe_ffn.hpp"

namespace ssm {

class TensorReader;

struct MoEMambaLayerConfig {
  MambaBlockConfig mixer;  // d_model, d_inner, d_state, d_conv, dt_rank, bias flags
  MoEFFNConfig moe;        // d_model (= mixer.d_model), d_ff, n_experts, top_k, activation
  double norm_eps = 1e-5;

  /// Both parts valid, equal d_model, norm_eps > 0 (ssm::Error naming the field otherwise).
  void validate(const char* where) const;
};

template <class T>
struct MoEMambaLayerParams {
  std::vector<T> norm_weight;      // (d_model)
  MambaBlockParams<T> mixer;
  std::vector<T> moe_norm_weight;  // (d_model)
  MoEFFNParams<T> moe;
};

/// Sizes from the tensors under `prefix` (`mixer.*`, `moe.*`); top_k, activation and norm_eps
/// are given (they are metadata, not tensors).
MoEMambaLayerConfig infer_moe_mamba_layer_config(const io::SafeTensors& file, const std::string& prefix,
                                                 int top_k, Activation activation, double norm_eps);

template <class T>
MoEMambaLayerParams<T> read_moe_mamba_layer(TensorReader& reader, const std::string& prefix,
                                            const MoEMambaLayerConfig& cfg);

/// Random parameters (random_mamba_block, random_moe_ffn, unit norm weights).
template <class T>
MoEMambaLayerParams<T> random_moe_mamba_layer(const MoEMambaLayerConfig& cfg, std::uint64_t seed);

/// The decoding state of one layer for `batch` sequences: the block's state plus step scratch.
template <class T>
class MoEMambaLayerState {
public:
  MoEMambaLayerState() = default;
  int batch() const noexcept { return mixer_.batch(); }
  /// (batch, d_inner, d_conv), oldest first.
  std::vector<T>& conv() noexcept { return mixer_.conv(); }
  const std::vector<T>& conv() const noexcept { return mixer_.conv(); }
  /// (batch, d_inner, d_state).
  std::vector<T>& ssm() noexcept { return mixer_.ssm(); }
  const std::vector<T>& ssm() const noexcept { return mixer_.ssm(); }
  MambaBlockState<T>& mixer() noexcept { return mixer_; }
  /// Zeroes the states (no allocation).
  void reset() noexcept { mixer_.reset(); }

private:
  template <class>
  friend class MoEMambaLayer;
  MambaBlockState<T> mixer_;
  MoEFFNScratch<T> moe_;
  std::vector<T> xn_, h_, m_;  // (max(batch, max_tokens), d_model) step scratch
};

template <class T>
class MoEMambaLayer {
public:
  MoEMambaLayer() = default;
  /// Validates every size (throws ssm::Error naming the parameter).
  MoEMambaLayer(const MoEMambaLayerConfig& cfg, MoEMambaLayerParams<T> params);

  const MoEMambaLayerConfig& config() const noexcept { return cfg_; }
  const MambaBlock<T>& mixer() const noexcept { return mixer_; }
  const MoEFFN<T>& moe() const noexcept { return moe_; }
  const std::vector<T>& norm_weight() const noexcept { return norm_w_; }
  const std::vector<T>& moe_norm_weight() const noexcept { return moe_norm_w_; }

  /// A zeroed state for `batch` sequences (allocates; batch >= 1).
  MoEMambaLayerState<T> make_state(int batch, int max_tokens = 1) const;

  /// Scan mode: x (batch, length, d_model) -> y (same shape); y must not overlap x. With
  /// `state` the sequences continue from it and it is advanced; without, zero states.
  /// expert_index (batch, length, top_k) when not null.
  void forward(const T* x, int batch, int length, T* y, MoEMambaLayerState<T>* state = nullptr,
               Device device = Device::cpu, std::int64_t* expert_index = nullptr) const;

  /// Step mode: one token per sequence, x (batch, d_model) -> y (batch, d_model), batch =
  /// state.batch(). Real-time safe. x and y may alias.
  void step(const T* x, T* y, MoEMambaLayerState<T>& state) const noexcept;
  /// n steps, x (n, batch, d_model) -> y, token-major: n calls of step() to rounding. Batch 1:
  /// blocks of up to max_tokens (make_state()) tokens through the mixer's block path
  /// (MambaBlock::step_tokens) and the MoE's per-token path. Real-time safe; x and y may alias.
  void step_tokens(const T* x, int n, T* y, MoEMambaLayerState<T>& state) const noexcept;

private:
  void step_norm(const T* x, std::ptrdiff_t rows, const std::vector<T>& w, T* y) const noexcept;
  MoEMambaLayerConfig cfg_{};
  std::vector<T> norm_w_, moe_norm_w_;
  MambaBlock<T> mixer_;
  MoEFFN<T> moe_;
};

extern template class MoEMambaLayer<float>;
extern template class MoEMambaLayer<double>;
extern template class MoEMambaLayerState<float>;
extern template class MoEMambaLayerState<double>;

}  // namespace ssm
