#pragma once
// BSTModel: a stack of Block-State Transformer layers (bst_layer.hpp) between linear maps for
// signals, sequence to sequence:
//
//   h  = encoder(u)                     encoder.weight (d_model, d_input), encoder.bias (d_model)
//   h  = BSTLayer_i(h), i < n_layers    layers.{i}.*  (the bst_layer names: norm1, ssm.kernel.*,
//                                       ssm.D, attn.{q,k,v,out}_proj, norm2, ffn.fc1, ffn.fc2)
//   y  = decoder(h)                     decoder.weight (d_output, d_model), decoder.bias (d_output)
// u (batch, L, d_input) and y (batch, L, d_output) row-major. Every layer has the same
// block_size, context, n_heads, norm_eps, d_ff and context-SSM size.
//
// Model file (model_file.hpp): ssmkit.arch = "bst", ssmkit.config = JSON with
//   d_model, n_layers, d_state (N real states = 2 N2 complex modes a channel, S4D's convention:
//   ssm.kernel.log_A_real is (d_model, d_state/2)), d_ff, block_size, context, n_heads,
//   d_input, d_output, norm_eps (1e-5), sample_rate (informational: W and S count samples, the
//   model is not re-discretized for another rate).
// Projection and FFN biases are optional per tensor (absent = zero), as in the layer.
//
// Modes:
//   forward(..., Device::cpu)   offline over whole sequences (Mode::conv: the S4D context by FFT
//                               convolution); Device::cuda runs every layer on the GPU
//                               (CudaBSTLayer, float only), activations resident between layers.
//   BSTModelStreamer            Streamer<T> (stream/streamer.hpp): one state a layer and channel,
//                               latency 0 (each layer is causal frame by frame), real-time safe.
// Invariant: streaming any split of a signal gives the offline output (to round-off: the offline
// context is an FFT convolution, the streamed one the recurrence).
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ssm/core/device.hpp"
#include "ssm/io/safetensors.hpp"
#include "ssm/layers/bst_layer.hpp"
#include "ssm/stream/channel_streamer.hpp"
#include "ssm/stream/streamer.hpp"

namespace ssm {

class CudaBSTLayer;

struct BSTModelConfig {
  int d_input = 1, d_output = 1;
  int n_layers = 1;
  BSTLayerConfig layer;  // d_model, modes (= d_state / 2), d_ff, block_size, context, n_heads, norm_eps
  double sample_rate = 0;  // informational (0: not given)

  void validate(const char* where) const;
  /// Parses the ssmkit.config JSON; throws ssm::Error naming the key and the expectation.
  static BSTModelConfig from_json(const std::string& json);
  std::string to_json() const;
};

template <class T>
struct BSTModelParams {
  std::vector<T> encoder_weight, encoder_bias;  // (d_model, d_input), (d_model)
  std::vector<BSTLayerParams<T>> layers;        // n_layers
  std::vector<T> decoder_weight, decoder_bias;  // (d_output, d_model), (d_output)
};

/// Untrained parameters (random_bst_layer per layer, PyTorch default linear maps). For tests
/// and benchmarks.
template <class T>
BSTModelParams<T> random_bst_model(const BSTModelConfig& cfg, std::uint64_t seed);

template <class T>
class BSTModel {
public:
  BSTModel() = default;
  /// Validates every size against cfg and finiteness (throws ssm::Error naming the parameter).
  BSTModel(const BSTModelConfig& cfg, BSTModelParams<T> params);
  ~BSTModel();
  BSTModel(const BSTModel&);
  BSTModel(BSTModel&&) noexcept;
  BSTModel& operator=(BSTModel) noexcept;

  /// Reads a model file (arch "bst"), validating config and every tensor.
  static BSTModel load(const std::string& path);
  static BSTModel from_file(const io::SafeTensors& file);
  /// Writes a model file that load() reads back (F32 for float, F64 for double).
  void save(const std::string& path) const;

  const BSTModelConfig& config() const noexcept { return cfg_; }
  /// Encoder and decoder (params().layers is empty: the layers live in layer(i)).
  const BSTModelParams<T>& params() const noexcept { return p_; }
  const BSTLayer<T>& layer(int i) const { return layers_.at(static_cast<std::size_t>(i)); }

  /// Offline: u (batch, length, d_input) -> y (batch, length, d_output), from zero states,
  /// host memory. Device::cuda: float only (the GPU layers are made on first use and kept).
  void forward(const T* u, int batch, int length, T* y, Device device = Device::cpu) const;

private:
  BSTModelConfig cfg_{};
  BSTModelParams<T> p_{};
  std::vector<BSTLayer<T>> layers_;
  struct Gpu;                          // the CudaBSTLayers, made on first cuda forward
  mutable std::unique_ptr<Gpu> gpu_;
  mutable std::mutex gpu_mutex_;
};

/// The model as a Streamer<T>: frames of d_input values in, d_output out; every channel of
/// spec.channels its own states. latency() = 0. process(), reset(), save/load_state are
/// real-time safe. Holds a copy of the model.
template <class T>
class BSTModelStreamer final : public ChannelStreamer<T, std::vector<BSTLayerState<T>>> {
public:
  explicit BSTModelStreamer(const BSTModel<T>& model);
  int input_width() const noexcept override { return model_.config().d_input; }
  int output_width() const noexcept override { return model_.config().d_output; }
  int latency() const noexcept override { return 0; }

protected:
  void do_prepare(const StreamSpec& spec) override;
  std::vector<BSTLayerState<T>> make_channel(const StreamSpec& spec) const override;  // a state a layer
  void do_process(const T* const* in, T* const* out, int n) noexcept override;

private:
  BSTModel<T> model_;
  std::vector<T> enc_t_, dec_t_;  // encoder / decoder weights transposed (in, out)
  std::vector<T> h_;              // (max_block, d_model)
};

extern template class BSTModel<float>;
extern template class BSTModel<double>;
extern template class BSTModelStreamer<float>;
extern template class BSTModelStreamer<double>;

}  // namespace ssm
