// FFT convolution on CPU (FFTW): see include/ssm/conv/fftconv.hpp for the contract.
#include "ssm/conv/fftconv.hpp"

#include <omp.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <complex>
#include <cstdint>
#include <cstring>
#include <list>
#include <mutex>
#include <type_traits>

#include "backend/fftconv_cuda.hpp"
#include "conv/fftconv_layout.hpp"
#include "conv/fftconv_pointwise.hpp"
#include "core/simd.hpp"
#include "core/dispatch.hpp"
#include "core/fftw_plan_cache.hpp"
#include "ssm/core/device_buffer.hpp"
#include "ssm/core/error.hpp"

namespace ssm {

std::ptrdiff_t fft_fast_size(std::ptrdiff_t min_size) {
  require(min_size >= 1 && min_size <= (std::ptrdiff_t{1} << 40), "fft_fast_size", "min_size",
          "must be in [1, 2^40], got ", min_size);
  std::ptrdiff_t best = std::ptrdiff_t{1} << 62;
  for (std::ptrdiff_t p2 = 1; p2 < best; p2 *= 2)
    for (std::ptrdiff_t p3 = p2; p3 < best; p3 *= 3)
      for (std::ptrdiff_t p5 = p3; p5 < best; p5 *= 5)
        if (p5 >= min_size) {
          best = p5;
          break;
        }
  return best;
}

namespace detail {

// ---- layout: one FFT of the whole row, or uniformly partitioned blocks (fftconv_layout.hpp) --
namespace {

std::atomic<std::ptrdiff_t> g_force_block{0};

// The cost model, in units of 0.1 ns of one core (x86-64, FFTW 3.3.10; the figures behind it
// are in docs/convolution.md). Only the ratios between layouts matter.
//
// One real transform of size n (r2c or c2r): n log2 n times a weight by size (FFTW_ESTIMATE's
// heuristic plans are good up to 2^14 and slower beyond; every plan slows down once its arrays
// leave the per-core L2, ~2^19 and up), 0.8 of it with measured plans, 1.15 for sizes that are
// not powers of two; plus its copy in or out (1.5 a sample) and a fixed 100 ns a call.
double fft_cost(std::ptrdiff_t n, bool measured) {
  // log2 n:                        10    11   12   13   14    15    16   17    18   19   20   21   22
  static constexpr double kW[] = {1.45, 1.1, 1.0, 1.0, 1.1, 1.25, 1.35, 1.3, 1.25, 1.6, 1.9, 2.5, 3.0};
  const double lg = std::log2(static_cast<double>(n));
  const int i = std::clamp(static_cast<int>(std::lround(lg)) - 10, 0, 12);
  const bool pow2 = (n & (n - 1)) == 0;
  const double w = kW[i] * (measured ? 0.8 : 1.0) * (pow2 ? 1.0 : 1.15);
  return static_cast<double>(n) * (lg * w + 1.5) + 1000.0;
}
// The frequency-domain sum of the blocked layout: a complex multiply-add from cache costs 0.6
// (fdl_product: two outputs a pass, four FMAs per kernel and input vector loaded); once the
// kin + kk spectrum blocks of a row exceed ~1 MiB they are streamed from L3 or memory, 2 a
// complex value.
double mac_cost(std::ptrdiff_t pairs, std::ptrdiff_t blocks, std::ptrdiff_t nc, std::size_t value_bytes) {
  const double values = static_cast<double>(blocks) * static_cast<double>(nc);
  const double stream = values * static_cast<double>(value_bytes) > (1 << 20) ? 2.0 * values : 0.0;
  return 0.6 * static_cast<double>(pairs) * static_cast<double>(nc) + stream;
}

FftconvLayout blocked_layout(std::ptrdiff_t taps, std::ptrdiff_t P) {
  FftconvLayout s;
  s.blocked = true;
  s.P = P;
  s.n = 2 * P;
  s.taps = taps;
  s.kk = (taps + P - 1) / P;
  s.group = 1;
  return s;
}

}  // namespace

void fftconv_force_block(std::ptrdiff_t block) noexcept { g_force_block.store(block); }

FftconvLayout fftconv_layout(std::ptrdiff_t L, std::ptrdiff_t taps, bool kernel_once, std::size_t value_bytes) {
  FftconvLayout single;
  single.taps = taps;
  single.n = fft_fast_size(L + taps - 1);
  single.group = std::clamp<std::ptrdiff_t>(32768 / single.n, 1, 16);
  const std::ptrdiff_t force = g_force_block.load();
  if (force < 0) return single;
  if (force > 0) return blocked_layout(taps, force);
  const bool measured = fft_planning() != FftPlanning::estimate;
  const double kf = kernel_once ? 0.0 : 1.0;  // kernel transforms per row and call
  const double c_single = (2 + kf) * fft_cost(single.n, measured) + mac_cost(1, 0, single.nc(), value_bytes);
  double c_best = c_single;
  std::ptrdiff_t P_best = 0;
  for (std::ptrdiff_t P = 1024; P < L && P <= (std::ptrdiff_t{1} << 20); P *= 2) {
    const std::ptrdiff_t kin = (L + P - 1) / P, kk = (taps + P - 1) / P;
    const std::ptrdiff_t pairs = kin <= kk ? kin * (kin + 1) / 2 : kk * (kk + 1) / 2 + (kin - kk) * kk;
    const double c = (2.0 * static_cast<double>(kin) + kf * static_cast<double>(kk)) * fft_cost(2 * P, measured) +
                     mac_cost(pairs, kin + kk, P + 1, value_bytes);
    if (c < c_best) {
      c_best = c;
      P_best = P;
    }
  }
  // Blocks only for a clear win: near a tie the single transform has fewer passes and calls.
  return P_best && c_best < 0.9 * c_single ? blocked_layout(taps, P_best) : single;
}

namespace {

// Kernel spectra for one (kernel, layout): for each channel group g (single: `group` channels,
// blocked: one) kk blocks of bstride complex values, block p holding the group's rows at
// distance nc. Not scaled: the 1/n of the inverse transform is applied to the output.
template <class T>
struct Spectra {
  FftconvLayout lay;
  std::ptrdiff_t H = 0;
  FftwBuffer<std::complex<T>> K;
  const std::complex<T>* group(std::ptrdiff_t g) const noexcept { return K.data() + g * lay.kk * lay.bstride(); }
};

constexpr std::ptrdiff_t round_up(std::ptrdiff_t n, std::ptrdiff_t m) { return (n + m - 1) / m * m; }

std::ptrdiff_t groups_of(const FftconvLayout& lay, std::ptrdiff_t H) { return (H + lay.group - 1) / lay.group; }

// The plans a call needs, fetched before the parallel region (planning takes the global mutex).
template <class T>
struct Plans {
  const RealPlan<T>* full;  // `group` rows (blocked: 1)
  const RealPlan<T>* tail;  // the last group's rows
  Plans(const FftconvLayout& lay, std::ptrdiff_t H) {
    const std::ptrdiff_t g = std::min(lay.group, H);
    full = &real_plan<T>(lay.n, g);
    tail = &real_plan<T>(lay.n, H - (groups_of(lay, H) - 1) * lay.group);
  }
  const RealPlan<T>& of(std::ptrdiff_t cnt, const FftconvLayout& lay) const noexcept {
    return cnt == std::min(lay.group, full->howmany) ? *full : *tail;
  }
};

// Per-thread scratch: `time` holds group rows of n reals (64-byte aligned blocks), X kin
// spectrum blocks, Kf (fused calls) the kernel spectra of the current group.
template <class T>
struct Work {
  FftwBuffer<T> time;
  FftwBuffer<std::complex<T>> X, Kf;
  Work(const FftconvLayout& lay, std::ptrdiff_t L, bool fused)
      : time(static_cast<std::size_t>(round_up(lay.group * lay.n, 16))),
        X(static_cast<std::size_t>(lay.kin(L) * lay.bstride())),
        Kf(fused ? static_cast<std::size_t>(lay.kk * lay.bstride()) : 0) {}
};

// FFTW's new-array execute needs arrays with the alignment of the planning arrays (fftw_malloc:
// 0 modulo FFTW's SIMD alignment).
bool aligned_like_plans(const float* p) noexcept { return fftwf_alignment_of(const_cast<float*>(p)) == 0; }
bool aligned_like_plans(const double* p) noexcept { return fftw_alignment_of(const_cast<double*>(p)) == 0; }

// dst[i] = row[(start + i) * stride] for 0 <= start + i < L, else 0; i < len.
template <class T>
void load_window(T* dst, const T* row, std::ptrdiff_t stride, std::ptrdiff_t L, std::ptrdiff_t start,
                 std::ptrdiff_t len) {
  const std::ptrdiff_t a = std::clamp<std::ptrdiff_t>(-start, 0, len);             // leading zeros
  const std::ptrdiff_t b = std::clamp<std::ptrdiff_t>(L - start, a, len);          // end of data
  std::fill(dst, dst + a, T(0));
  if (stride == 1) std::memcpy(dst + a, row + start + a, static_cast<std::size_t>(b - a) * sizeof(T));
  else
    for (std::ptrdiff_t i = a; i < b; ++i) dst[i] = row[(start + i) * stride];
  std::fill(dst + b, dst + len, T(0));
}

// Transforms the kernel rows of group g into out (kk blocks of bstride).
template <class T>
void kernel_group(const T* k, std::ptrdiff_t Lk, std::ptrdiff_t H, std::ptrdiff_t g, const FftconvLayout& lay,
                  const Plans<T>& plans, T* time, std::complex<T>* out) {
  const std::ptrdiff_t h0 = g * lay.group, cnt = std::min(lay.group, H - h0), n = lay.n;
  if (!lay.blocked) {
    for (std::ptrdiff_t i = 0; i < cnt; ++i) load_window(time + i * n, k + (h0 + i) * Lk, 1, lay.taps, 0, n);
    plans.of(cnt, lay).r2c(time, out);
    return;
  }
  for (std::ptrdiff_t p = 0; p < lay.kk; ++p) {
    load_window(time, k + h0 * Lk, 1, lay.taps, p * lay.P, lay.P);
    std::fill(time + lay.P, time + n, T(0));
    plans.full->r2c(time, out + p * lay.bstride());
  }
}

// y[t0 + i] = s r[i] + d u[t0 + i], i < cnt, for row (b, h); u is read before y is written.
template <class T>
void write_out(const T* r, T s, T d, View3<const T> u, View3<T> y, std::ptrdiff_t b, std::ptrdiff_t h,
               std::ptrdiff_t t0, std::ptrdiff_t cnt) {
  const T* src = u.row(b, h) + t0 * u.stride_t;
  T* dst = y.row(b, h) + t0 * y.stride_t;
  if (u.stride_t == 1 && y.stride_t == 1) {
    fftconv::add_scaled(r, s, d, src, dst, cnt);
  } else {
    for (std::ptrdiff_t i = 0; i < cnt; ++i) dst[i * y.stride_t] = s * r[i] + d * src[i * u.stride_t];
  }
}

// y(b, group g) = causal conv of u(b, group g) with the group's kernel spectra Kg, + D u.
template <class T>
void convolve_group(View3<const T> u, std::ptrdiff_t b, std::ptrdiff_t g, const std::complex<T>* Kg,
                    const T* D, View3<T> y, const FftconvLayout& lay, const Plans<T>& plans, Work<T>& w) {
  const std::ptrdiff_t H = u.channels, L = u.length, n = lay.n, nc = lay.nc();
  const std::ptrdiff_t h0 = g * lay.group, cnt = std::min(lay.group, H - h0);
  const T s = T(1) / static_cast<T>(n);
  T* time = w.time.data();
  std::complex<T>* X = w.X.data();
  if (!lay.blocked) {
    const RealPlan<T>& plan = plans.of(cnt, lay);
    for (std::ptrdiff_t i = 0; i < cnt; ++i) load_window(time + i * n, u.row(b, h0 + i), u.stride_t, L, 0, n);
    plan.r2c(time, X);
    for (std::ptrdiff_t i = 0; i < cnt; ++i) fftconv::mul_spectrum(X + i * nc, Kg + i * nc, nc);
    plan.c2r(X, time);
    for (std::ptrdiff_t i = 0; i < cnt; ++i)
      write_out(time + i * n, s, D ? D[h0 + i] : T(0), u, y, b, h0 + i, 0, L);
    return;
  }
  const std::ptrdiff_t P = lay.P, kin = lay.kin(L), bs = lay.bstride();
  const RealPlan<T>& plan = *plans.full;
  const T* row = u.row(b, h0);
  for (std::ptrdiff_t j = 0; j < kin; ++j) {
    const std::ptrdiff_t start = (j - 1) * P;
    // A window inside a contiguous row is transformed where it lies (r2c leaves its input
    // alone), when it has the plan's SIMD alignment; else it is copied with its zeros.
    if (start >= 0 && start + n <= L && u.stride_t == 1 && aligned_like_plans(row + start)) {
      plan.r2c(const_cast<T*>(row + start), X + j * bs);
    } else {
      load_window(time, row, u.stride_t, L, start, n);
      plan.r2c(time, X + j * bs);
    }
  }
  fftconv::fdl_product(X, Kg, bs, kin, lay.kk, nc);
  const T d = D ? D[h0] : T(0);
  for (std::ptrdiff_t m = 0; m < kin; ++m) {
    plan.c2r(X + m * bs, time);
    write_out(time + P, s, d, u, y, b, h0, m * P, std::min(P, L - m * P));
  }
}

int team_size(std::ptrdiff_t tasks) {
  return static_cast<int>(std::clamp<std::ptrdiff_t>(tasks, 1, std::max(1, omp_get_max_threads())));
}

template <class T>
std::shared_ptr<Spectra<T>> compute_spectra(const T* k, std::ptrdiff_t Lk, std::ptrdiff_t H, const FftconvLayout& lay) {
  auto s = std::make_shared<Spectra<T>>();
  s->lay = lay;
  s->H = H;
  const std::ptrdiff_t groups = groups_of(lay, H);
  s->K.reset(static_cast<std::size_t>(groups * lay.kk * lay.bstride()));
  const Plans<T> plans(lay, H);
#pragma omp parallel num_threads(team_size(groups))
  {
    FftwBuffer<T> time(static_cast<std::size_t>(round_up(lay.group * lay.n, 16)));
#pragma omp for schedule(dynamic)
    for (std::ptrdiff_t g = 0; g < groups; ++g)
      kernel_group(k, Lk, H, g, lay, plans, time.data(), s->K.data() + g * lay.kk * lay.bstride());
  }
  return s;
}

// y = causal conv(u, k) + D u with the kernel spectra S.
template <class T>
void convolve_kept(View3<const T> u, const Spectra<T>& S, const T* D, View3<T> y) {
  const std::ptrdiff_t B = u.batch, H = u.channels;
  if (B * H == 0 || u.length == 0) return;
  const FftconvLayout& lay = S.lay;
  const std::ptrdiff_t groups = groups_of(lay, H), tasks = B * groups;
  const Plans<T> plans(lay, H);
#pragma omp parallel num_threads(team_size(tasks))
  {
    Work<T> w(lay, u.length, false);
#pragma omp for schedule(dynamic)
    for (std::ptrdiff_t t = 0; t < tasks; ++t)
      convolve_group(u, t / groups, t % groups, S.group(t % groups), D, y, lay, plans, w);
  }
}

// The same without kept spectra: each thread transforms a group's kernel rows into its own
// scratch and convolves every batch row of the group with them (no H-row spectrum array is
// written and read back). With fewer groups than threads and B > 1 the spectra are made first
// so that the batch rows spread over the threads. Same plans, same bits as convolve_kept.
template <class T>
void convolve_fused(View3<const T> u, const T* k, std::ptrdiff_t Lk, const FftconvLayout& lay, const T* D,
                    View3<T> y) {
  const std::ptrdiff_t B = u.batch, H = u.channels;
  if (B * H == 0 || u.length == 0) return;
  const std::ptrdiff_t groups = groups_of(lay, H);
  if (B > 1 && groups < omp_get_max_threads()) {
    const auto S = compute_spectra<T>(k, Lk, H, lay);
    convolve_kept<T>(u, *S, D, y);
    return;
  }
  const Plans<T> plans(lay, H);
#pragma omp parallel num_threads(team_size(groups))
  {
    Work<T> w(lay, u.length, true);
#pragma omp for schedule(dynamic)
    for (std::ptrdiff_t g = 0; g < groups; ++g) {
      kernel_group(k, Lk, H, g, lay, plans, w.time.data(), w.Kf.data());
      for (std::ptrdiff_t b = 0; b < B; ++b) convolve_group(u, b, g, w.Kf.data(), D, y, lay, plans, w);
    }
  }
}

// ---- spectrum cache of the free function: keyed by the exact kernel contents -------------
// A kernel's spectra are kept from the second call that sees it: the first call only notes its
// hash and convolves fused (a kernel used once, e.g. one that changes every call, then costs
// no spectrum array, no copy of its taps and no cache traffic). Spectra (with the copy of the
// taps) larger than half the budget are never kept: such kernels are always convolved fused.
template <class T>
class SpectrumCache {
public:
  static constexpr std::size_t kBudgetBytes = std::size_t{512} << 20;
  static constexpr std::size_t kMaxEntries = 8;
  static constexpr std::size_t kSeen = 32;  // hashes of kernels seen once

