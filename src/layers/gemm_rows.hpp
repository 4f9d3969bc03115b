#pragma once
// Internal: the linear maps of the MoE, on weights packed in output tiles.
//
//   Y[r, o] = b[o] + sum_i X[r, i] W[o, i]       X (rows, in), Y (rows, out) row-major, row strides
//
// pack_weight() re-lays W (out, in) (PyTorch's nn.Linear layout) as tiles of P = 128 bytes of
// outputs: tile t is a contiguous (in, P) block, Wp[t][i][j] = W[t P + j, i] (zero past out);
// pack_bias() pads the bias (zeros when absent) the same way. A tile's weights are read contiguously (no 4 KiB-strided
// rows fighting over L1 sets), and a block of rows x P accumulators lives in registers while
// the inputs stream by, so each weight loaded serves every row of the block.
// The library is compiled for the baseline ISA (Eigen's GEMM there runs on SSE2); the kernel is
// compiled again for AVX2+FMA and AVX-512 and picked at run time (core/isa.hpp), with
// 8 rows a block on AVX-512 (16 of 32 zmm), 2 on AVX2, 1 on SSE2.
//   packed_linear_serial(): one thread, no allocation, noexcept: the real-time token path.
//   packed_linear():        row chunks of 64 on the OpenMP team when large: the grouped path.
#include <algorithm>
#include <cstddef>
#include <vector>

#include "layers/nn_ops.hpp"

