#pragma once
// Internal device-level interface of the cuFFT convolution (kernels/conv/fftconv.cu), plain
// C++ so that tests and benches can use it without CUDA headers. All pointers are DEVICE
// pointers to contiguous row-major arrays; work runs on the default stream and every call
// returns after it has completed. CUDA/cuFFT failures throw ssm::Error.
//
//   y[b,h,t] = sum_{j<=t, j<Lk} k[h,j] u[b,h,t-j] + D[h] u[b,h,t]      (ssm::fftconv)
//
// Method: rows (b, h) are zero-padded to n = fft_fast_size(L + min(Lk, L) - 1), transformed
// by a batched in-place cuFFT R2C, multiplied by the cached kernel spectrum
// S[h,f] = (FFT(k[h])[f] + D[h]) / n (the D skip is the flat spectrum D, the 1/n of the
// inverse transform is folded in too, so the pointwise product is the only spectral pass),
// transformed back by C2R and the first L samples copied out. Rows go in slabs sized so that
// the transform workspace stays under `workspace_bytes`.
#include <cstddef>
#include <memory>

namespace ssm {
class CudaStream;
}

namespace ssm::detail {

class FFTConvCuda {
public:
  /// k: (H, Lk) and D: (H) or null, device pointers on the current device; max_length: the
  /// longest L apply() takes. workspace_bytes: bound on the slab buffer (0: 1 GiB). Computes the
  /// kernel spectra on the current device, which the object keeps (device()).
  FFTConvCuda(int H, std::ptrdiff_t max_length, const float* k, std::ptrdiff_t Lk, const float* D,
              std::size_t workspace_bytes = 0);
  ~FFTConvCuda();
  FFTConvCuda(FFTConvCuda&&) noexcept;
  FFTConvCuda& operator=(FFTConvCuda&&) noexcept;

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

/// The textbook cuFFT convolution without reuse or fusion, as a baseline for benches and a
/// second path for tests: per call it plans, transforms the kernel, transforms u
/// (out of place), multiplies the spectra in one kernel, transforms back, and adds D u and
/// the 1/n scale in a separate pass. Same formula and device-pointer contract as above.
void fftconv_cuda_unfused(const float* u, const float* k, std::ptrdiff_t Lk, const float* D,
                          float* y, int batch, int H, std::ptrdiff_t L);

}  // namespace ssm::detail