  /// The kept spectra of k for lay, or null when k is new (then the caller convolves fused).
  /// taps_hash: the hash of k's first lay.taps taps of every row (validate_kernel).
  std::shared_ptr<const Spectra<T>> get(const T* k, std::ptrdiff_t Lk, std::ptrdiff_t H, const FftconvLayout& lay,
                                        std::uint64_t taps_hash) {
    const std::uint64_t h = key(taps_hash, H, lay);
    const std::size_t bytes = static_cast<std::size_t>(groups_of(lay, H) * lay.kk * lay.bstride()) * sizeof(std::complex<T>) +
                              static_cast<std::size_t>(H) * static_cast<std::size_t>(lay.taps) * sizeof(T);
    if (bytes > kBudgetBytes / 2) return nullptr;  // never kept: always fused
    {
      std::lock_guard<std::mutex> lock(m_);
      for (auto it = entries_.begin(); it != entries_.end(); ++it) {
        if (it->hash == h && it->H == H && same_layout(it->spectra->lay, lay) &&
            same_taps(it->taps_copy, k, Lk, H, lay.taps)) {
          entries_.splice(entries_.begin(), entries_, it);  // most recently used first
          return entries_.front().spectra;
        }
      }
      const auto seen = std::find(seen_.begin(), seen_.end(), h);
      if (seen == seen_.end()) {
        seen_[next_seen_++ % kSeen] = h;
        return nullptr;
      }
      *seen = 0;
    }
    auto s = compute_spectra<T>(k, Lk, H, lay);
    {
      Entry e;
      e.hash = h;
      e.H = H;
      e.bytes = bytes;
      e.spectra = s;
      e.taps_copy.resize(static_cast<std::size_t>(H * lay.taps));
      for (std::ptrdiff_t r = 0; r < H; ++r)
        std::copy(k + r * Lk, k + r * Lk + lay.taps, e.taps_copy.begin() + r * lay.taps);
      std::lock_guard<std::mutex> lock(m_);
      entries_.push_front(std::move(e));
      used_ += bytes;
      while (entries_.size() > kMaxEntries || used_ > kBudgetBytes) {
        used_ -= entries_.back().bytes;
        entries_.pop_back();
      }
    }
    return s;
  }

private:
  struct Entry {
    std::uint64_t hash = 0;
    std::ptrdiff_t H = 0;
    std::size_t bytes = 0;
    std::vector<T> taps_copy;
    std::shared_ptr<const Spectra<T>> spectra;
  };

