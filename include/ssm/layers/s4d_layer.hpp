#pragma once
// S4DLayer: one residual layer of the S4 repository's example `S4Model` (the S4D kernel of
// `S4D`, its D skip, activation, the 1x1-conv GLU, the residual and the LayerNorm), the unit
// S4DModel stacks (s4d_model.hpp). For x (L, H), H = d_model, PyTorch names of layer i:
//   z   = prenorm ? LayerNorm(x) : x                         norms.{i}.weight, norms.{i}.bias
//   y   = K * z + D z         causal convolution per channel  s4_layers.{i}.D (H)
//   y   = act(y)              GELU (exact erf form, nn.GELU()) by default
//   y   = GLU( W y + b )      1x1 conv to 2H, then a * sigmoid(b) of the halves (a | b)
//                             s4_layers.{i}.output_linear.0.weight (2H, H, 1), .bias (2H)
//   x   = x + y;  if !prenorm: x = LayerNorm(x)
// with the S4D kernel (S4DKernel of the S4 repository; zoh, B = 1, s4_layers.{i}.kernel.*):
//   dt  = exp(log_dt) (H),  A = -exp(log_A_real) + i A_imag (H, N2),  C (H, N2, 2) real pairs
//   K[h, l] = 2 Re( sum_n C[h,n] (exp(dt A[h,n]) - 1) / A[h,n] * exp(dt A[h,n] l) )
//
// Time convention: exp(log_dt) is the step of one sample at `sample_rate` Hz; run with a
// dt_scale (= sample_rate / fs) the layer is re-discretized at dt * dt_scale, which keeps the
// continuous-time impulse response (in seconds).
//
// Modes: forward() offline by Mode (stream: the recurrence; conv: diag_kernel + fftconv;
// scan: diag_scan; Device::cuda for conv (float) and scan, with A, B, C, D resident per GPU);
// prepare()/process() one real-time stream: the recurrence
//   s_t = Ad s_{t-1} + z_t  (s = h / Bd),  y_t = 2 Re(sum_n W s_t) + D z_t,  W = C Bd,
// the same outputs as h_t = Ad h_{t-1} + Bd z_t, y_t = 2 Re(C h_t) + D z_t, with Ad, W and s in
// split re/im arrays, mode-major (N2, H): a vector holds one mode of a run of channels, so the
// read-out sums modes with vector adds. In float, process() runs on the vector kernels picked
// at run time (src/layers/stream_kernels.hpp: groups of modes held in registers over the
// block's frames, vector GELU/SiLU/sigmoid, packed output_linear over the block's rows).
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "ssm/continuous/diagonal.hpp"
#include "ssm/core/aligned.hpp"
#include "ssm/core/device.hpp"
#include "ssm/core/mode.hpp"
#include "ssm/layers/activation.hpp"

namespace ssm {
namespace detail {
template <class T>
class ResidentWeights;
struct S4DStreamWeights;
}  // namespace detail

/// The sizes and options of one layer (S4DModelConfig holds them for the stack).
struct S4DLayerConfig {
  int d_model = 64;  // H
  int d_state = 64;  // N real states = 2 N2 complex modes; even
  bool prenorm = false;
  Activation activation = Activation::gelu;
  double norm_eps = 1e-5;
  double sample_rate = 48000.0;  // Hz at which dt = exp(log_dt) is the step of one sample

  int modes() const noexcept { return d_state / 2; }
  /// Throws ssm::Error(where: argument '<field>' ...) unless d_model >= 1, d_state even and
  /// >= 2, norm_eps and sample_rate finite and > 0.
  void validate(const char* where) const;
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
class S4DLayer {
public:
  S4DLayer() = default;
  /// Validates every size against cfg and finiteness; errors name the PyTorch parameter of
  /// layer `index` (s4_layers.{index}.kernel.log_dt, norms.{index}.weight, ...).
  S4DLayer(const S4DLayerConfig& cfg, S4DLayerParams<T> params, int index);

  const S4DLayerConfig& config() const noexcept { return cfg_; }
  const S4DLayerParams<T>& params() const noexcept { return p_; }
  /// The layer's SSM as a continuous DiagonalSSM (B = 1, reference_rate = sample_rate).
  const DiagonalSSM& ssm() const noexcept { return ssm_; }

  /// Offline: x (batch, length, H) row-major through the layer in place (residual included),
  /// from a zero state, by `mode`, at dt * dt_scale. Allocates.
  void forward(T* x, int batch, int length, Mode mode, double dt_scale, Device device) const;

  /// Discretizes at dt * dt_scale and readies one stream for blocks up to max_block; resets.
  /// Allocates only when the layer was not prepared before for at least max_block frames:
  /// re-preparing at another rate (44.1 -> 96 kHz) re-discretizes in place, no allocation.
  void prepare(double dt_scale, int max_block);
  bool prepared() const noexcept { return max_block_ > 0; }
  /// x (n, H) through the layer in place, n <= the prepared max_block (the caller checks).
  /// Real-time safe.
  void process(T* x, int n) noexcept;
  void reset() noexcept;
  /// The recurrent state (s re, then s im, (N2, H) each): 2 H N2 values once prepared.
  std::size_t state_size() const noexcept { return s_re_.size() + s_im_.size(); }
  T* save_state(T* dst) const noexcept;
  const T* load_state(const T* src) noexcept;

private:
  void tail(T* y, std::ptrdiff_t rows, T* x, T* glu, bool offline) const noexcept;

  S4DLayerConfig cfg_{};
  S4DLayerParams<T> p_{};
  DiagonalSSM ssm_{};
  std::vector<T> out_wt_;  // output_linear weight transposed (H, 2H)
  // streaming: Ad and W = C Bd split complex and the state s, mode-major (N2, H): one vector
  // holds one mode of a run of channels
  int max_block_ = 0;
  AlignedVector<T> ad_re_, ad_im_, w_re_, w_im_, s_re_, s_im_;
  AlignedVector<T> z_, y_, glu_;  // (max_block, H), (max_block, H), (max_block, 2H)
  // float: output_linear packed for the vector kernels
  std::shared_ptr<const detail::S4DStreamWeights> fast_;
  // A, B (interleaved complex, as diag_scan takes them), C and D on the GPU, per device,
  // uploaded on the first cuda forward (src/layers/resident_weights.hpp)
  std::shared_ptr<detail::ResidentWeights<T>> gpu_;
};

extern template class S4DLayer<float>;
extern template class S4DLayer<double>;

}  // namespace ssm
