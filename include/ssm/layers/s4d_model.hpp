#pragma once
// S4DModel: the S4 repository's example `S4Model` (an encoder, a stack of S4D layers with
// residual connections and LayerNorm, a decoder), run sequence-to-sequence on signals (no
// mean pooling over time: the decoder is applied at every time step).
//
// Per layer i, with x (L, H) for H = d_model (parameter names of the PyTorch module):
//   z   = prenorm ? LayerNorm_i(x) : x                       norms.{i}.weight, norms.{i}.bias
//   y   = K_i * z + D_i z           causal convolution per channel   s4_layers.{i}.D (H)
//   y   = act(y)                    GELU (exact erf form, nn.GELU()) by default
//   y   = GLU( W_i y + b_i )        1x1 conv to 2H, then a * sigmoid(b) of the halves (a | b)
//                                   s4_layers.{i}.output_linear.0.weight (2H, H, 1) or
//                                   s4_layers.{i}.output_linear.weight (2H, H [,1]); .bias (2H)
//   x   = x + y;  if !prenorm: x = LayerNorm_i(x)
// with the S4D kernel (S4DKernel of the S4 repository; zoh, B = 1, s4_layers.{i}.kernel.*):
//   dt  = exp(log_dt) (H),  A = -exp(log_A_real) + i A_imag (H, N2),  C (H, N2, 2) real pairs
//   K[h, l] = 2 Re( sum_n C[h,n] (exp(dt A[h,n]) - 1) / A[h,n] * exp(dt A[h,n] l) )
// and encoder.weight (H, d_input), encoder.bias (H), decoder.weight (d_output, H), decoder.bias.
//
// Time convention: the model is continuous in time. exp(log_dt) is the step of one sample at
// `sample_rate` Hz (the rate of the training data, config key sample_rate). Run at another
// rate fs, every layer is re-discretized with dt = exp(log_dt) * sample_rate / fs, i.e. the
// continuous-time impulse response (in seconds) is kept, not the per-sample one.
//
// Three modes compute the same function (up to rounding):
//   stream  the recurrence h_t = Ad h_{t-1} + Bd z_t, y_t = 2 Re(C h_t) + D z_t per layer
//           (make_streamer(): a Streamer<T> of any number of channels sharing one weight
//           copy, real-time safe, any block size <= max_block; or offline. prepare /
//           process_mono / reset / state are its one-stream primitive, spec.channels == 1)
//   conv    kernel of the whole length (diag_kernel) + FFT convolution (fftconv), offline
//   scan    the diagonal LTI scan (diag_scan), offline, CPU or CUDA
// On the GPU (Device::cuda) each layer's A, B, C and D are uploaded once per GPU on the first
// cuda forward and stay resident (copies of the model share them); the conv mode builds K with
// diag_kernel(..., Device::cuda) and convolves with fftconv on device pointers (float only).
//
// Model file (model_file.hpp): ssmkit.arch = "s4d", ssmkit.config = JSON with d_model,
// n_layers, d_state (N; N2 = N/2 complex modes), d_input, d_output, prenorm, activation
// ("gelu" | "silu" | "relu" | "identity"), norm_eps (1e-5), sample_rate (Hz, default 48000).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ssm/discretize/diagonal.hpp"
#include "ssm/core/device.hpp"
#include "ssm/core/mode.hpp"
#include "ssm/io/safetensors.hpp"
#include "ssm/layers/activation.hpp"
#include "ssm/stream/dense_filter.hpp"  // StreamSpec

namespace ssm {
namespace detail {
template <class T>
class ResidentWeights;
}  // namespace detail


// Activation: ssm/layers/activation.hpp.

struct S4DModelConfig {
  int d_input = 1, d_output = 1;
  int d_model = 64;   // H
  int n_layers = 4;
  int d_state = 64;   // N real states = 2 N2 complex modes; even
  bool prenorm = false;
  Activation activation = Activation::gelu;
  double norm_eps = 1e-5;
  double sample_rate = 48000.0;  // Hz at which dt = exp(log_dt) is the step of one sample