  static bool same_layout(const FftconvLayout& a, const FftconvLayout& b) {
    return a.blocked == b.blocked && a.n == b.n && a.P == b.P && a.taps == b.taps && a.group == b.group;
  }

  // The taps' hash folded with the shape and the layout. Never 0 (0 marks a free slot of the
  // seen list).
  static std::uint64_t key(std::uint64_t taps_hash, std::ptrdiff_t H, const FftconvLayout& lay) {
    constexpr std::uint64_t kMul = 0x9E3779B97F4A7C15ull;
    std::uint64_t h = taps_hash;
    for (const std::uint64_t v : {static_cast<std::uint64_t>(lay.n), static_cast<std::uint64_t>(lay.taps),
                                  static_cast<std::uint64_t>(lay.P), static_cast<std::uint64_t>(lay.group),
                                  static_cast<std::uint64_t>(H)}) {
      h = (h ^ v) * kMul;
      h ^= h >> 31;
    }
    return h ? h : 1;
  }
  static bool same_taps(const std::vector<T>& copy, const T* k, std::ptrdiff_t Lk, std::ptrdiff_t H,
                        std::ptrdiff_t taps) {
    for (std::ptrdiff_t r = 0; r < H; ++r)
      if (std::memcmp(copy.data() + r * taps, k + r * Lk, static_cast<std::size_t>(taps) * sizeof(T)))
        return false;
    return true;
  }

