// Diagonal LTI scan (S4D) on the CPU (see diag_scan.hpp for the formula).
//
// Discretization per (channel, mode) in float64 via ssm::discretize_diag, rounded to T and
// stored split (re / im arrays) so the recurrence vectorizes over the modes. Parallel over
// (batch, channel) with OpenMP; when those cannot fill the team (or a chunk length is forced)
// time is split into K chunks: chunk k > 0 is first scanned from zero to its end state E_k,
// the true start states are carried with H_k = Ad^{len_k} H_{k-1} + E_k, and the chunks are
// rescanned from H_{k-1} with outputs (the same three phases as the selective scan).
#include "ssm/scan/diag_scan.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <vector>

#include "core/complex_diag_step.hpp"
#include "backend/scan_cuda.hpp"
#include "core/dispatch.hpp"
#include "ssm/core/error.hpp"

namespace ssm {

template <class T>
void DiagScanArgs<T>::validate() const {
  constexpr const char* w = "diag_scan";
  require(batch >= 1, w, "batch", "must be >= 1, got ", batch);
  require(channels >= 1, w, "channels", "must be >= 1, got ", channels);
  require(modes >= 1, w, "modes", "must be >= 1, got ", modes);
  require(length >= 1, w, "length", "must be >= 1, got ", length);
  require(method != Method::foh, w, "method", "foh is not defined for the ssm convention");
  require(alpha >= 0.0 && alpha <= 1.0, w, "alpha", "must lie in [0, 1], got ", alpha);
  require(A != nullptr, w, "A", "must not be null");
  require(B != nullptr, w, "B", "must not be null");
  require(C != nullptr, w, "C", "must not be null");
  require(dt != nullptr, w, "dt", "must not be null");
  require(u != nullptr, w, "u", "must not be null");
  require(y != nullptr, w, "y", "must not be null");
  require(u_strides.b >= 0 && u_strides.d >= 0 && u_strides.l >= 0, w, "u_strides",
          "must be non-negative, got (", u_strides.b, ", ", u_strides.d, ", ", u_strides.l, ")");
  const Strides3 ys = y_strides;
  require(ys.b >= 0 && ys.d >= 0 && ys.l >= 0, w, "y_strides", "must be non-negative, got (", ys.b,
          ", ", ys.d, ", ", ys.l, ")");
  if (!ys.is_default())
    require((ys.b > 0 || batch == 1) && (ys.d > 0 || channels == 1) && (ys.l > 0 || length == 1), w,
            "y_strides", "is an output: a zero stride along an axis of size > 1 would write one "
                         "element twice, got (", ys.b, ", ", ys.d, ", ", ys.l, ")");
}

template struct DiagScanArgs<float>;
template struct DiagScanArgs<double>;

namespace {

template <class T>
struct Disc {
  int N = 0;
  std::vector<T> adr, adi, bdr, bdi, cr, ci;  // (channels, modes) split
  std::vector<std::complex<double>> ad;       // (channels, modes) in double (chunk carry)
};

template <class T>
Disc<T> discretize_all(const DiagScanArgs<T>& a) {
  constexpr const char* w = "diag_scan";
  Disc<T> r;
  r.N = a.modes;
  const std::size_t n = static_cast<std::size_t>(a.channels) * a.modes;
  r.adr.resize(n); r.adi.resize(n); r.bdr.resize(n); r.bdi.resize(n); r.cr.resize(n); r.ci.resize(n);
  r.ad.resize(n);
  for (int h = 0; h < a.channels; ++h) {
    const double dt = static_cast<double>(a.dt[h]);
    require(std::isfinite(dt) && dt > 0, w, "dt", "must be finite and > 0, got ", dt, " at channel ", h);
    if (a.D) require(std::isfinite(static_cast<double>(a.D[h])), w, "D", "must be finite at channel ", h);
    for (int m = 0; m < a.modes; ++m) {
      const std::size_t i = static_cast<std::size_t>(h) * a.modes + m;
      const std::complex<double> A(a.A[2 * i], a.A[2 * i + 1]), B(a.B[2 * i], a.B[2 * i + 1]);
      require(std::isfinite(A.real()) && std::isfinite(A.imag()), w, "A", "must be finite at (", h, ", ", m, ")");
      require(std::isfinite(B.real()) && std::isfinite(B.imag()), w, "B", "must be finite at (", h, ", ", m, ")");
      require(std::isfinite(static_cast<double>(a.C[2 * i])) && std::isfinite(static_cast<double>(a.C[2 * i + 1])),
              w, "C", "must be finite at (", h, ", ", m, ")");
      std::complex<double> Ad, Bd;
      discretize_diag<double>(A, B, dt, a.method, a.alpha, Ad, Bd);
      require(std::isfinite(Ad.real()) && std::isfinite(Ad.imag()), w, "A",
              "gives a non-finite discrete Ad at (", h, ", ", m, ") (1 - alpha dt A = 0?)");
      r.ad[i] = Ad;
      r.adr[i] = static_cast<T>(Ad.real());
      r.adi[i] = static_cast<T>(Ad.imag());
      r.bdr[i] = static_cast<T>(Bd.real());
      r.bdi[i] = static_cast<T>(Bd.imag());
      r.cr[i] = a.C[2 * i];
      r.ci[i] = a.C[2 * i + 1];
    }
  }
  return r;
}

// x = Ad x + Bd u_t;  y_t = 2 Re(sum C x) + D u_t over [t0, t1); x split (re: x[0..N), im: x[N..2N)).
template <class T, bool OUT>
void scan_range(const DiagScanArgs<T>& a, const Disc<T>& q, const Strides3& su, const Strides3& sy,
                int b, int h, int t0, int t1, T* x) noexcept {
  const int N = q.N;
  const std::size_t o = static_cast<std::size_t>(h) * N;
  const T* adr = q.adr.data() + o;
  const T* adi = q.adi.data() + o;
  const T* bdr = q.bdr.data() + o;
  const T* bdi = q.bdi.data() + o;
  const T* cr = q.cr.data() + o;
  const T* ci = q.ci.data() + o;
  T* xr = x;
  T* xi = x + N;
  const T Dh = a.D ? a.D[h] : T(0);
  const T* up = a.u + su.offset(b, h, 0);
  T* yp = a.y + sy.offset(b, h, 0);
  for (int t = t0; t < t1; ++t) {
    const T u = up[t * su.l];
    const T acc = detail::complex_diag_step<OUT>(adr, adi, bdr, bdi, cr, ci, xr, xi, N, u);
    if constexpr (OUT) yp[t * sy.l] = T(2) * acc + Dh * u;
  }
}

template <class T>
void diag_cpu(const DiagScanArgs<T>& a, const ScanCpuOptions& opts) {
  a.validate();
  require(opts.threads >= 0, "diag_scan", "opts.threads", "must be >= 0, got ", opts.threads);
  require(opts.time_chunk >= 0, "diag_scan", "opts.time_chunk", "must be >= 0, got ", opts.time_chunk);
  const Disc<T> q = discretize_all(a);
  const Strides3 su = a.u_strides.resolved(a.channels, a.length);
  const Strides3 sy = a.y_strides.resolved(a.channels, a.length);
  const int N = a.modes, NS = 2 * N, L = a.length;
  const int threads = opts.threads > 0 ? opts.threads : std::max(1, omp_get_max_threads());
  const long long BH = static_cast<long long>(a.batch) * a.channels;

  auto load_h0 = [&](int b, int h, T* x) {
    const std::size_t off = (static_cast<std::size_t>(b) * a.channels + h) * N;
    for (int n = 0; n < N; ++n) {
      x[n] = a.h0 ? a.h0[2 * (off + n)] : T(0);
      x[N + n] = a.h0 ? a.h0[2 * (off + n) + 1] : T(0);
    }
  };
  auto store_last = [&](int b, int h, const T* x) {
    if (!a.last_state) return;
    const std::size_t off = (static_cast<std::size_t>(b) * a.channels + h) * N;
    for (int n = 0; n < N; ++n) {
      a.last_state[2 * (off + n)] = x[n];
      a.last_state[2 * (off + n) + 1] = x[N + n];
    }
  };

  int K = 1, chunk = L;
  if (opts.time_chunk > 0) {
    chunk = std::min(opts.time_chunk, L);
    K = (L + chunk - 1) / chunk;
  } else if (threads > 1 && BH < threads && L >= 1024) {
    K = static_cast<int>((threads + BH - 1) / BH) + 1;
    chunk = (L + K - 1) / K;
    K = (L + chunk - 1) / chunk;
  }
  const int team = static_cast<int>(std::clamp<long long>(BH * K, 1, threads));

  if (K == 1) {
#pragma omp parallel num_threads(team) if (team > 1)
    {
      std::vector<T> x(static_cast<std::size_t>(NS));
#pragma omp for schedule(dynamic, 1)
      for (long long bh = 0; bh < BH; ++bh) {
        const int b = static_cast<int>(bh / a.channels), h = static_cast<int>(bh % a.channels);
        load_h0(b, h, x.data());
        scan_range<T, true>(a, q, su, sy, b, h, 0, L, x.data());
        store_last(b, h, x.data());
      }
    }
    return;
  }

  // Chunked: state buffer (b, h, k) split, NS values each.
  std::vector<T> ends(static_cast<std::size_t>(BH) * K * NS);
  auto end_ptr = [&](long long bh, int k) { return ends.data() + (static_cast<std::size_t>(bh) * K + k) * NS; };
  // Phase 1.
#pragma omp parallel for num_threads(team) if (team > 1) schedule(dynamic, 1)
  for (long long i = 0; i < BH * (K - 1); ++i) {
    const long long bh = i / (K - 1);
    const int k = static_cast<int>(i % (K - 1));
    const int b = static_cast<int>(bh / a.channels), h = static_cast<int>(bh % a.channels);
    T* x = end_ptr(bh, k);
    const int t0 = k * chunk, t1 = std::min(L, t0 + chunk);
    if (k == 0) {
      load_h0(b, h, x);
      scan_range<T, true>(a, q, su, sy, b, h, t0, t1, x);
    } else {
      std::fill(x, x + NS, T(0));
      scan_range<T, false>(a, q, su, sy, b, h, t0, t1, x);
    }
  }
  // Phase 2: H_k = Ad^len H_{k-1} + E_k (k = 1..K-2), powers in double.
  for (long long bh = 0; bh < BH; ++bh) {
    const int h = static_cast<int>(bh % a.channels);
    for (int k = 1; k < K - 1; ++k) {
      const T* prev = end_ptr(bh, k - 1);
      T* cur = end_ptr(bh, k);
      const int len = std::min(L, (k + 1) * chunk) - k * chunk;
      for (int n = 0; n < N; ++n) {
        // Ad^len by repeated squaring.
        std::complex<double> p(1.0, 0.0), base = q.ad[static_cast<std::size_t>(h) * N + n];
        for (int e = len; e > 0; e >>= 1) {
          if (e & 1) p *= base;
          base *= base;
        }
        const std::complex<double> v = p * std::complex<double>(prev[n], prev[N + n]) +
                                       std::complex<double>(cur[n], cur[N + n]);
        cur[n] = static_cast<T>(v.real());
        cur[N + n] = static_cast<T>(v.imag());
      }
    }
  }
  // Phase 3.
#pragma omp parallel num_threads(team) if (team > 1)
  {
    std::vector<T> x(static_cast<std::size_t>(NS));
#pragma omp for schedule(dynamic, 1)
    for (long long i = 0; i < BH * (K - 1); ++i) {
      const long long bh = i / (K - 1);
      const int k = static_cast<int>(i % (K - 1)) + 1;
      const int b = static_cast<int>(bh / a.channels), h = static_cast<int>(bh % a.channels);
      std::copy(end_ptr(bh, k - 1), end_ptr(bh, k - 1) + NS, x.begin());
      const int t0 = k * chunk, t1 = std::min(L, t0 + chunk);
      scan_range<T, true>(a, q, su, sy, b, h, t0, t1, x.data());
      if (k == K - 1) store_last(b, h, x.data());
    }
  }
}

template <class T>
void diag_entry(const DiagScanArgs<T>& a, Device device) {
  if (device == Device::cuda) a.validate();  // the CPU path validates inside diag_cpu
  detail::dispatch(
      "diag_scan", device, [&] { diag_cpu(a, ScanCpuOptions{}); }, [&] { detail::diag_scan_cuda(a); });
}

}  // namespace

void diag_scan(const DiagScanArgs<float>& a, Device d) { diag_entry(a, d); }
void diag_scan(const DiagScanArgs<double>& a, Device d) { diag_entry(a, d); }

namespace {
template <class T>
void diag_on_stream(const DiagScanArgs<T>& a, const CudaStream& stream) {
  a.validate();
  detail::require_cuda("diag_scan", "stream");
#ifdef SSM_WITH_CUDA
  detail::diag_scan_cuda(a, stream);
#else
  (void)stream;
#endif
}
}  // namespace
void diag_scan(const DiagScanArgs<float>& a, const CudaStream& s) { diag_on_stream(a, s); }
void diag_scan(const DiagScanArgs<double>& a, const CudaStream& s) { diag_on_stream(a, s); }
void diag_scan_cpu(const DiagScanArgs<float>& a, const ScanCpuOptions& o) { diag_cpu(a, o); }
void diag_scan_cpu(const DiagScanArgs<double>& a, const ScanCpuOptions& o) { diag_cpu(a, o); }

}  // namespace ssm
