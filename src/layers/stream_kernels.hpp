#pragma once
// Internal: the vector kernels of the models' streaming paths (MambaBlock::step and its block
// form, the S4D layer's stream), float32, on Highway with runtime dispatch (the widest ISA the
// CPU has, picked once per process; stream_kernels.cpp). Every function is noexcept, runs on
// the calling thread and never allocates, locks or throws: real-time safe.
//
// Linear maps run on weights packed once (pack_linear) for the dispatched target: the
// transpose of PyTorch's (out, in), its columns padded with zeros to out_pad (a multiple of the
// vector length) and cut into panels of `panel` columns (4 vectors), each panel (in, width)
// row-major and contiguous, so that one row of inputs streams each panel's weights in order.
// Tiles of outputs are held in registers while the inputs stream by: one row takes a whole
// panel (8 FMA chains: the even and the odd inputs in two accumulator sets), blocks of rows take
// a few rows x 1-2 vectors, so each weight loaded serves every row of the tile. Each output is
// summed in the same order in every tile (bias + even inputs, odd inputs, then the two): a row's
// outputs do not depend on the rows computed with it.
//
// Elementwise functions: the vector forms of core/activations.hpp's formulas, from
// core/simd_math-inl.hpp (the one implementation, shared with the array forms exp_n ... gelu_n
// and the selective scan): silu, sigmoid, softplus on ExpV (<= 2 ulp), GELU x/2 erfc(-x/sqrt 2)
// on GeluV (relative error < 1e-6 where normal), the Mamba decay e^{dt A} as 2^{dt A log2 e} on Exp2DecayV (~1 ulp).
#include <cstddef>
#include <vector>

#include "ssm/core/aligned.hpp"
#include "ssm/layers/activation.hpp"

namespace ssm::layers_detail::rt {

/// A linear map Y = X W^T + b packed for linear(): wt the panels (in x out_pad floats), b
/// (out_pad, zeros where absent). Made for the target dispatched in this process.
struct PackedLinear {
  std::ptrdiff_t in = 0, out = 0, out_pad = 0, panel = 0;
  AlignedVector<float> wt, b;
};
/// W (out, in) row-major (PyTorch's nn.Linear layout), bias (out) or empty.
PackedLinear pack_linear(const std::vector<float>& W, const std::vector<float>& bias, std::ptrdiff_t out,
                         std::ptrdiff_t in);

/// Y[r, o] = b[o] + sum_i X[r, i] W[o, i] for r < rows, o < out (the first `out` columns of
/// each row of Y are written). Row strides xs, ys. X and Y must not overlap.
void linear(const PackedLinear& w, const float* X, std::ptrdiff_t rows, std::ptrdiff_t xs, float* Y,
            std::ptrdiff_t ys) noexcept;

/// x <- act(x), n values.
void activate(Activation act, float* x, std::ptrdiff_t n) noexcept;
/// x[r, c] += a[r, c] sigmoid(b[r, c]) for the GLU halves a = g[r, 0:H], b = g[r, H:2H];
/// x (rows, H) row stride H, g (rows, 2H) row stride gs.
void glu_residual(float* x, const float* g, std::ptrdiff_t gs, std::ptrdiff_t rows, std::ptrdiff_t H) noexcept;
/// LayerNorm (biased variance) and RMSNorm of each row of n features; y may alias x.
void layer_norm(const float* x, std::ptrdiff_t rows, std::ptrdiff_t n, const float* w, const float* b, float eps,
                float* y) noexcept;
void rms_norm(const float* x, std::ptrdiff_t rows, std::ptrdiff_t n, const float* w, float eps, float* y) noexcept;

/// Mamba's causal depthwise conv + SiLU over `n` tokens:
///   xc[t, c] = silu(bias[c] + sum_k wk[k, c] in[t - K + 1 + k, c]),   k < K
/// where in[j] = cur[j] (row stride cs) for j >= 0 and prev[K + j] for j < 0: prev (K, di)
/// holds the K inputs before the block, oldest first (time-major; row 0 is not read, it is part
/// of the state). wk (K, di); bias (di) or null; xc (n, di) row stride di.
void conv_silu(const float* prev, const float* cur, std::ptrdiff_t cs, const float* wk, const float* bias,
               std::ptrdiff_t K, std::ptrdiff_t di, std::ptrdiff_t n, float* xc) noexcept;

/// dt_proj and the selective SSM over `n` tokens of one sequence (real A, groups = 1, softplus
/// on dt), on the channel-major transposes A2t, hT (N, di) (one vector: one state index of L
/// channels, so the read-out sums over the state with vector FMAs), A2t = A log2 e:
///   delta = bdt[d] + sum_r xd[t, r] Wdt[r, d]                       (r < R: dt_proj + bias)
///   dt = softplus(delta),  hT[k, d] = 2^(dt A2t[k, d]) hT[k, d] + dt x[t, d] B[t, k]
///   y[t, d] = (sum_k C[t, k] hT[k, d] + D[d] x[t, d]) silu(z[t, d])
/// (2^(dt A log2 e) = e^(dt A): core/simd_math-inl.hpp's Exp2DecayV, >= 2^-125), the read-out
/// summed in state order. xd (n, xds) rows are x_proj's output [dt (R) | B (N) | C (N)]; Wdt
/// (R, di) is dt_proj.weight transposed; x (n, di); z (n, zs); hT advanced in place; y (n, di).
/// A2t <= 0 (A = -exp(A_log) < 0).
/// work: scratch of scan_work_floats(di) floats.
void mamba_scan_t(const float* xd, std::ptrdiff_t xds, std::ptrdiff_t R, const float* Wdt, const float* bdt,
                  const float* x, const float* z, std::ptrdiff_t zs, const float* A2t, const float* D,
                  std::ptrdiff_t di, std::ptrdiff_t N, std::ptrdiff_t n, float* hT, float* y, float* work) noexcept;
/// Scratch floats mamba_scan_t needs for d_inner = di: three rows padded to whole vectors of the
/// dispatched target.
std::ptrdiff_t scan_work_floats(std::ptrdiff_t di) noexcept;

/// The S4D layer's recurrence over `n` frames (zoh with Bd folded into w, s = h / Bd):
///   s[m, c] = ad[m, c] s[m, c] + z[t, c],   y[t, c] = 2 Re(sum_m w[m, c] s[m, c]) + D[c] z[t, c]
/// complex split re/im, (M, H) row-major (mode-major: one vector is one mode of a run of
/// channels); z, y (n, H) row-major (may not alias).
void s4d_recurrence(const float* ad_re, const float* ad_im, const float* w_re, const float* w_im, const float* D,
                    std::ptrdiff_t H, std::ptrdiff_t M, float* s_re, float* s_im, const float* z, float* y,
                    std::ptrdiff_t n) noexcept;

/// The name of the Highway target the kernels run on (e.g. "AVX3", "AVX2").
const char* target_name() noexcept;

}  // namespace ssm::layers_detail::rt