  std::mutex m_;
  std::list<Entry> entries_;
  std::size_t used_ = 0;
  std::array<std::uint64_t, kSeen> seen_{};
  std::size_t next_seen_ = 0;
};

template <class T>
SpectrumCache<T>& spectrum_cache() {
  static SpectrumCache<T> c;
  return c;
}

// ---- validation ---------------------------------------------------------------------------
template <class T>
std::pair<std::uintptr_t, std::uintptr_t> byte_range(const View3<T>& v) {
  const auto base = reinterpret_cast<std::uintptr_t>(v.data);
  const std::ptrdiff_t last =
      (v.batch - 1) * v.stride_b + (v.channels - 1) * v.stride_c + (v.length - 1) * v.stride_t;
  return {base, base + static_cast<std::uintptr_t>(last + 1) * sizeof(std::remove_const_t<T>)};
}

/// y is exactly u (same data and strides: in place) or does not overlap u at all.
template <class T>
void check_overlap(const char* where, View3<const T> u, View3<T> y) {
  if (u.size() == 0) return;
  const bool same = static_cast<const void*>(u.data) == static_cast<const void*>(y.data) &&
                    u.stride_b == y.stride_b && u.stride_c == y.stride_c && u.stride_t == y.stride_t;
  if (!same) {
    const auto ru = byte_range(u), ry = byte_range(y);
    require(ru.second <= ry.first || ry.second <= ru.first, where, "y",
            "must not overlap u (exact in-place, y == u with the same strides, is allowed)");
  }
}

template <class T>
void validate_view(const View3<T>& v, const char* where, const char* arg) {
  require(v.batch >= 0 && v.channels >= 0 && v.length >= 0, where, arg,
          "must have non-negative extents, got (", v.batch, ", ", v.channels, ", ", v.length, ")");
  require(v.stride_b >= 0 && v.stride_c >= 0 && v.stride_t >= 0, where, arg,
          "must have non-negative strides, got (", v.stride_b, ", ", v.stride_c, ", ", v.stride_t, ")");
  require(v.data != nullptr || v.size() == 0, where, arg, "must not be null");
}

/// host_data = false (Device::cuda: the arrays are device memory): shapes, strides and overlap
/// only; the CUDA backend checks the values on its side.
template <class T>
void validate_common(const char* where, View3<const T> u, const T* k, std::ptrdiff_t Lk, const T* D,
                     View3<T> y, std::ptrdiff_t H, bool host_data = true) {
  validate_view(u, where, "u");
  validate_view(y, where, "y");
  require(u.channels == H, where, "u", "must have ", H, " channels (rows of k), got ", u.channels);
  require_shape(y, u.batch, u.channels, u.length, where, "y");
  (void)Lk;
  (void)k;
  if (!host_data) {
    check_overlap(where, u, y);
    return;
  }
  require_cpu_isa(where);
  if (D)
    for (std::ptrdiff_t h = 0; h < H; ++h)
      require(std::isfinite(D[h]), where, "D", "must be finite, got D[", h, "] = ", D[h]);
  if (u.size() == 0) return;
  for (std::ptrdiff_t b = 0; b < u.batch; ++b)
    for (std::ptrdiff_t h = 0; h < u.channels; ++h) {
      const T* r = u.row(b, h);
      if (u.stride_t == 1 && fftconv::all_finite(r, u.length)) continue;
      for (std::ptrdiff_t t = 0; t < u.length; ++t)
        require(std::isfinite(r[t * u.stride_t]), where, "u",
                "must be finite (a non-finite sample would spread through the FFT to every output "
                "of its row), got u[", b, ",", h, ",", t, "] = ", r[t * u.stride_t]);
    }
  check_overlap(where, u, y);
}

/// k finite (H rows of Lk). With `taps_hash`: also a hash of the first `taps` taps of every row,
/// taken in the same pass (the spectrum cache's key).
template <class T>
void validate_kernel(const char* where, const T* k, std::ptrdiff_t Lk, std::ptrdiff_t H,
                     bool host_data = true, std::uint64_t* taps_hash = nullptr, std::ptrdiff_t taps = 0) {
  require(Lk >= 1, where, "Lk", "must be >= 1, got ", Lk);
  require(k != nullptr || H == 0, where, "k", "must not be null");
  if (!host_data) return;  // device memory: the CUDA backend checks k
  require_cpu_isa(where);  // before the first SIMD kernel: an unusable SSM_CPU_ISA is an error
  bool ok = true;
  if (taps_hash) {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (std::ptrdiff_t r = 0; r < H && ok; ++r)
      ok = fftconv::finite_and_hash(k + r * Lk, taps, &h) && fftconv::all_finite(k + r * Lk + taps, Lk - taps);
    *taps_hash = h;
  } else {
    ok = fftconv::all_finite(k, H * Lk);
  }
  if (ok) return;
  for (std::ptrdiff_t i = 0; i < H * Lk; ++i)
    require(std::isfinite(k[i]), where, "k", "must be finite, got k[", i / Lk, ",", i % Lk,
            "] = ", k[i]);
}

}  // namespace
}  // namespace detail

// ---- free function ------------------------------------------------------------------------
template <class T>
void fftconv(View3<const T> u, const T* k, std::ptrdiff_t Lk, const T* D, View3<T> y, Device device) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>);
  const std::ptrdiff_t H = u.channels;
  const bool host_data = device == Device::cpu;  // Device::cuda: device pointers, checked there
  std::uint64_t taps_hash = 0;  // CPU: the cache key of k's first min(Lk, L) taps, from the finite check's pass
  detail::validate_kernel("fftconv", k, Lk, H, host_data, host_data ? &taps_hash : nullptr,
                          std::min(Lk, u.length));
  detail::validate_common("fftconv", u, k, Lk, D, y, H, host_data);
  detail::dispatch(
      "fftconv", device,
      [&] {
        if (u.size() == 0) return;
        const std::ptrdiff_t L = u.length;
        const detail::FftconvLayout lay = detail::fftconv_layout(L, std::min(Lk, L), false, sizeof(std::complex<T>));
        if (const auto spectra = detail::spectrum_cache<T>().get(k, Lk, H, lay, taps_hash))
          detail::convolve_kept<T>(u, *spectra, D, y);
        else
          detail::convolve_fused<T>(u, k, Lk, lay, D, y);
      },
      [&] {
        if constexpr (std::is_same_v<T, float>)
          detail::fftconv_cuda(u, k, Lk, D, y);
        else
          fail("fftconv", "device", "cuda supports float32 only; use Device::cpu for double");
      });
}

