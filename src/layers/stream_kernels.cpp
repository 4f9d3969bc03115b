// The vector kernels of the models' streaming paths (stream_kernels.hpp), compiled once per
// Highway target (foreach_target.h) and dispatched at run time (HWY_DYNAMIC_DISPATCH picks the
// widest target the CPU supports on the first call; every later call is one indirect jump).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "layers/stream_kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/highway.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "core/simd_math-inl.hpp"
#include "layers/stream_kernels.hpp"

HWY_BEFORE_NAMESPACE();
namespace ssm::layers_detail::rt {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using D = hn::ScalableTag<float>;
using V = hn::Vec<D>;

#if HWY_HAVE_SCALABLE && HWY_ARCH_ARM_A64
// SVE targets: the tiles keep arrays of vectors in registers, which sizeless SVE vectors cannot
// be; these targets run the NEON kernels (same lanes, same packing, same arithmetic).
}  // namespace HWY_NAMESPACE
namespace N_NEON {
void ActivateImpl(Activation, float*, std::ptrdiff_t);
void GluResidualImpl(float*, const float*, std::ptrdiff_t, std::ptrdiff_t, std::ptrdiff_t);
void LayerNormImpl(const float*, std::ptrdiff_t, std::ptrdiff_t, const float*, const float*, float, float*);
void RmsNormImpl(const float*, std::ptrdiff_t, std::ptrdiff_t, const float*, float, float*);
void LinearImpl(const PackedLinear&, const float*, std::ptrdiff_t, std::ptrdiff_t, float*, std::ptrdiff_t);
std::ptrdiff_t LanesImpl();
std::ptrdiff_t PanelImpl();
void ConvSiluImpl(const float*, const float*, std::ptrdiff_t, const float*, const float*, std::ptrdiff_t,
                  std::ptrdiff_t, std::ptrdiff_t, float*);
void MambaScanTImpl(const float*, std::ptrdiff_t, std::ptrdiff_t, const float*, const float*, const float*,
                    const float*, std::ptrdiff_t, const float*, const float*, std::ptrdiff_t, std::ptrdiff_t,
                    std::ptrdiff_t, float*, float*, float*);
void S4DRecurrenceImpl(const float*, const float*, const float*, const float*, const float*, std::ptrdiff_t,
                       std::ptrdiff_t, float*, float*, const float*, float*, std::ptrdiff_t);
const char* TargetNameImpl();
}  // namespace N_NEON
namespace HWY_NAMESPACE {
void ActivateImpl(Activation act, float* x, std::ptrdiff_t n) { N_NEON::ActivateImpl(act, x, n); }
void GluResidualImpl(float* x, const float* g, std::ptrdiff_t gs, std::ptrdiff_t rows, std::ptrdiff_t H) {
  N_NEON::GluResidualImpl(x, g, gs, rows, H);
}
void LayerNormImpl(const float* x, std::ptrdiff_t rows, std::ptrdiff_t n, const float* w, const float* b, float eps,
                   float* y) {
  N_NEON::LayerNormImpl(x, rows, n, w, b, eps, y);
}
void RmsNormImpl(const float* x, std::ptrdiff_t rows, std::ptrdiff_t n, const float* w, float eps, float* y) {
  N_NEON::RmsNormImpl(x, rows, n, w, eps, y);
}
void LinearImpl(const PackedLinear& w, const float* X, std::ptrdiff_t rows, std::ptrdiff_t xs, float* Y,
                std::ptrdiff_t ys) {
  N_NEON::LinearImpl(w, X, rows, xs, Y, ys);
}
std::ptrdiff_t LanesImpl() { return N_NEON::LanesImpl(); }
std::ptrdiff_t PanelImpl() { return N_NEON::PanelImpl(); }
void ConvSiluImpl(const float* prev, const float* cur, std::ptrdiff_t cs, const float* wk, const float* bias,
                  std::ptrdiff_t K, std::ptrdiff_t di, std::ptrdiff_t n, float* xc) {
  N_NEON::ConvSiluImpl(prev, cur, cs, wk, bias, K, di, n, xc);
}
void MambaScanTImpl(const float* xd, std::ptrdiff_t xds, std::ptrdiff_t R, const float* Wdt, const float* bdt,
                    const float* x, const float* z, std::ptrdiff_t zs, const float* At, const float* Dp,
                    std::ptrdiff_t di, std::ptrdiff_t N, std::ptrdiff_t n, float* hT, float* y, float* work) {
  N_NEON::MambaScanTImpl(xd, xds, R, Wdt, bdt, x, z, zs, At, Dp, di, N, n, hT, y, work);
}
void S4DRecurrenceImpl(const float* ad_re, const float* ad_im, const float* w_re, const float* w_im,
                       const float* Dp, std::ptrdiff_t H, std::ptrdiff_t M, float* s_re, float* s_im,
                       const float* z, float* y, std::ptrdiff_t n) {
  N_NEON::S4DRecurrenceImpl(ad_re, ad_im, w_re, w_im, Dp, H, M, s_re, s_im, z, y, n);
}
const char* TargetNameImpl() { return N_NEON::TargetNameImpl(); }
#else
// ---- elementwise ----------------------------------------------------------------------------

// Whole vectors load and store plainly; the one partial vector at the end of a row goes through
// a zero-padded buffer (its first n lanes; the memory past the row is never touched). Not
// Highway's MaskedLoad / BlendedStore: before AVX2 those read and write the whole vector (and
// the 1.0 SSE4 MaskedLoad requires an aligned address), and AVX2's masked store is microcoded
// on AMD cores.
constexpr std::size_t kMaxLanes = HWY_MAX_BYTES / sizeof(float);
HWY_INLINE V LoadPartial(D d, const float* p, std::size_t n) {
  HWY_ALIGN float buf[kMaxLanes] = {};
  for (std::size_t i = 0; i < n; ++i) buf[i] = p[i];
  return hn::Load(d, buf);
}
HWY_INLINE void StorePartial(D d, V v, float* p, std::size_t n) {
  HWY_ALIGN float buf[kMaxLanes];
  hn::Store(v, d, buf);
  for (std::size_t i = 0; i < n; ++i) p[i] = buf[i];
}
// kMasked: the first CountTrue(m) lanes (m = FirstN), else the whole vector.
template <bool kMasked>
HWY_INLINE V LoadM(D d, hn::Mask<D> m, const float* p) {
  if constexpr (kMasked) return LoadPartial(d, p, hn::CountTrue(d, m));
  else return hn::LoadU(d, p);
}
template <bool kMasked>
HWY_INLINE void StoreM(D d, hn::Mask<D> m, V v, float* p) {
  if constexpr (kMasked) StorePartial(d, v, p, hn::CountTrue(d, m));
  else hn::StoreU(v, d, p);
}


// The one vector form of each activation (core/simd_math-inl.hpp), shared with the array forms
// of core/activations.hpp and the selective scan.
using ssm::detail::HWY_NAMESPACE::Exp2DecayV;
using ssm::detail::HWY_NAMESPACE::GeluV;
using ssm::detail::HWY_NAMESPACE::SigmoidV;
using ssm::detail::HWY_NAMESPACE::SiluV;
using ssm::detail::HWY_NAMESPACE::SoftplusV;

// Vector registers of the target: 32 on AVX-512, NEON and SVE, 16 on AVX2/SSE.
#if HWY_ARCH_X86 && HWY_TARGET > HWY_AVX3
constexpr int kRegs = 16;
#else
constexpr int kRegs = 32;
#endif

/// f applied to n values in place, full vectors then one masked tail.
template <class F>
HWY_INLINE void Map(float* x, std::ptrdiff_t n, F f) {
  const D d;
  const std::ptrdiff_t L = static_cast<std::ptrdiff_t>(hn::Lanes(d));
  std::ptrdiff_t i = 0;
  for (; i + L <= n; i += L) hn::StoreU(f(d, hn::LoadU(d, x + i)), d, x + i);
  if (i < n) {
    const std::size_t k = static_cast<std::size_t>(n - i);
    StorePartial(d, f(d, LoadPartial(d, x + i, k)), x + i, k);
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
      const std::size_t k = static_cast<std::size_t>(H - c);
      const V v = hn::MulAdd(LoadPartial(d, a + c, k), SigmoidV(d, LoadPartial(d, b + c, k)), LoadPartial(d, xr + c, k));
      StorePartial(d, v, xr + c, k);
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
    const std::size_t k = static_cast<std::size_t>(std::min(L, n - i));
    const V a = hn::IfThenElseZero(hn::FirstN(d, k), hn::Sub(LoadPartial(d, x + i, k), s));
    acc0 = squares ? hn::MulAdd(a, a, acc0) : hn::Add(acc0, a);
  }
  return hn::GetLane(hn::SumOfLanes(d, hn::Add(acc0, acc1)));
}

/// y = (x - shift) * scale * w (+ b), one row.
HWY_INLINE void ScaleRow(D d, const float* x, std::ptrdiff_t n, float shift, float scale, const float* w,
                         const float* b, float* y) {
  const std::ptrdiff_t L = static_cast<std::ptrdiff_t>(hn::Lanes(d));
  const V s = hn::Set(d, shift), k = hn::Set(d, scale);
  auto one = [&](auto masked, hn::Mask<D> m, std::ptrdiff_t i) {
    constexpr bool kM = decltype(masked)::value;
    const V v = hn::Mul(hn::Mul(hn::Sub(LoadM<kM>(d, m, x + i), s), k), LoadM<kM>(d, m, w + i));
    StoreM<kM>(d, m, b ? hn::Add(v, LoadM<kM>(d, m, b + i)) : v, y + i);
  };
  std::ptrdiff_t i = 0;
  for (; i + L <= n; i += L) one(std::false_type{}, hn::FirstN(d, static_cast<std::size_t>(L)), i);
  if (i < n) one(std::true_type{}, hn::FirstN(d, static_cast<std::size_t>(n - i)), i);
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
// independent FMA chains.
//
// Tiles (accumulators = 2 kR kC, in registers): one row takes a whole panel (up to 4 vectors:
// 8 chains, enough for 2 FMA ports x 4 cycles of latency, the weights streamed from L2 in
// order); blocks of rows take column chunks of 2 vectors (kR2 rows) or 1 vector (kR1 rows), so
// that each weight vector loaded serves kR rows and each broadcast input kC vectors.
constexpr int kPanelVecs = 4;
constexpr int kR2 = kRegs >= 32 ? 4 : 3;  // 16 / 12 accumulators
constexpr int kR1 = kRegs >= 32 ? 8 : 6;

HWY_INLINE void StoreCols(D d, V v, float* y, std::ptrdiff_t col, std::ptrdiff_t out) {
  const std::ptrdiff_t L = static_cast<std::ptrdiff_t>(hn::Lanes(d));
  if (col + L <= out) hn::StoreU(v, d, y + col);
  else if (col < out) StorePartial(d, v, y + col, static_cast<std::size_t>(out - col));
}

/// kR rows x kC vectors of outputs: columns [o0, o0 + kC L) of Y, weights wp (in, ws) (a panel,
/// its columns from o0 on), bias b (from o0 on).
template <int kR, int kC>
HWY_INLINE void Tile(const float* wp, std::ptrdiff_t ws, const float* b, std::ptrdiff_t in, const float* X,
                     std::ptrdiff_t xs, float* Y, std::ptrdiff_t ys, std::ptrdiff_t o0, std::ptrdiff_t out) {
  const D d;
  const std::ptrdiff_t L = static_cast<std::ptrdiff_t>(hn::Lanes(d));
  V even[kR][kC], odd[kR][kC];
  for (int c = 0; c < kC; ++c) {
    const V bv = hn::LoadU(d, b + c * L);
    for (int r = 0; r < kR; ++r) {
      even[r][c] = bv;
      odd[r][c] = hn::Zero(d);
    }
  }
  std::ptrdiff_t i = 0;
  for (; i + 2 <= in; i += 2) {
    const float* w0 = wp + i * ws;
    V a0[kC], a1[kC];
    for (int c = 0; c < kC; ++c) {
      a0[c] = hn::LoadU(d, w0 + c * L);
      a1[c] = hn::LoadU(d, w0 + ws + c * L);
    }
    for (int r = 0; r < kR; ++r) {
      const V x0 = hn::Set(d, X[r * xs + i]), x1 = hn::Set(d, X[r * xs + i + 1]);
      for (int c = 0; c < kC; ++c) {
        even[r][c] = hn::MulAdd(x0, a0[c], even[r][c]);
        odd[r][c] = hn::MulAdd(x1, a1[c], odd[r][c]);
      }
    }
  }
  if (i < in) {
    for (int r = 0; r < kR; ++r) {
      const V x0 = hn::Set(d, X[r * xs + i]);
      for (int c = 0; c < kC; ++c) even[r][c] = hn::MulAdd(x0, hn::LoadU(d, wp + i * ws + c * L), even[r][c]);
    }
  }
  for (int r = 0; r < kR; ++r)
    for (int c = 0; c < kC; ++c) StoreCols(d, hn::Add(even[r][c], odd[r][c]), Y + r * ys, o0 + c * L, out);
}

/// One row over a whole panel of nv vectors.
HWY_INLINE void PanelRow(std::ptrdiff_t nv, const float* wp, std::ptrdiff_t ws, const float* b, std::ptrdiff_t in,
                         const float* x, float* y, std::ptrdiff_t o0, std::ptrdiff_t out) {
  switch (nv) {
    case 4: Tile<1, 4>(wp, ws, b, in, x, 0, y, 0, o0, out); break;
    case 3: Tile<1, 3>(wp, ws, b, in, x, 0, y, 0, o0, out); break;
    case 2: Tile<1, 2>(wp, ws, b, in, x, 0, y, 0, o0, out); break;
    default: Tile<1, 1>(wp, ws, b, in, x, 0, y, 0, o0, out); break;
  }
}

void LinearImpl(const PackedLinear& w, const float* X, std::ptrdiff_t rows, std::ptrdiff_t xs, float* Y,
                std::ptrdiff_t ys) {
  const D d;
  const std::ptrdiff_t L = static_cast<std::ptrdiff_t>(hn::Lanes(d)), in = w.in;
  for (std::ptrdiff_t p0 = 0; p0 < w.out_pad; p0 += w.panel) {
    const std::ptrdiff_t ws = std::min(w.panel, w.out_pad - p0), nv = ws / L;
    const float* wp = w.wt.data() + p0 * in;
    const float* b = w.b.data() + p0;
    if (rows < kR2) {
      for (std::ptrdiff_t r = 0; r < rows; ++r) PanelRow(nv, wp, ws, b, in, X + r * xs, Y + r * ys, p0, w.out);
      continue;
    }
    for (std::ptrdiff_t v = 0; v < nv;) {
      const std::ptrdiff_t o0 = p0 + v * L;
      std::ptrdiff_t r = 0;
      if (v + 2 <= nv) {
        for (; r + kR2 <= rows; r += kR2) Tile<kR2, 2>(wp + v * L, ws, b + v * L, in, X + r * xs, xs, Y + r * ys, ys, o0, w.out);
        for (; r < rows; ++r) Tile<1, 2>(wp + v * L, ws, b + v * L, in, X + r * xs, xs, Y + r * ys, ys, o0, w.out);
        v += 2;
      } else {
        for (; r + kR1 <= rows; r += kR1) Tile<kR1, 1>(wp + v * L, ws, b + v * L, in, X + r * xs, xs, Y + r * ys, ys, o0, w.out);
        for (; r < rows; ++r) Tile<1, 1>(wp + v * L, ws, b + v * L, in, X + r * xs, xs, Y + r * ys, ys, o0, w.out);
        v += 1;
      }
    }
  }
}

std::ptrdiff_t LanesImpl() { return static_cast<std::ptrdiff_t>(hn::Lanes(D())); }
std::ptrdiff_t PanelImpl() { return kPanelVecs * static_cast<std::ptrdiff_t>(hn::Lanes(D())); }

// ---- Mamba ----------------------------------------------------------------------------------

void ConvSiluImpl(const float* prev, const float* cur, std::ptrdiff_t cs, const float* wk, const float* bias,
                  std::ptrdiff_t K, std::ptrdiff_t di, std::ptrdiff_t n, float* xc) {
  const D d;
  const std::ptrdiff_t L = static_cast<std::ptrdiff_t>(hn::Lanes(d));
  auto one = [&](auto masked, hn::Mask<D> m, std::ptrdiff_t t, std::ptrdiff_t c) {
    constexpr bool kM = decltype(masked)::value;
    V acc = bias ? LoadM<kM>(d, m, bias + c) : hn::Zero(d);
    for (std::ptrdiff_t k = 0; k < K; ++k) {
      // input t - K + 1 + k: a row of cur, or (before the block) row t + 1 + k of prev
      const std::ptrdiff_t j = t - K + 1 + k;
      const float* src = j >= 0 ? cur + j * cs : prev + (t + 1 + k) * di;
      acc = hn::MulAdd(LoadM<kM>(d, m, wk + k * di + c), LoadM<kM>(d, m, src + c), acc);
    }
    StoreM<kM>(d, m, SiluV(d, acc), xc + t * di + c);
  };
  const auto all = hn::FirstN(d, static_cast<std::size_t>(L));
  const auto tail = hn::FirstN(d, static_cast<std::size_t>(di % L));
  for (std::ptrdiff_t t = 0; t < n; ++t) {
    std::ptrdiff_t c = 0;
    for (; c + L <= di; c += L) one(std::false_type{}, all, t, c);
    if (c < di) one(std::true_type{}, tail, t, c);
  }
}

// The selective state update (stream_kernels.hpp) of one token, in three passes over the
// channels (vectors of L channels; the last one masked to the `di % L` valid lanes):
//   1. delta = dt bias + dt_proj(dt part), dt = softplus(delta), dt x, the read-out zeroed,
//      into the scratch rows work = [dt | dt x | acc] (3 di floats, in L1);
//   2. for each state k in order, for each vector of channels: h = 2^{dt A2} h + dt x B[k],
//      acc += C[k] h (acc, dt, dt x are reloaded from L1: a pass holds only the exp constants
//      and B[k], C[k] in registers, so nothing spills on AVX2's 16 registers, and the chains
//      through acc are 1 FMA per vector of channels per state, far apart);
//   3. y = (acc + D x) silu(z).
// The arithmetic of a channel is the same whatever the block size and the vector width.
template <bool kMasked>
HWY_INLINE void ScanPrologue(D d, hn::Mask<D> m, const float* xd, std::ptrdiff_t R, const float* Wdt,
                             const float* bdt, const float* x, std::ptrdiff_t di, std::ptrdiff_t P, float* work,
                             std::ptrdiff_t c) {
  V delta = LoadM<kMasked>(d, m, bdt + c);
  for (std::ptrdiff_t r = 0; r < R; ++r) delta = hn::MulAdd(hn::Set(d, xd[r]), LoadM<kMasked>(d, m, Wdt + r * di + c), delta);
  const V dt = SoftplusV(d, delta);
  hn::StoreU(dt, d, work + c);
  hn::StoreU(hn::Mul(dt, LoadM<kMasked>(d, m, x + c)), d, work + P + c);
  hn::StoreU(hn::Zero(d), d, work + 2 * P + c);
}

template <bool kMasked>
HWY_INLINE void ScanState(D d, hn::Mask<D> m, V b, V cv, const float* Ak, float* hk, float* work, std::ptrdiff_t P,
                          std::ptrdiff_t c) {
  // e^{dt A} = 2^{dt A log2 e}, Ak = A log2 e <= 0 (dt = softplus >= 0, A = -exp(A_log) < 0)
  const V e = Exp2DecayV(d, hn::Mul(hn::LoadU(d, work + c), LoadM<kMasked>(d, m, Ak + c)));
  const V h = hn::MulAdd(e, LoadM<kMasked>(d, m, hk + c), hn::Mul(hn::LoadU(d, work + P + c), b));
  StoreM<kMasked>(d, m, h, hk + c);
  float* acc = work + 2 * P + c;
  hn::StoreU(hn::MulAdd(cv, h, hn::LoadU(d, acc)), d, acc);
}

void MambaScanTImpl(const float* xd, std::ptrdiff_t xds, std::ptrdiff_t R, const float* Wdt, const float* bdt,
                    const float* x, const float* z, std::ptrdiff_t zs, const float* At, const float* Dp,
                    std::ptrdiff_t di, std::ptrdiff_t N, std::ptrdiff_t n, float* hT, float* y, float* work) {
  const D d;
  const std::ptrdiff_t L = static_cast<std::ptrdiff_t>(hn::Lanes(d));
  const std::ptrdiff_t full = di / L * L, P = (di + L - 1) / L * L;  // work rows: di rounded up to vectors
  const auto all = hn::FirstN(d, static_cast<std::size_t>(L));
  const auto tail = hn::FirstN(d, static_cast<std::size_t>(di - full));
  for (std::ptrdiff_t t = 0; t < n; ++t) {
    const float* xdt = xd + t * xds;
    const float *xt = x + t * di, *zt = z + t * zs;
    float* yt = y + t * di;
    for (std::ptrdiff_t c = 0; c < full; c += L) ScanPrologue<false>(d, all, xdt, R, Wdt, bdt, xt, di, P, work, c);
    if (full < di) ScanPrologue<true>(d, tail, xdt, R, Wdt, bdt, xt, di, P, work, full);
    const float* Bt = xdt + R;
    const float* Ct = Bt + N;
    for (std::ptrdiff_t k = 0; k < N; ++k) {
      const V b = hn::Set(d, Bt[k]), cv = hn::Set(d, Ct[k]);
      const float* Ak = At + k * di;
      float* hk = hT + k * di;
      for (std::ptrdiff_t c = 0; c < full; c += L) ScanState<false>(d, all, b, cv, Ak, hk, work, P, c);
      if (full < di) ScanState<true>(d, tail, b, cv, Ak, hk, work, P, full);
    }
    auto out = [&](auto masked, hn::Mask<D> m, std::ptrdiff_t c) {
      constexpr bool kM = decltype(masked)::value;
      const V v = hn::MulAdd(LoadM<kM>(d, m, Dp + c), LoadM<kM>(d, m, xt + c), hn::LoadU(d, work + 2 * P + c));
      StoreM<kM>(d, m, hn::Mul(v, SiluV(d, LoadM<kM>(d, m, zt + c))), yt + c);
    };
    for (std::ptrdiff_t c = 0; c < full; c += L) out(std::false_type{}, all, c);
    if (full < di) out(std::true_type{}, tail, full);
  }
}

// ---- S4D ------------------------------------------------------------------------------------

// Layout (M, H): mode m of channel c at m H + c, so that one vector holds one mode of L
// channels and the read-out sums over modes with vector adds (no horizontal sums). A group of
// kU modes x one vector of channels stays in registers over the block's frames.
constexpr int kModes = kRegs >= 32 ? 4 : 2;  // 6 kModes state/coefficient registers of 32 / 16

template <int kU, bool kMasked>
HWY_INLINE void S4DGroup(const float* ar, const float* ai, const float* wr, const float* wi, std::ptrdiff_t H,
                         float* sr, float* si, const float* z, float* y, std::ptrdiff_t n, std::size_t valid) {
  const D d;
  const auto m = hn::FirstN(d, valid);
  auto load = [&](const float* p) { return LoadM<kMasked>(d, m, p); };
  auto store = [&](V v, float* p) { StoreM<kMasked>(d, m, v, p); };
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
  auto load = [&](const float* p) { return LoadM<kMasked>(d, msk, p); };
  auto store = [&](V v, float* p) { StoreM<kMasked>(d, msk, v, p); };
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

// One frame (per-sample streaming): the read-out of a channel is one chain of 2 FMAs per mode, so
// kG vectors of channels advance together (kG independent chains in registers; the mode-major
// rows are read in order, kG vectors at a time). Same arithmetic per channel as S4DGroup's.
template <int kG, bool kMasked>
HWY_INLINE void S4DFrame(const float* ar, const float* ai, const float* wr, const float* wi, const float* Dp,
                         std::ptrdiff_t H, std::ptrdiff_t M, float* sr, float* si, const float* z, float* y,
                         std::size_t valid) {
  const D d;
  const std::ptrdiff_t L = static_cast<std::ptrdiff_t>(hn::Lanes(d));
  const auto msk = hn::FirstN(d, valid);
  V u[kG], acc[kG];
  for (int g = 0; g < kG; ++g) {
    u[g] = LoadM<kMasked>(d, msk, z + g * L);
    acc[g] = hn::Zero(d);
  }
  for (std::ptrdiff_t k = 0; k < M; ++k) {
    const std::ptrdiff_t o = k * H;
    for (int g = 0; g < kG; ++g) {
      const std::ptrdiff_t c = o + g * L;
      const V a_r = LoadM<kMasked>(d, msk, ar + c), a_i = LoadM<kMasked>(d, msk, ai + c);
      const V s_r = LoadM<kMasked>(d, msk, sr + c), s_i = LoadM<kMasked>(d, msk, si + c);
      const V r = hn::MulAdd(a_r, s_r, hn::NegMulAdd(a_i, s_i, u[g]));
      const V i = hn::MulAdd(a_r, s_i, hn::Mul(a_i, s_r));
      StoreM<kMasked>(d, msk, r, sr + c);
      StoreM<kMasked>(d, msk, i, si + c);
      acc[g] = hn::MulAdd(LoadM<kMasked>(d, msk, wr + c), r, hn::NegMulAdd(LoadM<kMasked>(d, msk, wi + c), i, acc[g]));
    }
  }
  for (int g = 0; g < kG; ++g)
    StoreM<kMasked>(d, msk, hn::MulAdd(LoadM<kMasked>(d, msk, Dp + g * L), u[g], hn::Add(acc[g], acc[g])), y + g * L);
}

constexpr int kFrameVecs = kRegs >= 32 ? 8 : 4;  // read-out chains of S4DFrame

void S4DRecurrenceImpl(const float* ad_re, const float* ad_im, const float* w_re, const float* w_im,
                       const float* Dp, std::ptrdiff_t H, std::ptrdiff_t M, float* s_re, float* s_im,
                       const float* z, float* y, std::ptrdiff_t n) {
  const D d;
  const std::ptrdiff_t L = static_cast<std::ptrdiff_t>(hn::Lanes(d));
  if (n < 4) {  // a few frames: frame after frame, kFrameVecs vectors of channels at a time
    for (std::ptrdiff_t t = 0; t < n; ++t) {
      const float* zt = z + t * H;
      float* yt = y + t * H;
      std::ptrdiff_t c = 0;
      for (; c + kFrameVecs * L <= H; c += kFrameVecs * L)
        S4DFrame<kFrameVecs, false>(ad_re + c, ad_im + c, w_re + c, w_im + c, Dp + c, H, M, s_re + c, s_im + c,
                                    zt + c, yt + c, static_cast<std::size_t>(L));
      for (; c + L <= H; c += L)
        S4DFrame<1, false>(ad_re + c, ad_im + c, w_re + c, w_im + c, Dp + c, H, M, s_re + c, s_im + c, zt + c,
                           yt + c, static_cast<std::size_t>(L));
      if (c < H)
        S4DFrame<1, true>(ad_re + c, ad_im + c, w_re + c, w_im + c, Dp + c, H, M, s_re + c, s_im + c, zt + c,
                          yt + c, static_cast<std::size_t>(H - c));
    }
    return;
  }
  std::ptrdiff_t c = 0;
  for (; c + L <= H; c += L)
    S4DChannels<false>(ad_re + c, ad_im + c, w_re + c, w_im + c, Dp + c, H, M, s_re + c, s_im + c, z + c, y + c, n,
                       static_cast<std::size_t>(L));
  if (c < H)
    S4DChannels<true>(ad_re + c, ad_im + c, w_re + c, w_im + c, Dp + c, H, M, s_re + c, s_im + c, z + c, y + c, n,
                      static_cast<std::size_t>(H - c));
}

const char* TargetNameImpl() { return hwy::TargetName(HWY_TARGET); }

#endif  // HWY_HAVE_SCALABLE && HWY_ARCH_ARM_A64

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
HWY_EXPORT(LanesImpl);
HWY_EXPORT(PanelImpl);
HWY_EXPORT(ConvSiluImpl);
HWY_EXPORT(MambaScanTImpl);
HWY_EXPORT(S4DRecurrenceImpl);
HWY_EXPORT(TargetNameImpl);

PackedLinear pack_linear(const std::vector<float>& W, const std::vector<float>& bias, std::ptrdiff_t out,
                         std::ptrdiff_t in) {
  (void)target_name();  // resolve the dispatch now (outside any real-time path)
  const std::ptrdiff_t L = HWY_DYNAMIC_DISPATCH(LanesImpl)();
  PackedLinear p;
  p.in = in;
  p.out = out;
  p.out_pad = (out + L - 1) / L * L;
  p.panel = HWY_DYNAMIC_DISPATCH(PanelImpl)();
  p.wt.assign(static_cast<std::size_t>(in * p.out_pad), 0.0f);
  for (std::ptrdiff_t o = 0; o < out; ++o) {
    const std::ptrdiff_t p0 = o / p.panel * p.panel, ws = std::min(p.panel, p.out_pad - p0);
    for (std::ptrdiff_t i = 0; i < in; ++i)
      p.wt[static_cast<std::size_t>(p0 * in + i * ws + (o - p0))] = W[static_cast<std::size_t>(o * in + i)];
  }
  p.b.assign(static_cast<std::size_t>(p.out_pad), 0.0f);
  std::copy(bias.begin(), bias.end(), p.b.begin());
  return p;
}

std::ptrdiff_t scan_work_floats(std::ptrdiff_t di) noexcept {
  const std::ptrdiff_t L = HWY_DYNAMIC_DISPATCH(LanesImpl)();
  return 3 * ((di + L - 1) / L * L);
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
void conv_silu(const float* prev, const float* cur, std::ptrdiff_t cs, const float* wk, const float* bias,
               std::ptrdiff_t K, std::ptrdiff_t di, std::ptrdiff_t n, float* xc) noexcept {
  HWY_DYNAMIC_DISPATCH(ConvSiluImpl)(prev, cur, cs, wk, bias, K, di, n, xc);
}
void mamba_scan_t(const float* xd, std::ptrdiff_t xds, std::ptrdiff_t R, const float* Wdt, const float* bdt,
                  const float* x, const float* z, std::ptrdiff_t zs, const float* At, const float* D,
                  std::ptrdiff_t di, std::ptrdiff_t N, std::ptrdiff_t n, float* hT, float* y, float* work) noexcept {
  HWY_DYNAMIC_DISPATCH(MambaScanTImpl)(xd, xds, R, Wdt, bdt, x, z, zs, At, D, di, N, n, hT, y, work);
}
void s4d_recurrence(const float* ad_re, const float* ad_im, const float* w_re, const float* w_im, const float* D,
                    std::ptrdiff_t H, std::ptrdiff_t M, float* s_re, float* s_im, const float* z, float* y,
                    std::ptrdiff_t n) noexcept {
  HWY_DYNAMIC_DISPATCH(S4DRecurrenceImpl)(ad_re, ad_im, w_re, w_im, D, H, M, s_re, s_im, z, y, n);
}
const char* target_name() noexcept { return HWY_DYNAMIC_DISPATCH(TargetNameImpl)(); }

}  // namespace ssm::layers_detail::rt
#endif  // HWY_ONCE
