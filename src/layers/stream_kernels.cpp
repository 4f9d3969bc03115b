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

// Every output is computed in one order, whatever the tile it falls in: the bias plus the even
// inputs, in order, in one accumulator, the odd inputs in a second, then their sum. So a row's
// outputs do not depend on how many rows are computed with it (the streaming contract: any
// block split gives the same outputs bit for bit), and a single row still has 2 kC
// independent FMA chains. Registers: AVX-512 has 32 vector registers, AVX2/SSE 16.
#if HWY_TARGET <= HWY_AVX3
constexpr int kCols1 = 4, kCols4 = 2;  // accumulators: 8 (one row), 16 (four rows)
#else
constexpr int kCols1 = 2, kCols4 = 1;  // 4, 8
#endif

HWY_INLINE void StoreCols(D d, V v, float* y, std::ptrdiff_t col, std::ptrdiff_t out) {
  const std::ptrdiff_t L = static_cast<std::ptrdiff_t>(hn::Lanes(d));
  if (col + L <= out) hn::StoreU(v, d, y + col);
  else if (col < out) hn::BlendedStore(v, hn::FirstN(d, static_cast<std::size_t>(out - col)), d, y + col);
}

// Register blocks are named variables, not arrays: SVE vectors are sizeless types, which cannot
// be array elements. SSM_SLOTS4/8(M) expand M(0) .. M(3) / M(7); a kernel guards slot s with
// `if constexpr (s < its count)`, so unused slots compile to nothing.
#define SSM_SLOTS4(M) M(0) M(1) M(2) M(3)
#define SSM_SLOTS8(M) SSM_SLOTS4(M) M(4) M(5) M(6) M(7)