void fftconv_cuda_from_host(View3<const float> u, const float* k, std::ptrdiff_t Lk, const float* D,
                            View3<float> y) {
  constexpr const char* w = "fftconv_cuda_from_host";
  const std::ptrdiff_t H = u.channels;
  detail::validate_kernel(w, k, Lk, H);
  detail::validate_common(w, u, k, Lk, D, y, H);
  detail::require_cuda(w, "device");
  if (u.size() == 0) return;
  const std::ptrdiff_t B = u.batch, L = u.length;
  const std::size_t total = static_cast<std::size_t>(u.size());
  std::vector<float> packed(total);  // u in the contiguous (B, H, L) layout
  for (std::ptrdiff_t b = 0; b < B; ++b)
    for (std::ptrdiff_t h = 0; h < H; ++h)
      for (std::ptrdiff_t t = 0; t < L; ++t) packed[std::size_t((b * H + h) * L + t)] = u(b, h, t);
  DeviceBuffer<float> ud(packed), yd(total), kd(std::size_t(H) * std::size_t(Lk)), Dd;
  kd.upload(k, kd.size());
  if (D) {
    Dd = DeviceBuffer<float>(std::size_t(H));
    Dd.upload(D, Dd.size());
  }
  fftconv<float>(View3<const float>(ud.data(), B, H, L), kd.data(), Lk, D ? Dd.data() : nullptr,
                 View3<float>(yd.data(), B, H, L), Device::cuda);
  yd.download(packed.data(), total);
  for (std::ptrdiff_t b = 0; b < B; ++b)
    for (std::ptrdiff_t h = 0; h < H; ++h)
      for (std::ptrdiff_t t = 0; t < L; ++t) y(b, h, t) = packed[std::size_t((b * H + h) * L + t)];
}

