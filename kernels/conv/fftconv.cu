// CUDA backend of ssm::fftconv and ssm::CudaFFTConv through cuFFT (include/ssm/conv/fftconv_cuda.hpp
// describes the method).
#include <cuda_runtime.h>
#include <cufft.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <list>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "backend/fftconv_cuda.hpp"
#include "backend/fftconv_device.hpp"
#include "ssm/conv/fftconv_cuda.hpp"
#include "kernels/core/cuda_check.cuh"
#include "kernels/core/device_checks.cuh"
#include "ssm/conv/fftconv.hpp"
#include "ssm/core/cuda_stream.hpp"
#include "ssm/core/device_buffer.hpp"

namespace ssm::detail {
namespace {

constexpr const char* kWhere = "fftconv_cuda";

/// Owner of one cuFFT plan.
class CufftPlan {
public:
  CufftPlan() = default;
  /// Batched 1-D real transform of size n over `batch` rows, in place with padded rows of
  /// 2 (n/2 + 1) reals (= n/2 + 1 complex). forward: R2C, else C2R.
  CufftPlan(long long n, long long batch, bool forward, bool in_place) {
    SSM_CUFFT_CHECK(cufftCreate(&h_), kWhere);
    long long nn[1] = {n};
    const long long cpx = n / 2 + 1;
    long long real_embed[1] = {in_place ? 2 * cpx : n};
    long long cpx_embed[1] = {cpx};
    const long long real_dist = in_place ? 2 * cpx : n;
    std::size_t ws = 0;
    cufftResult r;
    if (forward)
      r = cufftMakePlanMany64(h_, 1, nn, real_embed, 1, real_dist, cpx_embed, 1, cpx, CUFFT_R2C,
                              batch, &ws);
    else
      r = cufftMakePlanMany64(h_, 1, nn, cpx_embed, 1, cpx, real_embed, 1, real_dist, CUFFT_C2R,
                              batch, &ws);
    if (r != CUFFT_SUCCESS) {
      cufftDestroy(h_);
      h_ = 0;
      throw_cufft(r, kWhere, "cufftMakePlanMany64");
    }
  }
  ~CufftPlan() {
    if (h_) cufftDestroy(h_);
  }
  CufftPlan(CufftPlan&& o) noexcept : h_(std::exchange(o.h_, 0)) {}
  cufftHandle get() const noexcept { return h_; }

private:
  cufftHandle h_ = 0;
};

/// Plans shared by every CudaFFTConv, per device (a plan belongs to the device current when it
/// was made) and keyed by (n, batch, direction, in place, stream): work queued on different
/// streams gets different plans, hence different cuFFT work areas, and may overlap on the GPU.
/// The plan is bound to `stream` before it is returned. Setting a plan's stream and executing
/// it is not safe from several host threads at once; all uses hold plan_mutex().
std::mutex& plan_mutex() {
  static std::mutex m;
  return m;
}
cufftHandle cached_plan(long long n, long long batch, bool forward, bool in_place, cudaStream_t stream) {
  static std::map<int, std::map<std::tuple<long long, long long, bool, bool, std::uintptr_t>, CufftPlan>>
      per_device;
  auto& cache = per_device[current_device(kWhere)];
  const auto key = std::make_tuple(n, batch, forward, in_place, reinterpret_cast<std::uintptr_t>(stream));
  auto it = cache.find(key);
  if (it == cache.end()) {
    // Bound the plans' workspace; cleared while their own device is current.
    if (cache.size() >= 16) cache.clear();
    it = cache.emplace(key, CufftPlan(n, batch, forward, in_place)).first;
  }
  SSM_CUFFT_CHECK(cufftSetStream(it->second.get(), stream), kWhere);
  return it->second.get();
}

// buf[s, t] = t < L ? src[(r0 + s), t] : 0 for t < n (rows of `pitch` reals).
__global__ void pad_rows(const float* __restrict__ src, float* __restrict__ buf, long long L,
                         long long n, long long pitch, long long Lsrc_row) {
  const long long s = blockIdx.y;
  const float* row = src + s * Lsrc_row;
  float* out = buf + s * pitch;
  for (long long t = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; t < n;
       t += static_cast<long long>(gridDim.x) * blockDim.x)
    out[t] = t < L ? row[t] : 0.f;
}

// X[s, f] *= S[(r0 + s) % H, f]: the fused spectral product (S includes D and 1/n).
__global__ void spectral_product(float2* __restrict__ X, const float2* __restrict__ S,
                                 long long cpx, long long r0, int H) {
  const long long s = blockIdx.y;
  const float2* k = S + ((r0 + s) % H) * cpx;
  float2* x = X + s * cpx;
  for (long long f = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; f < cpx;
       f += static_cast<long long>(gridDim.x) * blockDim.x) {
    const float2 a = x[f], b = k[f];
    x[f] = make_float2(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
  }
}

// y[s, t] = buf[s, t] for t < L.
__global__ void extract_rows(const float* __restrict__ buf, float* __restrict__ y, long long L,
                             long long pitch) {
  const long long s = blockIdx.y;
  for (long long t = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; t < L;
       t += static_cast<long long>(gridDim.x) * blockDim.x)
    y[s * L + t] = buf[s * pitch + t];
}

// S[h, f] = (S[h, f] + D[h]) / n.
__global__ void finish_spectrum(float2* S, const float* D, long long cpx, float inv_n) {
  const long long h = blockIdx.y;
  const float d = D ? D[h] : 0.f;
  for (long long f = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; f < cpx;
       f += static_cast<long long>(gridDim.x) * blockDim.x) {
    float2 v = S[h * cpx + f];
    S[h * cpx + f] = make_float2((v.x + d) * inv_n, v.y * inv_n);
  }
}

dim3 row_grid(long long len, long long rows) {
  const long long bx = std::min<long long>((len + 255) / 256, 1024);
  return dim3(static_cast<unsigned>(std::max<long long>(bx, 1)), static_cast<unsigned>(rows));
}

}  // namespace

}  // namespace ssm::detail

// ---- ssm::CudaFFTConv ---------------------------------------------------------------------------
namespace ssm {
using namespace detail;  // the helpers above

struct CudaFFTConv::Impl {
  int device = 0;  // where the spectra live; apply() runs there
  int H = 0;
  long long max_L = 0, Lk = 0, n = 0, cpx = 0, pitch = 0, slab_rows = 0;
  DeviceBuffer<float2> spectrum;  // (H, cpx)
  mutable DeviceBuffer<float2> work;  // (slab_rows, cpx), in-place transform buffer
  // Recorded after the last use of `work` on the stream of that call; a call on another stream
  // waits for it on the GPU first, so that calls on different streams take turns with `work`.
  mutable cudaEvent_t work_free = nullptr;
  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() {
    if (work_free) (void)cudaEventDestroy(work_free);  // no throw in a destructor
  }
  /// Queues the convolution on `stream` (the current device is the object's).
  void enqueue(const float* u, float* y, int batch, long long L, cudaStream_t stream) const;
};

CudaFFTConv::CudaFFTConv(int H, std::ptrdiff_t max_length, const float* k, std::ptrdiff_t Lk,
                         const float* D, std::size_t workspace_bytes)
    : impl_(std::make_unique<Impl>()) {
  require(H >= 1, "CudaFFTConv", "H", "must be >= 1, got ", H);
  require(max_length >= 1, "CudaFFTConv", "max_length", "must be >= 1, got ", max_length);
  require(Lk >= 1, "CudaFFTConv", "Lk", "must be >= 1, got ", Lk);
  require(k != nullptr, "CudaFFTConv", "k", "must not be null");
  Impl& m = *impl_;
  m.device = current_device(kWhere);
  m.H = H;
  m.max_L = max_length;
  m.Lk = Lk;
  const long long taps = std::min<long long>(Lk, max_length);
  // n >= 2 (cuFFT has no size-1 real transform); rows and channels go in grid.y (<= 65535).
  m.n = fft_fast_size(std::max<long long>(2, max_length + taps - 1));
  require(H <= 65535, "CudaFFTConv", "H", "must be <= 65535, got ", H);
  m.cpx = m.n / 2 + 1;
  m.pitch = 2 * m.cpx;
  const std::size_t budget = workspace_bytes ? workspace_bytes : (std::size_t{1} << 30);
  const long long row_bytes = m.cpx * static_cast<long long>(sizeof(float2));
  m.slab_rows = std::clamp<long long>(static_cast<long long>(budget) / row_bytes, 1, 65535);

  std::lock_guard<std::mutex> lock(plan_mutex());
  m.spectrum = DeviceBuffer<float2>(static_cast<std::size_t>(H * m.cpx));
  float* sre = reinterpret_cast<float*>(m.spectrum.data());
  pad_rows<<<row_grid(m.n, H), 256>>>(k, sre, taps, m.n, m.pitch, Lk);
  SSM_CUDA_CHECK_LAUNCH(kWhere);
  SSM_CUFFT_CHECK(cufftExecR2C(cached_plan(m.n, H, true, true, nullptr), sre,
                               reinterpret_cast<cufftComplex*>(m.spectrum.data())),
                  kWhere);
  finish_spectrum<<<row_grid(m.cpx, H), 256>>>(m.spectrum.data(), D, m.cpx,
                                                1.0f / static_cast<float>(m.n));
  SSM_CUDA_CHECK_LAUNCH(kWhere);
  SSM_CUDA_CHECK(cudaDeviceSynchronize(), kWhere);
}

CudaFFTConv::~CudaFFTConv() = default;
CudaFFTConv::CudaFFTConv(CudaFFTConv&&) noexcept = default;
CudaFFTConv& CudaFFTConv::operator=(CudaFFTConv&&) noexcept = default;
int CudaFFTConv::channels() const noexcept { return impl_->H; }
int CudaFFTConv::device() const noexcept { return impl_->device; }
std::ptrdiff_t CudaFFTConv::fft_size() const noexcept { return impl_->n; }
std::ptrdiff_t CudaFFTConv::max_length() const noexcept { return impl_->max_L; }

void CudaFFTConv::Impl::enqueue(const float* u, float* y, int batch, long long L, cudaStream_t stream) const {
  require(batch >= 1, "CudaFFTConv::apply", "batch", "must be >= 1, got ", batch);
  require(L >= 1 && L <= max_L, "CudaFFTConv::apply", "L", "must be in [1, ", max_L, "], got ", L);
  require(u != nullptr && y != nullptr, "CudaFFTConv::apply", "u, y", "must not be null");
  const long long rows = static_cast<long long>(batch) * H;
  const long long slab = std::min(rows, slab_rows);
  std::lock_guard<std::mutex> lock(plan_mutex());
  if (work.size() < static_cast<std::size_t>(slab * cpx))  // cudaFree of the old one waits for its users
    work = DeviceBuffer<float2>(static_cast<std::size_t>(slab * cpx));
  if (!work_free) SSM_CUDA_CHECK(cudaEventCreateWithFlags(&work_free, cudaEventDisableTiming), kWhere);
  else SSM_CUDA_CHECK(cudaStreamWaitEvent(stream, work_free, 0), kWhere);
  float* buf = reinterpret_cast<float*>(work.data());
  cufftComplex* X = reinterpret_cast<cufftComplex*>(work.data());
  for (long long r0 = 0; r0 < rows; r0 += slab) {
    const long long s = std::min(slab, rows - r0);
    pad_rows<<<row_grid(n, s), 256, 0, stream>>>(u + r0 * L, buf, L, n, pitch, L);
    SSM_CUDA_CHECK_LAUNCH(kWhere);
    SSM_CUFFT_CHECK(cufftExecR2C(cached_plan(n, s, true, true, stream), buf, X), kWhere);
    spectral_product<<<row_grid(cpx, s), 256, 0, stream>>>(work.data(), spectrum.data(), cpx, r0, H);
    SSM_CUDA_CHECK_LAUNCH(kWhere);
    SSM_CUFFT_CHECK(cufftExecC2R(cached_plan(n, s, false, true, stream), X, buf), kWhere);
    extract_rows<<<row_grid(L, s), 256, 0, stream>>>(buf, y + r0 * L, L, pitch);
    SSM_CUDA_CHECK_LAUNCH(kWhere);
  }
  SSM_CUDA_CHECK(cudaEventRecord(work_free, stream), kWhere);
}

void CudaFFTConv::apply(const float* u, float* y, int batch, std::ptrdiff_t L) const {
  const DeviceGuard on_device(impl_->device, kWhere);  // the device of the spectra (and of u, y)
  impl_->enqueue(u, y, batch, L, nullptr);
  SSM_CUDA_CHECK(cudaStreamSynchronize(nullptr), kWhere);
}

void CudaFFTConv::apply(const float* u, float* y, int batch, std::ptrdiff_t L, const CudaStream& stream) const {
  const cudaStream_t s = stream_of(stream, "CudaFFTConv::apply");
  require(stream.device() == impl_->device, "CudaFFTConv::apply", "stream",
          "must belong to the GPU the spectra live on (", impl_->device, "), got a stream of GPU ",
          stream.device());
  const DeviceGuard on_device(impl_->device, kWhere);
  impl_->enqueue(u, y, batch, L, s);
}

}  // namespace ssm

namespace ssm::detail {

// ---- the unfused baseline ----------------------------------------------------------------------
namespace {
__global__ void multiply_spectra(float2* X, const float2* K, long long cpx, int H) {
  const long long s = blockIdx.y;
  const float2* k = K + (s % H) * cpx;
  for (long long f = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; f < cpx;
       f += static_cast<long long>(gridDim.x) * blockDim.x) {
    const float2 a = X[s * cpx + f], b = k[f];
    X[s * cpx + f] = make_float2(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
  }
}
__global__ void scale_add_skip(const float* full, const float* u, const float* D, float* y,
                               long long L, long long n, int H, float inv_n) {
  const long long s = blockIdx.y;
  const float d = D ? D[s % H] : 0.f;
  for (long long t = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; t < L;
       t += static_cast<long long>(gridDim.x) * blockDim.x)
    y[s * L + t] = full[s * n + t] * inv_n + d * u[s * L + t];
}
}  // namespace

void fftconv_cuda_unfused(const float* u, const float* k, std::ptrdiff_t Lk, const float* D,
                          float* y, int batch, int H, std::ptrdiff_t L) {
  const long long taps = std::min<long long>(Lk, L);
  const long long n = fft_fast_size(std::max<long long>(2, L + taps - 1)), cpx = n / 2 + 1;
  const long long rows = static_cast<long long>(batch) * H;
  require(rows <= 65535, "fftconv_cuda_unfused", "batch", "times H must be <= 65535, got ", rows);
  DeviceBuffer<float> upad(static_cast<std::size_t>(rows * n)), kpad(static_cast<std::size_t>(H * n));
  DeviceBuffer<float2> U(static_cast<std::size_t>(rows * cpx)), K(static_cast<std::size_t>(H * cpx));
  CufftPlan fk(n, H, true, false), fu(n, rows, true, false), inv(n, rows, false, false);
  pad_rows<<<row_grid(n, H), 256>>>(k, kpad.data(), taps, n, n, Lk);
  pad_rows<<<row_grid(n, rows), 256>>>(u, upad.data(), L, n, n, L);
  SSM_CUDA_CHECK_LAUNCH(kWhere);
  SSM_CUFFT_CHECK(cufftExecR2C(fk.get(), kpad.data(), reinterpret_cast<cufftComplex*>(K.data())), kWhere);
  SSM_CUFFT_CHECK(cufftExecR2C(fu.get(), upad.data(), reinterpret_cast<cufftComplex*>(U.data())), kWhere);
  multiply_spectra<<<row_grid(cpx, rows), 256>>>(U.data(), K.data(), cpx, H);
  SSM_CUDA_CHECK_LAUNCH(kWhere);
  SSM_CUFFT_CHECK(cufftExecC2R(inv.get(), reinterpret_cast<cufftComplex*>(U.data()), upad.data()), kWhere);
  scale_add_skip<<<row_grid(L, rows), 256>>>(upad.data(), u, D, y, L, n, H, 1.0f / static_cast<float>(n));
  SSM_CUDA_CHECK_LAUNCH(kWhere);
  SSM_CUDA_CHECK(cudaDeviceSynchronize(), kWhere);
}

// ---- the device entry used by ssm::fftconv(..., Device::cuda) -----------------------------------
namespace {
/// Kernel spectra of recently used kernels, keyed by their exact contents (host copies).
struct SpectrumEntry {
  int device;  // the GPU the spectrum lives on
  int H;
  long long Lk, max_L;
  std::vector<float> k, D;
  std::shared_ptr<CudaFFTConv> conv;
};
std::mutex& entry_mutex() {
  static std::mutex m;
  return m;
}

// dst[i] = src(b, h, t) with i = (b H + h) L + t (to_view = false), or the reverse scatter.
__global__ void pack_view(const float* __restrict__ src, float* __restrict__ dst, long long H,
                          long long L, long long sb, long long sc, long long st, long long total,
                          bool to_view) {
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    const long long t = i % L, r = i / L, h = r % H, b = r / H;
    const long long j = b * sb + h * sc + t * st;
    if (to_view) dst[j] = src[i];
    else dst[i] = src[j];
  }
}
unsigned pack_blocks(long long total) {
  return static_cast<unsigned>(std::max<long long>(1, std::min<long long>((total + 255) / 256, 65535)));
}

std::vector<float> read_back(const float* p, std::size_t n) {
  std::vector<float> h(n);
  if (n) SSM_CUDA_CHECK(cudaMemcpy(h.data(), p, n * sizeof(float), cudaMemcpyDeviceToHost), kWhere);
  return h;
}
}  // namespace

void fftconv_cuda(View3<const float> u, const float* k, std::ptrdiff_t Lk, const float* D,
                  View3<float> y) {
  constexpr const char* w = "fftconv";
  const int B = static_cast<int>(u.batch), H = static_cast<int>(u.channels);
  const std::ptrdiff_t L = u.length;
  // k and D are read back: they are checked finite here (as the CPU path does) and key the
  // spectrum cache; they are small next to u, which is checked on the GPU.
  if (H > 0) require_device_pointer(k, w, "k");
  if (D && H > 0) require_device_pointer(D, w, "D");
  std::vector<float> kh = read_back(k, static_cast<std::size_t>(H) * static_cast<std::size_t>(Lk));
  std::vector<float> Dh = D ? read_back(D, static_cast<std::size_t>(H)) : std::vector<float>{};
  for (std::size_t i = 0; i < kh.size(); ++i)
    require(std::isfinite(kh[i]), w, "k", "must be finite, got k[", i / Lk, ",", i % Lk, "] = ", kh[i]);
  for (std::size_t h = 0; h < Dh.size(); ++h)
    require(std::isfinite(Dh[h]), w, "D", "must be finite, got D[", h, "] = ", Dh[h]);
  if (u.size() == 0) return;
  require_device_pointer(u.data, w, "u");
  require_device_pointer(y.data, w, "y");
  const long long total = static_cast<long long>(u.size());

  // u in the contiguous (B, H, L) layout the convolution object takes.
  DeviceBuffer<float> packed_u;
  const float* ud = u.data;
  if (!u.contiguous()) {
    packed_u = DeviceBuffer<float>(static_cast<std::size_t>(total));
    pack_view<<<pack_blocks(total), 256>>>(u.data, packed_u.data(), H, L, u.stride_b, u.stride_c,
                                           u.stride_t, total, false);
    SSM_CUDA_CHECK_LAUNCH(kWhere);
    ud = packed_u.data();
  }
  const long long bad = first_nonfinite(ud, total, kWhere);
  if (bad >= 0) {
    float v = 0;
    SSM_CUDA_CHECK(cudaMemcpy(&v, ud + bad, sizeof v, cudaMemcpyDeviceToHost), kWhere);
    fail(w, "u",
         "must be finite (a non-finite sample would spread through the FFT to every output of its "
         "row), got u[", bad / (static_cast<long long>(H) * L), ",", (bad / L) % H, ",", bad % L, "] = ", v);
  }

  std::shared_ptr<CudaFFTConv> conv;
  const int device = current_device(kWhere);
  {
    static std::list<SpectrumEntry> cache;  // most recent first, at most 4 kernels
    std::lock_guard<std::mutex> lock(entry_mutex());
    for (auto it = cache.begin(); it != cache.end(); ++it)
      // A spectrum built for max_L >= L is exact for L too; reuse it unless it is much larger.
      if (it->device == device && it->H == H && it->Lk == Lk && it->max_L >= L && it->max_L <= 2 * L && it->k == kh &&
          it->D == Dh) {
        cache.splice(cache.begin(), cache, it);
        conv = it->conv;
        break;
      }
    if (!conv) {
      conv = std::make_shared<CudaFFTConv>(H, L, k, Lk, D);  // k, D: the caller's device arrays
      cache.push_front(SpectrumEntry{device, H, Lk, L, std::move(kh), std::move(Dh), conv});
      if (cache.size() > 4) cache.pop_back();
    }
  }
  // Straight into y when it is contiguous and not u itself (the object needs y apart from u);
  // otherwise through a packed buffer, then scattered into y's layout.
  const bool direct = y.contiguous() && static_cast<const void*>(y.data) != static_cast<const void*>(ud);
  if (direct) {
    conv->apply(ud, y.data, B, L);
    return;
  }
  DeviceBuffer<float> packed_y(static_cast<std::size_t>(total));
  conv->apply(ud, packed_y.data(), B, L);
  pack_view<<<pack_blocks(total), 256>>>(packed_y.data(), y.data, H, L, y.stride_b, y.stride_c,
                                         y.stride_t, total, true);
  SSM_CUDA_CHECK_LAUNCH(kWhere);
  SSM_CUDA_CHECK(cudaDeviceSynchronize(), kWhere);
}

}  // namespace ssm::detail
