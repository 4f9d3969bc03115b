#pragma once
// S4DModel: the S4 repository's example `S4Model` (an encoder, a stack of S4D layers with
// residual connections and LayerNorm, a decoder), run sequence-to-sequence on signals (no
// mean pooling over time: the decoder is applied at every time step).
//
// Per layer i (S4DLayer, s4d_layer.hpp, which states the layer's formula and names):
//   x = S4DLayer_i(x): prenorm ? x + GLU(act(S4D(LN(x)))) : LN(x + GLU(act(S4D(x))))
// with encoder.weight (H, d_input), encoder.bias (H), decoder.weight (d_output, H), decoder.bias.
//
// Time convention: the model is continuous in time. exp(log_dt) is the step of one sample at
// `sample_rate` Hz (the rate of the training data, config key sample_rate). Run at another
// rate fs, every layer is re-discretized with dt = exp(log_dt) * sample_rate / fs, i.e. the
// continuous-time impulse response (in seconds) is kept, not the per-sample one.
//
// Three modes compute the same function (up to rounding):
//   stream  the recurrence h_t = Ad h_{t-1} + Bd z_t, y_t = 2 Re(C h_t) + D z_t per layer
//           (make_streamer(): a Streamer<T> of any number of channels sharing one weight
//           copy, real-time safe, any block size: longer blocks than max_block run in pieces
//           of max_block; or offline. prepare / process_mono / reset / state are its
//           one-stream primitive, spec.channels == 1). process_mono() runs the block layer
//           after layer (each layer sees the block's frames at once). Re-preparing at another
//           sample rate (44.1 -> 96 kHz) with a max_block no larger than before re-discretizes
//           in place: no allocation.
//   conv    kernel of the whole length (diag_kernel) + FFT convolution (fftconv), offline
//   scan    the diagonal LTI scan (diag_scan), offline, CPU or CUDA
// On the GPU (Device::cuda) each layer's A, B, C and D are uploaded once per GPU on the first
// cuda forward and stay resident (copies of the model share them); the conv mode computes
// y = K * u by the recurrence (diag_scan, exact) up to 64 modes, the fastest GPU path there
// (docs/cuda.md), else builds K with diag_kernel(..., Device::cuda) and convolves with fftconv on
// device pointers (float only).
//
// Model file (model_file.hpp): ssmkit.arch = "s4d", ssmkit.config = JSON with d_model,
// n_layers, d_state (N; N2 = N/2 complex modes), d_input, d_output, prenorm, activation
// ("gelu" | "silu" | "relu" | "identity"), norm_eps (1e-5), sample_rate (Hz, default 48000).
// The mapping between the file and these structures lives in one place: the PyTorch tensor
// names in src/layers/tensor_names.hpp (one list, read, written and checked), the config keys in
// src/layers/s4d_file.cpp.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ssm/discretize/diagonal.hpp"
#include "ssm/core/device.hpp"
#include "ssm/core/mode.hpp"
#include "ssm/io/safetensors.hpp"
#include "ssm/layers/activation.hpp"
#include "ssm/layers/mono_stream.hpp"
#include "ssm/layers/s4d_layer.hpp"
#include "ssm/stream/dense_filter.hpp"  // StreamSpec

namespace ssm {
// Activation: ssm/layers/activation.hpp.

/// The layers' options (S4DLayerConfig: d_model = H, d_state = N, prenorm, activation,
/// norm_eps, sample_rate), which every layer shares, and the stack's sizes.
struct S4DModelConfig : S4DLayerConfig {
  int d_input = 1, d_output = 1;
  int n_layers = 4;

  /// The options every layer shares.
  const S4DLayerConfig& layer() const noexcept { return *this; }
  void validate(const char* where) const;
  static S4DModelConfig from_json(const std::string& json);
  std::string to_json() const;
};

// S4DLayerParams: ssm/layers/s4d_layer.hpp.

template <class T>
struct S4DModelParams {
  std::vector<T> encoder_weight, encoder_bias;  // (H, d_input), (H)
  std::vector<S4DLayerParams<T>> layers;
  std::vector<T> decoder_weight, decoder_bias;  // (d_output, H), (d_output)
};

/// Untrained parameters drawn like the S4 example's initialization: log_dt ~ U[log 1e-3,
/// log 1e-1], S4D-Lin A = -1/2 + i pi n, C ~ CN(0, 1), D ~ N(0, 1), default Linear/Conv1d
/// init, unit LayerNorms. For tests and benchmarks.
template <class T>
S4DModelParams<T> random_s4d_model(const S4DModelConfig& cfg, std::uint64_t seed);

template <class T>
class S4DModel : public MonoStream<S4DModel<T>, T> {
public:
  S4DModel() = default;
  /// Validates every size against cfg and finiteness (throws ssm::Error naming the parameter).
  S4DModel(const S4DModelConfig& cfg, S4DModelParams<T> params);

  static S4DModel load(const std::string& path);
  static S4DModel from_file(const io::SafeTensors& file);
  /// Writes a model file (output_linear as `output_linear.0.weight` (2H, H, 1), the layout of
  /// the PyTorch module's state_dict). F32 for float, F64 for double.
  void save(const std::string& path) const;

  const S4DModelConfig& config() const noexcept { return cfg_; }
  const S4DModelParams<T>& params() const noexcept { return p_; }
  /// Layer i's SSM as a continuous DiagonalSSM (B = 1, reference_rate = sample_rate).
  const DiagonalSSM& ssm(int i) const { return layers_.at(static_cast<std::size_t>(i)).ssm(); }
  const S4DLayer<T>& layer(int i) const { return layers_.at(static_cast<std::size_t>(i)); }

  /// Offline: u (batch, length, d_input) -> y (batch, length, d_output) from zero states, by
  /// `mode`, at `sample_rate` Hz (0: the model's own rate). `device` applies to scan (CUDA
  /// through diag_scan) and conv (cuFFT, float only); stream runs on the CPU.
  void forward(const T* u, int batch, int length, T* y, Mode mode, double sample_rate = 0,
               Device device = Device::cpu) const;

  /// Streaming: a Streamer<T> over frames of d_input -> d_output values, spec.channels streams
  /// sharing one copy of the weights (the streamer holds a copy of this model), latency 0;
  /// prepare() discretizes at the spec's sample rate.
  std::unique_ptr<Streamer<T>> make_streamer() const;

  // The one-stream primitive behind make_streamer() (mono_stream.hpp: prepare, process_mono,
  // prepared, and these): prepare() discretizes every layer at spec.sample_rate; once prepared
  // for a max_block, preparing again with any rate and a max_block no larger allocates nothing
  // (the layers re-discretize in place). process_mono() runs the block layer after layer (each
  // layer sees the block's frames at once).
  void reset() noexcept;
  std::size_t state_size() const noexcept;
  void save_state(T* dst) const noexcept;
  void load_state(const T* src) noexcept;

private:
  friend class MonoStream<S4DModel<T>, T>;
  static constexpr const char* kPrepare = "S4DModel::prepare";
  bool constructed() const noexcept { return !layers_.empty(); }
  void prepare_stream(const StreamSpec& spec);
  void process_block(const T* in, T* out, int n) noexcept;

  S4DModelConfig cfg_{};
  S4DModelParams<T> p_{};
  std::vector<S4DLayer<T>> layers_;
  std::vector<T> x_;  // streaming scratch (max_block, H)
};

extern template class S4DModel<float>;
extern template class S4DModel<double>;

}  // namespace ssm
