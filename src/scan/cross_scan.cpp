// The 2D cross-scan selective scan on the CPU (include/ssm/scan/cross_scan.hpp).
//
// Fused: task = (batch b, a lane group of W channels c0 .. c0+W-1 of one direction's dim),
// W = 64 bytes of T (16 floats, 8 doubles). A task runs the four directions in turn; for
// direction k it walks the steps in blocks of kBlock: gathers u, delta (+ bias, softplus) of
// the block's positions pos_k(l) into [t][lane] tiles and B_k, C_k into [t][n], runs the
// recurrence with the W channels in SIMD lanes (B_t[n], C_t[n] broadcast, no horizontal sums),
// and adds y into out at the same positions (direction 0 writes y + (sum_k D_k) u). So each
// (b, c) is owned by one task and summed in the fixed order 0, 1, 2, 3: deterministic for any
// thread count. Tasks run on the OpenMP team (dynamic schedule).
// The hot loop is compiled for AVX-512, AVX2+FMA and the baseline (core/isa.hpp) and uses
// core/activations.hpp's vector exp / softplus; float64 uses the C library.
#include "ssm/scan/cross_scan.hpp"

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "backend/cross_scan_cuda.hpp"
#include "backend/selective_scan_params.hpp"
#include "core/activations.hpp"
#include "core/isa.hpp"
#include "core/dispatch.hpp"
#include "ssm/core/error.hpp"

