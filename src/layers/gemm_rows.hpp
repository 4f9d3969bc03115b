#pragma once
// Internal: a register-blocked GEMM for the offline MoE expert products,
//   Y[r, o] = b[o] + sum_i X[r, i] Wt[i, o]     X (rows, in), Wt (in, out), Y (rows, out) row-major
// (b may be null; row strides x_stride, y_stride). The library is compiled for the baseline
// ISA, so Eigen's GEMM there runs on SSE2; this kernel is compiled again for AVX2+FMA and
// AVX-512 and picked at run time (nn_ops.hpp's kCpuIsa), like linear_rows_t. Tiles of 4 rows x
// 256 bytes of outputs are held in registers while the inputs stream by: each weight loaded is
// used by 4 rows, each input by 256 bytes of outputs. Row chunks run on the OpenMP team when
// `parallel` (never from a real-time path).
#include <algorithm>
#include <cstddef>

#include "layers/nn_ops.hpp"

namespace ssm::layers_detail {

template <class T>
__attribute__((always_inline)) inline void gemm_rows_t_impl(const T* X, std::ptrdiff_t rows, std::ptrdiff_t in,
                                                            const T* Wt, const T* b, std::ptrdiff_t out, T* Y,
                                                            std::ptrdiff_t xs, std::ptrdiff_t ys) noexcept {
  constexpr std::ptrdiff_t kTile = 256 / sizeof(T);
  constexpr std::ptrdiff_t kRows = 4;
  for (std::ptrdiff_t o0 = 0; o0 < out; o0 += kTile) {
    const std::ptrdiff_t w = std::min(kTile, out - o0);
    std::ptrdiff_t r0 = 0;
    if (w == kTile) {
      for (; r0 + kRows <= rows; r0 += kRows) {
        T acc[kRows][kTile];
#pragma GCC unroll 4
        for (std::ptrdiff_t r = 0; r < kRows; ++r)
#pragma omp simd
          for (std::ptrdiff_t o = 0; o < kTile; ++o) acc[r][o] = b ? b[o0 + o] : T(0);
        const T* x0 = X + r0 * xs;
        for (std::ptrdiff_t i = 0; i < in; ++i) {
          const T* wr = Wt + i * out + o0;
#pragma GCC unroll 4
          for (std::ptrdiff_t r = 0; r < kRows; ++r) {
            const T xv = x0[r * xs + i];
#pragma omp simd
            for (std::ptrdiff_t o = 0; o < kTile; ++o) acc[r][o] += xv * wr[o];
          }
        }
#pragma GCC unroll 4
        for (std::ptrdiff_t r = 0; r < kRows; ++r)
#pragma omp simd
          for (std::ptrdiff_t o = 0; o < kTile; ++o) Y[(r0 + r) * ys + o0 + o] = acc[r][o];
      }
    }
    for (; r0 < rows; ++r0) {  // rows left over, or a partial tile of outputs
      T* y = Y + r0 * ys + o0;
      const T* x = X + r0 * xs;
      for (std::ptrdiff_t o = 0; o < w; ++o) y[o] = b ? b[o0 + o] : T(0);
      for (std::ptrdiff_t i = 0; i < in; ++i) {
        const T xi = x[i];
        const T* wr = Wt + i * out + o0;
        for (std::ptrdiff_t o = 0; o < w; ++o) y[o] += xi * wr[o];
      }
    }
  }
}

#if defined(SSM_LAYERS_ISA_VARIANTS)
template <class T>
SSM_LAYERS_TARGET_AVX512 void gemm_rows_t_avx512(const T* X, std::ptrdiff_t rows, std::ptrdiff_t in, const T* Wt,
                                                 const T* b, std::ptrdiff_t out, T* Y, std::ptrdiff_t xs,
                                                 std::ptrdiff_t ys) noexcept {
  gemm_rows_t_impl(X, rows, in, Wt, b, out, Y, xs, ys);
}
template <class T>
SSM_LAYERS_TARGET_AVX2 void gemm_rows_t_avx2(const T* X, std::ptrdiff_t rows, std::ptrdiff_t in, const T* Wt,
                                             const T* b, std::ptrdiff_t out, T* Y, std::ptrdiff_t xs,
                                             std::ptrdiff_t ys) noexcept {
  gemm_rows_t_impl(X, rows, in, Wt, b, out, Y, xs, ys);
}
#endif

template <class T>
void gemm_rows_t_serial(const T* X, std::ptrdiff_t rows, std::ptrdiff_t in, const T* Wt, const T* b,
                        std::ptrdiff_t out, T* Y, std::ptrdiff_t xs, std::ptrdiff_t ys) noexcept {
#if defined(SSM_LAYERS_ISA_VARIANTS)
  if (kCpuIsa == Isa::avx512) return gemm_rows_t_avx512(X, rows, in, Wt, b, out, Y, xs, ys);
  if (kCpuIsa == Isa::avx2) return gemm_rows_t_avx2(X, rows, in, Wt, b, out, Y, xs, ys);
#endif
  gemm_rows_t_impl(X, rows, in, Wt, b, out, Y, xs, ys);
}

/// Y = X Wt (+ b), rows cut into chunks of 64 on the OpenMP team when `parallel` and the
/// problem is large enough to pay for it.
template <class T>
void gemm_rows_t(const T* X, std::ptrdiff_t rows, std::ptrdiff_t in, const T* Wt, const T* b, std::ptrdiff_t out,
                 T* Y, bool parallel = true, std::ptrdiff_t xs = -1, std::ptrdiff_t ys = -1) {
  if (xs < 0) xs = in;
  if (ys < 0) ys = out;
  constexpr std::ptrdiff_t kChunk = 64;
  const std::ptrdiff_t chunks = (rows + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (parallel && chunks > 1 && rows * in * out > (1 << 20))
  for (std::ptrdiff_t c = 0; c < chunks; ++c) {
    const std::ptrdiff_t r0 = c * kChunk, n = std::min(kChunk, rows - r0);
    gemm_rows_t_serial(X + r0 * xs, n, in, Wt, b, out, Y + r0 * ys, xs, ys);
  }
}

}  // namespace ssm::layers_detail
