#pragma once
// ssm::CudaFFTConv: the causal FFT convolution with skip on the GPU, kernel spectra kept on the
// device and reused by every call, on device pointers, synchronous or queued on a CudaStream.
// The GPU counterpart of ssm::FFTConv (include/ssm/conv/fftconv.hpp), for batch jobs whose data
// already lives on the GPU (ssm::fftconv(..., Device::cuda) takes host pointers instead).
//
//   y[b,h,t] = sum_{j<=t, j<Lk} k[h,j] u[b,h,t-j] + D[h] u[b,h,t]      (as ssm::fftconv)
//
// All pointers are device pointers to contiguous row-major arrays: k (H, Lk), D (H) or null,
// u and y (batch, H, L). Float32 only. CUDA/cuFFT failures throw ssm::Error; without CUDA
// compiled in the constructor throws ssm::Error.
//
// Method: rows (b, h) are zero-padded to n = fft_fast_size(max_length + min(Lk, max_length) - 1),
// transformed by a batched in-place cuFFT R2C, multiplied by the kept kernel spectrum
// S[h,f] = (FFT(k[h])[f] + D[h]) / n (the D skip is the flat spectrum D, the 1/n of the
// inverse transform is folded in too, so the pointwise product is the only spectral pass),
// transformed back by C2R and the first L samples copied out. Rows go in slabs sized so that
// the transform buffer stays under `workspace_bytes`. Accuracy: FFT round-off, ~1e-5 of max|y|
// at L = 1M (docs/convolution.md).
//
// Devices and streams: the object lives on the GPU that was current when it was made
// (device()); apply() runs there whatever the current device is and restores it. apply(...,
// stream) queues on a stream of that GPU and returns at once (include/ssm/core/cuda_stream.hpp);
// calls on different streams may be queued at once (they take turns with the object's transform
// buffer on the GPU; cuFFT plans are kept per stream). apply() may be called from several host
// threads at once (the queuing itself is serialized). Not for real-time paths (it allocates and
// waits); see ssm::PartitionedConvolver for streaming convolution.
#include <cstddef>
#include <memory>

namespace ssm {

class CudaStream;

class CudaFFTConv {
public:
  /// k: (H, Lk) and D: (H) or null, device pointers on the current device; max_length: the
  /// longest L apply() takes. workspace_bytes: bound on the slab buffer (0: 1 GiB). Computes the
  /// kernel spectra on the current device, which the object keeps (device()).
  CudaFFTConv(int H, std::ptrdiff_t max_length, const float* k, std::ptrdiff_t Lk, const float* D,
              std::size_t workspace_bytes = 0);
  ~CudaFFTConv();
  CudaFFTConv(CudaFFTConv&&) noexcept;
  CudaFFTConv& operator=(CudaFFTConv&&) noexcept;

  /// u, y: (batch, H, L) contiguous arrays on device(), L <= max_length; y must not overlap u.
  /// Runs on device() whatever the current device is, and restores the current device.
  /// Returns once the result is in y.
  void apply(const float* u, float* y, int batch, std::ptrdiff_t L) const;
  /// The same queued on `stream` (a stream of device()), returning without waiting
  /// (include/ssm/core/cuda_stream.hpp). Calls on different streams may be queued at once: they
  /// take turns with the object's transform buffer on the GPU (event-ordered), and cuFFT plans
  /// are kept per stream.
  void apply(const float* u, float* y, int batch, std::ptrdiff_t L, const CudaStream& stream) const;
  /// The GPU the spectra live on (current when the object was made).
  int device() const noexcept;

  int channels() const noexcept;
  std::ptrdiff_t fft_size() const noexcept;
  std::ptrdiff_t max_length() const noexcept;

  struct Impl;

private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ssm
