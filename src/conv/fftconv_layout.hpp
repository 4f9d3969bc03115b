#pragma once
// Internal: how the CPU fftconv cuts one row (src/conv/fftconv.cpp), exposed for tests and
// benches. Two layouts compute the same causal convolution y[t] = sum_j k[j] u[t-j], t < L:
//
//   single   one real FFT of size n = fft_fast_size(L + taps - 1) of the zero-padded row and of
//            the zero-padded kernel; y = first L values of c2r(U K) / n. `group` channels are
//            transformed together (one batched FFTW plan: amortises the per-call overhead of
//            short transforms).
//   blocked  uniformly partitioned overlap-save with blocks of P samples and FFTs of n = 2P:
//            kernel block p = taps [pP, pP + P) zero-padded to 2P, spectrum K_p; input window
//            j = u[(j-1)P, (j+1)P) (zeros outside [0, L)), spectrum X_j; output block m
//            (t in [mP, mP + P)) = the second half of c2r(sum_{p <= m, p < kk} X_{m-p} K_p) / n.
//            The same 3 FFTs per sample as single, but of size 2P instead of ~2L: for long rows
//            the transforms stay in cache (and FFTW's heuristic plans stay good), at the price
//            of the frequency-domain sum, kin * kk / 2 block products.
//
// fftconv_layout() picks the cheaper one by a cost model (fftconv.cpp); the choice depends on
// (L, taps, whether the kernel spectra are amortised over calls, the planning effort) only,
// never on the thread count or the data, so results are reproducible bit for bit.
#include <cstddef>

namespace ssm::detail {

struct FftconvLayout {
  bool blocked = false;
  std::ptrdiff_t n = 0;      // FFT size
  std::ptrdiff_t P = 0;      // blocked: block length (n = 2P); single: 0
  std::ptrdiff_t taps = 0;   // kernel taps used, min(Lk, L)
  std::ptrdiff_t kk = 1;     // kernel blocks (single: 1)
  std::ptrdiff_t group = 1;  // channels per batched transform (blocked: 1)
  std::ptrdiff_t nc() const noexcept { return n / 2 + 1; }
  /// Complex values between spectrum blocks: group rows of nc, rounded up to 64 bytes (the
  /// alignment every FFTW array here has).
  std::ptrdiff_t bstride() const noexcept { return (group * nc() + 7) / 8 * 8; }
  /// Input blocks of a row of length L (single: 1).
  std::ptrdiff_t kin(std::ptrdiff_t L) const noexcept { return blocked ? (L + P - 1) / P : 1; }
};

/// The layout for rows of length L and `taps` kernel taps (taps <= L). kernel_once: the kernel
/// spectra are made once and reused (FFTConv), so their transforms are not counted.
/// value_bytes: bytes of one complex value (8 for float, 16 for double).
FftconvLayout fftconv_layout(std::ptrdiff_t L, std::ptrdiff_t taps, bool kernel_once, std::size_t value_bytes);

/// Tests and benches: force the layout of later calls. block > 0: blocked with P = block (any
/// L, also L <= P); block < 0: single; 0 (default): the cost model. Process-wide.
void fftconv_force_block(std::ptrdiff_t block) noexcept;

}  // namespace ssm::detail
