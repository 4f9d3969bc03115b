#pragma once
// DiagFilter<T>: streaming recurrence of a diagonal (S4D) model, H channels x N2 complex modes.
//
// Per channel h and sample t (ssm convention, FORMAT.md `diag_filter`):
//   x_t[n] = Ad[h,n] x_{t-1}[n] + Bd[h,n] u_t,       y_t = 2 Re( sum_n C[h,n] x_t[n] ) + D[h] u_t
// with Ad, Bd from discretize(DiagonalSSM) (zoh or a gbt method such as bilinear) at step
//   dt[h] = exp(log_dt[h]) * time_scale * reference_rate / sample_rate           (prepare)
//   dt[h] = exp(log_dt[h]) * dt_scale                                            (prepare_scaled)
// so re-preparing at another sample rate re-discretizes the continuous model (a model trained
// at 16 kHz runs at 44.1 or 48 kHz with the same continuous poles and time constants).
//
// Layout and speed: coefficients and state are split real/imaginary arrays, padded per channel
// to a multiple of 16 modes (padding modes are zero); the mode loop is a SIMD loop (one lane
// per mode), compiled for AVX-512, AVX2+FMA and baseline x86-64 with run-time dispatch.
// Discretization is computed in double and rounded to T.
//
// Real-time contract: process(), reset(), set_state() never allocate, lock, throw or log; they
// need prepare() first (an unprepared filter outputs silence and keeps no state). Denormals are
// flushed while processing. Any number of frames per call (the state carries over exactly:
// a signal cut into blocks of any sizes gives the same output as one call).
//
// Frame layouts: interleaved (u[t * H + h]), planar (u[h * frames + t]) or any strides.
#include <cstddef>
#include <span>
#include <vector>

#include "ssm/discretize/diagonal.hpp"
#include "ssm/stream/dense_filter.hpp"  // StreamSpec

namespace ssm {

template <class T>
class DiagFilter {
public:
  /// method: zoh or a gbt-family method (alpha for gbt). Validates the model.
  explicit DiagFilter(DiagonalSSM model, Method method = Method::zoh, double alpha = 0.5);

  /// Discretizes at dt[h] = exp(log_dt[h]) * time_scale * reference_rate / sample_rate; allocates.
  void prepare(const StreamSpec& spec);
  /// Discretizes at dt[h] = exp(log_dt[h]) * dt_scale (> 0); allocates. Keeps the state when the
  /// shape is unchanged (a rate change is glitch-free), zero otherwise.
  void prepare_scaled(double dt_scale, int max_block);

  /// One frame: u[h] -> y[h], h < H.
  void process(const T* u, T* y) noexcept;
  /// `frames` interleaved frames: u[t * H + h] -> y[t * H + h].
  void process(const T* u, T* y, std::size_t frames) noexcept;
  /// Planar: u[h * frames + t] -> y[h * frames + t].
  void process_planar(const T* u, T* y, std::size_t frames) noexcept;
  /// Any layout: sample (h, t) at u[h * channel_stride + t * frame_stride], same for y.
  void process_strided(const T* u, T* y, std::size_t frames, std::ptrdiff_t channel_stride,
                       std::ptrdiff_t frame_stride) noexcept;

  /// Zero state.
  void reset() noexcept;
  /// Copies the state (H * N2 complex values, index h * N2 + n) split into re / im; false
  /// (and nothing copied) on a size mismatch or when not prepared.
  bool get_state(std::span<T> re, std::span<T> im) const noexcept;
  bool set_state(std::span<const T> re, std::span<const T> im) noexcept;

  int channels() const noexcept { return model_.H; }
  int modes() const noexcept { return model_.N2; }
  bool prepared() const noexcept { return prepared_; }
  int max_block() const noexcept { return max_block_; }
  /// The steps of the current discretization (H values; empty before prepare()).
  std::span<const double> dt() const noexcept { return {dt_.data(), dt_.size()}; }
  const DiagonalSSM& model() const noexcept { return model_; }
  Method method() const noexcept { return method_; }

private:
  DiagonalSSM model_;
  Method method_;
  double alpha_;
  int stride_ = 0;  // padded modes per channel
  std::vector<T> ar_, ai_, br_, bi_, cr_, ci_, d_;  // cr, ci hold 2 C
  std::vector<T> xr_, xi_;
  std::vector<double> dt_;
  int max_block_ = 0;
  bool prepared_ = false;
};

extern template class DiagFilter<float>;
extern template class DiagFilter<double>;

}  // namespace ssm
