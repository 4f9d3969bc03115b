#pragma once
// One Mamba block (the `Mamba` module of mamba_ssm), with its parameter names and semantics
// (FORMAT.md `mamba_block`). For an input x (batch, L, d_model), row-major:
//
//   xz      = x in_proj.weightᵀ (+ in_proj.bias)          (batch, L, 2 d_inner); x | z halves
//   xc[t]   = silu( conv1d.bias + sum_k conv1d.weight[:, 0, k] * x[t - d_conv + 1 + k] )
//             (causal depthwise conv; x[t] for t < 0 is the conv state, zeros from a fresh start)
//   x_dbl   = xc x_proj.weightᵀ  = [dt | B | C]            (dt_rank, d_state, d_state)
//   delta   = dt dt_proj.weightᵀ                           (no bias here: it is delta_bias below)
//   y       = selective_scan(u = xc, delta, A = -exp(A_log), B, C, D, z,
//                            delta_bias = dt_proj.bias, delta_softplus = true)
//   out     = y out_proj.weightᵀ (+ out_proj.bias)         (batch, L, d_model)
//
// State (mamba_ssm's inference cache, MambaBlockState):
//   conv  (batch, d_inner, d_conv)   the last d_conv pre-convolution x values, oldest first
//   ssm   (batch, d_inner, d_state)  the selective-scan state h
// Invariant: forward() over L inputs from a state leaves exactly the state that L calls of
// step() from that state leave, and produces the same outputs; so a prompt may be prefilled
// with forward() (scan) and continued with step(), or a long signal scanned in chunks.
//
// Modes:
//   forward(..., Device)  scan over whole sequences (offline). Projections and the convolution
//                         run on the CPU (Eigen GEMM, OpenMP team); the selective scan runs on
//                         `device` (Device::cuda: the weights the scan reads, A, D and the dt
//                         bias, are uploaded once per GPU on the first cuda call, or by
//                         to_device(), and stay resident; activations go up and down per call).
//   step(x, y, state)     one token per sequence, mamba_ssm's step(): real-time safe on the CPU
//                         (no allocation, lock, throw or I/O; runs on the calling thread); all
//                         scratch lives in the state made by make_state().
//   step_tokens(x, n, y, state)  n consecutive steps; for one sequence (batch 1) in float the
//                         projections of the n tokens run as one small matrix product each
//                         (weights loaded once per block, not once per token) and only the
//                         state recurrence runs token after token: the streaming path of a
//                         block of audio frames. Same outputs and state as n calls of step()
//                         bit for bit. Real-time safe; blocks of up to make_state()'s max_tokens.
// CPU float steps run on vector kernels picked at run time for the CPU (Highway:
// src/layers/stream_kernels.hpp): weights packed once at construction, the conv and selective
// states transposed (d_conv, d_inner) and (d_state, d_inner), dt_proj, the softplus, the
// selective-state update and the gate fused in one pass vectorized over channels (vector
// exp/softplus/SiLU), no per-token branching. The arithmetic of a token does not depend on the
// block it comes in (a block of n tokens gives the outputs of n steps bit for bit).
//   step(..., Device::cuda) runs the state update on the GPU with the same resident weights
//                         (state uploaded and downloaded per call: a conformance/debug path).
// Copies of a block share its resident GPU weights (the weights are immutable once built).
// Precision: T = float (all in float32) or double.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ssm/core/aligned.hpp"
#include "ssm/core/device.hpp"
#include "ssm/core/device_buffer.hpp"
#include "ssm/io/safetensors.hpp"
#include "ssm/layers/activation.hpp"

namespace ssm {
namespace detail {
template <class T>
class ResidentWeights;
struct MambaStepWeights;
}  // namespace detail

class TensorReader;

struct MambaBlockConfig {
  int d_model = 0;
  int d_inner = 0;   // expand * d_model in mamba_ssm
  int d_state = 16;
  int d_conv = 4;
  int dt_rank = 0;   // ceil(d_model / 16) in mamba_ssm ("auto")
  bool in_proj_bias = false;
  bool conv_bias = true;
  bool out_proj_bias = false;
  /// The activation of the conv output and of the gate z (Hugging Face's hidden_act). The
  /// block computes silu only: validate() refuses any other by name.
  Activation hidden_act = Activation::silu;

