#pragma once
// DenseFilter<T>: a multi-input multi-output recurrent filter from a dense continuous system.
//
// Built from a ContinuousSystem and a Discretization; prepare() discretizes at the step
// dt = 1/sample_rate (or an explicit dt) and allocates; process() streams samples:
//   control convention:  y[k] = Cd x[k] + Dd u[k],  then x[k+1] = Ad x[k] + Bd u[k]
//   ssm convention:      x_k = Ad x_{k-1} + Bd u_k,  then y_k = C x_k + D u_k
// state() is x[k] (control: the state before the next input; ssm: the state after the last).
//
// A Streamer<T> (stream/streamer.hpp): input_width() = inputs() M, output_width() = outputs() P;
// spec.channels independent copies of the system, each with its own state (the same filter on
// every audio channel). Planar frames of channel c: u[c][frame * M + input], y[c][frame * P +
// output]; interleaved: u[(frame * channels + c) * M + input].
// State: channels x states() values, channel-major (save_state/load_state, state()/set_state()
// of the contract); channel_state(c) / set_channel_state(x, c) read or write one channel.
//
// Real-time contract (Streamer): process*(), reset(), save/load_state, set_channel_state never
// allocate, lock, throw or log; blocks of 1..max_block frames; unprepared or oversized blocks
// output silence. Denormals are flushed while processing. T is float or double; the
// discretization is computed in double and rounded to T.
#include <Eigen/Dense>
#include <cstddef>
#include <span>

#include "ssm/continuous/dense.hpp"
#include "ssm/discretize/discretize.hpp"
#include "ssm/stream/streamer.hpp"  // StreamSpec

namespace ssm {

template <class T>
class DenseFilter final : public Streamer<T> {
public:
  using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
  using Vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;

  DenseFilter(ContinuousSystem sys, Discretization how);

  // Streamer::prepare(spec) discretizes at dt = time_scale / sample_rate for spec.channels
  // copies; prepare_dt() at an explicit step dt (> 0). Both reset every channel to the initial
  // state (set_initial_state, default zero).
  using Streamer<T>::prepare;
  void prepare_dt(double dt, int max_block, int channels = 1);

  int input_width() const noexcept override { return inputs(); }
  int output_width() const noexcept override { return outputs(); }

  /// The state of channel c (states() values; empty span for c out of range or before prepare()).
  std::span<const T> channel_state(int c = 0) const noexcept;
  /// Copies `x` (states() values) into channel c's state; returns false (and changes nothing) on
  /// a size mismatch, a bad channel or a non-finite value.
  bool set_channel_state(std::span<const T> x, int c = 0) noexcept;
  /// State that reset() restores on every channel (default zero). Not real-time: may allocate.
  void set_initial_state(std::span<const T> x0);

  int states() const noexcept { return static_cast<int>(sys_.states()); }
  int inputs() const noexcept { return static_cast<int>(sys_.inputs()); }
  int outputs() const noexcept { return static_cast<int>(sys_.outputs()); }
  double dt() const noexcept { return discrete_.dt; }
  const DiscreteSystem& discrete() const noexcept { return discrete_; }
  const ContinuousSystem& continuous() const noexcept { return sys_; }

protected:
  void do_prepare(const StreamSpec& spec) override;
  void do_process(const T* const* in, T* const* out, int n) noexcept override;
  void do_process_interleaved(const T* in, T* out, int n) noexcept override;
  void do_reset() noexcept override;
  std::size_t do_state_size() const noexcept override { return static_cast<std::size_t>(x_.size()); }
  void do_save_state(T* dst) const noexcept override;
  void do_load_state(const T* src) noexcept override;

private:
  // n frames of channel c; frame f of u at u + f * us (M values), of y at y + f * ys.
  void run(int c, const T* u, std::ptrdiff_t us, T* y, std::ptrdiff_t ys, int n) noexcept;

  ContinuousSystem sys_;
  Discretization how_;
  DiscreteSystem discrete_;
  Matrix Ad_, Bd_, Cd_, Dd_;
  Matrix x_;           // (states, channels): column c is channel c's state
  Vector x0_, tmp_;
  double dt_override_ = 0;  // > 0 while prepare_dt() runs
};

extern template class DenseFilter<float>;
extern template class DenseFilter<double>;

}  // namespace ssm
