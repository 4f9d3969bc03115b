#pragma once
// MoEMambaModel: a stack of MoE-Mamba layers (moe_mamba.hpp) with linear input and output maps
// for signals, the MoE-Mamba counterpart of MambaModel (model file arch "moe_mamba").
//
//   h    = encoder(u)                          encoder.weight (d_model, d_input), encoder.bias
//   for i < n_layers:                          layers.{i}.norm.weight, layers.{i}.mixer.*,
//     h  = h + mixer_i( RMSNorm(h) )           layers.{i}.moe_norm.weight, layers.{i}.moe.*
//     h  = h + moe_i( RMSNorm(h) )             (MoEMambaLayer: mamba_block and moe_ffn names)
//   y    = decoder( RMSNorm(h; norm_f.weight) )  decoder.weight (d_output, d_model), decoder.bias
// RMSNorm(v; w) = v / sqrt(mean(v²) + norm_eps) · w. u (batch, L, d_input) and y
// (batch, L, d_output) row-major.
//
// Model file (model_file.hpp): ssmkit.arch = "moe_mamba", ssmkit.config = JSON with MambaModel's
// keys for the blocks (d_model, n_layers, d_state, d_conv, expand | d_inner, dt_rank,
// in_proj_bias, conv_bias, out_proj_bias, d_input, d_output, norm_eps, sample_rate; norm must be
// "rmsnorm") plus n_experts, d_ff, top_k (default 1), activation ("gelu" | "relu" | "silu",
// default gelu), router_bias (default false), ffn_bias (fc1/fc2 biases, default true).
//
// Modes:
//   forward()                offline: every layer's scan path (selective scan and MoE on `device`)
//   make_stream_state() +    streaming, one stream a state, one step per frame: real-time safe
//   process(in, out, n, s)   (no allocation, lock, throw or I/O); the model is shared by any
//                            number of streams (const). prepare/process/reset without a state
//                            argument drive one internal stream, as MambaModel does.
// Invariant: process() over any split of a signal equals forward() over the whole signal.
// State of a stream: per layer conv (d_inner, d_conv) then ssm (d_inner, d_state) values.
#include <cstdint>
#include <string>
#include <vector>

#include "ssm/core/device.hpp"
#include "ssm/io/safetensors.hpp"
#include "ssm/layers/moe_mamba.hpp"
#include "ssm/layers/mono_stream.hpp"
#include "ssm/stream/streamer.hpp"  // StreamSpec

namespace ssm {

struct MoEMambaModelConfig {
  int d_input = 1, d_output = 1;
  int n_layers = 1;
  MoEMambaLayerConfig layer;  // mixer (MambaBlockConfig), moe (MoEFFNConfig), norm_eps
  double sample_rate = 0;     // informational (0: not given)

  void validate(const char* where) const;
  /// Parses the ssmkit.config JSON; throws ssm::Error naming the key and the expectation.
  static MoEMambaModelConfig from_json(const std::string& json);
  std::string to_json() const;
};

template <class T>
struct MoEMambaModelParams {
  std::vector<T> encoder_weight, encoder_bias;  // (d_model, d_input), (d_model)
  std::vector<MoEMambaLayerParams<T>> layers;   // n_layers
  std::vector<T> norm_f_weight;                 // (d_model)
  std::vector<T> decoder_weight, decoder_bias;  // (d_output, d_model), (d_output)
};

template <class T>
MoEMambaModelParams<T> random_moe_mamba_model(const MoEMambaModelConfig& cfg, std::uint64_t seed);

/// One stream's state and scratch (make_stream_state()).
template <class T>
class MoEMambaStreamState {
public:
  MoEMambaStreamState() = default;
  /// Number of state values (per layer conv then ssm).
  std::size_t size() const noexcept;
  void save(T* dst) const noexcept;
  void load(const T* src) noexcept;
  void reset() noexcept;

private:
  template <class>
  friend class MoEMambaModel;
  std::vector<MoEMambaLayerState<T>> layers_;
  int max_block_ = 1;
  std::vector<T> h_, hn_;  // (max_block, d_model)
};

template <class T>
class MoEMambaModel : public MonoStream<MoEMambaModel<T>, T> {
public:
  MoEMambaModel() = default;
  /// Validates every size against cfg (throws ssm::Error naming the parameter).
  MoEMambaModel(const MoEMambaModelConfig& cfg, MoEMambaModelParams<T> params);

  /// Reads a model file (arch "moe_mamba"), validating config and every tensor.
  static MoEMambaModel load(const std::string& path);
  static MoEMambaModel from_file(const io::SafeTensors& file);
  /// Writes a model file that load() reads back (F32 for float, F64 for double).
  void save(const std::string& path) const;

  const MoEMambaModelConfig& config() const noexcept { return cfg_; }
  const MoEMambaLayer<T>& layer(int i) const { return layers_.at(static_cast<std::size_t>(i)); }

  /// Offline: u (batch, length, d_input) -> y (batch, length, d_output), from zero states.
  void forward(const T* u, int batch, int length, T* y, Device device = Device::cpu) const;

  /// A zeroed stream (allocates) with scratch for blocks of up to max_block frames (>= 1).
  MoEMambaStreamState<T> make_stream_state(int max_block = 1) const;
  /// n frames of one stream: in (n, d_input) -> out (n, d_output), layer after layer over
  /// blocks of up to the stream's max_block frames (each layer sees a block at once:
  /// MoEMambaLayer::step_tokens). Real-time safe. in and out may alias when d_input == d_output.
  void process(const T* in, T* out, int n, MoEMambaStreamState<T>& s) const noexcept;

  // One internal stream (mono_stream.hpp: prepare, process_mono, prepared, and these); hosts
  // use the model's streamer of any channel count (MoEMambaStreamer) or process(in, out, n,
  // state).
  using MonoStream<MoEMambaModel<T>, T>::process;
  void reset() noexcept { own_.reset(); }
  std::size_t state_size() const noexcept { return this->prepared() ? own_.size() : 0; }
  void save_state(T* dst) const noexcept { own_.save(dst); }
  void load_state(const T* src) noexcept { own_.load(src); }

private:
  friend class MonoStream<MoEMambaModel<T>, T>;
  static constexpr const char* kPrepare = "MoEMambaModel::prepare";
  bool constructed() const noexcept { return !layers_.empty(); }
  void prepare_stream(const StreamSpec& spec);
  void process_block(const T* in, T* out, int n) noexcept;

  MoEMambaModelConfig cfg_{};
  std::vector<T> enc_w_, enc_b_, norm_f_, dec_w_, dec_b_;
  std::vector<T> enc_t_, dec_t_;  // (in, out) copies for the real-time linear maps
  std::vector<MoEMambaLayer<T>> layers_;
  MoEMambaStreamState<T> own_;
};

extern template class MoEMambaModel<float>;
extern template class MoEMambaModel<double>;
extern template class MoEMambaStreamState<float>;
extern template class MoEMambaStreamState<double>;

}  // namespace ssm
