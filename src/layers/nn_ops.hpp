#pragma once
// Internal: the small neural-network pieces the layers are built from (linear maps, norms,
// activations) over row-major (rows, features) arrays. Two linear maps:
//   linear_gemm  offline (Eigen GEMM; may allocate blocking buffers and use the OpenMP team)
//   linear_rows  real-time (one dot product per output; never allocates, runs on the caller)
// Both compute Y[r, o] = sum_i X[r, i] W[o, i] + b[o] with W row-major (out, in) as PyTorch's
// nn.Linear stores it (b may be null).
#include <cmath>
#include <cstddef>
#include <vector>

#include "core/activations.hpp"
#include "core/isa.hpp"

namespace ssm::layers_detail {

// Defined once in nn_ops.cpp for float and double: Eigen's GEMM kernels are instantiated in that
// one translation unit instead of in every layer and model file that calls them (each copy cost
// seconds of compile time).
template <class T>
void linear_gemm(const T* X, std::ptrdiff_t rows, std::ptrdiff_t in, const T* W, const T* b,
                 std::ptrdiff_t out, T* Y, std::ptrdiff_t y_stride = -1, std::ptrdiff_t x_stride = -1);
extern template void linear_gemm<float>(const float*, std::ptrdiff_t, std::ptrdiff_t, const float*, const float*,
                                        std::ptrdiff_t, float*, std::ptrdiff_t, std::ptrdiff_t);
extern template void linear_gemm<double>(const double*, std::ptrdiff_t, std::ptrdiff_t, const double*,
                                         const double*, std::ptrdiff_t, double*, std::ptrdiff_t, std::ptrdiff_t);

template <class T>
void linear_rows(const T* X, std::ptrdiff_t rows, std::ptrdiff_t in, const T* W, const T* b,
                 std::ptrdiff_t out, T* Y) noexcept;
extern template void linear_rows<float>(const float*, std::ptrdiff_t, std::ptrdiff_t, const float*, const float*,
                                        std::ptrdiff_t, float*) noexcept;
extern template void linear_rows<double>(const double*, std::ptrdiff_t, std::ptrdiff_t, const double*,
                                         const double*, std::ptrdiff_t, double*) noexcept;

/// Real-time linear map with the weight stored transposed, Wt (in, out) row-major:
/// Y[r, o] = b[o] + sum_i X[r, i] Wt[i, o]. Outputs are computed in tiles of 64 bytes x 4
/// held in registers while the inputs stream by (no horizontal sums). X and Y must not overlap.
template <class T>
__attribute__((always_inline)) inline void linear_rows_t_impl(const T* X, std::ptrdiff_t rows, std::ptrdiff_t in,
                                                              const T* Wt, const T* b, std::ptrdiff_t out,
                                                              T* Y) noexcept {
  constexpr std::ptrdiff_t kTile = 256 / sizeof(T);
  for (std::ptrdiff_t r = 0; r < rows; ++r) {
    const T* x = X + r * in;
    T* y = Y + r * out;
    std::ptrdiff_t o0 = 0;
    for (; o0 + kTile <= out; o0 += kTile) {
      T acc[kTile];
      for (std::ptrdiff_t o = 0; o < kTile; ++o) acc[o] = b ? b[o0 + o] : T(0);
      for (std::ptrdiff_t i = 0; i < in; ++i) {
        const T xi = x[i];
        const T* w = Wt + i * out + o0;
#pragma omp simd
        for (std::ptrdiff_t o = 0; o < kTile; ++o) acc[o] += xi * w[o];
      }
      for (std::ptrdiff_t o = 0; o < kTile; ++o) y[o0 + o] = acc[o];
    }
    if (o0 < out) {
      const std::ptrdiff_t w = out - o0;
      for (std::ptrdiff_t o = 0; o < w; ++o) y[o0 + o] = b ? b[o0 + o] : T(0);
      for (std::ptrdiff_t i = 0; i < in; ++i) {
        const T xi = x[i];
        const T* wr = Wt + i * out + o0;
        for (std::ptrdiff_t o = 0; o < w; ++o) y[o0 + o] += xi * wr[o];
      }
    }
  }
}

// ISA variants of the real-time kernels (core/isa.hpp): the library itself is built for the
// baseline ISA; the hot loops are compiled again for AVX2+FMA and AVX-512 and picked by the
// ISA detected once at start-up (reading it takes no lock).
#if defined(SSM_ISA_VARIANTS)
template <class T>
SSM_TARGET_AVX512 void linear_rows_t_avx512(const T* X, std::ptrdiff_t rows, std::ptrdiff_t in, const T* Wt,
                                                   const T* b, std::ptrdiff_t out, T* Y) noexcept {
  linear_rows_t_impl(X, rows, in, Wt, b, out, Y);
}
template <class T>
SSM_TARGET_AVX2 void linear_rows_t_avx2(const T* X, std::ptrdiff_t rows, std::ptrdiff_t in, const T* Wt,
                                               const T* b, std::ptrdiff_t out, T* Y) noexcept {
  linear_rows_t_impl(X, rows, in, Wt, b, out, Y);
}
#endif

template <class T>
void linear_rows_t(const T* X, std::ptrdiff_t rows, std::ptrdiff_t in, const T* Wt, const T* b,
                   std::ptrdiff_t out, T* Y) noexcept {
#if defined(SSM_ISA_VARIANTS)
  if (detail::cpu_isa() == detail::Isa::avx512) return linear_rows_t_avx512(X, rows, in, Wt, b, out, Y);
  if (detail::cpu_isa() == detail::Isa::avx2) return linear_rows_t_avx2(X, rows, in, Wt, b, out, Y);
#endif
  linear_rows_t_impl(X, rows, in, Wt, b, out, Y);
}

/// Wt (in, out) from W (out, in).
template <class T>
std::vector<T> transpose(const std::vector<T>& W, std::ptrdiff_t out, std::ptrdiff_t in) {
  std::vector<T> t(W.size());
  for (std::ptrdiff_t o = 0; o < out; ++o)
    for (std::ptrdiff_t i = 0; i < in; ++i) t[std::size_t(i * out + o)] = W[std::size_t(o * in + i)];
  return t;
}

// Activations: one implementation each (core/activations.hpp; gelu is nn.GELU()'s exact-erf form).
using detail::math::gelu;
using detail::math::sigmoid;
using detail::math::silu;

/// RMSNorm (mamba_ssm): y = x / sqrt(mean(x^2) + eps) * w, per row of `n` features.
template <class T>
void rms_norm(const T* x, std::ptrdiff_t rows, std::ptrdiff_t n, const T* w, double eps, T* y) noexcept {
  for (std::ptrdiff_t r = 0; r < rows; ++r) {
    const T* xr = x + r * n;
    T* yr = y + r * n;
    T ss = 0;
    for (std::ptrdiff_t i = 0; i < n; ++i) ss += xr[i] * xr[i];
    const T s = T(1) / std::sqrt(ss / T(n) + T(eps));
    for (std::ptrdiff_t i = 0; i < n; ++i) yr[i] = xr[i] * s * w[i];
  }
}

/// LayerNorm (torch.nn.LayerNorm): y = (x - mean) / sqrt(var + eps) * w + b, biased variance.
template <class T>
void layer_norm(const T* x, std::ptrdiff_t rows, std::ptrdiff_t n, const T* w, const T* b, double eps,
                T* y) noexcept {
  for (std::ptrdiff_t r = 0; r < rows; ++r) {
    const T* xr = x + r * n;
    T* yr = y + r * n;
    T mean = 0;
    for (std::ptrdiff_t i = 0; i < n; ++i) mean += xr[i];
    mean /= T(n);
    T var = 0;
    for (std::ptrdiff_t i = 0; i < n; ++i) var += (xr[i] - mean) * (xr[i] - mean);
    var /= T(n);
    const T s = T(1) / std::sqrt(var + T(eps));
    for (std::ptrdiff_t i = 0; i < n; ++i) yr[i] = (xr[i] - mean) * s * w[i] + b[i];
  }
}

}  // namespace ssm::layers_detail