  /// Throws ssm::Error(where: argument '<field>' ...) unless every size is >= 1 and
  /// hidden_act is silu.
  void validate(const char* where) const;
};

/// Parameters in PyTorch's layouts (row-major). Optional biases are empty when absent.
template <class T>
struct MambaBlockParams {
  std::vector<T> in_proj_weight;   // (2 d_inner, d_model)
  std::vector<T> in_proj_bias;     // (2 d_inner) or empty
  std::vector<T> conv1d_weight;    // (d_inner, 1, d_conv)
  std::vector<T> conv1d_bias;      // (d_inner) or empty
  std::vector<T> x_proj_weight;    // (dt_rank + 2 d_state, d_inner)
  std::vector<T> dt_proj_weight;   // (d_inner, dt_rank)
  std::vector<T> dt_proj_bias;     // (d_inner)
  std::vector<T> A_log;            // (d_inner, d_state)
  std::vector<T> D;                // (d_inner)
  std::vector<T> out_proj_weight;  // (d_model, d_inner)
  std::vector<T> out_proj_bias;    // (d_model) or empty
};

/// The sizes implied by the tensors `<prefix>in_proj.weight`, `A_log`, `conv1d.weight`,
/// `dt_proj.weight` of a file (bias flags from the presence of the bias tensors). Throws
/// ssm::Error naming a missing tensor or an inconsistent shape.
MambaBlockConfig infer_mamba_block_config(const io::SafeTensors& file, const std::string& prefix = "");

/// Reads `<prefix>in_proj.weight` ... validating presence, shape and dtype against cfg.
template <class T>
MambaBlockParams<T> read_mamba_block(TensorReader& reader, const std::string& prefix,
                                     const MambaBlockConfig& cfg);

/// Random parameters drawn like mamba_ssm's initialization (uniform fan-in linear weights,
/// dt = exp(U[log 1e-3, log 1e-1]) through the inverse softplus bias, A_log = log(1..d_state),
/// D = 1). For tests and benchmarks of untrained models.
template <class T>
MambaBlockParams<T> random_mamba_block(const MambaBlockConfig& cfg, std::uint64_t seed);

/// Everything a decoding stream of one block holds: conv and ssm states plus the step's scratch.
template <class T>
class MambaBlockState {
public:
  MambaBlockState() = default;
  int batch() const noexcept { return batch_; }
  /// The most tokens one step_tokens() call runs as one block (longer calls run in pieces).
  int max_tokens() const noexcept { return max_tokens_; }
  /// (batch, d_inner, d_conv), oldest first. (The float step keeps both states transposed,
  /// conv as (batch, d_conv, d_inner) and ssm as (batch, d_state, d_inner), while it streams;
  /// these accessors bring the public layouts up to date first: no allocation, real-time safe;
  /// not for concurrent use from several threads.)
  std::vector<T>& conv() noexcept { return writable(conv_); }
  const std::vector<T>& conv() const noexcept { return readable(conv_); }
  /// (batch, d_inner, d_state) (see conv()).
  std::vector<T>& ssm() noexcept { return writable(ssm_); }
  const std::vector<T>& ssm() const noexcept { return readable(ssm_); }
  /// Zeroes both states (no allocation).
  void reset() noexcept;

private:
  template <class>
  friend class MambaBlock;
  // conv_, ssm_ <- convT_, hT_ transposed, when those are the current ones
  void sync_public() const noexcept;
  const std::vector<T>& readable(const std::vector<T>& v) const noexcept {
    sync_public();
    return v;
  }
  std::vector<T>& writable(std::vector<T>& v) noexcept {
    sync_public();
    transposed_current_ = false;  // the caller may write through the reference
    return v;
  }
  int batch_ = 0, max_tokens_ = 1, d_inner_ = 0, d_state_ = 0, d_conv_ = 0;
  mutable std::vector<T> conv_, ssm_;
  // float: the states transposed, convT_ (batch, d_conv, d_inner), hT_ (batch, d_state, d_inner)
  AlignedVector<T> convT_, hT_;
  bool transposed_current_ = false;  // convT_ and hT_ hold the state (conv_ and ssm_ are stale)
  // step scratch, (max(batch, max_tokens), width) rows (aligned: the vector kernels stream them)
  AlignedVector<T> xz_, xc_, xdbl_, dt_, z_, B_, C_, y_;
};

template <class T>
class MambaBlock {
public:
  MambaBlock() = default;
  /// Validates sizes against cfg and finiteness; precomputes A = -exp(A_log).
  MambaBlock(const MambaBlockConfig& cfg, MambaBlockParams<T> params);

