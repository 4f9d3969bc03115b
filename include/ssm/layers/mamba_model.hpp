#pragma once
// MambaModel: a residual stack of Mamba blocks as in mamba_ssm's MixerModel (Hugging Face's
// MambaModel), with either linear input and output maps for signals, or the token embedding
// and LM head of a language model.
//
//   h        = encoder(u)                          signals: encoder.weight (d_model, d_input),
//                                                  encoder.bias;  tokens (vocab_size > 0):
//                                                  h = embeddings.weight[u] (vocab_size, d_model)
//   for i < n_layers:                              (pre-norm residual blocks, mamba_ssm `Block`)
//     res    = h (i = 0)  or  h + res              residual added before the norm, in T
//                                                  (T = float: float32, mamba_ssm's residual_in_fp32)
//     h      = mixer_i( norm_i(res) )              layers.{i}.mixer.*  (MambaBlock names)
//                                                  layers.{i}.norm.weight (+ .bias for layernorm)
//   res      = h + res
//   x        = norm_f(res)                         norm_f.weight (+ .bias)
//   y        = output "linear":  decoder(x)        decoder.weight (d_output, d_model), decoder.bias
//              output "logits":  x lm_headᵀ        lm_head.weight (vocab_size, d_model), no bias;
//                                                  tie_embeddings: lm_head is embeddings.weight
//              output "hidden":  x                 d_output = d_model (the last hidden states)
// norm: RMSNorm  x / sqrt(mean(x^2) + eps) * w   (mamba_ssm's default, eps 1e-5), or LayerNorm.
// u (batch, L, d_input) and y (batch, L, d_output) row-major: frames of d_input values. Token
// models take d_input = 1: each frame is one token id, an integral value in [0, vocab_size)
// stored in T (exact in float up to 2^24); forward() throws ssm::Error naming 'u' for any other
// value, process() writes NaN for that frame and leaves the state as it was.
//
// Model file (model_file.hpp): ssmkit.arch = "mamba", ssmkit.config = JSON with
//   d_model, n_layers, d_state, d_conv, expand (d_inner = expand d_model) or d_inner,
//   dt_rank (number or "auto" = ceil(d_model / 16)), d_input, d_output,
//   norm ("rmsnorm" | "layernorm"), norm_eps, in_proj_bias, conv_bias, out_proj_bias (or bias
//   for both), hidden_act ("silu": the only one the block computes), residual_in_fp32 (true),
//   vocab_size (0: a signal model), output ("linear" | "logits" | "hidden"), tie_embeddings,
//   sample_rate (informational: Mamba's step is learned, nothing is re-discretized; the rate the
//   streaming hosts run at by default). Any other key is an error naming it.
// Hugging Face checkpoints (a directory with config.json and model.safetensors of a
// MambaModel / MambaForCausalLM) load through from_hf_dir() (and ssm::load_model(dir)):
// MambaForCausalLM gives logits, MambaModel the last hidden states (docs/models.md).
//
// Modes:
//   forward()                   offline scan over whole sequences (selective scan on `device`)
//   make_streamer()             streaming: a Streamer<T> (stream/streamer.hpp) of any number of
//                               channels (spec.channels streams sharing one weight copy),
//                               mamba_ssm step() per frame; real-time safe process/reset/state,
//                               any block size n (including 1; longer than max_block in pieces).
//                               Hosts use this.
//   prepare/process_mono/...    the one-stream primitive behind it (mono_stream.hpp).
// Invariant: streaming over any split of a signal equals forward() over the whole signal.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ssm/core/device.hpp"
#include "ssm/io/safetensors.hpp"
#include "ssm/layers/mamba_block.hpp"
#include "ssm/layers/mono_stream.hpp"
#include "ssm/stream/dense_filter.hpp"  // StreamSpec

namespace ssm {

enum class NormKind { rmsnorm, layernorm };

/// What the stack's last hidden states become (see the formula above).
enum class MambaOutput { linear, logits, hidden };

struct MambaModelConfig {
  int d_input = 1, d_output = 1;
  int n_layers = 1;
  MambaBlockConfig block;  // d_model, d_inner, d_state, d_conv, dt_rank, bias flags, hidden_act
  NormKind norm = NormKind::rmsnorm;
  double norm_eps = 1e-5;  // every norm of the stack (layers.{i}.norm, norm_f)
  double sample_rate = 0;  // informational (0: not given)
  int vocab_size = 0;      // > 0: token ids in (d_input = 1) through embeddings.weight
  MambaOutput output = MambaOutput::linear;
  bool tie_embeddings = true;  // output logits: lm_head.weight is embeddings.weight