template void fftconv<float>(View3<const float>, const float*, std::ptrdiff_t, const float*,
                             View3<float>, Device);
template void fftconv<double>(View3<const double>, const double*, std::ptrdiff_t, const double*,
                              View3<double>, Device);

// ---- FFTConv ------------------------------------------------------------------------------
template <class T>
struct FFTConv<T>::Impl {
  std::shared_ptr<const detail::Spectra<T>> spectra;
  std::vector<T> D;  // empty: no skip term
};

template <class T>
FFTConv<T>::FFTConv(std::ptrdiff_t channels, std::ptrdiff_t max_length, const T* k,
                    std::ptrdiff_t Lk, const T* D) {
  require(channels >= 1, "FFTConv", "channels", "must be >= 1, got ", channels);
  require(max_length >= 1, "FFTConv", "max_length", "must be >= 1, got ", max_length);
  H_ = channels;
  L_ = max_length;
  impl_ = std::make_unique<Impl>();
  set_kernel(k, Lk, D);
}

template <class T>
FFTConv<T>::~FFTConv() = default;
template <class T>
FFTConv<T>::FFTConv(FFTConv&&) noexcept = default;
template <class T>
FFTConv<T>& FFTConv<T>::operator=(FFTConv&&) noexcept = default;

template <class T>
void FFTConv<T>::set_kernel(const T* k, std::ptrdiff_t Lk, const T* D) {
  require(impl_ != nullptr, "FFTConv::set_kernel", "this", "must be constructed with a shape first");
  detail::validate_kernel("FFTConv", k, Lk, H_);
  if (D)
    for (std::ptrdiff_t h = 0; h < H_; ++h)
      require(std::isfinite(D[h]), "FFTConv", "D", "must be finite, got D[", h, "] = ", D[h]);
  const detail::FftconvLayout lay = detail::fftconv_layout(L_, std::min(Lk, L_), true, sizeof(std::complex<T>));
  impl_->spectra = detail::compute_spectra<T>(k, Lk, H_, lay);
  impl_->D = D ? std::vector<T>(D, D + H_) : std::vector<T>{};
  Lk_ = Lk;
  n_ = lay.n;
}

