#pragma once
// DenseFilter<T>: a multi-input multi-output recurrent filter from a dense continuous system.
//
// Built from a ContinuousSystem and a Discretization; prepare() discretizes at the step
// dt = 1/sample_rate (or an explicit dt) and allocates; process() streams samples:
//   control convention:  y[k] = Cd x[k] + Dd u[k],  then x[k+1] = Ad x[k] + Bd u[k]
//   ssm convention:      x_k = Ad x_{k-1} + Bd u_k,  then y_k = C x_k + D u_k
// state() is x[k] (control: the state before the next input; ssm: the state after the last).
//
// Real-time contract: process(), reset(), set_state() never allocate, lock, throw or log;
// they assume prepare() was called (a filter that is not prepared outputs silence); blocks
// of any length are accepted (the recurrence needs no scratch per block).
// Denormals are flushed while processing. T is float or double; the discretization is
// computed in double and rounded to T.
//
// Block layout: interleaved frames, u[frame * M + input], y[frame * P + output].
#include <Eigen/Dense>
#include <cstddef>
#include <span>

#include "ssm/continuous/dense.hpp"
#include "ssm/discretize/discretize.hpp"
#include "ssm/stream/streamer.hpp"  // StreamSpec

namespace ssm {

template <class T>
class DenseFilter {
public:
  using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
  using Vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;

  DenseFilter(ContinuousSystem sys, Discretization how);

  /// Discretizes at dt = time_scale / sample_rate and allocates for blocks up to max_block.
  void prepare(const StreamSpec& spec);
  /// Discretizes at an explicit step dt (> 0) and allocates for blocks up to max_block.
  void prepare_dt(double dt, int max_block);

  /// One frame: u has inputs() values, y receives outputs() values.
  void process(const T* u, T* y) noexcept;
  /// n frames, interleaved (see header comment).
  void process(const T* u, T* y, std::size_t frames) noexcept;
  /// Zeroes the state (or restores the initial state given by set_initial_state()).
  void reset() noexcept;

  std::span<const T> state() const noexcept { return {x_.data(), static_cast<std::size_t>(x_.size())}; }
  /// Copies `x` (states() values) into the state; returns false (and changes nothing) on a size
  /// mismatch or a non-finite value.
  bool set_state(std::span<const T> x) noexcept;
  /// State that reset() restores (default zero). Not real-time: may allocate.
  void set_initial_state(std::span<const T> x0);

  int states() const noexcept { return static_cast<int>(sys_.states()); }
  int inputs() const noexcept { return static_cast<int>(sys_.inputs()); }
  int outputs() const noexcept { return static_cast<int>(sys_.outputs()); }
  bool prepared() const noexcept { return prepared_; }
  double dt() const noexcept { return discrete_.dt; }
  const DiscreteSystem& discrete() const noexcept { return discrete_; }
  const ContinuousSystem& continuous() const noexcept { return sys_; }

private:
  ContinuousSystem sys_;
  Discretization how_;
  DiscreteSystem discrete_;
  Matrix Ad_, Bd_, Cd_, Dd_;
  Vector x_, x0_, tmp_;
  int max_block_ = 0;
  bool prepared_ = false;
};

extern template class DenseFilter<float>;
extern template class DenseFilter<double>;

}  // namespace ssm
