#pragma once
// The time-invariant complex diagonal recurrence (S4D scan mode, FORMAT.md `diag_filter`) as a
// register-resident sequential scan: one thread keeps MPT complex modes of one (batch, channel)
// in registers and walks time; G = modes / MPT adjacent lanes share a channel, and their
// partial read-outs of a tile are summed from shared memory when it is stored. Time is cut
// into chunks when batch x channels alone
// cannot fill the GPU: pass 1 (kWriteY = false) runs each chunk but the last from a zero state
// and stores its end state E_k; pass 2 (kWriteY = true) starts chunk k from
//   S_k = P S_{k-1} + E_{k-1},  S_0 = h0 (or 0),  P = Ad^chunk_len   (complex, per mode)
// and writes y. Both passes read u through a shared-memory tile (channels x TT steps) loaded and
// stored in the order the strides make contiguous, so (B, H, L) and (B, L, H) layouts are both
// read and written coalesced.
//
// Folded coordinates (kUnit): without h0 the state is kept as x' with x = Bd x', so the
// recurrence is x' = Ad x' + u (4 FMA-pipe instructions a mode-step) and the read-out uses
// c = C Bd (2 more); the last state is converted back (x = Bd x'). With h0 the true state is
// kept (x = Ad x + Bd u, c = C: 6 + 2 instructions).
#include <cuda_runtime.h>

#include <cstddef>

