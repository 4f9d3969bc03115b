// FFT convolution on CPU (FFTW): see include/ssm/conv/fftconv.hpp for the contract.
#include "ssm/conv/fftconv.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <cstring>
#include <list>
#include <mutex>
#include <type_traits>

#include "backend/fftconv_cuda.hpp"
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
namespace {

// Kernel spectra for one (kernel, n): H rows of n/2+1 complex values, scaled by 1/n so that
// c2r(r2c(u) * K) is the linear convolution directly.
template <class T>
struct Spectra {
  std::ptrdiff_t H = 0, n = 0, taps = 0;  // taps = number of kernel taps used (min(Lk, L))
  FftwBuffer<std::complex<T>> K;
};

constexpr std::ptrdiff_t round_up(std::ptrdiff_t n, std::ptrdiff_t m) { return (n + m - 1) / m * m; }

struct Chunking {
  std::ptrdiff_t chunk = 1, chunks = 0, threads = 1;
};

// Rows per FFTW batch: enough rows to amortise per-execute overhead on short transforms,
// few enough that every thread gets work.
Chunking chunking(std::ptrdiff_t rows, std::ptrdiff_t n) {
  Chunking c;
  const std::ptrdiff_t max_threads = std::max(1, omp_get_max_threads());
  std::ptrdiff_t chunk = std::clamp<std::ptrdiff_t>(32768 / n, 1, 16);
  chunk = std::min(chunk, (rows + max_threads - 1) / max_threads);
  c.chunk = std::max<std::ptrdiff_t>(chunk, 1);
  c.chunks = (rows + c.chunk - 1) / c.chunk;
  c.threads = std::min(max_threads, c.chunks);
  return c;
}

using detail::fftconv::mul_spectrum;  // per SIMD target (conv/fftconv_pointwise.hpp)

template <class T>
std::shared_ptr<Spectra<T>> compute_spectra(const T* k, std::ptrdiff_t Lk, std::ptrdiff_t H,
                                            std::ptrdiff_t taps, std::ptrdiff_t n) {
  auto s = std::make_shared<Spectra<T>>();
  s->H = H;
  s->n = n;
  s->taps = taps;
  const std::ptrdiff_t nc = n / 2 + 1;
  s->K.reset(static_cast<std::size_t>(H * nc));
  const Chunking c = chunking(H, n);
  const RealPlan<T>& full = real_plan<T>(n, c.chunk);
  const std::ptrdiff_t tail_rows = H - (c.chunks - 1) * c.chunk;
  const RealPlan<T>& tail = real_plan<T>(n, tail_rows);
  // Per-thread scratch starts at 64-byte multiples: FFTW's new-array execute needs the
  // alignment the plan was made with.
  const std::ptrdiff_t rstride = round_up(c.chunk * n, 16), cstride = round_up(c.chunk * nc, 8);
  FftwBuffer<T> scratch(static_cast<std::size_t>(c.threads * rstride));
  FftwBuffer<std::complex<T>> cscratch(static_cast<std::size_t>(c.threads * cstride));
  const T scale = T(1) / static_cast<T>(n);
#pragma omp parallel num_threads(static_cast<int>(c.threads))
  {
    T* in = scratch.data() + omp_get_thread_num() * rstride;
    std::complex<T>* X = cscratch.data() + omp_get_thread_num() * cstride;
#pragma omp for schedule(dynamic)
    for (std::ptrdiff_t ci = 0; ci < c.chunks; ++ci) {
      const std::ptrdiff_t h0 = ci * c.chunk;
      const std::ptrdiff_t cnt = std::min(c.chunk, H - h0);
      for (std::ptrdiff_t i = 0; i < cnt; ++i) {
        T* row = in + i * n;
        const T* src = k + (h0 + i) * Lk;
        for (std::ptrdiff_t j = 0; j < taps; ++j) row[j] = src[j] * scale;
        std::fill(row + taps, row + n, T(0));
      }
      (cnt == c.chunk ? full : tail).r2c(in, X);
      std::copy(X, X + cnt * nc, s->K.data() + h0 * nc);
    }
  }
  return s;
}

// y = c2r(r2c(u) .* K) + D u over all B*H rows.
template <class T>
void convolve_rows(View3<const T> u, const Spectra<T>& S, const T* D, View3<T> y) {
  const std::ptrdiff_t B = u.batch, H = u.channels, L = u.length, n = S.n, nc = n / 2 + 1;
  const std::ptrdiff_t rows = B * H;
  if (rows == 0 || L == 0) return;
  require_cpu_isa("fftconv");
  const Chunking c = chunking(rows, n);
  const RealPlan<T>& full = real_plan<T>(n, c.chunk);
  const std::ptrdiff_t tail_rows = rows - (c.chunks - 1) * c.chunk;
  const RealPlan<T>& tail = real_plan<T>(n, tail_rows);
  const std::ptrdiff_t rstride = round_up(c.chunk * n, 16), cstride = round_up(c.chunk * nc, 8);
  FftwBuffer<T> rbuf(static_cast<std::size_t>(c.threads * rstride));
  FftwBuffer<std::complex<T>> cbuf(static_cast<std::size_t>(c.threads * cstride));
#pragma omp parallel num_threads(static_cast<int>(c.threads))
  {
    const std::ptrdiff_t tid = omp_get_thread_num();
    T* in = rbuf.data() + tid * rstride;
    std::complex<T>* X = cbuf.data() + tid * cstride;
#pragma omp for schedule(dynamic)
    for (std::ptrdiff_t ci = 0; ci < c.chunks; ++ci) {
      const std::ptrdiff_t r0 = ci * c.chunk;
      const std::ptrdiff_t cnt = std::min(c.chunk, rows - r0);
      const RealPlan<T>& plan = cnt == c.chunk ? full : tail;
      for (std::ptrdiff_t i = 0; i < cnt; ++i) {
        const std::ptrdiff_t b = (r0 + i) / H, h = (r0 + i) % H;
        const T* src = u.row(b, h);
        T* row = in + i * n;
        if (u.stride_t == 1) std::memcpy(row, src, static_cast<std::size_t>(L) * sizeof(T));
        else
          for (std::ptrdiff_t t = 0; t < L; ++t) row[t] = src[t * u.stride_t];
        std::fill(row + L, row + n, T(0));
      }
      plan.r2c(in, X);
      for (std::ptrdiff_t i = 0; i < cnt; ++i)
        mul_spectrum(X + i * nc, S.K.data() + ((r0 + i) % H) * nc, nc);
      plan.c2r(X, in);
      for (std::ptrdiff_t i = 0; i < cnt; ++i) {
        const std::ptrdiff_t b = (r0 + i) / H, h = (r0 + i) % H;
        const T* src = u.row(b, h);
        const T d = D ? D[h] : T(0);
        const T* row = in + i * n;
        T* dst = y.row(b, h);
        // Reads u[t] before writing y[t]: exact in-place (y == u) is safe.
        if (u.stride_t == 1 && y.stride_t == 1) {
          detail::fftconv::add_scaled(row, d, src, dst, L);
        } else {
          for (std::ptrdiff_t t = 0; t < L; ++t)
            dst[t * y.stride_t] = row[t] + d * src[t * u.stride_t];
        }
      }
    }
  }
}

// ---- spectrum cache of the free function: keyed by the exact kernel contents -------------
template <class T>
class SpectrumCache {
public:
  static constexpr std::size_t kBudgetBytes = std::size_t{512} << 20;
  static constexpr std::size_t kMaxEntries = 8;

