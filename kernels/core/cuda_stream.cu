// CUDA implementation of ssm::CudaStream (include/ssm/core/cuda_stream.hpp).
#include <cuda_runtime.h>

#include <utility>

#include "kernels/core/cuda_check.cuh"
#include "ssm/core/cuda_stream.hpp"

namespace ssm {

CudaStream::CudaStream() {
  device_ = detail::current_device("CudaStream");
  cudaStream_t s = nullptr;
  SSM_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "CudaStream");
  stream_ = s;
  owned_ = true;
  valid_ = true;
}

CudaStream::CudaStream(Wrap, void* s) : stream_(s), device_(detail::current_device("CudaStream::wrap")), valid_(true) {}

CudaStream CudaStream::wrap(void* cuda_stream) { return CudaStream(Wrap{}, cuda_stream); }

CudaStream::~CudaStream() { release(); }

void CudaStream::release() noexcept {
  if (owned_ && stream_) {  // destroyed with its own device current (no throw in a destructor)
    int cur = -1;
    const bool switch_device = cudaGetDevice(&cur) == cudaSuccess && cur != device_ &&
                               cudaSetDevice(device_) == cudaSuccess;
    (void)cudaStreamDestroy(static_cast<cudaStream_t>(stream_));
    if (switch_device) (void)cudaSetDevice(cur);
  }
  stream_ = nullptr;
  owned_ = false;
  valid_ = false;
  device_ = -1;
}

CudaStream::CudaStream(CudaStream&& o) noexcept
    : stream_(std::exchange(o.stream_, nullptr)), device_(std::exchange(o.device_, -1)),
      owned_(std::exchange(o.owned_, false)), valid_(std::exchange(o.valid_, false)) {}

CudaStream& CudaStream::operator=(CudaStream&& o) noexcept {
  if (this != &o) {
    release();
    stream_ = std::exchange(o.stream_, nullptr);
    device_ = std::exchange(o.device_, -1);
    owned_ = std::exchange(o.owned_, false);
    valid_ = std::exchange(o.valid_, false);
  }
  return *this;
}

void CudaStream::synchronize() const {
  require(valid_, "CudaStream::synchronize", "stream", "must be a live stream (this one was moved from)");
  SSM_CUDA_CHECK(cudaStreamSynchronize(static_cast<cudaStream_t>(stream_)), "CudaStream::synchronize");
}

bool CudaStream::ready() const {
  require(valid_, "CudaStream::ready", "stream", "must be a live stream (this one was moved from)");
  const cudaError_t e = cudaStreamQuery(static_cast<cudaStream_t>(stream_));
  if (e == cudaErrorNotReady) {
    (void)cudaGetLastError();
    return false;
  }
  SSM_CUDA_CHECK(e, "CudaStream::ready");
  return true;
}

namespace detail {
cudaStream_t stream_of(const CudaStream& s, const char* where) {
  require(s.valid(), where, "stream", "must be a live CudaStream (this one was moved from)");
  return static_cast<cudaStream_t>(s.handle());
}
}  // namespace detail

}  // namespace ssm
