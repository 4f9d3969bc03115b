// Device discovery for the CUDA build (the non-CUDA build defines these in src/core/device.cpp).
#include <cuda_runtime.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "kernels/core/cuda_check.cuh"
#include "ssm/core/device.hpp"

namespace ssm {

bool cuda_compiled() noexcept { return true; }

bool cuda_available() noexcept {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    return false;
  }
  return n > 0;
}

std::string cuda_description() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    // Without any NVIDIA driver the runtime reports cudaErrorInsufficientDriver ("driver version
    // is insufficient"), which reads as an old driver: say that there is none.
    if (::access("/dev/nvidiactl", F_OK) != 0 && ::access("/dev/nvidia0", F_OK) != 0)
      return std::string("no GPU on this machine (no NVIDIA driver loaded: no /dev/nvidiactl; the CUDA runtime says ") +
             cudaGetErrorName(e) + ")";
    return std::string("no usable GPU: ") + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
  }
  if (n == 0) return "no GPU visible to this process";
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) dev = 0;
  cudaDeviceProp p{};
  if (cudaGetDeviceProperties(&p, dev) != cudaSuccess) {
    (void)cudaGetLastError();
    return "GPU present but its properties could not be read";
  }
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s (compute capability %d.%d, %d SMs, %.1f GiB, L2 %.0f MiB)",
                p.name, p.major, p.minor, p.multiProcessorCount,
                static_cast<double>(p.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0),
                static_cast<double>(p.l2CacheSize) / (1024.0 * 1024.0));
  return buf;
}

int cuda_device_count() noexcept {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return n;
}

int cuda_current_device() { return detail::current_device("cuda_current_device"); }

void cuda_set_device(int index) {
  const int n = cuda_device_count();
  require(index >= 0 && index < n, "cuda_set_device", "index", "must name a visible GPU (0 <= index < ",
          n, "), got ", index);
  SSM_CUDA_CHECK(cudaSetDevice(index), "cuda_set_device");
}

}  // namespace ssm