  std::shared_ptr<const Spectra<T>> get(const T* k, std::ptrdiff_t Lk, std::ptrdiff_t H,
                                        std::ptrdiff_t taps, std::ptrdiff_t n) {
    const std::uint64_t h = hash(k, Lk, H, taps, n);
    {
      std::lock_guard<std::mutex> lock(m_);
      for (auto it = entries_.begin(); it != entries_.end(); ++it) {
        if (it->hash == h && it->H == H && it->taps == taps && it->spectra->n == n &&
            same_taps(it->taps_copy, k, Lk, H, taps)) {
          entries_.splice(entries_.begin(), entries_, it);  // most recently used first
          return entries_.front().spectra;
        }
      }
    }
    auto s = compute_spectra<T>(k, Lk, H, taps, n);
    const std::size_t bytes = static_cast<std::size_t>(H) *
                              (static_cast<std::size_t>(n / 2 + 1) * sizeof(std::complex<T>) +
                               static_cast<std::size_t>(taps) * sizeof(T));
    if (bytes <= kBudgetBytes / 2) {
      Entry e;
      e.hash = h;
      e.H = H;
      e.taps = taps;
      e.bytes = bytes;
      e.spectra = s;
      e.taps_copy.resize(static_cast<std::size_t>(H * taps));
      for (std::ptrdiff_t r = 0; r < H; ++r)
        std::copy(k + r * Lk, k + r * Lk + taps, e.taps_copy.begin() + r * taps);
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
    std::ptrdiff_t H = 0, taps = 0;
    std::size_t bytes = 0;
    std::vector<T> taps_copy;
    std::shared_ptr<const Spectra<T>> spectra;
  };

  static std::uint64_t hash(const T* k, std::ptrdiff_t Lk, std::ptrdiff_t H, std::ptrdiff_t taps,
                            std::ptrdiff_t n) {
    std::uint64_t x = 0xcbf29ce484222325ull ^ static_cast<std::uint64_t>(n * 1000003 + taps);
    for (std::ptrdiff_t r = 0; r < H; ++r) {
      const auto* bytes = reinterpret_cast<const unsigned char*>(k + r * Lk);
      const std::size_t nb = static_cast<std::size_t>(taps) * sizeof(T);
      std::size_t i = 0;
      for (; i + 8 <= nb; i += 8) {
        std::uint64_t w;
        std::memcpy(&w, bytes + i, 8);
        x = (x ^ w) * 0x100000001b3ull;
        x ^= x >> 29;
      }
      for (; i < nb; ++i) x = (x ^ bytes[i]) * 0x100000001b3ull;
    }
    return x;
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
  if (D)
    for (std::ptrdiff_t h = 0; h < H; ++h)
      require(std::isfinite(D[h]), where, "D", "must be finite, got D[", h, "] = ", D[h]);
  if (u.size() == 0) return;
  for (std::ptrdiff_t b = 0; b < u.batch; ++b)
    for (std::ptrdiff_t h = 0; h < u.channels; ++h) {
      const T* r = u.row(b, h);
      for (std::ptrdiff_t t = 0; t < u.length; ++t)
        require(std::isfinite(r[t * u.stride_t]), where, "u",
                "must be finite (a non-finite sample would spread through the FFT to every output "
                "of its row), got u[", b, ",", h, ",", t, "] = ", r[t * u.stride_t]);
    }
  check_overlap(where, u, y);
}

template <class T>
void validate_kernel(const char* where, const T* k, std::ptrdiff_t Lk, std::ptrdiff_t H,
                     bool host_data = true) {
  require(Lk >= 1, where, "Lk", "must be >= 1, got ", Lk);
  require(k != nullptr || H == 0, where, "k", "must not be null");
  if (!host_data) return;  // device memory: the CUDA backend checks k
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
  detail::validate_kernel("fftconv", k, Lk, H, host_data);
  detail::validate_common("fftconv", u, k, Lk, D, y, H, host_data);
  detail::dispatch(
      "fftconv", device,
      [&] {
        if (u.size() == 0) return;
        const std::ptrdiff_t L = u.length;
        const std::ptrdiff_t taps = std::min(Lk, L);
        const std::ptrdiff_t n = fft_fast_size(L + taps - 1);
        const auto spectra = detail::spectrum_cache<T>().get(k, Lk, H, taps, n);
        detail::convolve_rows<T>(u, *spectra, D, y);
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
  const std::ptrdiff_t taps = std::min(Lk, L_);
  const std::ptrdiff_t n = fft_fast_size(L_ + taps - 1);
  impl_->spectra = detail::compute_spectra<T>(k, Lk, H_, taps, n);
  impl_->D = D ? std::vector<T>(D, D + H_) : std::vector<T>{};
  Lk_ = Lk;
  n_ = n;
}

template <class T>
void FFTConv<T>::apply(View3<const T> u, View3<T> y) const {
  require(impl_ != nullptr, "FFTConv::apply", "this", "must be constructed with a kernel first");
  detail::validate_common<T>("FFTConv::apply", u, nullptr, Lk_, nullptr, y, H_);
  require(u.length <= L_, "FFTConv::apply", "u", "must have length <= max_length (", L_, "), got ",
          u.length);
  if (u.size() == 0) return;
  detail::convolve_rows<T>(u, *impl_->spectra, impl_->D.empty() ? nullptr : impl_->D.data(), y);
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