namespace ssm::detail::lti {

template <class T>
struct Params {
  int batch, channels, modes, length;
  int chunk_len, n_chunks;
  const T* u;
  long long su_b, su_d, su_l;
  T* y;
  long long so_b, so_d, so_l;
  // (channels, modes, 2) each: Ad; b (Bd; unused when folded); c (C Bd folded, C otherwise);
  // P = Ad^chunk_len; bl (Bd, to convert the folded last state).
  const T *Ad, *Bc, *Cc, *P;
  const T* D;          // (channels) or null
  T* E;                // (batch, n_chunks, channels, modes, 2) chunk end states (pass 1 writes)
  const T* h0;         // (batch, channels, modes, 2) or null (only with !kUnit)
  T* last_state;       // (batch, channels, modes, 2) or null
};

constexpr int kThreads = 128;  // a block: CH = kThreads / G channels of G lanes
/// Time steps a shared-memory tile.
template <class T>
constexpr int kTT = sizeof(T) == 4 ? 32 : 16;

/// Dynamic shared memory of a block with G lanes a channel: two u tiles (CH x (TT + 1), double
/// buffered: the next tile's cp.async copies fly while this one is scanned) and the partial
/// read-outs (kThreads x (TT + 1)).
template <class T>
constexpr std::size_t smem_bytes(int G) {
  return sizeof(T) * (2 * static_cast<std::size_t>(kThreads / G) + kThreads) * (kTT<T> + 1);
}

template <class T>
__device__ __forceinline__ void cp_async_elem(T* dst, const T* src) {
  const unsigned d = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  if constexpr (sizeof(T) == 4)
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"(d), "l"(src) : "memory");
  else
    asm volatile("cp.async.ca.shared.global [%0], [%1], 8;\n" ::"r"(d), "l"(src) : "memory");
}

template <class T, int MPT, bool kUnit, bool kWriteY>
__global__ void __launch_bounds__(kThreads) scan_kernel(Params<T> p, int log2G) {
  constexpr int TT = kTT<T>, PITCH = TT + 1;
  const int G = 1 << log2G, CH = kThreads >> log2G;
  // us[buf][c][tt] = smem[(buf CH + c) PITCH + tt]; yp[tid][tt] (each thread's partial read-out
  // of every step of the tile, its MPT modes, summed over the channel's G lanes when the tile is
  // stored: no shuffles and no per-step dependency beyond the state recurrence itself).
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* const smem = reinterpret_cast<T*>(smem_raw);
  T* const yp = smem + 2 * CH * PITCH;
  const int tid = threadIdx.x;
  const int cl = tid >> log2G, g = tid & (G - 1);
  const int h0c = blockIdx.x * CH;
  const int h = h0c + cl;
  const int b = blockIdx.y, k = blockIdx.z;
  const bool live = h < p.channels;
  const int hh = live ? h : p.channels - 1;
  const long long t0 = static_cast<long long>(k) * p.chunk_len;
  const long long t1 = min(static_cast<long long>(p.length), t0 + p.chunk_len);
  if (!kWriteY && k == p.n_chunks - 1) return;  // the last chunk's end state is not carried

  T ar[MPT], ai[MPT], br[MPT], bi[MPT], cr[MPT], ci[MPT], xr[MPT], xi[MPT];
#pragma unroll
  for (int j = 0; j < MPT; ++j) {
    const int n = g * MPT + j;
    const bool on = live && n < p.modes;
    const long long q = 2 * (static_cast<long long>(hh) * p.modes + (on ? n : 0));
    ar[j] = on ? p.Ad[q] : T(0);
    ai[j] = on ? p.Ad[q + 1] : T(0);
    cr[j] = on ? p.Cc[q] : T(0);
    ci[j] = on ? p.Cc[q + 1] : T(0);
    if constexpr (!kUnit) {
      br[j] = on ? p.Bc[q] : T(0);
      bi[j] = on ? p.Bc[q + 1] : T(0);
    } else {
      br[j] = bi[j] = T(0);
    }
    // Start state: S_0 = h0 (or 0), then S = P S + E_j over the chunks before this one.
    T sr = T(0), si = T(0);
    if (on && p.h0 && kWriteY) {  // pass 1 runs every chunk from zero
      const long long s = 2 * ((static_cast<long long>(b) * p.channels + hh) * p.modes + n);
      sr = p.h0[s];
      si = p.h0[s + 1];
    }
    if (on && kWriteY && k > 0) {
      const T pr = p.P[q], pi = p.P[q + 1];
      for (int c = 0; c < k; ++c) {
        const long long e =
            2 * (((static_cast<long long>(b) * p.n_chunks + c) * p.channels + hh) * p.modes + n);
        const T nr = pr * sr - pi * si + p.E[e];
        const T ni = pr * si + pi * sr + p.E[e + 1];
        sr = nr;
        si = ni;
      }
    }
    xr[j] = sr;
    xi[j] = si;
  }
  const T* ub = p.u + b * p.su_b;
  T* yb = p.y + b * p.so_b;
  const bool time_major_u = p.su_l == 1, time_major_y = p.so_l == 1;

  auto issue = [&](long long tb, int buf) {
    const int len = static_cast<int>(min(static_cast<long long>(TT), t1 - tb));
    T* us = smem + buf * CH * PITCH;
    for (int i = tid; i < CH * TT; i += kThreads) {
      const int c = time_major_u ? i / TT : i % CH, tt = time_major_u ? i % TT : i / CH;
      if (tt < len && h0c + c < p.channels) cp_async_elem(us + c * PITCH + tt, ub + (h0c + c) * p.su_d + (tb + tt) * p.su_l);
    }
    asm volatile("cp.async.commit_group;\n" ::: "memory");
  };
  // One step of this lane's modes on input uu; returns its partial read-out.
  auto step = [&](const T uu) -> T {
    {
      T y0 = T(0), y1 = T(0);
#pragma unroll
      for (int j = 0; j < MPT; ++j) {
        T nr, ni;
        if constexpr (kUnit) {
          nr = fma(ar[j], xr[j], fma(-ai[j], xi[j], uu));
          ni = fma(ar[j], xi[j], ai[j] * xr[j]);
        } else {
          nr = fma(ar[j], xr[j], fma(-ai[j], xi[j], br[j] * uu));
          ni = fma(ar[j], xi[j], fma(ai[j], xr[j], bi[j] * uu));
        }
        xr[j] = nr;
        xi[j] = ni;
        if constexpr (kWriteY) {
          if (j & 1) {
            y1 = fma(cr[j], nr, y1);
            y1 = fma(-ci[j], ni, y1);
          } else {
            y0 = fma(cr[j], nr, y0);
            y0 = fma(-ci[j], ni, y0);
          }
        }
      }
      return y0 + y1;
    }
  };
  issue(t0, 0);
  int buf = 0;
  for (long long tb = t0; tb < t1; tb += TT, buf ^= 1) {
    const int len = static_cast<int>(min(static_cast<long long>(TT), t1 - tb));
    asm volatile("cp.async.wait_all;\n" ::: "memory");
    // Tile `buf` is in; every thread finished the previous tile (scan and store), so the other
    // buffer and yp may be written again.
    __syncthreads();
    if (tb + TT < t1) issue(tb + TT, buf ^ 1);
    const T* us = smem + buf * CH * PITCH;
    const T* usr = us + cl * PITCH;
    if (len == TT) {
      // Groups of 8 steps: the 8 inputs are read before and the 8 read-outs written after the
      // group, so no shared-memory access sits between two steps (warps issue in order, and a
      // load after a store to the same array could not move ahead of it).
      for (int t8 = 0; t8 < TT; t8 += 8) {
        T uv[8], yv[8];
#pragma unroll
        for (int e = 0; e < 8; ++e) uv[e] = usr[t8 + e];
#pragma unroll
        for (int e = 0; e < 8; ++e) yv[e] = step(uv[e]);
        if constexpr (kWriteY) {
#pragma unroll
          for (int e = 0; e < 8; ++e) yp[tid * PITCH + t8 + e] = yv[e];
        }
      }
    } else {
      for (int tt = 0; tt < len; ++tt) {
        const T yv = step(usr[tt]);
        if constexpr (kWriteY) yp[tid * PITCH + tt] = yv;
      }
    }
    if constexpr (kWriteY) {
      __syncthreads();
      for (int i = tid; i < CH * TT; i += kThreads) {
        const int c = time_major_y ? i / TT : i % CH, tt = time_major_y ? i % TT : i / CH;
        if (tt < len && h0c + c < p.channels) {
          T ysum = T(0);
          for (int q = 0; q < G; ++q) ysum += yp[(c * G + q) * PITCH + tt];
          const T dch = p.D ? p.D[h0c + c] : T(0);
          yb[(h0c + c) * p.so_d + (tb + tt) * p.so_l] = T(2) * ysum + dch * us[c * PITCH + tt];
        }
      }
    }
  }

#pragma unroll
  for (int j = 0; j < MPT; ++j) {
    const int n = g * MPT + j;
    if (!live || n >= p.modes) continue;
    if (!kWriteY) {
      const long long e =
          2 * (((static_cast<long long>(b) * p.n_chunks + k) * p.channels + h) * p.modes + n);
      p.E[e] = xr[j];
      p.E[e + 1] = xi[j];
    } else if (p.last_state && k == p.n_chunks - 1) {
      const long long s = 2 * ((static_cast<long long>(b) * p.channels + h) * p.modes + n);
      T lr = xr[j], li = xi[j];
      if constexpr (kUnit) {
        // x = Bd x' (Bd read from Bc, which the host fills with Bd in both codings).
        const long long q = 2 * (static_cast<long long>(h) * p.modes + n);
        const T qr = p.Bc[q], qi = p.Bc[q + 1];
        lr = qr * xr[j] - qi * xi[j];
        li = qr * xi[j] + qi * xr[j];
      }
      p.last_state[s] = lr;
      p.last_state[s + 1] = li;
    }
  }
}

}  // namespace ssm::detail::lti