/// kR rows x kC vectors of outputs starting at column o0. Accumulator slot s: row s / kC,
/// column vector s % kC (at most 8 slots, AVX-512's 4 x 2).
template <int kR, int kC>
HWY_INLINE void Tile(const PackedLinear& w, const float* X, std::ptrdiff_t xs, float* Y, std::ptrdiff_t ys,
                     std::ptrdiff_t o0) {
  constexpr int kS = kR * kC;
  static_assert(kS <= 8, "at most 8 accumulator pairs");
  const D d;
  const std::ptrdiff_t L = static_cast<std::ptrdiff_t>(hn::Lanes(d)), op = w.out_pad, in = w.in;
  const float* wt = w.wt.data() + o0;
  const float* bias = w.b.data() + o0;
#define SSM_INIT(s)                          \
  V even##s = hn::Zero(d), odd##s = hn::Zero(d); \
  if constexpr (s < kS) even##s = hn::LoadU(d, bias + s % kC * L);
  SSM_SLOTS8(SSM_INIT)
#undef SSM_INIT
  // Slot s's inputs: x(s, i) the input i of its row, w(s, i) its column vector of weights i.
#define SSM_X(s, i) hn::Set(d, X[(s) / kC * xs + (i)])
#define SSM_W(s, i) hn::LoadU(d, wt + (i) * op + (s) % kC * L)
  std::ptrdiff_t i = 0;
  for (; i + 2 <= in; i += 2) {
#define SSM_STEP(s)                                                \
  if constexpr (s < kS) {                                          \
    even##s = hn::MulAdd(SSM_X(s, i), SSM_W(s, i), even##s);       \
    odd##s = hn::MulAdd(SSM_X(s, i + 1), SSM_W(s, i + 1), odd##s); \
  }
    SSM_SLOTS8(SSM_STEP)
#undef SSM_STEP
  }
  if (i < in) {
#define SSM_LAST(s) \
  if constexpr (s < kS) even##s = hn::MulAdd(SSM_X(s, i), SSM_W(s, i), even##s);
    SSM_SLOTS8(SSM_LAST)
#undef SSM_LAST
  }
#undef SSM_W
#undef SSM_X
#define SSM_STORE(s) \
  if constexpr (s < kS) StoreCols(d, hn::Add(even##s, odd##s), Y + s / kC * ys, o0 + s % kC * L, w.out);
  SSM_SLOTS8(SSM_STORE)
#undef SSM_STORE
}

/// Columns [o0, o0 + kC vectors) for `rows` rows at a time (4 or 1): the weight tile (in x kC
/// vectors) is read from L2 once and from L1 by every block of rows after it.
template <int kR, int kC>
HWY_INLINE void Columns(const PackedLinear& w, const float* X, std::ptrdiff_t rows, std::ptrdiff_t xs, float* Y,
                        std::ptrdiff_t ys, std::ptrdiff_t o0) {
  for (std::ptrdiff_t r = 0; r + kR <= rows; r += kR) Tile<kR, kC>(w, X + r * xs, xs, Y + r * ys, ys, o0);
}

template <int kR, int kC>
HWY_INLINE void AllColumns(const PackedLinear& w, const float* X, std::ptrdiff_t rows, std::ptrdiff_t xs, float* Y,
                           std::ptrdiff_t ys) {
  const D d;
  const std::ptrdiff_t L = static_cast<std::ptrdiff_t>(hn::Lanes(d));
  const std::ptrdiff_t vecs = w.out_pad / L;  // out_pad is a multiple of every lane count
  std::ptrdiff_t v = 0;
  for (; v + kC <= vecs; v += kC) Columns<kR, kC>(w, X, rows, xs, Y, ys, v * L);
  for (; v < vecs; ++v) Columns<kR, 1>(w, X, rows, xs, Y, ys, v * L);
}

void LinearImpl(const PackedLinear& w, const float* X, std::ptrdiff_t rows, std::ptrdiff_t xs, float* Y,
                std::ptrdiff_t ys) {
  const std::ptrdiff_t full = rows / 4 * 4;
  if (full > 0) AllColumns<4, kCols4>(w, X, full, xs, Y, ys);
  if (full < rows) AllColumns<1, kCols1>(w, X + full * xs, rows - full, xs, Y + full * ys, ys);
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

/// The selective state update on the channel-major transposes (stream_kernels.hpp) for kV
/// vectors of channels from c0 (kMasked: one vector, its first `valid` lanes) at token t.
template <int kV, bool kMasked>
HWY_INLINE void ScanChannels(const float* delta, const float* x, const float* z, const float* Bt, const float* Ct,
                             const float* At, const float* Dp, std::ptrdiff_t di, std::ptrdiff_t N, float* hT,
                             float* y, std::ptrdiff_t c0, std::size_t valid) {
  const D d;
  const std::ptrdiff_t L = static_cast<std::ptrdiff_t>(hn::Lanes(d));
  const auto m = hn::FirstN(d, valid);
  auto load = [&](const float* p) { return kMasked ? hn::MaskedLoad(m, d, p) : hn::LoadU(d, p); };
  auto store = [&](V v, float* p) {
    if (kMasked) hn::BlendedStore(v, m, d, p);
    else hn::StoreU(v, d, p);
  };
  static_assert(kV <= 4, "at most 4 vectors of channels");
#define SSM_INIT(j)                                                 \
  V dt##j = hn::Zero(d), dx##j = hn::Zero(d), acc##j = hn::Zero(d); \
  if constexpr (j < kV) {                                           \
    dt##j = SoftplusV(d, load(delta + c0 + j * L));                 \
    dx##j = hn::Mul(dt##j, load(x + c0 + j * L));                   \
  }
  SSM_SLOTS4(SSM_INIT)
#undef SSM_INIT
  for (std::ptrdiff_t k = 0; k < N; ++k) {
    const V b = hn::Set(d, Bt[k]), cv = hn::Set(d, Ct[k]);
    const float* Ak = At + k * di + c0;
    float* hk = hT + k * di + c0;
    // exp(dt A) with dt A kept inside Exp's valid range (below -104 the result is 0 in float)
#define SSM_STEP(j)                                                                         \
  if constexpr (j < kV) {                                                                   \
    const V e = hn::Exp(d, hn::Max(hn::Mul(dt##j, load(Ak + j * L)), hn::Set(d, -104.0f))); \
    const V hv = hn::MulAdd(e, load(hk + j * L), hn::Mul(dx##j, b));                        \
    store(hv, hk + j * L);                                                                  \
    acc##j = hn::MulAdd(cv, hv, acc##j);                                                    \
  }
    SSM_SLOTS4(SSM_STEP)
#undef SSM_STEP
  }
#define SSM_OUT(j)                                             \
  if constexpr (j < kV) {                                      \
    const std::ptrdiff_t c = c0 + j * L;                       \
    const V v = hn::MulAdd(load(Dp + c), load(x + c), acc##j); \
    store(hn::Mul(v, SiluV(d, load(z + c))), y + c);           \
  }
  SSM_SLOTS4(SSM_OUT)
#undef SSM_OUT
}

void MambaScanTImpl(const float* delta, const float* x, const float* z, std::ptrdiff_t zs, const float* bc,
                    std::ptrdiff_t bcs, const float* At, const float* Dp, std::ptrdiff_t di, std::ptrdiff_t N,
                    std::ptrdiff_t n, float* hT, float* y) {
  const D d;
  const std::ptrdiff_t L = static_cast<std::ptrdiff_t>(hn::Lanes(d));
  constexpr int kV = 4;  // vectors of channels at once (dt, dt x, the read-out in registers)
  for (std::ptrdiff_t t = 0; t < n; ++t) {
    const float* Bt = bc + t * bcs;
    const float *dl = delta + t * di, *xt = x + t * di, *zt = z + t * zs;
    float* yt = y + t * di;
    std::ptrdiff_t c = 0;
    for (; c + kV * L <= di; c += kV * L)
      ScanChannels<kV, false>(dl, xt, zt, Bt, Bt + N, At, Dp, di, N, hT, yt, c, static_cast<std::size_t>(L));
    for (; c + L <= di; c += L)
      ScanChannels<1, false>(dl, xt, zt, Bt, Bt + N, At, Dp, di, N, hT, yt, c, static_cast<std::size_t>(L));
    if (c < di)
      ScanChannels<1, true>(dl, xt, zt, Bt, Bt + N, At, Dp, di, N, hT, yt, c, static_cast<std::size_t>(di - c));
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
  static_assert(kU <= 4, "at most 4 modes in registers");
#define SSM_INIT(j)                                                                         \
  V a_r##j = hn::Zero(d), a_i##j = hn::Zero(d), w_r##j = hn::Zero(d), w_i##j = hn::Zero(d); \
  V s_r##j = hn::Zero(d), s_i##j = hn::Zero(d);                                             \
  if constexpr (j < kU) {                                                                   \
    a_r##j = load(ar + j * H);                                                              \
    a_i##j = load(ai + j * H);                                                              \
    w_r##j = load(wr + j * H);                                                              \
    w_i##j = load(wi + j * H);                                                              \
    s_r##j = load(sr + j * H);                                                              \
    s_i##j = load(si + j * H);                                                              \
  }
  SSM_SLOTS4(SSM_INIT)
#undef SSM_INIT
  for (std::ptrdiff_t t = 0; t < n; ++t) {
    const V u = load(z + t * H);
    V acc = load(y + t * H);
#define SSM_STEP(j)                                                           \
  if constexpr (j < kU) {                                                     \
    const V r = hn::MulAdd(a_r##j, s_r##j, hn::NegMulAdd(a_i##j, s_i##j, u)); \
    const V i = hn::MulAdd(a_r##j, s_i##j, hn::Mul(a_i##j, s_r##j));          \
    s_r##j = r;                                                               \
    s_i##j = i;                                                               \
    acc = hn::MulAdd(w_r##j, r, hn::NegMulAdd(w_i##j, i, acc));               \
  }
    SSM_SLOTS4(SSM_STEP)
#undef SSM_STEP
    store(acc, y + t * H);
  }
#define SSM_SAVE(j)            \
  if constexpr (j < kU) {      \
    store(s_r##j, sr + j * H); \
    store(s_i##j, si + j * H); \
  }
  SSM_SLOTS4(SSM_SAVE)
#undef SSM_SAVE
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

#undef SSM_SLOTS8
#undef SSM_SLOTS4

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
HWY_EXPORT(MambaScanTImpl);
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
void mamba_scan_t(const float* delta, const float* x, const float* z, std::ptrdiff_t zs, const float* bc,
                  std::ptrdiff_t bcs, const float* At, const float* D, std::ptrdiff_t di, std::ptrdiff_t N,
                  std::ptrdiff_t n, float* hT, float* y) noexcept {
  HWY_DYNAMIC_DISPATCH(MambaScanTImpl)(delta, x, z, zs, bc, bcs, At, D, di, N, n, hT, y);
}
void s4d_recurrence(const float* ad_re, const float* ad_im, const float* w_re, const float* w_im, const float* D,
                    std::ptrdiff_t H, std::ptrdiff_t M, float* s_re, float* s_im, const float* z, float* y,
                    std::ptrdiff_t n) noexcept {
  HWY_DYNAMIC_DISPATCH(S4DRecurrenceImpl)(ad_re, ad_im, w_re, w_im, D, H, M, s_re, s_im, z, y, n);
}
const char* target_name() noexcept { return HWY_DYNAMIC_DISPATCH(TargetNameImpl)(); }

}  // namespace ssm::layers_detail::rt
#endif  // HWY_ONCE
