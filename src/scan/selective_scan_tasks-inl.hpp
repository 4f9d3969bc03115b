// The selective scan's per-task loops (selective_scan_cpu.hpp): included once per Highway
// target by selective_scan_tasks_f32.cpp and _f64.cpp (one translation unit a precision, so the
// two compile in parallel), called through the process's dispatch choice (core/simd.hpp).
//   real A     h[n] = exp(dt_t A[n]) h[n] + (dt_t u_t) B_t[n],  y_t = sum_n C_t[n] h[n]
//              kLanes channels in lanes (vectors of up to kLanes lanes walk the group);
//   complex A  h = exp(dt A) h + (dt u) B,  y = 2 Re(sum_n C h), split re/im (X[0..N) real,
//              X[N..2N) imaginary), the N states of one channel in lanes.
// Vector exp/log1p/sin/cos are Highway's (core/simd_math-inl.hpp gives the error bounds), in
// the precision of T: float32 accumulates in float32, float64 in float64.
// Per-target include guard (Highway's -inl.h idiom): this header is re-included for every target.
#if defined(SSM_SCAN_SELECTIVE_SCAN_TASKS_INL_HPP_) == defined(HWY_TARGET_TOGGLE)
#ifdef SSM_SCAN_SELECTIVE_SCAN_TASKS_INL_HPP_
#undef SSM_SCAN_SELECTIVE_SCAN_TASKS_INL_HPP_
#else
#define SSM_SCAN_SELECTIVE_SCAN_TASKS_INL_HPP_
#endif

#include <hwy/cache_control.h>
#include <hwy/highway.h>

#include <algorithm>
#include <cmath>

#include "core/simd_math-inl.hpp"
#include "scan/selective_scan_cpu.hpp"

HWY_BEFORE_NAMESPACE();
namespace ssm::detail::sscan::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using ssm::detail::HWY_NAMESPACE::ExpV;
using ssm::detail::HWY_NAMESPACE::SiluV;
using ssm::detail::HWY_NAMESPACE::SoftplusV;

// ---- elementwise over one time block (scratch arrays of kBlock values) ----------------------
// The loops run over whole vectors up to kBlock: lanes past nb hold stale scratch values whose
// results are never read.
template <class T>
HWY_INLINE void softplus_block(T* x, int nb) {
  const hn::CappedTag<T, kBlock> d;
  const int L = static_cast<int>(hn::Lanes(d));
  for (int t = 0; t < nb; t += L) hn::StoreU(SoftplusV(d, hn::LoadU(d, x + t)), d, x + t);
}

template <class T>
HWY_INLINE void mul_block(const T* a, const T* b, T* out, int nb) {
  const hn::CappedTag<T, kBlock> d;
  const int L = static_cast<int>(hn::Lanes(d));
  for (int t = 0; t < nb; t += L) hn::StoreU(hn::Mul(hn::LoadU(d, a + t), hn::LoadU(d, b + t)), d, out + t);
}

// y = y + D u, then (when z) y = y silu(z).
template <class T>
HWY_INLINE void gate_block(T* y, const T* u, T Dd, const T* z, int nb) {
  const hn::CappedTag<T, kBlock> d;
  const int L = static_cast<int>(hn::Lanes(d));
  const auto vD = hn::Set(d, Dd);
  if (z == nullptr) {
    for (int t = 0; t < nb; t += L) hn::StoreU(hn::MulAdd(vD, hn::LoadU(d, u + t), hn::LoadU(d, y + t)), d, y + t);
    return;
  }
  for (int t = 0; t < nb; t += L) {
    const auto v = hn::MulAdd(vD, hn::LoadU(d, u + t), hn::LoadU(d, y + t));
    hn::StoreU(hn::Mul(v, SiluV(d, hn::LoadU(d, z + t))), d, y + t);
  }
}