  int modes() const noexcept { return d_state / 2; }
  void validate(const char* where) const;
  static S4DModelConfig from_json(const std::string& json);
  std::string to_json() const;
};

/// One S4D layer's parameters, PyTorch layouts, row-major.
template <class T>
struct S4DLayerParams {
  std::vector<T> log_dt;        // (H)
  std::vector<T> log_A_real;    // (H, N2)
  std::vector<T> A_imag;        // (H, N2)
  std::vector<T> C;             // (H, N2, 2) re/im
  std::vector<T> D;             // (H)
  std::vector<T> out_weight;    // (2H, H)   output_linear (1x1 conv)
  std::vector<T> out_bias;      // (2H)
  std::vector<T> norm_weight;   // (H)       norms.{i}
  std::vector<T> norm_bias;     // (H)
};

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
class S4DModel {
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
  const DiagonalSSM& ssm(int i) const { return ssm_.at(static_cast<std::size_t>(i)); }

  /// Offline: u (batch, length, d_input) -> y (batch, length, d_output) from zero states, by
  /// `mode`, at `sample_rate` Hz (0: the model's own rate). `device` applies to scan (CUDA
  /// through diag_scan) and conv (cuFFT, float only); stream runs on the CPU.
  void forward(const T* u, int batch, int length, T* y, Mode mode, double sample_rate = 0,
               Device device = Device::cpu) const;

  /// Streaming: a Streamer<T> over frames of d_input -> d_output values, spec.channels streams
  /// sharing one copy of the weights (the streamer holds a copy of this model), latency 0;
  /// prepare() discretizes at the spec's sample rate.
  std::unique_ptr<Streamer<T>> make_streamer() const;

  /// The one-stream primitive behind make_streamer(): discretizes every layer at
  /// spec.sample_rate and allocates for blocks up to spec.max_block (spec.channels == 1:
  /// several streams are make_streamer()'s job; throws ssm::Error naming 'spec.channels').
  /// Resets.
  void prepare(const StreamSpec& spec);
  /// n frames of the one stream: in (n, d_input) -> out (n, d_output). Real-time safe;
  /// n <= max_block (else, or before prepare(), writes zeros). in and out may alias when
  /// d_input == d_output.
  void process_mono(const T* in, T* out, int n) noexcept;
  /// The former name of process_mono.
  [[deprecated("process() means planar multi-channel in Streamer<T>: use make_streamer() or process_mono()")]]
  void process(const T* in, T* out, int n) noexcept { process_mono(in, out, n); }
  void reset() noexcept;
  bool prepared() const noexcept { return prepared_; }
  /// The streaming state (every layer's recurrent state) as a flat array: state_size() values
  /// (0 before prepare()); save -> process -> load -> process reproduces the outputs bit for bit.
  /// Real-time safe.
  std::size_t state_size() const noexcept;
  void save_state(T* dst) const noexcept;
  void load_state(const T* src) noexcept;

private:
  struct Discrete {  // one layer at one step: Ad, the input gain b = 1 and W = C Bd (H, N2) split complex, in T
    std::vector<T> ad_re, ad_im, b_re, b_im, w_re, w_im;
  };
  std::vector<Discrete> discretize_all(double dt_scale) const;
  void layer_tail(std::size_t i, T* ssm_out, std::ptrdiff_t rows, T* x, T* glu, bool offline) const noexcept;
  static void recurrence(const Discrete& d, const T* D, int H, int N2, T* h_re, T* h_im, const T* z,
                         T* y, std::ptrdiff_t n) noexcept;

  S4DModelConfig cfg_{};
  S4DModelParams<T> p_{};
  std::vector<DiagonalSSM> ssm_;
  std::vector<std::vector<T>> out_wt_;  // per layer output_linear weight transposed (H, 2H)
  // streaming
  bool prepared_ = false;
  int max_block_ = 0;
  std::vector<Discrete> disc_;
  std::vector<std::vector<T>> h_re_, h_im_;  // per layer (H, N2)
  std::vector<T> x_, z_, y_, glu_;
  // per layer A, B, C (interleaved complex, as diag_scan takes them) and D on the GPU, uploaded
  // on the first cuda forward (src/layers/resident_weights.hpp)
  std::shared_ptr<detail::ResidentWeights<T>> gpu_;
};

extern template class S4DModel<float>;
extern template class S4DModel<double>;

}  // namespace ssm