  /// Sizes >= 1, norm_eps > 0; a token model has d_input = 1; output logits needs a token
  /// model and d_output = vocab_size, output hidden d_output = d_model.
  void validate(const char* where) const;
  /// Parses the ssmkit.config JSON; throws ssm::Error naming the key and the expectation
  /// (also for a key that is not one of the keys above).
  static MambaModelConfig from_json(const std::string& json);
  /// Parses a Hugging Face MambaConfig (config.json of model_type "mamba"): hidden_size,
  /// num_hidden_layers, state_size, conv_kernel, expand / intermediate_size, time_step_rank,
  /// use_bias, use_conv_bias, hidden_act, layer_norm_epsilon, vocab_size,
  /// tie_word_embeddings; training-only keys (initializer_range, time_step_min, ...) are known
  /// and ignored, any other key is an error naming it. `output`: logits for MambaForCausalLM,
  /// hidden for MambaModel.
  static MambaModelConfig from_hf_json(const std::string& json, MambaOutput output);
  std::string to_json() const;
};

template <class T>
struct MambaModelParams {
  std::vector<T> encoder_weight, encoder_bias;   // (d_model, d_input), (d_model); empty for tokens
  std::vector<T> embedding;                      // (vocab_size, d_model); tokens only
  std::vector<MambaBlockParams<T>> mixers;       // n_layers
  std::vector<std::vector<T>> norm_weight, norm_bias;  // n_layers x (d_model); bias: layernorm only
  std::vector<T> norm_f_weight, norm_f_bias;     // (d_model); bias: layernorm only
  std::vector<T> decoder_weight, decoder_bias;   // (d_output, d_model), (d_output); output linear;
                                                 // logits untied: decoder_weight = lm_head, no bias
};

/// Untrained parameters (mamba_ssm-like initialization, unit norms) for tests and benchmarks.
template <class T>
MambaModelParams<T> random_mamba_model(const MambaModelConfig& cfg, std::uint64_t seed);

template <class T>
class MambaModel : public MonoStream<MambaModel<T>, T> {
public:
  MambaModel() = default;
  /// Validates every size against cfg (throws ssm::Error naming the parameter).
  MambaModel(const MambaModelConfig& cfg, MambaModelParams<T> params);

  /// Reads a model file (arch "mamba"), validating config and every tensor.
  static MambaModel load(const std::string& path);
  static MambaModel from_file(const io::SafeTensors& file);
  /// Reads a Hugging Face checkpoint directory: config.json (MambaConfig) and
  /// model.safetensors (MambaForCausalLM's `backbone.*` + optional `lm_head.weight`, or
  /// MambaModel's names without the prefix). Sharded checkpoints are refused.
  static MambaModel from_hf_dir(const std::string& dir);
  /// Writes a model file that load() (and the tools/export_*.py exporters) read back. F32 for
  /// float, F64 for double.
  void save(const std::string& path) const;

  const MambaModelConfig& config() const noexcept { return cfg_; }
  /// Encoder, norms and decoder (params().mixers is empty: the mixers live in block(i)).
  const MambaModelParams<T>& params() const noexcept { return p_; }
  const MambaBlock<T>& block(int i) const { return blocks_.at(static_cast<std::size_t>(i)); }

  /// Offline: u (batch, length, d_input) -> y (batch, length, d_output), from zero states.
  void forward(const T* u, int batch, int length, T* y, Device device = Device::cpu) const;

  /// Streaming: a Streamer<T> over frames of d_input -> d_output values, spec.channels streams
  /// sharing one copy of the weights (the streamer holds a copy of this model), latency 0.
  std::unique_ptr<Streamer<T>> make_streamer() const;

  // The one-stream primitive behind make_streamer() (mono_stream.hpp: prepare, process_mono,
  // prepared, and these): prepare() allocates the step states and scratch of one stream.
  void reset() noexcept;
  std::size_t state_size() const noexcept;
  void save_state(T* dst) const noexcept;
  void load_state(const T* src) noexcept;

private:
  friend class MonoStream<MambaModel<T>, T>;
  static constexpr const char* kPrepare = "MambaModel::prepare";
  bool constructed() const noexcept { return !blocks_.empty(); }
  void prepare_stream(const StreamSpec& spec);
  void process_block(const T* in, T* out, int n) noexcept;
  void norm(const T* x, std::ptrdiff_t rows, const std::vector<T>& w, const std::vector<T>& b, T* y) const noexcept;
  static MambaModel read(TensorReader& r, const MambaModelConfig& c, const std::string& stack_prefix,
                         const std::string& head_prefix);
  // the input map of `rows` frames (offline: throws naming 'u' for a bad token id; step: one
  // frame, false for a bad token id) and the output map
  void encode(const T* u, std::ptrdiff_t rows, T* h) const;
  bool encode_step(const T* u, T* h) const noexcept;
  void decode(const T* x, std::ptrdiff_t rows, T* y) const;
  void decode_step(const T* x, T* y) const noexcept;
  MambaModelConfig cfg_{};
  MambaModelParams<T> p_{};
  std::vector<MambaBlock<T>> blocks_;
  // streaming
  std::vector<MambaBlockState<T>> states_;
  std::vector<T> h_, res_, hn_;
};

extern template class MambaModel<float>;
extern template class MambaModel<double>;

}  // namespace ssm