// ---- the recurrence over one time block ------------------------------------------------------
// Real A, kLanes channels of one group in lanes. dtT, dtuT, yT: [t][lane]; AT, h: [n][lane];
// variable B/C: the transposed block [t][n] (one value for all lanes); fixed B/C: [n][lane].
template <class T, bool BVAR, bool CVAR, bool OUT>
HWY_INLINE void lanes_block(int N, int nb, const T* HWY_RESTRICT dtT, const T* HWY_RESTRICT dtuT,
                            const T* HWY_RESTRICT AT, const T* HWY_RESTRICT Bp, const T* HWY_RESTRICT Cp,
                            T* HWY_RESTRICT h, T* HWY_RESTRICT yT) {
  constexpr int W = kLanes;
  const hn::CappedTag<T, kLanes> d;
  const int L = static_cast<int>(hn::Lanes(d));
  for (int j = 0; j < W; j += L) {
    for (int t = 0; t < nb; ++t) {
      const auto dt = hn::LoadU(d, dtT + t * W + j);
      const auto x = hn::LoadU(d, dtuT + t * W + j);
      auto y = hn::Zero(d);
      for (int n = 0; n < N; ++n) {
        T* hp = h + n * W + j;
        const auto a = hn::LoadU(d, AT + n * W + j);
        const auto b = BVAR ? hn::Set(d, Bp[t * N + n]) : hn::LoadU(d, Bp + n * W + j);
        const auto v = hn::MulAdd(ExpV(d, hn::Mul(dt, a)), hn::LoadU(d, hp), hn::Mul(x, b));
        hn::StoreU(v, d, hp);
        if constexpr (OUT) y = hn::MulAdd(CVAR ? hn::Set(d, Cp[t * N + n]) : hn::LoadU(d, Cp + n * W + j), v, y);
      }
      if constexpr (OUT) hn::StoreU(y, d, yT + t * W + j);
    }
  }
}

// Complex A, one channel, the N states in lanes. B_t = Bp + t*bts (bts = 0 for fixed B), same
// for C. Sin/Cos are specified on |x| <= 39000: a vector with a larger phase dt*Im(A) takes the
// C library for its lanes.
template <class T, bool OUT>
HWY_INLINE void complex_block(int N, int nb, const T* dtv, const T* dtu, const T* A, const T* Bp,
                              std::ptrdiff_t bts, const T* Cp, std::ptrdiff_t cts, T* h, T* y) {
  const hn::CappedTag<T, 64> d;
  const int L = static_cast<int>(hn::Lanes(d));
  const int Nv = N / L * L;
  const T* Ar = A;
  const T* Ai = A + N;
  T* hr = h;
  T* hi = h + N;
  const auto kMaxPhase = hn::Set(d, T(39000));
  for (int t = 0; t < nb; ++t) {
    const T dts = dtv[t], xs = dtu[t];
    const auto dt = hn::Set(d, dts), x = hn::Set(d, xs);
    const T* Br = Bp + t * bts;
    const T* Bi = Br + N;
    const T* Cr = Cp + t * cts;
    const T* Ci = Cr + N;
    auto acc = hn::Zero(d);
    for (int n = 0; n < Nv; n += L) {
      const auto m = ExpV(d, hn::Mul(dt, hn::LoadU(d, Ar + n)));
      const auto th = hn::Mul(dt, hn::LoadU(d, Ai + n));
      hn::Vec<decltype(d)> c, s;
      if (HWY_LIKELY(hn::AllTrue(d, hn::Le(hn::Abs(th), kMaxPhase)))) {
        c = hn::Cos(d, th);
        s = hn::Sin(d, th);
      } else {
        HWY_ALIGN T tb[64], cb[64], sb[64];
        hn::Store(th, d, tb);
        for (int l = 0; l < L; ++l) {
          cb[l] = std::cos(tb[l]);
          sb[l] = std::sin(tb[l]);
        }
        c = hn::Load(d, cb);
        s = hn::Load(d, sb);
      }
      const auto ar = hn::Mul(m, c), ai = hn::Mul(m, s);
      const auto hr0 = hn::LoadU(d, hr + n), hi0 = hn::LoadU(d, hi + n);
      const auto nr = hn::MulAdd(x, hn::LoadU(d, Br + n), hn::NegMulAdd(ai, hi0, hn::Mul(ar, hr0)));
      const auto ni = hn::MulAdd(x, hn::LoadU(d, Bi + n), hn::MulAdd(ai, hr0, hn::Mul(ar, hi0)));
      hn::StoreU(nr, d, hr + n);
      hn::StoreU(ni, d, hi + n);
      if constexpr (OUT) acc = hn::MulAdd(hn::LoadU(d, Cr + n), nr, hn::NegMulAdd(hn::LoadU(d, Ci + n), ni, acc));
    }
    T accs = OUT ? hn::GetLane(hn::SumOfLanes(d, acc)) : T(0);
    for (int n = Nv; n < N; ++n) {  // the remainder lanes, same formulas in scalar
      const T m = std::exp(dts * Ar[n]);
      const T th = dts * Ai[n];
      const T ar = m * std::cos(th), ai = m * std::sin(th);
      const T nr = ar * hr[n] - ai * hi[n] + xs * Br[n];
      const T ni = ar * hi[n] + ai * hr[n] + xs * Bi[n];
      hr[n] = nr;
      hi[n] = ni;
      if constexpr (OUT) accs += Cr[n] * nr - Ci[n] * ni;
    }
    if constexpr (OUT) y[t] = T(2) * accs;
  }
}