namespace ssm::layers_detail {

template <class T, int kRows>
__attribute__((always_inline)) inline void packed_block(const T* X, std::ptrdiff_t rows, std::ptrdiff_t in,
                                                        const T* Wp, const T* bp, std::ptrdiff_t out, T* Y,
                                                        std::ptrdiff_t xs, std::ptrdiff_t ys) noexcept {
  constexpr std::ptrdiff_t P = 128 / std::ptrdiff_t(sizeof(T));
  const std::ptrdiff_t tiles = (out + P - 1) / P;
  for (std::ptrdiff_t t = 0; t < tiles; ++t) {
    const std::ptrdiff_t o0 = t * P, w = std::min(P, out - o0);
    const T* wt = Wp + t * in * P;
    const T* bt = bp + o0;
    for (std::ptrdiff_t r0 = 0; r0 < rows; r0 += kRows) {
      T acc[kRows][P];
#pragma GCC unroll 8
      for (int r = 0; r < kRows; ++r)
#pragma omp simd
        for (std::ptrdiff_t o = 0; o < P; ++o) acc[r][o] = bt[o];
      const T* x0 = X + r0 * xs;
      for (std::ptrdiff_t i = 0; i < in; ++i) {
        const T* wr = wt + i * P;
#pragma GCC unroll 8
        for (int r = 0; r < kRows; ++r) {
          const T xv = x0[r * xs + i];
#pragma omp simd
          for (std::ptrdiff_t o = 0; o < P; ++o) acc[r][o] += xv * wr[o];
        }
      }
#pragma GCC unroll 8
      for (int r = 0; r < kRows; ++r) {
        T* y = Y + (r0 + r) * ys + o0;
        if (w == P) {
#pragma omp simd
          for (std::ptrdiff_t o = 0; o < P; ++o) y[o] = acc[r][o];
        } else {
          for (std::ptrdiff_t o = 0; o < w; ++o) y[o] = acc[r][o];
        }
      }
    }
  }
}

/// All rows: blocks of kRows, the rest one at a time.
template <class T, int kRows>
__attribute__((always_inline)) inline void packed_rows(const T* X, std::ptrdiff_t rows, std::ptrdiff_t in,
                                                       const T* Wp, const T* bp, std::ptrdiff_t out, T* Y,
                                                       std::ptrdiff_t xs, std::ptrdiff_t ys) noexcept {
  const std::ptrdiff_t full = rows / kRows * kRows;
  if (full > 0) packed_block<T, kRows>(X, full, in, Wp, bp, out, Y, xs, ys);
  if (full < rows) packed_block<T, 1>(X + full * xs, rows - full, in, Wp, bp, out, Y + full * ys, xs, ys);
}

#if defined(SSM_ISA_VARIANTS)
template <class T>
SSM_TARGET_AVX512 void packed_rows_avx512(const T* X, std::ptrdiff_t rows, std::ptrdiff_t in, const T* Wp,
                                                 const T* bp, std::ptrdiff_t out, T* Y, std::ptrdiff_t xs,
                                                 std::ptrdiff_t ys) noexcept {
  packed_rows<T, 8>(X, rows, in, Wp, bp, out, Y, xs, ys);
}
template <class T>
SSM_TARGET_AVX2 void packed_rows_avx2(const T* X, std::ptrdiff_t rows, std::ptrdiff_t in, const T* Wp,
                                             const T* bp, std::ptrdiff_t out, T* Y, std::ptrdiff_t xs,
                                             std::ptrdiff_t ys) noexcept {
  packed_rows<T, 2>(X, rows, in, Wp, bp, out, Y, xs, ys);
}
#endif

template <class T>
inline constexpr std::ptrdiff_t kPackTile = 128 / std::ptrdiff_t(sizeof(T));

/// W (out, in) row-major -> tiles of kPackTile outputs, each a contiguous (in, kPackTile) block.
template <class T>
std::vector<T> pack_weight(const std::vector<T>& W, std::ptrdiff_t out, std::ptrdiff_t in) {
  constexpr std::ptrdiff_t P = kPackTile<T>;
  const std::ptrdiff_t tiles = (out + P - 1) / P;
  std::vector<T> w(std::size_t(tiles * in * P), T(0));
  for (std::ptrdiff_t o = 0; o < out; ++o)
    for (std::ptrdiff_t i = 0; i < in; ++i) w[std::size_t(((o / P) * in + i) * P + o % P)] = W[std::size_t(o * in + i)];
  return w;
}
/// b (out) or empty (zeros) -> padded to whole tiles.
template <class T>
std::vector<T> pack_bias(const std::vector<T>& b, std::ptrdiff_t out) {
  constexpr std::ptrdiff_t P = kPackTile<T>;
  std::vector<T> v(std::size_t((out + P - 1) / P * P), T(0));
  std::copy(b.begin(), b.end(), v.begin());
  return v;
}

/// Y = X W^T + b on packed weights, one thread, no allocation (real-time safe).
template <class T>
void packed_linear_serial(const T* X, std::ptrdiff_t rows, std::ptrdiff_t in, const T* Wp, const T* bp,
                          std::ptrdiff_t out, T* Y, std::ptrdiff_t xs = -1, std::ptrdiff_t ys = -1) noexcept {
  if (xs < 0) xs = in;
  if (ys < 0) ys = out;
#if defined(SSM_ISA_VARIANTS)
  if (detail::cpu_isa() == detail::Isa::avx512) return packed_rows_avx512(X, rows, in, Wp, bp, out, Y, xs, ys);
  if (detail::cpu_isa() == detail::Isa::avx2) return packed_rows_avx2(X, rows, in, Wp, bp, out, Y, xs, ys);
#endif
  packed_rows<T, 1>(X, rows, in, Wp, bp, out, Y, xs, ys);
}

/// The same, row chunks of 64 on the OpenMP team when the product is large enough to pay for it.
template <class T>
void packed_linear(const T* X, std::ptrdiff_t rows, std::ptrdiff_t in, const T* Wp, const T* bp, std::ptrdiff_t out,
                   T* Y) {
  constexpr std::ptrdiff_t kChunk = 64;
  const std::ptrdiff_t chunks = (rows + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (chunks > 1 && rows * in * out > (1 << 20))
  for (std::ptrdiff_t c = 0; c < chunks; ++c) {
    const std::ptrdiff_t r0 = c * kChunk;
    packed_linear_serial(X + r0 * in, std::min(kChunk, rows - r0), in, Wp, bp, out, Y + r0 * out);
  }
}

}  // namespace ssm::layers_detail
