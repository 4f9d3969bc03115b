// Bidirectional selective scan on the CPU (include/ssm/scan/bidirectional_scan.hpp).
//
// Work decomposition: task = (batch b, a tile of channels [d0, d1) inside one B/C group).
// A task runs both directions of its channels on one thread, so the merge needs no
// synchronization and is deterministic:
//   pass 0 (forward in time)   out[t] = y_0,t + D_0 u_0,t                       (raw partial)
//   pass 1 (backward in time)  out[t] = out_scale (out[t] + y_1,t + D_1 u_1,t) silu(z_t)
// The tile's rows of out stay in cache between the passes. Each pass walks its steps
// j = 0..L-1 in blocks of kBlock; step j of direction k is time t = j (k = 0) or L-1-j
// (k = 1): per block the inputs are gathered through that index map into step-ordered
// scratch (B/C of the group transposed to [j][n]; dt, dt*u of kLanes channels to [j][lane]),
// the recurrence runs over the block with the channels in SIMD lanes (no horizontal sums),
// and the outputs are scattered back through the same map. Nothing is flipped as a whole.
// The vector exp / softplus / silu and the ISA dispatch are those of the selective scan
// (core/activations.hpp).
#include "ssm/scan/bidirectional_scan.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "backend/bidirectional_scan_cuda.hpp"
#include "core/activations.hpp"
#include "core/isa.hpp"
#include "core/dispatch.hpp"
#include "ssm/core/error.hpp"