// dt (bias, softplus) of channel d over the block into dtv, u into uv.
template <class T>
HWY_INLINE void load_dt_u(const Ctx<T>& c, std::ptrdiff_t b, int d, int tb, int nb, T* dtv, T* uv) {
  const SelectiveScanArgs<T>& a = *c.a;
  const T* up = a.u + c.su.offset(b, d, tb);
  const T* dp = a.delta + c.sd.offset(b, d, tb);
  const std::ptrdiff_t usl = c.su.l, dsl = c.sd.l;
  const T bias = a.delta_bias ? a.delta_bias[d] : T(0);
  for (int t = 0; t < nb; ++t) {
    uv[t] = up[t * usl];
    dtv[t] = dp[t * dsl] + bias;
  }
  if (a.delta_softplus) softplus_block(dtv, nb);
}

// out = (y + D u) * silu(z) for channel d over the block; yv holds y, uv holds u.
template <class T>
HWY_INLINE void write_out(const Ctx<T>& c, std::ptrdiff_t b, int d, int tb, int nb, T* yv, const T* uv, T* zv) {
  const SelectiveScanArgs<T>& a = *c.a;
  const T* zs = nullptr;
  if (a.z) {
    const T* zp = a.z + c.sz.offset(b, d, tb);
    for (int t = 0; t < nb; ++t) zv[t] = zp[t * c.sz.l];
    zs = zv;
  }
  gate_block(yv, uv, a.D ? a.D[d] : T(0), zs, nb);
  T* op = a.out + c.so.offset(b, d, tb);
  for (int t = 0; t < nb; ++t) op[t * c.so.l] = yv[t];
}

