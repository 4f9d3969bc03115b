#pragma once
// Internal: checks of the Device::cuda entry points on data the host cannot read:
// require_device_pointer (a host pointer given to a Device::cuda entry point is refused naming
// the argument instead of faulting inside a kernel) and first_nonfinite (the index of the first
// non-finite element of a device array: fftconv's u, diag_kernel's K; one grid-stride pass,
// atomicMin keeps the smallest index, so the answer is deterministic).
#include <cuda_runtime.h>

#include <algorithm>

#include "kernels/core/cuda_check.cuh"

namespace ssm::detail {

/// Throws ssm::Error naming `arg` unless p (non-null) is memory the current device can read
/// as a device pointer: cudaMalloc'd on the current device, or managed.
inline void require_device_pointer(const void* p, const char* where, const char* arg) {
  cudaPointerAttributes at{};
  const cudaError_t e = cudaPointerGetAttributes(&at, p);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    throw_cuda(e, where, "cudaPointerGetAttributes");
  }
  if (at.type == cudaMemoryTypeManaged) return;
  require(at.type == cudaMemoryTypeDevice, where, arg,
          "must be a device pointer (Device::cuda takes GPU memory; host data goes through the "
          "..._from_host / ..._to_host conveniences), got host memory");
  const int dev = current_device(where);
  require(at.device == dev, where, arg, "must be memory of the current GPU ", dev,
          ", got memory of GPU ", at.device);
}

template <class T>
__global__ void first_nonfinite_kernel(const T* __restrict__ x, long long n, unsigned long long* first) {
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long long>(gridDim.x) * blockDim.x)
    if (!isfinite(x[i])) atomicMin(first, static_cast<unsigned long long>(i));
}

/// Index of the first non-finite x[i], i < n (device array on the current device), or -1.
/// Runs on the legacy default stream and waits for it (after the work already queued there).
template <class T>
long long first_nonfinite(const T* x, long long n, const char* where) {
  if (n <= 0) return -1;
  unsigned long long* d = nullptr;
  SSM_CUDA_CHECK(cudaMalloc(&d, sizeof *d), where);
  struct Free {
    unsigned long long* p;
    ~Free() { (void)cudaFree(p); }  // no throw in a destructor
  } guard{d};
  SSM_CUDA_CHECK(cudaMemset(d, 0xff, sizeof *d), where);
  const long long blocks = std::min<long long>((n + 255) / 256, 4096);
  first_nonfinite_kernel<T><<<static_cast<unsigned>(blocks), 256>>>(x, n, d);
  SSM_CUDA_CHECK_LAUNCH(where);
  unsigned long long h = 0;
  SSM_CUDA_CHECK(cudaMemcpy(&h, d, sizeof h, cudaMemcpyDeviceToHost), where);
  return h == ~0ULL ? -1 : static_cast<long long>(h);
}

}  // namespace ssm::detail
