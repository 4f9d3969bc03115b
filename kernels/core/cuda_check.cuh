#pragma once
// Error handling of the CUDA backend: every CUDA runtime and cuFFT status that is not success
// becomes an ssm::Error naming the call site and the library's own message, e.g.
//   "selective_scan_cuda: CUDA error 'out of memory' (cudaErrorMemoryAllocation) in cudaMalloc"
// Kernel launches are checked with SSM_CUDA_CHECK_LAUNCH (cudaGetLastError right after the
// launch: configuration errors); asynchronous faults surface at the next synchronizing call,
// which is checked too.
#include <cuda_runtime.h>
#include <cufft.h>

#include <cstddef>

#include "ssm/core/error.hpp"

namespace ssm::detail {

[[noreturn]] inline void throw_cuda(cudaError_t e, const char* where, const char* what) {
  (void)cudaGetLastError();  // clear a sticky-free error so later calls start clean
  throw Error(concat(where, ": CUDA error '", cudaGetErrorString(e), "' (", cudaGetErrorName(e),
                     ") in ", what));
}

inline const char* cufft_status_name(cufftResult r) noexcept {
  switch (r) {
    case CUFFT_SUCCESS: return "CUFFT_SUCCESS";
    case CUFFT_INVALID_PLAN: return "CUFFT_INVALID_PLAN";
    case CUFFT_ALLOC_FAILED: return "CUFFT_ALLOC_FAILED (out of device memory)";
    case CUFFT_INVALID_TYPE: return "CUFFT_INVALID_TYPE";
    case CUFFT_INVALID_VALUE: return "CUFFT_INVALID_VALUE";
    case CUFFT_INTERNAL_ERROR: return "CUFFT_INTERNAL_ERROR";
    case CUFFT_EXEC_FAILED: return "CUFFT_EXEC_FAILED";
    case CUFFT_SETUP_FAILED: return "CUFFT_SETUP_FAILED";
    case CUFFT_INVALID_SIZE: return "CUFFT_INVALID_SIZE";
    case CUFFT_UNALIGNED_DATA: return "CUFFT_UNALIGNED_DATA";
    case CUFFT_INVALID_DEVICE: return "CUFFT_INVALID_DEVICE";
    case CUFFT_NO_WORKSPACE: return "CUFFT_NO_WORKSPACE";
    case CUFFT_NOT_IMPLEMENTED: return "CUFFT_NOT_IMPLEMENTED";
    case CUFFT_NOT_SUPPORTED: return "CUFFT_NOT_SUPPORTED";
    default: return "unknown cuFFT status";
  }
}

[[noreturn]] inline void throw_cufft(cufftResult r, const char* where, const char* what) {
  throw Error(concat(where, ": cuFFT error ", static_cast<int>(r), " (", cufft_status_name(r),
                     ") in ", what));
}

}  // namespace ssm::detail

/// SSM_CUDA_CHECK(cudaMalloc(&p, n), "where"): throws ssm::Error unless cudaSuccess.
#define SSM_CUDA_CHECK(expr, where)                                      \
  do {                                                                   \
    const cudaError_t ssm_cuda_err_ = (expr);                            \
    if (ssm_cuda_err_ != cudaSuccess)                                    \
      ::ssm::detail::throw_cuda(ssm_cuda_err_, (where), #expr);          \
  } while (0)

/// Checks the launch configuration of the kernel launched just before.
#define SSM_CUDA_CHECK_LAUNCH(where) SSM_CUDA_CHECK(cudaGetLastError(), (where))

/// SSM_CUFFT_CHECK(cufftExecR2C(...), "where"): throws ssm::Error unless CUFFT_SUCCESS.
#define SSM_CUFFT_CHECK(expr, where)                                     \
  do {                                                                   \
    const cufftResult ssm_cufft_res_ = (expr);                           \
    if (ssm_cufft_res_ != CUFFT_SUCCESS)                                 \
      ::ssm::detail::throw_cufft(ssm_cufft_res_, (where), #expr);        \
  } while (0)

namespace ssm {
class CudaStream;
}

namespace ssm::detail {

/// The cudaStream_t of a live ssm::CudaStream (throws ssm::Error naming 'stream' for a
/// moved-from one); kernels/core/cuda_stream.cu.
cudaStream_t stream_of(const CudaStream& s, const char* where);

/// The calling thread's current CUDA device.
inline int current_device(const char* where) {
  int dev = 0;
  SSM_CUDA_CHECK(cudaGetDevice(&dev), where);
  return dev;
}

/// Makes `device` the current device for its lifetime, then restores the one that was current
/// (for objects bound to the device they were created on).
class DeviceGuard {
public:
  DeviceGuard(int device, const char* where) : prev_(current_device(where)) {
    if (device != prev_) {
      SSM_CUDA_CHECK(cudaSetDevice(device), where);
      switched_ = true;
    }
  }
  ~DeviceGuard() {
    if (switched_) (void)cudaSetDevice(prev_);  // a destructor must not throw
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

private:
  int prev_ = 0;
  bool switched_ = false;
};

/// Scratch device memory for work queued on `stream` (current device): stream-ordered
/// (cudaMallocAsync / cudaFreeAsync: the memory is released once the stream has run the work
/// queued before the destructor) where the device has memory pools (CUDA 11.2+ drivers, every
/// Hopper/Ampere setup), else cudaMalloc / cudaFree (which waits for the device). Move-less.
class StreamScratch {
public:
  StreamScratch(std::size_t bytes, cudaStream_t stream, const char* where) : stream_(stream) {
    int pools = 0;
    SSM_CUDA_CHECK(cudaDeviceGetAttribute(&pools, cudaDevAttrMemoryPoolsSupported, current_device(where)), where);
    pooled_ = pools != 0;
    if (pooled_) SSM_CUDA_CHECK(cudaMallocAsync(&ptr_, bytes, stream), where);
    else SSM_CUDA_CHECK(cudaMalloc(&ptr_, bytes), where);
  }
  ~StreamScratch() {  // no throw in a destructor; a pending fault shows at the next sync
    if (pooled_) (void)cudaFreeAsync(ptr_, stream_);
    else (void)cudaFree(ptr_);
  }
  StreamScratch(const StreamScratch&) = delete;
  StreamScratch& operator=(const StreamScratch&) = delete;
  void* get() const noexcept { return ptr_; }

private:
  void* ptr_ = nullptr;
  cudaStream_t stream_;
  bool pooled_ = false;
};

}  // namespace ssm::detail