// ---- one task, real A: channels in lanes -----------------------------------------------------
template <class T, bool BVAR, bool CVAR>
HWY_INLINE void run_task_lanes(const Ctx<T>& c, const Task& k, Scratch<T>& s) {
  constexpr int W = kLanes;
  const SelectiveScanArgs<T>& a = *c.a;
  const int N = c.N, L = a.length;
  const int g = k.d0 / c.Dg;
  const int ngroups = (k.d1 - k.d0 + W - 1) / W;
  const std::ptrdiff_t b = k.b;

  // Start states -> lane layout h[group][n][lane]; padding lanes stay zero (dt = 0 keeps them).
  for (int lg = 0; lg < ngroups; ++lg) {
    T* h = s.hL.data() + static_cast<std::ptrdiff_t>(lg) * N * W;
    for (int l = 0; l < W; ++l) {
      const int d = k.d0 + lg * W + l;
      const std::ptrdiff_t hoff = (b * a.dim + d) * N;
      for (int n = 0; n < N; ++n) {
        T v = T(0);
        if (d < k.d1) {
          if (k.start == Start::h0 && a.h0 != nullptr) v = a.h0[hoff + n];
          else if (k.start == Start::buffer) v = c.chunk_state[c.chunk_index(k.b, d, k.k - 1) * N + n];
        }
        h[n * W + l] = v;
      }
    }
  }
  if (c.chunk_sumdt)
    for (int d = k.d0; d < k.d1; ++d) c.chunk_sumdt[c.chunk_index(k.b, d, k.k)] = 0;

  const T* Bvar = BVAR ? a.B + (b * c.G + g) * N * L : nullptr;
  const T* Cvar = CVAR ? a.C + (b * c.G + g) * N * L : nullptr;

  for (int tb = k.t0; tb < k.t1; tb += kBlock) {
    const int nb = std::min(kBlock, k.t1 - tb);
    auto transpose = [&](const T* src, T* dst) {
      for (int n = 0; n < N; ++n) {
        const T* row = src + static_cast<std::ptrdiff_t>(n) * L + tb;
        for (int t = 0; t < nb; ++t) dst[t * N + n] = row[t];
      }
    };
    if constexpr (BVAR) transpose(Bvar, s.Bt.data());
    if constexpr (CVAR) if (k.write_out) transpose(Cvar, s.Ct.data());

    for (int lg = 0; lg < ngroups; ++lg) {
      const int dbase = k.d0 + lg * W;
      // Per lane: dt and dt*u over the block, scattered into the [t][lane] layout; per-lane A
      // and fixed B / C into [n][lane].
      for (int l = 0; l < W; ++l) {
        const int d = dbase + l;
        if (d >= k.d1) {
          for (int t = 0; t < nb; ++t) s.dtT[t * W + l] = s.dtuT[t * W + l] = T(0);
          for (int n = 0; n < N; ++n) s.AT[n * W + l] = s.BT[n * W + l] = s.CT[n * W + l] = T(0);
          continue;
        }
        // The rows of 16+ channels are read a block at a time: too many streams for the
        // hardware prefetcher, so fetch this channel's next block of u, delta, z now.
        const int next = std::min(kBlock, k.t1 - tb - nb);
        if (next > 0) {
          const T* up = a.u + c.su.offset(b, d, tb);
          const T* dp = a.delta + c.sd.offset(b, d, tb);
          constexpr int kLine = 64 / static_cast<int>(sizeof(T));
          for (int t = 0; t < next; t += kLine) {
            hwy::Prefetch(up + (nb + t) * c.su.l);
            hwy::Prefetch(dp + (nb + t) * c.sd.l);
            if (a.z) hwy::Prefetch(a.z + c.sz.offset(b, d, tb + nb + t));
          }
        }
        T* dtv = s.dtv.data();
        T* uv = s.uL.data() + l * kBlock;  // kept for the gate
        T* dtu = s.dtu.data();
        load_dt_u(c, b, d, tb, nb, dtv, uv);
        mul_block(dtv, uv, dtu, nb);
        for (int t = 0; t < nb; ++t) {
          s.dtT[t * W + l] = dtv[t];
          s.dtuT[t * W + l] = dtu[t];
        }
        if (c.chunk_sumdt) {
          double sdt = 0;
          for (int t = 0; t < nb; ++t) sdt += static_cast<double>(dtv[t]);
          c.chunk_sumdt[c.chunk_index(k.b, d, k.k)] += sdt;
        }
        const T* Ad = a.A + static_cast<std::ptrdiff_t>(d) * N;
        for (int n = 0; n < N; ++n) s.AT[n * W + l] = Ad[n];
        if constexpr (!BVAR)
          for (int n = 0; n < N; ++n) s.BT[n * W + l] = a.B[static_cast<std::ptrdiff_t>(d) * N + n];
        if constexpr (!CVAR)
          for (int n = 0; n < N; ++n) s.CT[n * W + l] = a.C[static_cast<std::ptrdiff_t>(d) * N + n];
      }
      T* h = s.hL.data() + static_cast<std::ptrdiff_t>(lg) * N * W;
      const T* Bp = BVAR ? s.Bt.data() : s.BT.data();
      const T* Cp = CVAR ? s.Ct.data() : s.CT.data();
      if (!k.write_out) {
        lanes_block<T, BVAR, CVAR, false>(N, nb, s.dtT.data(), s.dtuT.data(), s.AT.data(), Bp, Cp, h, s.yT.data());
        continue;
      }
      lanes_block<T, BVAR, CVAR, true>(N, nb, s.dtT.data(), s.dtuT.data(), s.AT.data(), Bp, Cp, h, s.yT.data());
      for (int l = 0; l < W && dbase + l < k.d1; ++l) {
        const int d = dbase + l;
        T* yv = s.yv.data();
        for (int t = 0; t < nb; ++t) yv[t] = s.yT[t * W + l];
        write_out(c, b, d, tb, nb, yv, s.uL.data() + l * kBlock, s.dtv.data());
      }
    }
  }

  // End states.
  for (int lg = 0; lg < ngroups; ++lg) {
    const T* h = s.hL.data() + static_cast<std::ptrdiff_t>(lg) * N * W;
    for (int l = 0; l < W; ++l) {
      const int d = k.d0 + lg * W + l;
      if (d >= k.d1) break;
      if (k.end == End::buffer) {
        T* dst = c.chunk_state + c.chunk_index(k.b, d, k.k) * N;
        for (int n = 0; n < N; ++n) dst[n] = h[n * W + l];
      } else if (k.end == End::last_state && a.last_state != nullptr) {
        T* dst = a.last_state + (b * a.dim + d) * N;
        for (int n = 0; n < N; ++n) dst[n] = h[n * W + l];
      }
    }
  }
}

