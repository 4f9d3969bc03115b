// The vector kernels of the models' streaming paths (stream_kernels.hpp), compiled once per
// Highway target (foreach_target.h) and dispatched at run time (HWY_DYNAMIC_DISPATCH picks the
// widest target the CPU supports on the first call; every later call is one indirect jump).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "layers/stream_kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/contrib/math/math-inl.h>
#include <hwy/highway.h>

#include <algorithm>
#include <cmath>

#include "layers/stream_kernels.hpp"

HWY_BEFORE_NAMESPACE();
namespace ssm::layers_detail::rt {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using D = hn::ScalableTag<float>;
using V = hn::Vec<D>;

// ---- elementwise ----------------------------------------------------------------------------

HWY_INLINE V SiluV(D d, V x) {
  // e^{-x} overflows past x = -88; clamping keeps Exp in its valid range (silu(x) ~ 0 there).
  const V e = hn::Exp(d, hn::Min(hn::Neg(x), hn::Set(d, 88.0f)));
  return hn::Div(x, hn::Add(hn::Set(d, 1.0f), e));
}
HWY_INLINE V SigmoidV(D d, V x) {
  const V e = hn::Exp(d, hn::Min(hn::Neg(x), hn::Set(d, 88.0f)));
  return hn::Div(hn::Set(d, 1.0f), hn::Add(hn::Set(d, 1.0f), e));
}
HWY_INLINE V SoftplusV(D d, V x) {
  const V e = hn::Exp(d, hn::Neg(hn::Abs(x)));
  return hn::Add(hn::Max(x, hn::Zero(d)), hn::Log1p(d, e));
}
HWY_INLINE V GeluV(D d, V x) {
  // erf(a) = 1 - (a1 t + a2 t^2 + ... + a5 t^5) e^{-a^2}, t = 1 / (1 + p a), a = |x| / sqrt 2
  // (Abramowitz & Stegun 7.1.26), odd in x.
  const V a = hn::Mul(hn::Abs(x), hn::Set(d, 0.70710678118654752f));
  const V t = hn::Div(hn::Set(d, 1.0f), hn::MulAdd(hn::Set(d, 0.3275911f), a, hn::Set(d, 1.0f)));
  V p = hn::Set(d, 1.061405429f);
  p = hn::MulAdd(p, t, hn::Set(d, -1.453152027f));
  p = hn::MulAdd(p, t, hn::Set(d, 1.421413741f));
  p = hn::MulAdd(p, t, hn::Set(d, -0.284496736f));
  p = hn::MulAdd(p, t, hn::Set(d, 0.254829592f));
  p = hn::Mul(p, t);
  const V e = hn::Exp(d, hn::Max(hn::Neg(hn::Mul(a, a)), hn::Set(d, -100.0f)));
  const V erf_abs = hn::NegMulAdd(p, e, hn::Set(d, 1.0f));
  const V erf = hn::CopySign(erf_abs, x);
  return hn::Mul(hn::Mul(hn::Set(d, 0.5f), x), hn::Add(hn::Set(d, 1.0f), erf));
}

/// f applied to n values in place, full vectors then one masked tail.
template <class F>
HWY_INLINE void Map(float* x, std::ptrdiff_t n, F f) {
  const D d;
  const std::ptrdiff_t L = static_cast<std::ptrdiff_t>(hn::Lanes(d));
  std::ptrdiff_t i = 0;
  for (; i + L <= n; i += L) hn::StoreU(f(d, hn::LoadU(d, x + i)), d, x + i);
  if (i < n) {
    const auto m = hn::FirstN(d, static_cast<std::size_t>(n - i));
    hn::BlendedStore(f(d, hn::MaskedLoad(m, d, x + i)), m, d, x + i);
  }
}

void ActivateImpl(Activation act, float* x, std::ptrdiff_t n) {
  switch (act) {
    case Activation::gelu: Map(x, n, [](D d, V v) { return GeluV(d, v); }); break;
    case Activation::silu: Map(x, n, [](D d, V v) { return SiluV(d, v); }); break;
    case Activation::relu: Map(x, n, [](D d, V v) { return hn::Max(v, hn::Zero(d)); }); break;
    case Activation::identity: break;
  }
}

void GluResidualImpl(float* x, const float* g, std::ptrdiff_t gs, std::ptrdiff_t rows, std::ptrdiff_t H) {
  const D d;
  const std::ptrdiff_t L = static_cast<std::ptrdiff_t>(hn::Lanes(d));
  for (std::ptrdiff_t r = 0; r < rows; ++r) {
    float* xr = x + r * H;
    const float* a = g + r * gs;
    const float* b = a + H;
    std::ptrdiff_t c = 0;
    for (; c + L <= H; c += L)
      hn::StoreU(hn::MulAdd(hn::LoadU(d, a + c), SigmoidV(d, hn::LoadU(d, b + c)), hn::LoadU(d, xr + c)), d, xr + c);
    if (c < H) {
      const auto m = hn::FirstN(d, static_cast<std::size_t>(H - c));
      const V v = hn::MulAdd(hn::MaskedLoad(m, d, a + c), SigmoidV(d, hn::MaskedLoad(m, d, b + c)),
                             hn::MaskedLoad(m, d, xr + c));
      hn::BlendedStore(v, m, d, xr + c);
    }
  }
}

/// Sum over a row of n values (vector partial sums, then one horizontal sum).
HWY_INLINE float RowSum(D d, const float* x, std::ptrdiff_t n, float shift, bool squares) {
  const std::ptrdiff_t L = static_cast<std::ptrdiff_t>(hn::Lanes(d));
  const V s = hn::Set(d, shift);
  V acc0 = hn::Zero(d), acc1 = hn::Zero(d);
  std::ptrdiff_t i = 0;
  for (; i + 2 * L <= n; i += 2 * L) {
    const V a = hn::Sub(hn::LoadU(d, x + i), s), b = hn::Sub(hn::LoadU(d, x + i + L), s);
    acc0 = squares ? hn::MulAdd(a, a, acc0) : hn::Add(acc0, a);
    acc1 = squares ? hn::MulAdd(b, b, acc1) : hn::Add(acc1, b);
  }
  for (; i < n; i += L) {
    const auto m = hn::FirstN(d, static_cast<std::size_t>(std::min(L, n - i)));
    const V a = hn::IfThenElseZero(m, hn::Sub(hn::MaskedLoad(m, d, x + i), s));
    acc0 = squares ? hn::MulAdd(a, a, acc0) : hn::Add(acc0, a);
  }
  return hn::GetLane(hn::SumOfLanes(d, hn::Add(acc0, acc1)));
}

/// y = (x - shift) * scale * w (+ b), one row.
HWY_INLINE void ScaleRow(D d, const float* x, std::ptrdiff_t n, float shift, float scale, const float* w,
                         const float* b, float* y) {
  const std::ptrdiff_t L = static_cast<std::ptrdiff_t>(hn::Lanes(d));
  const V s = hn::Set(d, shift), k = hn::Set(d, scale);
  for (std::ptrdiff_t i = 0; i < n; i += L) {
    const auto m = hn::FirstN(d, static_cast<std::size_t>(std::min(L, n - i)));
    const V v = hn::Mul(hn::Mul(hn::Sub(hn::MaskedLoad(m, d, x + i), s), k), hn::MaskedLoad(m, d, w + i));
    hn::BlendedStore(b ? hn::Add(v, hn::MaskedLoad(m, d, b + i)) : v, m, d, y + i);
  }
}

void LayerNormImpl(const float* x, std::ptrdiff_t rows, std::ptrdiff_t n, const float* w, const float* b, float eps,
                   float* y) {
  const D d;
  for (std::ptrdiff_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    const float mean = RowSum(d, xr, n, 0.0f, false) / static_cast<float>(n);
    const float var = RowSum(d, xr, n, mean, true) / static_cast<float>(n);
    ScaleRow(d, xr, n, mean, 1.0f / std::sqrt(var + eps), w, b, y + r * n);
  }
}

void RmsNormImpl(const float* x, std::ptrdiff_t rows, std::ptrdiff_t n, const float* w, float eps, float* y) {
  const D d;
  for (std::ptrdiff_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    const float ms = RowSum(d, xr, n, 0.0f, true) / static_cast<float>(n);
    ScaleRow(d, xr, n, 0.0f, 1.0f / std::sqrt(ms + eps), w, nullptr, y + r * n);
  }
}

// ---- linear maps ----------------------------------------------------------------------------

// Registers: AVX-512 has 32 vector registers, AVX2/SSE 16.
#if HWY_TARGET <= HWY_AVX3
constexpr int kCols = 4;
#else
constexpr int kCols = 2;
#endif

HWY_INLINE void StoreCols(D d, V v, float* y, std::ptrdiff_t col, std::ptrdiff_t out) {
  const std::ptrdiff_t L = static_cast<std::ptrdiff_t>(hn::Lanes(d));
  if (col + L <= out) hn::StoreU(v, d, y + col);
  else if (col < out) hn::BlendedStore(v, hn::FirstN(d, static_cast<std::size_t>(out - col)), d, y + col);
}

/// kR rows x kC vectors of outputs starting at column o0.
template <int kR, int kC>
HWY_INLINE void Tile(const PackedLinear& w, const float* X, std::ptrdiff_t xs, float* Y, std::ptrdiff_t ys,
                     std::ptrdiff_t o0) {
  const D d;
  const std::ptrdiff_t L = static_cast<std::ptrdiff_t>(hn::Lanes(d)), op = w.out_pad, in = w.in;
  const float* wt = w.wt.data() + o0;
  V acc[kR][kC];
  for (int c = 0; c < kC; ++c) {
    const V bv = hn::LoadU(d, w.b.data() + o0 + c * L);
    for (int r = 0; r < kR; ++r) acc[r][c] = bv;
  }
  if constexpr (kR == 1) {
    // One row: even and odd inputs into two accumulator sets (2 kC independent FMA chains).
    V acc2[kC];
    for (int c = 0; c < kC; ++c) acc2[c] = hn::Zero(d);
    std::ptrdiff_t i = 0;
    for (; i + 2 <= in; i += 2) {
      const V x0 = hn::Set(d, X[i]), x1 = hn::Set(d, X[i + 1]);
      for (int c = 0; c < kC; ++c) {
        acc[0][c] = hn::MulAdd(x0, hn::LoadU(d, wt + i * op + c * L), acc[0][c]);
        acc2[c] = hn::MulAdd(x1, hn::LoadU(d, wt + (i + 1) * op + c * L), acc2[c]);
      }
    }
    if (i < in) {
      const V x0 = hn::Set(d, X[i]);
      for (int c = 0; c < kC; ++c) acc[0][c] = hn::MulAdd(x0, hn::LoadU(d, wt + i * op + c * L), acc[0][c]);
    }
    for (int c = 0; c < kC; ++c) acc[0][c] = hn::Add(acc[0][c], acc2[c]);
  } else {
    for (std::ptrdiff_t i = 0; i < in; ++i) {
      V wv[kC];
      for (int c = 0; c < kC; ++c) wv[c] = hn::LoadU(d, wt + i * op + c * L);
      for (int r = 0; r < kR; ++r) {
        const V xv = hn::Set(d, X[r * xs + i]);
        for (int c = 0; c < kC; ++c) acc[r][c] = hn::MulAdd(xv, wv[c], acc[r][c]);
      }
    }
  }
  for (int r = 0; r < kR; ++r)
    for (int c = 0; c < kC; ++c) StoreCols(d, acc[r][c], Y + r * ys, o0 + c * L, w.out);
}

template <int kR>
HWY_INLINE void Rows(const PackedLinear& w, const float* X, std::ptrdiff_t xs, float* Y, std::ptrdiff_t ys) {
  const D d;
  const std::ptrdiff_t L = static_cast<std::ptrdiff_t>(hn::Lanes(d));
  const std::ptrdiff_t vecs = w.out_pad / L;  // out_pad is a multiple of every lane count
  std::ptrdiff_t v = 0;
  for (; v + kCols <= vecs; v += kCols) Tile<kR, kCols>(w, X, xs, Y, ys, v * L);
  for (; v < vecs; ++v) Tile<kR, 1>(w, X, xs, Y, ys, v * L);
}

void LinearImpl(const PackedLinear& w, const float* X, std::ptrdiff_t rows, std::ptrdiff_t xs, float* Y,
                std::ptrdiff_t ys) {
  std::ptrdiff_t r = 0;
  for (; r + 4 <= rows; r += 4) Rows<4>(w, X + r * xs, xs, Y + r * ys, ys);
  for (; r < rows; ++r) Rows<1>(w, X + r * xs, xs, Y + r * ys, ys);
}

// ---- Mamba ----------------------------------------------------------------------------------

void ConvSiluImpl(const float* hist, std::ptrdiff_t hs, const float* wk, const float* bias, std::ptrdiff_t K,
                  std::ptrdiff_t di, std::ptrdiff_t n, float* xc) {
  const D d;
  const std::ptrdiff_t L = static_cast<std::ptrdiff_t>(hn::Lanes(d));
  for (std::ptrdiff_t t = 0; t < n; ++t) {
    float* o = xc + t * di;
    for (std::ptrdiff_t c = 0; c < di; c += L) {
      const auto m = hn::FirstN(d, static_cast<std::size_t>(std::min(L, di - c)));
      V acc = bias ? hn::MaskedLoad(m, d, bias + c) : hn::Zero(d);
      for (std::ptrdiff_t k = 0; k < K; ++k)
        acc = hn::MulAdd(hn::MaskedLoad(m, d, wk + k * di + c), hn::MaskedLoad(m, d, hist + (t + k) * hs + c), acc);
      hn::BlendedStore(SiluV(d, acc), m, d, o + c);
    }
  }
}

void MambaScanImpl(const float* delta, const float* x, const float* z, std::ptrdiff_t zs, const float* bc,
                   std::ptrdiff_t bcs, const float* A, const float* Dp, std::ptrdiff_t di, std::ptrdiff_t N,
                   std::ptrdiff_t n, float* h, float* scratch, float* y) {
  const D d;
  const std::ptrdiff_t L = static_cast<std::ptrdiff_t>(hn::Lanes(d));
  float* dts = scratch;           // softplus(delta)
  float* dxs = scratch + di;      // dt x
  float* gs = scratch + 2 * di;   // silu(z)
  for (std::ptrdiff_t t = 0; t < n; ++t) {
    const float* dl = delta + t * di;
    const float* xt = x + t * di;
    const float* zt = z + t * zs;
    for (std::ptrdiff_t c = 0; c < di; c += L) {
      const auto m = hn::FirstN(d, static_cast<std::size_t>(std::min(L, di - c)));
      const V dt = SoftplusV(d, hn::MaskedLoad(m, d, dl + c));
      hn::BlendedStore(dt, m, d, dts + c);
      hn::BlendedStore(hn::Mul(dt, hn::MaskedLoad(m, d, xt + c)), m, d, dxs + c);
      hn::BlendedStore(SiluV(d, hn::MaskedLoad(m, d, zt + c)), m, d, gs + c);
    }
    const float* Bt = bc + t * bcs;
    const float* Ct = Bt + N;
    float* yt = y + t * di;
    for (std::ptrdiff_t c = 0; c < di; ++c) {
      const V dt = hn::Set(d, dts[c]), dx = hn::Set(d, dxs[c]);
      const float* Ac = A + c * N;
      float* hc = h + c * N;
      V acc = hn::Zero(d);
      std::ptrdiff_t k = 0;
      for (; k + L <= N; k += L) {
        const V hv = hn::MulAdd(hn::Exp(d, hn::Mul(dt, hn::LoadU(d, Ac + k))), hn::LoadU(d, hc + k),
                                hn::Mul(dx, hn::LoadU(d, Bt + k)));
        hn::StoreU(hv, d, hc + k);
        acc = hn::MulAdd(hn::LoadU(d, Ct + k), hv, acc);
      }
      if (k < N) {
        const auto m = hn::FirstN(d, static_cast<std::size_t>(N - k));
        const V hv = hn::MulAdd(hn::Exp(d, hn::Mul(dt, hn::MaskedLoad(m, d, Ac + k))),
                                hn::MaskedLoad(m, d, hc + k), hn::Mul(dx, hn::MaskedLoad(m, d, Bt + k)));
        hn::BlendedStore(hv, m, d, hc + k);
        acc = hn::MulAdd(hn::MaskedLoad(m, d, Ct + k), hv, acc);
      }
      yt[c] = hn::GetLane(hn::SumOfLanes(d, acc));
    }
    for (std::ptrdiff_t c = 0; c < di; c += L) {
      const auto m = hn::FirstN(d, static_cast<std::size_t>(std::min(L, di - c)));
      const V v = hn::MulAdd(hn::MaskedLoad(m, d, Dp + c), hn::MaskedLoad(m, d, xt + c), hn::MaskedLoad(m, d, yt + c));
      hn::BlendedStore(hn::Mul(v, hn::MaskedLoad(m, d, gs + c)), m, d, yt + c);
    }
  }
}

// ---- S4D ------------------------------------------------------------------------------------

// Layout (M, H): mode m of channel c at m H + c, so that one vector holds one mode of L
// channels and the read-out sums over modes with vector adds (no horizontal sums). A group of
// kU modes x one vector of channels stays in registers over the block's frames.
#if HWY_TARGET <= HWY_AVX3
constexpr int kModes = 4;  // 6 kModes state/coefficient registers of 32
#else
constexpr int kModes = 2;  // of 16
#endif

template <int kU, bool kMasked>
HWY_INLINE void S4DGroup(const float* ar, const float* ai, const float* wr, const float* wi, std::ptrdiff_t H,
                         float* sr, float* si, const float* z, float* y, std::ptrdiff_t n, std::size_t valid) {
  const D d;
  const auto m = hn::FirstN(d, valid);
  auto load = [&](const float* p) { return kMasked ? hn::MaskedLoad(m, d, p) : hn::LoadU(d, p); };
  auto store = [&](V v, float* p) {
    if (kMasked) hn::BlendedStore(v, m, d, p);
    else hn::StoreU(v, d, p);
  };
  V a_r[kU], a_i[kU], w_r[kU], w_i[kU], s_r[kU], s_i[kU];
  for (int j = 0; j < kU; ++j) {
    a_r[j] = load(ar + j * H);
    a_i[j] = load(ai + j * H);
    w_r[j] = load(wr + j * H);
    w_i[j] = load(wi + j * H);
    s_r[j] = load(sr + j * H);
    s_i[j] = load(si + j * H);
  }
  for (std::ptrdiff_t t = 0; t < n; ++t) {
    const V u = load(z + t * H);
    V acc = load(y + t * H);
    for (int j = 0; j < kU; ++j) {
      const V r = hn::MulAdd(a_r[j], s_r[j], hn::NegMulAdd(a_i[j], s_i[j], u));
      const V i = hn::MulAdd(a_r[j], s_i[j], hn::Mul(a_i[j], s_r[j]));
      s_r[j] = r;
      s_i[j] = i;
      acc = hn::MulAdd(w_r[j], r, hn::NegMulAdd(w_i[j], i, acc));
    }
    store(acc, y + t * H);
  }
  for (int j = 0; j < kU; ++j) {
    store(s_r[j], sr + j * H);
    store(s_i[j], si + j * H);
  }
}

template <bool kMasked>
HWY_INLINE void S4DChannels(const float* ar, const float* ai, const float* wr, const float* wi, const float* Dp,
                            std::ptrdiff_t H, std::ptrdiff_t M, float* sr, float* si, const float* z, float* y,
                            std::ptrdiff_t n, std::size_t valid) {
  const D d;
  const auto msk = hn::FirstN(d, valid);
  auto load = [&](const float* p) { return kMasked ? hn::MaskedLoad(msk, d, p) : hn::LoadU(d, p); };
  auto store = [&](V v, float* p) {
    if (kMasked) hn::BlendedStore(v, msk, d, p);
    else hn::StoreU(v, d, p);
  };
  for (std::ptrdiff_t t = 0; t < n; ++t) store(hn::Zero(d), y + t * H);
  std::ptrdiff_t k = 0;
  for (; k + kModes <= M; k += kModes)
    S4DGroup<kModes, kMasked>(ar + k * H, ai + k * H, wr + k * H, wi + k * H, H, sr + k * H, si + k * H, z, y, n,
                              valid);
  for (; k < M; ++k)
    S4DGroup<1, kMasked>(ar + k * H, ai + k * H, wr + k * H, wi + k * H, H, sr + k * H, si + k * H, z, y, n, valid);
  const V Dv = load(Dp);
  for (std::ptrdiff_t t = 0; t < n; ++t)
    store(hn::MulAdd(Dv, load(z + t * H), hn::Add(load(y + t * H), load(y + t * H))), y + t * H);
}

void S4DRecurrenceImpl(const float* ad_re, const float* ad_im, const float* w_re, const float* w_im,
                       const float* Dp, std::ptrdiff_t H, std::ptrdiff_t M, float* s_re, float* s_im,
                       const float* z, float* y, std::ptrdiff_t n) {
  const D d;
  const std::ptrdiff_t L = static_cast<std::ptrdiff_t>(hn::Lanes(d));
  std::ptrdiff_t c = 0;
  for (; c + L <= H; c += L)
    S4DChannels<false>(ad_re + c, ad_im + c, w_re + c, w_im + c, Dp + c, H, M, s_re + c, s_im + c, z + c, y + c, n,
                       static_cast<std::size_t>(L));
  if (c < H)
    S4DChannels<true>(ad_re + c, ad_im + c, w_re + c, w_im + c, Dp + c, H, M, s_re + c, s_im + c, z + c, y + c, n,
                      static_cast<std::size_t>(H - c));
}

const char* TargetNameImpl() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace ssm::layers_detail::rt
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace ssm::layers_detail::rt {

HWY_EXPORT(ActivateImpl);
HWY_EXPORT(GluResidualImpl);
HWY_EXPORT(LayerNormImpl);
HWY_EXPORT(RmsNormImpl);
HWY_EXPORT(LinearImpl);
HWY_EXPORT(ConvSiluImpl);
HWY_EXPORT(MambaScanImpl);
HWY_EXPORT(S4DRecurrenceImpl);
HWY_EXPORT(TargetNameImpl);

PackedLinear pack_linear(const std::vector<float>& W, const std::vector<float>& bias, std::ptrdiff_t out,
                         std::ptrdiff_t in) {
  PackedLinear p;
  p.in = in;
  p.out = out;
  p.out_pad = padded(out);
  p.wt.assign(static_cast<std::size_t>(in * p.out_pad), 0.0f);
  for (std::ptrdiff_t o = 0; o < out; ++o)
    for (std::ptrdiff_t i = 0; i < in; ++i)
      p.wt[static_cast<std::size_t>(i * p.out_pad + o)] = W[static_cast<std::size_t>(o * in + i)];
  p.b.assign(static_cast<std::size_t>(p.out_pad), 0.0f);
  std::copy(bias.begin(), bias.end(), p.b.begin());
  (void)target_name();  // resolve the dispatch now (outside any real-time path)
  return p;
}

void linear(const PackedLinear& w, const float* X, std::ptrdiff_t rows, std::ptrdiff_t xs, float* Y,
            std::ptrdiff_t ys) noexcept {
  HWY_DYNAMIC_DISPATCH(LinearImpl)(w, X, rows, xs, Y, ys);
}
void activate(Activation act, float* x, std::ptrdiff_t n) noexcept { HWY_DYNAMIC_DISPATCH(ActivateImpl)(act, x, n); }
void glu_residual(float* x, const float* g, std::ptrdiff_t gs, std::ptrdiff_t rows, std::ptrdiff_t H) noexcept {
  HWY_DYNAMIC_DISPATCH(GluResidualImpl)(x, g, gs, rows, H);
}
void layer_norm(const float* x, std::ptrdiff_t rows, std::ptrdiff_t n, const float* w, const float* b, float eps,
                float* y) noexcept {
  HWY_DYNAMIC_DISPATCH(LayerNormImpl)(x, rows, n, w, b, eps, y);
}
void rms_norm(const float* x, std::ptrdiff_t rows, std::ptrdiff_t n, const float* w, float eps, float* y) noexcept {
  HWY_DYNAMIC_DISPATCH(RmsNormImpl)(x, rows, n, w, eps, y);
}
void conv_silu(const float* hist, std::ptrdiff_t hs, const float* wk, const float* bias, std::ptrdiff_t K,
               std::ptrdiff_t di, std::ptrdiff_t n, float* xc) noexcept {
  HWY_DYNAMIC_DISPATCH(ConvSiluImpl)(hist, hs, wk, bias, K, di, n, xc);
}
void mamba_scan(const float* delta, const float* x, const float* z, std::ptrdiff_t zs, const float* bc,
                std::ptrdiff_t bcs, const float* A, const float* D, std::ptrdiff_t di, std::ptrdiff_t N,
                std::ptrdiff_t n, float* h, float* scratch, float* y) noexcept {
  HWY_DYNAMIC_DISPATCH(MambaScanImpl)(delta, x, z, zs, bc, bcs, A, D, di, N, n, h, scratch, y);
}
void s4d_recurrence(const float* ad_re, const float* ad_im, const float* w_re, const float* w_im, const float* D,
                    std::ptrdiff_t H, std::ptrdiff_t M, float* s_re, float* s_im, const float* z, float* y,
                    std::ptrdiff_t n) noexcept {
  HWY_DYNAMIC_DISPATCH(S4DRecurrenceImpl)(ad_re, ad_im, w_re, w_im, D, H, M, s_re, s_im, z, y, n);
}
const char* target_name() noexcept { return HWY_DYNAMIC_DISPATCH(TargetNameImpl)(); }

}  // namespace ssm::layers_detail::rt
#endif  // HWY_ONCE
