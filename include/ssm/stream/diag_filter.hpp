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
// A Streamer<T> (stream/streamer.hpp) of H channels of width 1: channel h of the stream is
// channel h of the model, so prepare(spec) needs spec.channels == H (ssm::Error naming
// 'spec.channels' otherwise). process(in, out, n) is planar (in[h][t]); process_interleaved
// reads frames u[t * H + h] natively (no copy); process_strided() takes any layout.
// State: H x N2 complex values, save_state() writes them as (H, N2) re then (H, N2) im
// (2 H N2 values); get_state/set_state(re, im) are the same split form.
//
// Real-time contract (Streamer): process*(), reset(), save/load_state, get/set_state never
// allocate, lock, throw or log; 1..max_block frames a call (process_strided: any count);
// unprepared or oversized blocks output silence. Denormals are flushed while processing.
// A signal cut into blocks of any sizes gives the same output as one call, bit for bit.
//
#include <cstddef>
#include <span>
#include <vector>

#include "ssm/discretize/diagonal.hpp"
#include "ssm/stream/streamer.hpp"

namespace ssm {

template <class T>
class DiagFilter final : public Streamer<T> {
public:
  /// method: zoh or a gbt-family method (alpha for gbt). Validates the model.
  explicit DiagFilter(DiagonalSSM model, Method method = Method::zoh, double alpha = 0.5);

  // Streamer::prepare(spec) discretizes at dt[h] = exp(log_dt[h]) * time_scale * reference_rate
  // / sample_rate; allocates; resets. spec.channels must be H.
  using Streamer<T>::prepare;
  /// Discretizes at dt[h] = exp(log_dt[h]) * dt_scale (> 0) for blocks up to max_block. Keeps
  /// the state when already prepared (a rate change is glitch-free), zero otherwise.
  void prepare_scaled(double dt_scale, int max_block);

  int input_width() const noexcept override { return 1; }
  int output_width() const noexcept override { return 1; }

  /// Any layout: sample (h, t) at u[h * channel_stride + t * frame_stride], same for y; any
  /// number of frames (taken in tiles of the prepared scratch). Silence before prepare().
  void process_strided(const T* u, T* y, std::size_t frames, std::ptrdiff_t channel_stride,
                       std::ptrdiff_t frame_stride) noexcept;

  /// Copies the state (H * N2 complex values, index h * N2 + n) split into re / im; false
  /// (and nothing copied) on a size mismatch or when not prepared.
  bool get_state(std::span<T> re, std::span<T> im) const noexcept;
  bool set_state(std::span<const T> re, std::span<const T> im) noexcept;
  using Streamer<T>::set_state;  // the flat form of the contract (throws on a size mismatch)

  int channels() const noexcept { return model_.H; }
  int modes() const noexcept { return model_.N2; }
  int max_block() const noexcept { return this->prepared() ? this->spec().max_block : 0; }
  /// The steps of the current discretization (H values; empty before prepare()).
  std::span<const double> dt() const noexcept { return {dt_.data(), dt_.size()}; }
  const DiagonalSSM& model() const noexcept { return model_; }
  Method method() const noexcept { return method_; }

protected:
  void do_prepare(const StreamSpec& spec) override;
  void do_process(const T* const* in, T* const* out, int n) noexcept override;
  void do_process_interleaved(const T* in, T* out, int n) noexcept override;
  void do_reset() noexcept override;
  std::size_t do_state_size() const noexcept override { return 2 * static_cast<std::size_t>(model_.H) * model_.N2; }
  void do_save_state(T* dst) const noexcept override;
  void do_load_state(const T* src) noexcept override;

private:
  DiagonalSSM model_;
  Method method_;
  double alpha_;
  // Layout of the coefficient and state arrays (src/stream/diag_filter_kernel.hpp): modes of a
  // channel contiguous (few channels) or channels of a mode contiguous (lanes_).
  bool lanes_ = false;
  int stride_ = 0;  // modes layout: padded modes per channel; lanes layout: padded channels
  int modes_ = 0;   // padded mode count
  std::vector<T> ar_, ai_, br_, bi_, cr_, ci_, d_;  // cr, ci hold 2 C
  std::vector<T> xr_, xi_;
  std::vector<T> tile_u_, tile_y_;  // lanes layout: a tile of frames, [t][stride_]
  std::size_t slot(int h, int k) const noexcept {
    return lanes_ ? static_cast<std::size_t>(k) * stride_ + h : static_cast<std::size_t>(h) * stride_ + k;
  }
  void run_tiles(const T* u, T* y, std::size_t frames, std::ptrdiff_t cs, std::ptrdiff_t fs, const T* const* in,
                 T* const* out) noexcept;
  std::vector<double> dt_;
  double dt_scale_override_ = 0;  // > 0 while prepare_scaled() runs
};

extern template class DiagFilter<float>;
extern template class DiagFilter<double>;

}  // namespace ssm
