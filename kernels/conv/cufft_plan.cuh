#pragma once
// CUDA-internal: cuFFT plans for the FFT convolutions (kernels/conv/*.cu): one owner type and the
// per-device plan cache shared by CudaFFTConv and the fftconv device entry.
#include <cufft.h>

#include <mutex>
#include <utility>

#include <cuda_runtime.h>

#include "kernels/core/cuda_check.cuh"

namespace ssm::detail {

/// Owner of one cuFFT plan.
class CufftPlan {
public:
  CufftPlan() = default;
  /// Batched 1-D real transform of size n over `batch` rows, in place with padded rows of
  /// 2 (n/2 + 1) reals (= n/2 + 1 complex), or out of place with rows of n reals.
  /// forward: R2C, else C2R. Throws ssm::Error naming `where` when cuFFT refuses.
  CufftPlan(long long n, long long batch, bool forward, bool in_place, const char* where);
  ~CufftPlan() {
    if (h_) cufftDestroy(h_);
  }
  CufftPlan(CufftPlan&& o) noexcept : h_(std::exchange(o.h_, 0)) {}
  CufftPlan& operator=(CufftPlan&&) = delete;
  cufftHandle get() const noexcept { return h_; }

private:
  cufftHandle h_ = 0;
};

/// Plans shared by every CudaFFTConv, per device (a plan belongs to the device current when it
/// was made) and keyed by (n, batch, direction, in place, stream): work queued on different
/// streams gets different plans, hence different cuFFT work areas, and may overlap on the GPU.
/// The plan is bound to `stream` before it is returned. Setting a plan's stream and executing
/// it is not safe from several host threads at once: callers hold cufft_plan_mutex() while they
/// get and execute a plan.
std::mutex& cufft_plan_mutex();
cufftHandle cached_cufft_plan(long long n, long long batch, bool forward, bool in_place,
                              cudaStream_t stream);

}  // namespace ssm::detail