template <class T>
void FFTConv<T>::apply(View3<const T> u, View3<T> y) const {
  require(impl_ != nullptr, "FFTConv::apply", "this", "must be constructed with a kernel first");
  detail::validate_common<T>("FFTConv::apply", u, nullptr, Lk_, nullptr, y, H_);
  require(u.length <= L_, "FFTConv::apply", "u", "must have length <= max_length (", L_, "), got ",
          u.length);
  if (u.size() == 0) return;
  detail::convolve_kept<T>(u, *impl_->spectra, impl_->D.empty() ? nullptr : impl_->D.data(), y);
}

template class FFTConv<float>;
template class FFTConv<double>;

// ---- direct reference ---------------------------------------------------------------------
template <class T>
void direct_conv(View3<const T> u, const T* k, std::ptrdiff_t Lk, const T* D, View3<T> y) {
  const std::ptrdiff_t H = u.channels;
  detail::validate_kernel("direct_conv", k, Lk, H);
  detail::validate_view(u, "direct_conv", "u");
  detail::validate_view(y, "direct_conv", "y");
  require_shape(y, u.batch, u.channels, u.length, "direct_conv", "y");
  require(static_cast<const void*>(u.data) != static_cast<const void*>(y.data) || u.size() == 0,
          "direct_conv", "y", "must not alias u");
  const std::ptrdiff_t L = u.length;
#pragma omp parallel for collapse(2) schedule(static)
  for (std::ptrdiff_t b = 0; b < u.batch; ++b)
    for (std::ptrdiff_t h = 0; h < H; ++h) {
      const T* src = u.row(b, h);
      const T* kr = k + h * Lk;
      T* dst = y.row(b, h);
      for (std::ptrdiff_t t = 0; t < L; ++t) {
        double acc = D ? static_cast<double>(D[h]) * src[t * u.stride_t] : 0.0;
        const std::ptrdiff_t jmax = std::min(t, Lk - 1);
        for (std::ptrdiff_t j = 0; j <= jmax; ++j)
          acc += static_cast<double>(kr[j]) * static_cast<double>(src[(t - j) * u.stride_t]);
        dst[t * y.stride_t] = static_cast<T>(acc);
      }
    }
}

template void direct_conv<float>(View3<const float>, const float*, std::ptrdiff_t, const float*,
                                 View3<float>);
template void direct_conv<double>(View3<const double>, const double*, std::ptrdiff_t, const double*,
                                  View3<double>);

}  // namespace ssm
