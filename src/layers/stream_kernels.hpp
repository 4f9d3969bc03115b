#pragma once
// Internal: the vector kernels of the models' streaming paths (MambaBlock::step and its block
// form, the S4D layer's stream), float32, on Highway with runtime dispatch (the widest ISA the
// CPU has, picked once per process; stream_kernels.cpp). Every function is noexcept, runs on
// the calling thread and never allocates, locks or throws: real-time safe.
//
// Linear maps run on weights packed once (pack_linear): Wt (in, out_pad) row-major, the
// transpose of PyTorch's (out, in) with each row padded with zeros to out_pad = padded(out),
// a multiple of kPad floats, and the bias padded the same way. A block of up to 4 rows x a few
// vectors of outputs is held in registers while the inputs stream by, so each weight loaded
// serves every row of the block; one row alone splits its inputs over two accumulator sets
// (enough independent FMA chains to cover the FMA latency).
//
// Elementwise functions (the formulas of core/activations.hpp), on Highway's Exp/Log1p
// (contrib/math, ~1 ulp) where core/activations.hpp uses exp_ps: the results agree to a few
// ulp, not bit for bit.
//   silu(x)     x / (1 + e^{-x})
//   softplus(x) max(x, 0) + log1p(e^{-|x|})
//   sigmoid(x)  1 / (1 + e^{-x})
//   gelu(x)     x/2 (1 + erf(x / sqrt 2)), erf by Abramowitz & Stegun 7.1.26
//               (|erf error| <= 1.5e-7, i.e. |gelu error| <= 1e-7 |x|)
#include <cstddef>
#include <vector>

#include "ssm/layers/activation.hpp"

namespace ssm::layers_detail::rt {

inline constexpr std::ptrdiff_t kPad = 16;  // floats: one AVX-512 vector, two AVX2, four SSE
inline constexpr std::ptrdiff_t padded(std::ptrdiff_t n) noexcept { return (n + kPad - 1) / kPad * kPad; }

/// A linear map Y = X W^T + b packed for linear(): wt (in, padded(out)), b (padded(out), zeros
/// where absent).
struct PackedLinear {
  std::ptrdiff_t in = 0, out = 0, out_pad = 0;
  std::vector<float> wt, b;
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

/// Mamba's causal depthwise conv + SiLU over `n` tokens, history-first:
///   xc[t, c] = silu(bias[c] + sum_k wk[k, c] hist[t + k, c]),   k < K
/// hist (n + K - 1, di) row stride hs: the K - 1 inputs before the block, then the block's;
/// wk (K, di); bias (di) or null; xc (n, di) row stride di.
void conv_silu(const float* hist, std::ptrdiff_t hs, const float* wk, const float* bias, std::ptrdiff_t K,
               std::ptrdiff_t di, std::ptrdiff_t n, float* xc) noexcept;

/// The selective SSM over `n` tokens of one sequence (real A, groups = 1, softplus on dt), on
/// the channel-major transposes At, hT (N, di) (one vector: one state index of L channels, so
/// the read-out sums over the state with vector FMAs, in state order):
///   dt = softplus(delta[t, d]),  hT[:, d] = exp(dt At[:, d]) hT[:, d] + dt x[t, d] B[t, :]
///   y[t, d] = (sum_n C[t, n] hT[n, d] + D[d] x[t, d]) silu(z[t, d])
/// delta (n, di) already holds dt_proj's output plus the dt bias; x (n, di); z (n, zs);
/// B, C rows of bc (n, bcs): B = bc[t, 0:N], C = bc[t, N:2N]; hT advanced in place; y (n, di).
void mamba_scan_t(const float* delta, const float* x, const float* z, std::ptrdiff_t zs, const float* bc,
                  std::ptrdiff_t bcs, const float* At, const float* D, std::ptrdiff_t di, std::ptrdiff_t N,
                  std::ptrdiff_t n, float* hT, float* y) noexcept;

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
