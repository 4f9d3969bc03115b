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
// Real-time contract: prepare() validates, allocates and plans (FFTW, under the planner
// mutex); process*() and reset() never allocate, lock, throw or log, accept any number of
// frames (including 1 and odd counts; max_block is a hint for choosing defaults) and flush
// denormals. Channels advance together. Before prepare(), the single-channel process()
// writes silence and the planar/interleaved forms leave `out` untouched (channel count unknown).
#include <cstddef>
#include <memory>
#include <span>
#include <vector>

namespace ssm {

struct PartitionSpec {
  /// Largest block the host will pass (only used to pick head_partition when it is 0).
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
class PartitionedConvolver {
public:
  PartitionedConvolver();
  ~PartitionedConvolver();
  PartitionedConvolver(PartitionedConvolver&&) noexcept;
  PartitionedConvolver& operator=(PartitionedConvolver&&) noexcept;
  PartitionedConvolver(const PartitionedConvolver&) = delete;
  PartitionedConvolver& operator=(const PartitionedConvolver&) = delete;

  /// Allocates and computes the kernel partition spectra. k: (channels, Lk) row-major,
  /// finite; D: (channels) or nullptr (no skip term). Resets the stream. Throws ssm::Error on
  /// bad arguments (channels < 1, Lk < 1, non-finite k/D, inconsistent partitions).
  void prepare(std::ptrdiff_t channels, const T* k, std::ptrdiff_t Lk, const T* D,
               const PartitionSpec& spec);

  /// Planar: in[h], out[h] point to `frames` samples of channel h (in[h] == out[h] allowed).
  void process(const T* const* in, T* const* out, std::size_t frames) noexcept;
  /// Interleaved frames: in[f * channels + h], out[f * channels + h] (in == out allowed).
  void process_interleaved(const T* in, T* out, std::size_t frames) noexcept;
  /// Single channel convenience (channels() must be 1; otherwise outputs silence).
  void process(const T* in, T* out, std::size_t frames) noexcept;

  /// Clears every input history, delay line and pending output (the kernel stays).
  void reset() noexcept;

  /// Output delay in samples relative to the offline convolution (0 in zero-latency mode).
  int latency() const noexcept;
  bool prepared() const noexcept;
  std::ptrdiff_t channels() const noexcept;
  std::ptrdiff_t kernel_length() const noexcept;
  int head_partition() const noexcept;
  int tail_partition() const noexcept;  // 0 when single-stage
  /// Number of FFT partitions in stage s (0: head FDL, 1: tail FDL; 0 if absent).
  std::ptrdiff_t partitions(int stage) const noexcept;

  struct Impl;

private:
  std::unique_ptr<Impl> impl_;
};

extern template class PartitionedConvolver<float>;
extern template class PartitionedConvolver<double>;

}  // namespace ssm