namespace ssm {

namespace {

constexpr const char* kWhere = "cross_selective_scan";

void check_strides3(const Strides3& s, const char* name, bool output) {
  require(s.b >= 0 && s.d >= 0 && s.l >= 0, kWhere, name, "strides must be non-negative, got (", s.b,
          ", ", s.d, ", ", s.l, ")");
  if (output && !s.is_default())
    require(s.d > 0 && s.l > 0, kWhere, name,
            "is an output: channel and position strides must be > 0, got (", s.b, ", ", s.d, ", ", s.l, ")");
}
void check_strides4(const Strides4& s, const char* name) {
  require(s.b >= 0 && s.g >= 0 && s.n >= 0 && s.l >= 0, kWhere, name,
          "strides must be non-negative, got (", s.b, ", ", s.g, ", ", s.n, ", ", s.l, ")");
}

}  // namespace

template <class T>
void CrossScanArgs<T>::validate() const {
  require(batch >= 1, kWhere, "batch", "must be >= 1, got ", batch);
  require(dim >= 1, kWhere, "dim", "must be >= 1, got ", dim);
  require(dstate >= 1, kWhere, "dstate", "must be >= 1, got ", dstate);
  require(height >= 1, kWhere, "height", "must be >= 1 (H W positions to scan), got ", height);
  require(width >= 1, kWhere, "width", "must be >= 1 (H W positions to scan), got ", width);
  require(static_cast<long long>(height) * width <= 0x7fffffffLL, kWhere, "height*width",
          "must be < 2^31, got ", static_cast<long long>(height) * width);
  require(u != nullptr, kWhere, "u", "must not be null");
  require(delta != nullptr, kWhere, "delta", "must not be null");
  require(A != nullptr, kWhere, "A", "must not be null");
  require(B != nullptr, kWhere, "B", "must not be null");
  require(C != nullptr, kWhere, "C", "must not be null");
  require(out != nullptr, kWhere, "out", "must not be null");
  check_strides3(u_strides, "u", false);
  check_strides3(delta_strides, "delta", false);
  check_strides3(out_strides, "out", true);
  check_strides4(B_strides, "B");
  check_strides4(C_strides, "C");
}

template struct CrossScanArgs<float>;
template struct CrossScanArgs<double>;

// ---- fused CPU ------------------------------------------------------------------------------

namespace {

using namespace detail::math;

constexpr int kBlock = 64;  // steps per block

template <class T>
constexpr int lanes() { return static_cast<int>(64 / sizeof(T)); }

template <class T>
struct Ctx {
  const CrossScanArgs<T>* a;
  Strides3 su, sd, so;
  Strides4 sB, sC;
  int N, L;
};

template <class T>
struct Scratch {
  std::vector<T> dtT, uT, yT, AT, hL, Bt, Ct, Dsum;
  std::vector<std::ptrdiff_t> pos;
  void init(int N) {
    constexpr int W = lanes<T>();
    dtT.assign(std::size_t(kBlock) * W, T(0));
    uT.assign(std::size_t(kBlock) * W, T(0));
    yT.assign(std::size_t(kBlock) * W, T(0));
    AT.assign(std::size_t(N) * W, T(0));
    hL.assign(std::size_t(N) * W, T(0));
    Bt.assign(std::size_t(kBlock) * N, T(0));
    Ct.assign(std::size_t(kBlock) * N, T(0));
    Dsum.assign(W, T(0));
    pos.assign(kBlock, 0);
  }
};

// One task: batch b, channels c0 .. c0 + W - 1 (those < dim), the four directions in turn.
template <class T>
SSM_ALWAYS_INLINE void run_task_impl(const Ctx<T>& c, int b, int c0, Scratch<T>& s) noexcept {
  constexpr int W = lanes<T>();
  const CrossScanArgs<T>& a = *c.a;
  const int N = c.N, L = c.L, dim = a.dim;
  const std::ptrdiff_t H = a.height, Wd = a.width;
  const int nl = std::min(W, dim - c0);  // valid lanes

  for (int l = 0; l < W; ++l) {
    T d = T(0);
    if (l < nl && a.D)
      for (int k = 0; k < kCrossDirections; ++k) d += a.D[k * dim + c0 + l];
    s.Dsum[l] = d;
  }

  for (int k = 0; k < kCrossDirections; ++k) {
    const int j0 = k * dim + c0;
    T* h = s.hL.data();
    T* AT = s.AT.data();
    for (int l = 0; l < W; ++l) {
      const std::ptrdiff_t hoff = (std::ptrdiff_t(b) * kCrossDirections * dim + j0 + l) * N;
      for (int n = 0; n < N; ++n) {
        h[n * W + l] = (l < nl && a.h0) ? a.h0[hoff + n] : T(0);
        AT[n * W + l] = l < nl ? a.A[std::ptrdiff_t(j0 + l) * N + n] : T(0);
      }
    }
    T bias[W];
    for (int l = 0; l < W; ++l) bias[l] = (l < nl && a.delta_bias) ? a.delta_bias[j0 + l] : T(0);
    const T* ub = a.u + c.su.offset(b, c0, 0);
    const T* db = a.delta + c.sd.offset(b, j0, 0);
    const T* Bb = a.B + c.sB.offset(b, k, 0, 0);
    const T* Cb = a.C + c.sC.offset(b, k, 0, 0);
    T* ob = a.out + c.so.offset(b, c0, 0);

    for (int tb = 0; tb < L; tb += kBlock) {
      const int nb = std::min(kBlock, L - tb);
      std::ptrdiff_t* pos = s.pos.data();
      for (int t = 0; t < nb; ++t) pos[t] = cross_scan_position(k, tb + t, H, Wd);
      // Gather the block: dt (+ bias) and u in [t][lane]; B, C in [t][n].
      T* dtT = s.dtT.data();
      T* uT = s.uT.data();
      for (int t = 0; t < nb; ++t) {
        const T* up = ub + pos[t] * c.su.l;
        const T* dp = db + pos[t] * c.sd.l;
        for (int l = 0; l < W; ++l) {
          uT[t * W + l] = l < nl ? up[l * c.su.d] : T(0);
          dtT[t * W + l] = l < nl ? dp[l * c.sd.d] + bias[l] : T(0);
        }
        const T* bp = Bb + pos[t] * c.sB.l;
        const T* cp = Cb + pos[t] * c.sC.l;
        for (int n = 0; n < N; ++n) {
          s.Bt[std::size_t(t) * N + n] = bp[n * c.sB.n];
          s.Ct[std::size_t(t) * N + n] = cp[n * c.sC.n];
        }
      }
      if (a.delta_softplus) {
#pragma omp simd
        for (int i = 0; i < nb * W; ++i) dtT[i] = softplus(dtT[i]);
      }
      // Padding lanes have u = 0, so their du = 0 and their (zero) state never moves.
      // Recurrence, W channels in the lanes: h = exp(dt A) h + (dt u) B_t;  y = sum_n C_t h.
      T* yT = s.yT.data();
      for (int t = 0; t < nb; ++t) {
        const T* dt = dtT + t * W;
        T du[W], y[W];
#pragma omp simd
        for (int l = 0; l < W; ++l) {
          du[l] = dt[l] * uT[t * W + l];
          y[l] = T(0);
        }
        const T* Bn = s.Bt.data() + std::size_t(t) * N;
        const T* Cn = s.Ct.data() + std::size_t(t) * N;
        for (int n = 0; n < N; ++n) {
          T* hn = h + n * W;
          const T* an = AT + n * W;
          const T bv = Bn[n], cv = Cn[n];
#pragma omp simd
          for (int l = 0; l < W; ++l) {
            const T v = exp_t(dt[l] * an[l]) * hn[l] + du[l] * bv;
            hn[l] = v;
            y[l] += cv * v;
          }
        }
        for (int l = 0; l < W; ++l) yT[t * W + l] = y[l];
      }
      // Merge into out at the same positions (direction 0 initializes it).
      for (int t = 0; t < nb; ++t) {
        T* op = ob + pos[t] * c.so.l;
        if (k == 0) {
          for (int l = 0; l < nl; ++l) op[l * c.so.d] = yT[t * W + l] + s.Dsum[l] * uT[t * W + l];
        } else {
          for (int l = 0; l < nl; ++l) op[l * c.so.d] += yT[t * W + l];
        }
      }
    }
    if (a.last_state)
      for (int l = 0; l < nl; ++l) {
        T* dst = a.last_state + (std::ptrdiff_t(b) * kCrossDirections * dim + j0 + l) * N;
        for (int n = 0; n < N; ++n) dst[n] = h[n * W + l];
      }
  }
}

#if defined(SSM_ISA_VARIANTS)
template <class T>
SSM_TARGET_AVX512 void run_task_avx512(const Ctx<T>& c, int b, int c0, Scratch<T>& s) noexcept {
  run_task_impl<T>(c, b, c0, s);
}
template <class T>
SSM_TARGET_AVX2 void run_task_avx2(const Ctx<T>& c, int b, int c0, Scratch<T>& s) noexcept {
  run_task_impl<T>(c, b, c0, s);
}
#endif
template <class T>
void run_task_base(const Ctx<T>& c, int b, int c0, Scratch<T>& s) noexcept {
  run_task_impl<T>(c, b, c0, s);
}

template <class T>
using TaskFn = void (*)(const Ctx<T>&, int, int, Scratch<T>&) noexcept;

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
void fused_cpu(const CrossScanArgs<T>& a, const ScanCpuOptions& opts) {
  a.validate();
  require(opts.threads >= 0, kWhere, "opts.threads", "must be >= 0, got ", opts.threads);
  Ctx<T> c;
  c.a = &a;
  c.L = a.length();
  c.N = a.dstate;
  c.su = a.u_strides.resolved(a.dim, c.L);
  c.so = a.out_strides.resolved(a.dim, c.L);
  c.sd = a.delta_strides.resolved(std::ptrdiff_t(kCrossDirections) * a.dim, c.L);
  c.sB = a.B_strides.resolved(kCrossDirections, a.dstate, c.L);
  c.sC = a.C_strides.resolved(kCrossDirections, a.dstate, c.L);
  constexpr int W = lanes<T>();
  const int groups = (a.dim + W - 1) / W;
  const long long ntasks = static_cast<long long>(a.batch) * groups;
  const int threads = opts.threads > 0 ? opts.threads : std::max(1, omp_get_max_threads());
  const int nt = static_cast<int>(std::clamp<long long>(ntasks, 1, threads));
  const TaskFn<T> fn = pick_task_fn<T>();
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    Scratch<T> s;
    s.init(c.N);
#pragma omp for schedule(dynamic, 1)
    for (long long i = 0; i < ntasks; ++i)
      fn(c, static_cast<int>(i / groups), static_cast<int>(i % groups) * W, s);
  }
}

// ---- unfused recipe (host) --------------------------------------------------------------------

template <class T>
void unfused_cpu(const CrossScanArgs<T>& a) {
  a.validate();
  const std::ptrdiff_t Bt = a.batch, dim = a.dim, N = a.dstate, H = a.height, Wd = a.width, L = H * Wd,
                       K = kCrossDirections;
  const Strides3 su = a.u_strides.resolved(dim, L), so = a.out_strides.resolved(dim, L),
                 sd = a.delta_strides.resolved(K * dim, L);
  const Strides4 sB = a.B_strides.resolved(K, N, L), sC = a.C_strides.resolved(K, N, L);
  // Cross-scan: the four direction-ordered copies (batch, K dim, L) and (batch, K, N, L).
  std::vector<T> us(std::size_t(Bt * K * dim * L)), ds(us.size()), Bs(std::size_t(Bt * K * N * L)),
      Cs(Bs.size()), ys(us.size());
  for (std::ptrdiff_t b = 0; b < Bt; ++b)
    for (int k = 0; k < K; ++k)
      for (std::ptrdiff_t l = 0; l < L; ++l) {
        const std::ptrdiff_t p = cross_scan_position(k, l, H, Wd);
        for (std::ptrdiff_t ch = 0; ch < dim; ++ch) {
          const std::size_t o = std::size_t(((b * K + k) * dim + ch) * L + l);
          us[o] = a.u[su.offset(b, ch, p)];
          ds[o] = a.delta[sd.offset(b, k * dim + ch, p)];
        }
        for (std::ptrdiff_t n = 0; n < N; ++n) {
          const std::size_t o = std::size_t(((b * K + k) * N + n) * L + l);
          Bs[o] = a.B[sB.offset(b, k, n, p)];
          Cs[o] = a.C[sC.offset(b, k, n, p)];
        }
      }
  SelectiveScanArgs<T> s;
  s.batch = a.batch;
  s.dim = static_cast<int>(K * dim);
  s.dstate = a.dstate;
  s.length = static_cast<int>(L);
  s.groups = static_cast<int>(K);
  s.delta_softplus = a.delta_softplus;
  s.u = us.data();
  s.delta = ds.data();
  s.A = a.A;
  s.B = Bs.data();
  s.C = Cs.data();
  s.D = a.D;
  s.delta_bias = a.delta_bias;
  s.h0 = a.h0;
  s.out = ys.data();
  s.last_state = a.last_state;
  selective_scan(s, Device::cpu);
  // Cross-merge: every direction's output back at its positions, summed in the order 0..3.
  for (std::ptrdiff_t b = 0; b < Bt; ++b)
    for (int k = 0; k < K; ++k)
      for (std::ptrdiff_t ch = 0; ch < dim; ++ch)
        for (std::ptrdiff_t l = 0; l < L; ++l) {
          const std::ptrdiff_t p = cross_scan_position(k, l, H, Wd);
          const T v = ys[std::size_t(((b * K + k) * dim + ch) * L + l)];
          T& o = a.out[so.offset(b, ch, p)];
          o = k == 0 ? v : o + v;
        }
}

template <class T>
void fused_entry(const CrossScanArgs<T>& a, Device device) {
  if (device == Device::cuda) a.validate();  // the CPU path validates inside fused_cpu
  detail::dispatch(
      "cross_selective_scan", device, [&] { fused_cpu(a, ScanCpuOptions{}); },
      [&] {
        if constexpr (std::is_same_v<T, float>) detail::cross_selective_scan_cuda(a);
        else detail::cross_selective_scan_unfused_cuda(a);  // float64 on the GPU: the recipe
      });
}

template <class T>
void unfused_entry(const CrossScanArgs<T>& a, Device device) {
  if (device == Device::cuda) a.validate();
  detail::dispatch(
      "cross_selective_scan_unfused", device, [&] { unfused_cpu(a); },
      [&] { detail::cross_selective_scan_unfused_cuda(a); });
}

}  // namespace

void cross_selective_scan(const CrossScanArgs<float>& a, Device d) { fused_entry(a, d); }
void cross_selective_scan(const CrossScanArgs<double>& a, Device d) { fused_entry(a, d); }
void cross_selective_scan_cpu(const CrossScanArgs<float>& a, const ScanCpuOptions& o) { fused_cpu(a, o); }
void cross_selective_scan_cpu(const CrossScanArgs<double>& a, const ScanCpuOptions& o) { fused_cpu(a, o); }
void cross_selective_scan_unfused(const CrossScanArgs<float>& a, Device d) { unfused_entry(a, d); }
void cross_selective_scan_unfused(const CrossScanArgs<double>& a, Device d) { unfused_entry(a, d); }

}  // namespace ssm