// ---- one task, complex A: the states of one channel in lanes ---------------------------------
template <class T>
HWY_INLINE void run_task_complex(const Ctx<T>& c, const Task& k, Scratch<T>& s) {
  const SelectiveScanArgs<T>& a = *c.a;
  const int N = c.N, NS = c.NS, L = a.length;
  const int g = k.d0 / c.Dg;

  // Start states of the tile's channels (split form).
  for (int d = k.d0; d < k.d1; ++d) {
    T* h = s.hs.data() + static_cast<std::ptrdiff_t>(d - k.d0) * NS;
    const std::ptrdiff_t hoff = (static_cast<std::ptrdiff_t>(k.b) * a.dim + d) * N;
    if (k.start == Start::h0 && a.h0 != nullptr) {
      for (int n = 0; n < N; ++n) {
        h[n] = a.h0[2 * (hoff + n)];
        h[N + n] = a.h0[2 * (hoff + n) + 1];
      }
    } else if (k.start == Start::buffer) {
      const T* src = c.chunk_state + c.chunk_index(k.b, d, k.k - 1) * NS;
      for (int n = 0; n < NS; ++n) h[n] = src[n];
    } else {
      for (int n = 0; n < NS; ++n) h[n] = T(0);
    }
  }
  // Chunked mode, phase 1: sum of dt over the chunk per channel (index (b, d, k)).
  const std::ptrdiff_t sumdt_idx0 = c.chunk_sumdt ? c.chunk_index(k.b, k.d0, k.k) : 0;
  for (int d = k.d0; d < k.d1 && c.chunk_sumdt; ++d) c.chunk_sumdt[sumdt_idx0 + (d - k.d0) * c.K] = 0;

  const T* Bvar = a.B_variable ? a.B + (static_cast<std::ptrdiff_t>(k.b) * c.G + g) * N * L * 2 : nullptr;
  const T* Cvar = a.C_variable ? a.C + (static_cast<std::ptrdiff_t>(k.b) * c.G + g) * N * L * 2 : nullptr;

  for (int tb = k.t0; tb < k.t1; tb += kBlock) {
    const int nb = std::min(kBlock, k.t1 - tb);
    // Transpose the group's variable B / C block: (n, t) -> (t, n), split re/im.
    auto transpose = [&](const T* src, T* dst) {
      for (int n = 0; n < N; ++n) {
        const T* row = src + (static_cast<std::ptrdiff_t>(n) * L + tb) * 2;
        for (int t = 0; t < nb; ++t) {
          dst[t * NS + n] = row[2 * t];
          dst[t * NS + N + n] = row[2 * t + 1];
        }
      }
    };
    if (Bvar) transpose(Bvar, s.Bt.data());
    if (Cvar && k.write_out) transpose(Cvar, s.Ct.data());

    for (int d = k.d0; d < k.d1; ++d) {
      T* h = s.hs.data() + static_cast<std::ptrdiff_t>(d - k.d0) * NS;
      const std::ptrdiff_t b = k.b;
      T* dtv = s.dtv.data();
      T* dtu = s.dtu.data();
      T* uv = s.uv.data();
      load_dt_u(c, b, d, tb, nb, dtv, uv);
      mul_block(dtv, uv, dtu, nb);
      if (c.chunk_sumdt) {
        double sdt = 0;
        for (int t = 0; t < nb; ++t) sdt += static_cast<double>(dtv[t]);
        c.chunk_sumdt[sumdt_idx0 + (d - k.d0) * c.K] += sdt;
      }
      // Per-channel parameters in split form: A, fixed B / C.
      const std::ptrdiff_t off = static_cast<std::ptrdiff_t>(d) * N * 2;
      for (int n = 0; n < N; ++n) {
        s.Af[n] = a.A[off + 2 * n];
        s.Af[N + n] = a.A[off + 2 * n + 1];
        if (!Bvar) { s.Bf[n] = a.B[off + 2 * n]; s.Bf[N + n] = a.B[off + 2 * n + 1]; }
        if (!Cvar) { s.Cf[n] = a.C[off + 2 * n]; s.Cf[N + n] = a.C[off + 2 * n + 1]; }
      }
      const T* Bp = Bvar ? s.Bt.data() : s.Bf.data();
      const T* Cp = Cvar ? s.Ct.data() : s.Cf.data();
      const std::ptrdiff_t bts = Bvar ? NS : 0, cts = Cvar ? NS : 0;
      T* yv = s.yv.data();
      if (k.write_out) {
        complex_block<T, true>(N, nb, dtv, dtu, s.Af.data(), Bp, bts, Cp, cts, h, yv);
        write_out(c, b, d, tb, nb, yv, uv, s.dtu.data());  // dt*u is no longer needed
      } else {
        complex_block<T, false>(N, nb, dtv, dtu, s.Af.data(), Bp, bts, Cp, cts, h, yv);
      }
    }
  }

  // End states.
  for (int d = k.d0; d < k.d1; ++d) {
    const T* h = s.hs.data() + static_cast<std::ptrdiff_t>(d - k.d0) * NS;
    if (k.end == End::buffer) {
      T* dst = c.chunk_state + c.chunk_index(k.b, d, k.k) * NS;
      for (int n = 0; n < NS; ++n) dst[n] = h[n];
    } else if (k.end == End::last_state && a.last_state != nullptr) {
      const std::ptrdiff_t hoff = (static_cast<std::ptrdiff_t>(k.b) * a.dim + d) * N;
      for (int n = 0; n < N; ++n) {
        a.last_state[2 * (hoff + n)] = h[n];
        a.last_state[2 * (hoff + n) + 1] = h[N + n];
      }
    }
  }
}

template <class T>
HWY_INLINE void run_task_any(const Ctx<T>& c, const Task& k, Scratch<T>& s) {
  if (c.cplx) return run_task_complex<T>(c, k, s);
  const bool bv = c.a->B_variable, cv = c.a->C_variable;
  if (bv && cv) run_task_lanes<T, true, true>(c, k, s);
  else if (bv) run_task_lanes<T, true, false>(c, k, s);
  else if (cv) run_task_lanes<T, false, true>(c, k, s);
  else run_task_lanes<T, false, false>(c, k, s);
}

}  // namespace ssm::detail::sscan::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