  const MambaBlockConfig& config() const noexcept { return cfg_; }
  const MambaBlockParams<T>& params() const noexcept { return p_; }

  /// A zeroed state for `batch` sequences (allocates; batch >= 1) with scratch for blocks of up
  /// to `max_tokens` tokens in step_tokens() (>= 1).
  MambaBlockState<T> make_state(int batch, int max_tokens = 1) const;

  /// Scan mode: x (batch, length, d_model) -> y (batch, length, d_model), row-major; y must not
  /// overlap x. With `state` (made for this batch) the sequence continues from it and the state
  /// is advanced past the sequence; without it the sequence starts from zero states.
  void forward(const T* x, int batch, int length, T* y, MambaBlockState<T>* state = nullptr,
               Device device = Device::cpu) const;

  /// The "Mamba inner" (FORMAT.md): forward() without in_proj and out_proj. xz (batch, length,
  /// 2 d_inner) row-major, the x | z halves of in_proj's output -> y (batch, length, d_inner),
  /// the gated scan output that out_proj would read. State as in forward(). y must not overlap xz.
  /// Other blocks built on Mamba's inner part (the bidirectional Vim block) call this.
  void forward_inner(const T* xz, int batch, int length, T* y, MambaBlockState<T>* state = nullptr,
                     Device device = Device::cpu) const;

  /// Step mode: one token per sequence, x (batch, d_model) -> y (batch, d_model), advancing
  /// `state` (batch = state.batch()). Real-time safe on the CPU. x and y may alias.
  void step(const T* x, T* y, MambaBlockState<T>& state) const noexcept;
  /// n steps: x (n, batch, d_model) -> y (n, batch, d_model), token-major: n calls of step()
  /// (bit for bit). Batch 1 in float: one block of projections per max_tokens() tokens
  /// (see the top of this file). Real-time safe; x and y may alias; n <= 0 does nothing.
  void step_tokens(const T* x, int n, T* y, MambaBlockState<T>& state) const noexcept;
  /// The same step with the state update on `device` (Device::cuda: not real-time safe; throws
  /// ssm::Error without CUDA). Device::cpu is step() above.
  void step(const T* x, T* y, MambaBlockState<T>& state, Device device) const;

  /// Uploads A, D and the dt bias to the current GPU now (else the first Device::cuda call does);
  /// idempotent per GPU, thread-safe with concurrent forward/step calls. Throws ssm::Error
  /// without CUDA or a GPU.
  void to_device() const;
  /// How many GPUs hold this block's resident weights (0 before any cuda use; stays 1 over any
  /// number of calls on one GPU).
  int resident_devices() const;

private:
  void step_front(const T* x, MambaBlockState<T>& s) const noexcept;
  void step_back(T* y, MambaBlockState<T>& s) const noexcept;
  // float: n tokens (n <= s.max_tokens()) of sequence b on the vector kernels
  void step_block(const T* x, int n, T* y, int b, MambaBlockState<T>& s) const noexcept;
  MambaBlockConfig cfg_{};
  MambaBlockParams<T> p_{};
  std::vector<T> A_;      // (d_inner, d_state) = -exp(A_log)
  std::vector<T> conv_t_; // (d_conv, d_inner): conv1d weight transposed for the scan's conv
  // the step's linear maps, weights transposed to (in, out) (see step(): output tiles in registers)
  std::vector<T> in_t_, xproj_t_, dt_t_, out_t_;
  // float: the four projections packed for the vector kernels (src/layers/mamba_step.cpp)
  std::shared_ptr<const detail::MambaStepWeights> step_w_;
  // A, D, dt bias on the GPU, per device, uploaded on first cuda use (src/layers/resident_weights.hpp)
  std::shared_ptr<detail::ResidentWeights<T>> gpu_;
  const std::vector<DeviceBuffer<T>>& gpu_weights() const;
};

extern template class MambaBlock<float>;
extern template class MambaBlock<double>;
extern template class MambaBlockState<float>;
extern template class MambaBlockState<double>;

}  // namespace ssm
