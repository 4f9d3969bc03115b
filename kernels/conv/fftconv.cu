// The CUDA backend of ssm::fftconv(..., Device::cuda) (src/backend/fftconv_cuda.hpp): checks the
// device data, keeps the spectra of recently used kernels (CudaFFTConv objects keyed by the
// kernel's contents) and packs strided views to and from the contiguous layout they take.
#include <cuda_runtime.h>

#include <cmath>
#include <list>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "backend/fftconv_cuda.hpp"
#include "kernels/conv/spectral_kernels.cuh"
#include "kernels/core/cuda_check.cuh"
#include "kernels/core/device_checks.cuh"
#include "ssm/conv/fftconv_cuda.hpp"
#include "ssm/core/device_buffer.hpp"

namespace ssm::detail {
namespace {
constexpr const char* kWhere = "fftconv_cuda";
}  // namespace

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
    launch_pack_view(u.data, packed_u.data(), H, L, u.stride_b, u.stride_c, u.stride_t, total, false,
                     nullptr, kWhere);
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
  launch_pack_view(packed_y.data(), y.data, H, L, y.stride_b, y.stride_c, y.stride_t, total, true,
                   nullptr, kWhere);
  SSM_CUDA_CHECK(cudaDeviceSynchronize(), kWhere);
}

}  // namespace ssm::detail