namespace ssm {

namespace {
constexpr const char* kWhere = "bidirectional_selective_scan";

void check_strides(const Strides3& s, const char* name, bool output, int batch, int dim, int length) {
  require(s.b >= 0 && s.d >= 0 && s.l >= 0, kWhere, name, "strides must be non-negative, got (", s.b,
          ", ", s.d, ", ", s.l, ")");
  if (output && !s.is_default())
    require((s.b > 0 || batch == 1) && (s.d > 0 || dim == 1) && (s.l > 0 || length == 1), kWhere,
            name, "is an output: a zero stride along an axis of size > 1 would write one element "
                  "twice, got strides (", s.b, ", ", s.d, ", ", s.l, ")");
}
}  // namespace

template <class T>
void BidirectionalScanArgs<T>::validate() const {
  const char* w = kWhere;
  require(batch >= 1, w, "batch", "must be >= 1, got ", batch);
  require(dim >= 1, w, "dim", "must be >= 1, got ", dim);
  require(dstate >= 1, w, "dstate", "must be >= 1, got ", dstate);
  require(length >= 1, w, "length", "must be >= 1, got ", length);
  require(groups >= 1 && dim % groups == 0, w, "groups", "must be >= 1 and divide dim = ", dim, ", got ",
          groups);
  static const char* const names[2][8] = {
      {"dir[0].u", "dir[0].delta", "dir[0].A", "dir[0].B", "dir[0].C", "dir[0].u_strides", "dir[0].delta_strides", ""},
      {"dir[1].u", "dir[1].delta", "dir[1].A", "dir[1].B", "dir[1].C", "dir[1].u_strides", "dir[1].delta_strides", ""}};
  for (int k = 0; k < 2; ++k) {
    const auto& d = dir[k];
    require(d.u != nullptr, w, names[k][0], "must not be null");
    require(d.delta != nullptr, w, names[k][1], "must not be null");
    require(d.A != nullptr, w, names[k][2], "must not be null");
    require(d.B != nullptr, w, names[k][3], "must not be null");
    require(d.C != nullptr, w, names[k][4], "must not be null");
    check_strides(d.u_strides, names[k][5], false, batch, dim, length);
    check_strides(d.delta_strides, names[k][6], false, batch, dim, length);
  }
  require(out != nullptr, w, "out", "must not be null");
  require(std::isfinite(static_cast<double>(out_scale)), w, "out_scale", "must be finite, got ",
          static_cast<double>(out_scale));
  check_strides(z_strides, "z_strides", false, batch, dim, length);
  check_strides(out_strides, "out_strides", true, batch, dim, length);
}

template struct BidirectionalScanArgs<float>;
template struct BidirectionalScanArgs<double>;

namespace {

using namespace detail::math;

constexpr int kBlock = 64;  // steps per block
constexpr int kLanes = 16;  // channels in SIMD lanes

template <class T>
struct Ctx {
  const BidirectionalScanArgs<T>* a;
  Strides3 su[2], sd[2], sz, so;
  int N, Dg;
};

template <class T>
struct Scratch {
  std::vector<T> Bt, Ct, dtT, dtuT, yT, AT, hL, dtv, uv, zv;
  void init(int N, int tile) {
    const int lg = (tile + kLanes - 1) / kLanes;
    Bt.assign(std::size_t(kBlock) * N, T(0));
    Ct.assign(std::size_t(kBlock) * N, T(0));
    dtT.assign(std::size_t(kBlock) * kLanes, T(0));
    dtuT.assign(std::size_t(kBlock) * kLanes, T(0));
    yT.assign(std::size_t(kBlock) * kLanes, T(0));
    AT.assign(std::size_t(N) * kLanes, T(0));
    hL.assign(std::size_t(lg) * N * kLanes, T(0));
    dtv.assign(kBlock, T(0));
    uv.assign(kBlock, T(0));
    zv.assign(kBlock, T(0));
  }
};

// The recurrence over one block of nb steps, kLanes channels in lanes:
//   h[n][l] = exp(dt[j][l] A[n][l]) h[n][l] + dtu[j][l] B[j][n];  y[j][l] = sum_n C[j][n] h[n][l].
template <class T>
SSM_ALWAYS_INLINE void lanes_block(int N, int nb, const T* dtT, const T* dtuT, const T* AT, const T* Bt,
                                 const T* Ct, T* h, T* yT) noexcept {
  constexpr int W = kLanes;
  for (int j = 0; j < nb; ++j) {
    const T* dt = dtT + j * W;
    const T* x = dtuT + j * W;
    T y[W];
    for (int l = 0; l < W; ++l) y[l] = T(0);
    for (int n = 0; n < N; ++n) {
      T* hn = h + n * W;
      const T* an = AT + n * W;
      const T b = Bt[j * N + n], c = Ct[j * N + n];
#pragma omp simd
      for (int l = 0; l < W; ++l) {
        const T v = exp_t(dt[l] * an[l]) * hn[l] + x[l] * b;
        hn[l] = v;
        y[l] += c * v;
      }
    }
    for (int l = 0; l < W; ++l) yT[j * W + l] = y[l];
  }
}

/// One direction of one task. REV: direction 1 (step j reads time L-1-j).
template <class T, bool REV>
SSM_ALWAYS_INLINE void run_direction(const Ctx<T>& c, int b, int d0, int d1, Scratch<T>& s) noexcept {
  constexpr int W = kLanes;
  constexpr int k = REV ? 1 : 0;
  const BidirectionalScanArgs<T>& a = *c.a;
  const BidirectionalScanDirection<T>& dr = a.dir[k];
  const int N = c.N, L = a.length;
  const int g = d0 / c.Dg;
  const int ngroups = (d1 - d0 + W - 1) / W;
  const std::ptrdiff_t bb = b;
  const Strides3 su = c.su[k], sd = c.sd[k], sz = c.sz, so = c.so;
  auto time_of = [L](int j) { return REV ? L - 1 - j : j; };

  for (int lg = 0; lg < ngroups; ++lg) {
    T* h = s.hL.data() + std::ptrdiff_t(lg) * N * W;
    for (int l = 0; l < W; ++l) {
      const int d = d0 + lg * W + l;
      const std::ptrdiff_t hoff = (bb * a.dim + d) * N;
      for (int n = 0; n < N; ++n) h[n * W + l] = (d < d1 && dr.h0) ? dr.h0[hoff + n] : T(0);
    }
  }
  const T* Bg = dr.B + (bb * a.groups + g) * N * L;
  const T* Cg = dr.C + (bb * a.groups + g) * N * L;

  for (int j0 = 0; j0 < L; j0 += kBlock) {
    const int nb = std::min(kBlock, L - j0);
    // B, C of the group in step order: Bt[j][n] = B[n][time_of(j0 + j)].
    for (int n = 0; n < N; ++n) {
      const T* br = Bg + std::ptrdiff_t(n) * L;
      const T* cr = Cg + std::ptrdiff_t(n) * L;
      for (int j = 0; j < nb; ++j) {
        const int t = time_of(j0 + j);
        s.Bt[j * N + n] = br[t];
        s.Ct[j * N + n] = cr[t];
      }
    }
    for (int lg = 0; lg < ngroups; ++lg) {
      const int dbase = d0 + lg * W;
      for (int l = 0; l < W; ++l) {
        const int d = dbase + l;
        if (d >= d1) {
          for (int j = 0; j < nb; ++j) s.dtT[j * W + l] = s.dtuT[j * W + l] = T(0);
          for (int n = 0; n < N; ++n) s.AT[n * W + l] = T(0);
          continue;
        }
        const T* up = dr.u + su.offset(bb, d, 0);
        const T* dp = dr.delta + sd.offset(bb, d, 0);
        const T bias = dr.delta_bias ? dr.delta_bias[d] : T(0);
        T* dtv = s.dtv.data();
        T* uv = s.uv.data();
        for (int j = 0; j < nb; ++j) {
          const std::ptrdiff_t t = time_of(j0 + j);
          uv[j] = up[t * su.l];
          dtv[j] = dp[t * sd.l] + bias;
        }
        if (a.delta_softplus) {
#pragma omp simd
          for (int j = 0; j < nb; ++j) dtv[j] = softplus(dtv[j]);
        }
        for (int j = 0; j < nb; ++j) {
          s.dtT[j * W + l] = dtv[j];
          s.dtuT[j * W + l] = dtv[j] * uv[j];
        }
        const T* Ad = dr.A + std::ptrdiff_t(d) * N;
        for (int n = 0; n < N; ++n) s.AT[n * W + l] = Ad[n];
      }
      T* h = s.hL.data() + std::ptrdiff_t(lg) * N * W;
      lanes_block<T>(N, nb, s.dtT.data(), s.dtuT.data(), s.AT.data(), s.Bt.data(), s.Ct.data(), h, s.yT.data());
      // The merge, fused into the output write.
      for (int l = 0; l < W && dbase + l < d1; ++l) {
        const int d = dbase + l;
        const T Dd = dr.D ? dr.D[d] : T(0);
        const T* up = dr.u + su.offset(bb, d, 0);
        T* op = a.out + so.offset(bb, d, 0);
        T* yv = s.dtv.data();
        T* uv = s.uv.data();
        for (int j = 0; j < nb; ++j) {
          yv[j] = s.yT[j * W + l];
          uv[j] = up[std::ptrdiff_t(time_of(j0 + j)) * su.l];
        }
#pragma omp simd
        for (int j = 0; j < nb; ++j) yv[j] += Dd * uv[j];
        if constexpr (!REV) {
          for (int j = 0; j < nb; ++j) op[std::ptrdiff_t(time_of(j0 + j)) * so.l] = yv[j];
        } else {
          // uv <- the partial of pass 0, then the gate
          for (int j = 0; j < nb; ++j) uv[j] = op[std::ptrdiff_t(time_of(j0 + j)) * so.l];
          const T sc = a.out_scale;
#pragma omp simd
          for (int j = 0; j < nb; ++j) yv[j] = sc * (uv[j] + yv[j]);
          if (a.z) {
            const T* zp = a.z + sz.offset(bb, d, 0);
            T* zv = s.zv.data();
            for (int j = 0; j < nb; ++j) zv[j] = zp[std::ptrdiff_t(time_of(j0 + j)) * sz.l];
#pragma omp simd
            for (int j = 0; j < nb; ++j) yv[j] *= silu(zv[j]);
          }
          for (int j = 0; j < nb; ++j) op[std::ptrdiff_t(time_of(j0 + j)) * so.l] = yv[j];
        }
      }
    }
  }

  if (dr.last_state)
    for (int lg = 0; lg < ngroups; ++lg) {
      const T* h = s.hL.data() + std::ptrdiff_t(lg) * N * W;
      for (int l = 0; l < W; ++l) {
        const int d = d0 + lg * W + l;
        if (d >= d1) break;
        T* dst = dr.last_state + (bb * a.dim + d) * N;
        for (int n = 0; n < N; ++n) dst[n] = h[n * W + l];
      }
    }
}

template <class T>
SSM_ALWAYS_INLINE void run_task_impl(const Ctx<T>& c, int b, int d0, int d1, Scratch<T>& s) noexcept {
  run_direction<T, false>(c, b, d0, d1, s);
  run_direction<T, true>(c, b, d0, d1, s);
}

#if defined(SSM_ISA_VARIANTS)
template <class T>
SSM_TARGET_AVX512 void run_task_avx512(const Ctx<T>& c, int b, int d0, int d1, Scratch<T>& s) noexcept {
  run_task_impl<T>(c, b, d0, d1, s);
}
template <class T>
SSM_TARGET_AVX2 void run_task_avx2(const Ctx<T>& c, int b, int d0, int d1, Scratch<T>& s) noexcept {
  run_task_impl<T>(c, b, d0, d1, s);
}
#endif
template <class T>
void run_task_base(const Ctx<T>& c, int b, int d0, int d1, Scratch<T>& s) noexcept {
  run_task_impl<T>(c, b, d0, d1, s);
}

template <class T>
using TaskFn = void (*)(const Ctx<T>&, int, int, int, Scratch<T>&) noexcept;

template <class T>
TaskFn<T> pick_task_fn() noexcept {
  if constexpr (std::is_same_v<T, float>) {
    const detail::Isa isa = detail::cpu_isa();
#if defined(SSM_ISA_VARIANTS)
    if (isa == detail::Isa::avx512) return &run_task_avx512<T>;
    if (isa == detail::Isa::avx2) return &run_task_avx2<T>;
#endif
    (void)isa;
    return &run_task_base<T>;
  } else {
    return &run_task_base<T>;  // float64: the precision path (C library exp)
  }
}

template <class T>
void scan_cpu(const BidirectionalScanArgs<T>& a, const BidirectionalScanCpuOptions& opts) {
  a.validate();
  require(opts.threads >= 0, kWhere, "opts.threads", "must be >= 0, got ", opts.threads);
  Ctx<T> c;
  c.a = &a;
  for (int k = 0; k < 2; ++k) {
    c.su[k] = a.dir[k].u_strides.resolved(a.dim, a.length);
    c.sd[k] = a.dir[k].delta_strides.resolved(a.dim, a.length);
  }
  c.sz = a.z_strides.resolved(a.dim, a.length);
  c.so = a.out_strides.resolved(a.dim, a.length);
  c.N = a.dstate;
  c.Dg = a.dim / a.groups;
  const int threads = opts.threads > 0 ? opts.threads : std::max(1, omp_get_max_threads());

  // Channel tile: at most 32, smaller while the team would get fewer than 4 tasks a thread.
  int tile = std::min(c.Dg, 32);
  auto n_tiles = [&](int t) { return static_cast<long long>(a.batch) * a.groups * ((c.Dg + t - 1) / t); };
  while (tile > 1 && n_tiles(tile) < 4LL * threads) tile = (tile + 1) / 2;
  struct Task { int b, d0, d1; };
  std::vector<Task> tasks;
  for (int b = 0; b < a.batch; ++b)
    for (int g = 0; g < a.groups; ++g)
      for (int d0 = g * c.Dg; d0 < (g + 1) * c.Dg; d0 += tile)
        tasks.push_back(Task{b, d0, std::min(d0 + tile, (g + 1) * c.Dg)});

  const TaskFn<T> fn = pick_task_fn<T>();
  const int nt = static_cast<int>(std::clamp<std::size_t>(tasks.size(), 1, threads));
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    Scratch<T> s;
    s.init(c.N, tile);
#pragma omp for schedule(dynamic, 1)
    for (std::ptrdiff_t i = 0; i < static_cast<std::ptrdiff_t>(tasks.size()); ++i) {
      const Task& t = tasks[static_cast<std::size_t>(i)];
      fn(c, t.b, t.d0, t.d1, s);
    }
  }
}

template <class T>
void entry(const BidirectionalScanArgs<T>& a, Device device) {
  if (device == Device::cuda) a.validate();  // the CPU path validates inside scan_cpu
  detail::dispatch(
      "bidirectional_selective_scan", device, [&] { scan_cpu(a, BidirectionalScanCpuOptions{}); },
      [&] { detail::bidirectional_scan_cuda(a); });
}

}  // namespace

void bidirectional_selective_scan(const BidirectionalScanArgs<float>& a, Device d) { entry(a, d); }
void bidirectional_selective_scan(const BidirectionalScanArgs<double>& a, Device d) { entry(a, d); }
void bidirectional_selective_scan_cpu(const BidirectionalScanArgs<float>& a, const BidirectionalScanCpuOptions& o) {
  scan_cpu(a, o);
}
void bidirectional_selective_scan_cpu(const BidirectionalScanArgs<double>& a, const BidirectionalScanCpuOptions& o) {
  scan_cpu(a, o);
}

}  // namespace ssm
