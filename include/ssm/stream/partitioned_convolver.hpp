#pragma once
// PartitionedConvolver<T>: real-time streaming convolution with a long FIR kernel per channel,
// by uniformly partitioned overlap-save (a frequency-domain delay line, FDL), optionally with
// a zero-latency direct-form head and a second stage of longer partitions for very long kernels.
//
// Output (channel h, stream time t counted from prepare()/reset(), u[t] = 0 for t < 0):
//   y[t] = w[t - latency()],  w[t] = sum_{j < Lk} k[h,j] u[t-j] + D[h] u[t]
// i.e. exactly the offline causal convolution of ssm::fftconv (include/ssm/conv/fftconv.hpp),
// delayed by latency() samples (0 in zero-latency mode), up to FFT round-off.
//
// Structure (P1 = head_partition, P2 = tail_partition, both in samples):
//   zero_latency = true:   taps [0, P1)   direct form, O(P1) per sample
//                          taps [P1, P2)  FDL of partitions of P1 taps, FFT size 2*P1
//                          taps [P2, Lk)  FDL of partitions of P2 taps, FFT size 2*P2 (two-stage)
//   zero_latency = false:  taps [0, P2-P1) FDL of P1 partitions, taps [P2-P1, Lk) FDL of P2
//                          partitions, latency() = P1 (no direct form; cheapest per sample).
// Without a tail stage (tail_partition = 0) the P1 FDL covers every tap after the head.
// A stage of partition P computes its block of output once every P input samples (2 real
// FFTs of size 2P plus K complex multiply-adds per bin for its K partitions); the output of
// that block is needed only P samples later, which is what the partition offset pays for.
// Cost per sample ~ P1 (direct) + sum over stages of (2 FFT(2P)/P + 2 K (P+1)/P) multiply-adds;
// the work of a stage lands in the call that completes its block (bursty; see docs/convolution.md).
//
// A Streamer<T> (stream/streamer.hpp) of H channels of width 1 (channel h convolves with kernel
// row h; spec.channels must be H). The kernel is given by the constructor or set_kernel(); the
// partition layout is chosen at prepare(spec) (head_partition 0: from spec.max_block). The
// five-argument prepare(channels, k, Lk, D, PartitionSpec) does both in one call.
// State (save_state/load_state, exact): every stage's input frame, pending output block, FDL of
// input spectra and block position, in that order (state_size() values; positions stored as
// T, exact below 2^24).
//
// Real-time contract (Streamer): prepare() validates, allocates and plans (FFTW, under the
// planner mutex); process*(), reset(), save/load_state never allocate, lock, throw or log,
// accept 1..max_block frames (odd counts included) and flush denormals; unprepared or
// oversized blocks output silence. Channels advance together. in[h] == out[h] is allowed
// (planar), as is in == out (interleaved).
#include <cstddef>
#include <memory>
#include <span>
#include <vector>

#include "ssm/stream/streamer.hpp"

namespace ssm {

struct PartitionSpec {
  /// Largest block the host will pass: the max_block of the five-argument prepare() (the
  /// contract's prepare(StreamSpec) uses spec.max_block instead); picks head_partition when 0.
  int max_block = 512;
  /// P1 >= 1 samples (a power of two is fastest). 0: max(64, next power of two >= max_block),
  /// capped at 1024.
  int head_partition = 0;
  /// P2: 0 for a single stage, else a multiple of P1 greater than P1. A second stage pays off
  /// when the kernel is much longer than P1 (rule of thumb: Lk > 64 * P1).
  int tail_partition = 0;
  /// true: latency 0 via a direct-form head of P1 taps. false: latency P1, no direct form.
  bool zero_latency = true;
};

template <class T>
class PartitionedConvolver final : public Streamer<T> {
public:
  /// No kernel yet: set_kernel() or the five-argument prepare() before streaming.
  PartitionedConvolver();
  /// set_kernel(channels, k, Lk, D, partition).
  PartitionedConvolver(std::ptrdiff_t channels, const T* k, std::ptrdiff_t Lk, const T* D,
                       const PartitionSpec& partition = {});
  ~PartitionedConvolver() override;
  PartitionedConvolver(PartitionedConvolver&&) noexcept;
  PartitionedConvolver& operator=(PartitionedConvolver&&) noexcept;
  PartitionedConvolver(const PartitionedConvolver&) = delete;
  PartitionedConvolver& operator=(const PartitionedConvolver&) = delete;

  /// Copies the kernel k: (channels, Lk) row-major, finite; D: (channels) or nullptr (no skip
  /// term); keeps partition's head_partition / tail_partition / zero_latency (its max_block is
  /// not used here). Unprepares until the next prepare(spec). Throws ssm::Error on bad
  /// arguments (channels < 1, Lk < 1, null or non-finite k, non-finite D).
  void set_kernel(std::ptrdiff_t channels, const T* k, std::ptrdiff_t Lk, const T* D,
                  const PartitionSpec& partition = {});

  // Streamer::prepare(spec): allocates and computes the kernel partition spectra for
  // spec.channels == channels() (throws ssm::Error naming 'spec.channels', or 'k' when no
  // kernel was set, or the partition field that is inconsistent). Resets the stream.
  using Streamer<T>::prepare;
  /// set_kernel(channels, k, Lk, D, spec), then prepare({.max_block = spec.max_block,
  /// .channels = channels}).
  void prepare(std::ptrdiff_t channels, const T* k, std::ptrdiff_t Lk, const T* D, const PartitionSpec& spec);

  int input_width() const noexcept override { return 1; }
  int output_width() const noexcept override { return 1; }
  /// Output delay in samples relative to the offline convolution (0 in zero-latency mode).
  int latency() const noexcept override;
  std::ptrdiff_t channels() const noexcept;
  std::ptrdiff_t kernel_length() const noexcept;
  int head_partition() const noexcept;
  int tail_partition() const noexcept;  // 0 when single-stage
  /// Number of FFT partitions in stage s (0: head FDL, 1: tail FDL; 0 if absent).
  std::ptrdiff_t partitions(int stage) const noexcept;

  struct Impl;

protected:
  void do_prepare(const StreamSpec& spec) override;
  void do_process(const T* const* in, T* const* out, int n) noexcept override;
  void do_process_interleaved(const T* in, T* out, int n) noexcept override;
  void do_reset() noexcept override;
  std::size_t do_state_size() const noexcept override;
  void do_save_state(T* dst) const noexcept override;
  void do_load_state(const T* src) noexcept override;

private:
  std::unique_ptr<Impl> impl_;
};

extern template class PartitionedConvolver<float>;
extern template class PartitionedConvolver<double>;

}  // namespace ssm
