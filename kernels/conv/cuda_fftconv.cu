// ssm::CudaFFTConv (include/ssm/conv/fftconv_cuda.hpp describes the method): the kernel's
// spectrum kept on the GPU, then per call pad, transform, fused spectral product, transform back.
#include <cuda_runtime.h>
#include <cufft.h>

#include <algorithm>
#include <mutex>

#include "kernels/conv/cufft_plan.cuh"
#include "kernels/conv/spectral_kernels.cuh"
#include "kernels/core/cuda_check.cuh"
#include "ssm/conv/fftconv.hpp"
#include "ssm/conv/fftconv_cuda.hpp"
#include "ssm/core/cuda_stream.hpp"
#include "ssm/core/device_buffer.hpp"

namespace ssm {
using namespace detail;

namespace {
constexpr const char* kWhere = "fftconv_cuda";
}  // namespace

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

  std::lock_guard<std::mutex> lock(cufft_plan_mutex());
  m.spectrum = DeviceBuffer<float2>(static_cast<std::size_t>(H * m.cpx));
  float* sre = reinterpret_cast<float*>(m.spectrum.data());
  launch_pad_rows(k, sre, taps, m.n, m.pitch, Lk, H, nullptr, kWhere);
  SSM_CUFFT_CHECK(cufftExecR2C(cached_cufft_plan(m.n, H, true, true, nullptr), sre,
                               reinterpret_cast<cufftComplex*>(m.spectrum.data())),
                  kWhere);
  launch_finish_spectrum(m.spectrum.data(), D, m.cpx, H, 1.0f / static_cast<float>(m.n), nullptr, kWhere);
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
  std::lock_guard<std::mutex> lock(cufft_plan_mutex());
  if (work.size() < static_cast<std::size_t>(slab * cpx))  // cudaFree of the old one waits for its users
    work = DeviceBuffer<float2>(static_cast<std::size_t>(slab * cpx));
  if (!work_free) SSM_CUDA_CHECK(cudaEventCreateWithFlags(&work_free, cudaEventDisableTiming), kWhere);
  else SSM_CUDA_CHECK(cudaStreamWaitEvent(stream, work_free, 0), kWhere);
  float* buf = reinterpret_cast<float*>(work.data());
  cufftComplex* X = reinterpret_cast<cufftComplex*>(work.data());
  for (long long r0 = 0; r0 < rows; r0 += slab) {
    const long long s = std::min(slab, rows - r0);
    launch_pad_rows(u + r0 * L, buf, L, n, pitch, L, s, stream, kWhere);
    SSM_CUFFT_CHECK(cufftExecR2C(cached_cufft_plan(n, s, true, true, stream), buf, X), kWhere);
    launch_spectral_product(work.data(), spectrum.data(), cpx, r0, H, s, stream, kWhere);
    SSM_CUFFT_CHECK(cufftExecC2R(cached_cufft_plan(n, s, false, true, stream), X, buf), kWhere);
    launch_extract_rows(buf, y + r0 * L, L, pitch, s, stream, kWhere);
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
