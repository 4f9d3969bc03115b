#pragma once
// Offline causal long convolution with skip term, computed by FFT (FFTW on CPU).
//
//   y[b,h,t] = sum_{j <= t, j < Lk} k[h,j] * u[b,h,t-j]  +  D[h] * u[b,h,t]
//
// for b < B (batch), h < H (channels), t < L (time). Each channel h has its own kernel row
// k[h, 0..Lk) (row-major (H, Lk), contiguous) and skip gain D[h] (D == nullptr means D = 0).
// The convolution is causal and zero-initialised: u[b,h,t] = 0 for t < 0. Lk may differ
// from L: taps j >= L can never reach an output and are ignored (so Lk > L costs nothing
// beyond reading the first L taps); Lk < L means the kernel is zero after Lk taps.
//
// Method: for each row, linear (not circular) convolution via real FFTs, in one of two layouts
// picked by a cost model from (L, min(Lk, L), precision, planning effort, kernel spectra kept or
// not), never from the data or the thread count (docs/convolution.md):
//   - one FFT of the zero-padded row, size n >= L + min(Lk, L) - 1 of the form 2^a 3^b 5^c;
//   - for long rows, uniformly partitioned overlap-save: blocks of P samples, FFTs of n = 2P,
//     the kernel cut into ceil(min(Lk, L) / P) blocks summed in the frequency domain.
// Both take 3 real FFTs per output sample (2 with the kernel spectra kept); rows run in
// parallel (OpenMP) across batch x channel. Cost O(B H L log n) + O(H L log n) for the kernel.
// Accuracy: FFT round-off, relative error ~ eps(T) * log2(n) * ||k||_1-ish; float32 rows of
// 1M samples agree with a float64 direct sum to ~1e-5 relative to max|y|. The bits depend on
// the layout and the FFTW plans only, so they are the same for any thread count and call.
//
// Thread safety: FFTW plans are created once per (size, precision) under a global mutex and
// then executed through FFTW's new-array interface, which is thread-safe; fftconv() and
// FFTConv::apply() (const) may be called concurrently from any number of threads.
//
// Device::cuda goes through the cuFFT backend (float only). As for every Device::cuda entry
// point, u, k, D and y are then DEVICE pointers of the current GPU (docs/cuda.md); host pointers
// are refused with ssm::Error naming the argument. k and D are read back to be checked finite
// (and to key the GPU spectrum cache), u is checked finite on the GPU. Host data goes through
// the convenience fftconv_cuda_from_host(), which uploads, runs the same path and downloads.
// Without SSM_WITH_CUDA, or without a usable GPU, Device::cuda throws ssm::Error naming 'device'.
#include <cstddef>
#include <memory>
#include <vector>

#include "ssm/core/device.hpp"
#include "ssm/core/fft_planning.hpp"
#include "ssm/core/view.hpp"

namespace ssm {

/// Causal FFT convolution with skip (see the file comment for the exact formula).
///   u: (B, H, L) any strides;  k: (H, Lk) row-major contiguous;  D: (H) or nullptr;
///   y: (B, H, L) any strides; either exactly u (same data and strides: in place) or not overlapping u at all (partial overlap is rejected).
/// T is float or double. Throws ssm::Error on shape mismatch, Lk < 1, null pointers,
/// non-finite k or D, or Device::cuda without CUDA (or with T = double).
/// Kernel spectra of recently used kernels are cached (keyed by the kernel's exact contents,
/// bounded memory) from the second call that sees a kernel, so calling fftconv repeatedly with
/// the same k skips the kernel FFTs; a kernel seen once costs no cache memory (its spectra are
/// made per channel group, used at once and dropped).
template <class T>
void fftconv(View3<const T> u, const T* k, std::ptrdiff_t Lk, const T* D, View3<T> y,
             Device device = Device::cpu);

/// Host-pointer convenience of the CUDA path: u, k, D, y are HOST memory (u, y any strides, as
/// for fftconv); validates like the CPU path, uploads u, k, D, runs
/// fftconv(..., Device::cuda) on the current GPU and downloads y. Float only. Throws
/// ssm::Error as fftconv does, and naming 'device' without CUDA or a usable GPU.
void fftconv_cuda_from_host(View3<const float> u, const float* k, std::ptrdiff_t Lk, const float* D,
                            View3<float> y);

/// The same convolution with the kernel spectra held by the object: build once for a kernel
/// and a maximum length, then apply() to any batch of inputs of length <= max_length.
/// apply() is const and thread-safe (it allocates per-call scratch; it is an offline path,
/// see PartitionedConvolver for the real-time one). CPU only.
template <class T>
class FFTConv {
public:
  FFTConv() = default;
  /// k: (channels, Lk) row-major; D: (channels) or nullptr. Computes the kernel spectra.
  FFTConv(std::ptrdiff_t channels, std::ptrdiff_t max_length, const T* k, std::ptrdiff_t Lk,
          const T* D = nullptr);
  ~FFTConv();
  FFTConv(FFTConv&&) noexcept;
  FFTConv& operator=(FFTConv&&) noexcept;
  FFTConv(const FFTConv&) = delete;
  FFTConv& operator=(const FFTConv&) = delete;

  /// Replaces kernel and skip (same channels; Lk may change). Not thread-safe w.r.t. apply().
  void set_kernel(const T* k, std::ptrdiff_t Lk, const T* D = nullptr);

  /// y = causal_conv(u, k) + D u, with u, y of shape (B, channels(), L), L <= max_length().
  void apply(View3<const T> u, View3<T> y) const;

  std::ptrdiff_t channels() const noexcept { return H_; }
  std::ptrdiff_t max_length() const noexcept { return L_; }
  std::ptrdiff_t kernel_length() const noexcept { return Lk_; }
  /// Transform size n: >= max_length + min(Lk, max_length) - 1, of the form 2^a 3^b 5^c, when
  /// a row is one transform; 2P when long rows are cut into blocks of P samples.
  std::ptrdiff_t fft_size() const noexcept { return n_; }

  struct Impl;  // spectra + plan (src/conv/fftconv.cpp)

private:
  std::ptrdiff_t H_ = 0, L_ = 0, Lk_ = 0, n_ = 0;
  std::unique_ptr<Impl> impl_;
};

extern template class FFTConv<float>;
extern template class FFTConv<double>;

// set_fft_planning / fft_planning (FFTW planning effort, process-wide): ssm/core/fft_planning.hpp.

/// Smallest n >= min_size of the form 2^a 3^b 5^c (FFTW is fastest on these). min_size >= 1.
std::ptrdiff_t fft_fast_size(std::ptrdiff_t min_size);

/// Reference O(L * min(L, Lk)) direct convolution with the same semantics (accumulates in
/// double). For tests and small problems.
template <class T>
void direct_conv(View3<const T> u, const T* k, std::ptrdiff_t Lk, const T* D, View3<T> y);

}  // namespace ssm
