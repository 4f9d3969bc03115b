// CUDA implementation of ssm::DeviceMemory (include/ssm/core/device_buffer.hpp).
#include <cuda_runtime.h>

#include "kernels/core/cuda_check.cuh"
#include "ssm/core/cuda_stream.hpp"
#include "ssm/core/device_buffer.hpp"

namespace ssm {

DeviceMemory::DeviceMemory(std::size_t bytes) {
  if (bytes == 0) return;
  SSM_CUDA_CHECK(cudaMalloc(&ptr_, bytes), "DeviceMemory");
  bytes_ = bytes;
}

DeviceMemory::~DeviceMemory() { release(); }

void DeviceMemory::release() noexcept {
  if (ptr_) (void)cudaFree(ptr_);  // a destructor must not throw; a pending fault shows elsewhere
  ptr_ = nullptr;
  bytes_ = 0;
}

void DeviceMemory::upload(const void* host, std::size_t bytes, std::size_t offset) {
  require(offset <= bytes_ && bytes <= bytes_ - offset, "DeviceMemory::upload", "bytes",
          "must fit the allocation: ", bytes, " bytes at offset ", offset, " of ", bytes_);
  if (bytes == 0) return;
  require(host != nullptr, "DeviceMemory::upload", "host", "must not be null");
  SSM_CUDA_CHECK(cudaMemcpy(static_cast<char*>(ptr_) + offset, host, bytes, cudaMemcpyHostToDevice),
                 "DeviceMemory::upload");
}

void DeviceMemory::download(void* host, std::size_t bytes, std::size_t offset) const {
  require(offset <= bytes_ && bytes <= bytes_ - offset, "DeviceMemory::download", "bytes",
          "must fit the allocation: ", bytes, " bytes at offset ", offset, " of ", bytes_);
  if (bytes == 0) return;
  require(host != nullptr, "DeviceMemory::download", "host", "must not be null");
  SSM_CUDA_CHECK(cudaMemcpy(host, static_cast<const char*>(ptr_) + offset, bytes,
                            cudaMemcpyDeviceToHost),
                 "DeviceMemory::download");
}

namespace {
/// Whether `p` is page-locked host memory known to CUDA (cudaMallocHost, cudaHostAlloc,
/// cudaHostRegister).
bool pinned(const void* p) {
  cudaPointerAttributes attr{};
  if (cudaPointerGetAttributes(&attr, p) != cudaSuccess) {
    (void)cudaGetLastError();
    return false;
  }
  return attr.type == cudaMemoryTypeHost;
}
}  // namespace

namespace {
/// The checks of an asynchronous copy of `bytes` at `offset` of an allocation of `size` bytes
/// to or from `host` on `stream` (`dir`: "to" or "from" pageable memory in the message).
/// Returns the stream, or null when there is nothing to copy.
cudaStream_t async_copy_checks(const char* where, const void* host, std::size_t bytes, std::size_t offset,
                               std::size_t size, const CudaStream& stream, const char* dir, const char* sync) {
  require(offset <= size && bytes <= size - offset, where, "bytes", "must fit the allocation: ", bytes,
          " bytes at offset ", offset, " of ", size);
  const cudaStream_t s = detail::stream_of(stream, where);
  if (bytes == 0) return nullptr;
  require(host != nullptr, where, "host", "must not be null");
  require(pinned(host), where, "host",
          "must be pinned host memory (ssm::PinnedBuffer, cudaHostAlloc or cudaHostRegister): a copy ", dir,
          " pageable memory cannot run asynchronously (use ", sync, "())");
  return s;
}
}  // namespace

void DeviceMemory::upload_async(const void* host, std::size_t bytes, std::size_t offset, const CudaStream& stream) {
  const char* where = "DeviceMemory::upload_async";
  const cudaStream_t s = async_copy_checks(where, host, bytes, offset, bytes_, stream, "from", "upload");
  if (bytes == 0) return;
  SSM_CUDA_CHECK(cudaMemcpyAsync(static_cast<char*>(ptr_) + offset, host, bytes, cudaMemcpyHostToDevice, s),
                 where);
}

void DeviceMemory::download_async(void* host, std::size_t bytes, std::size_t offset,
                                  const CudaStream& stream) const {
  const char* where = "DeviceMemory::download_async";
  const cudaStream_t s = async_copy_checks(where, host, bytes, offset, bytes_, stream, "to", "download");
  if (bytes == 0) return;
  SSM_CUDA_CHECK(cudaMemcpyAsync(host, static_cast<const char*>(ptr_) + offset, bytes, cudaMemcpyDeviceToHost, s),
                 where);
}

PinnedMemory::PinnedMemory(std::size_t bytes) {
  if (bytes == 0) return;
  SSM_CUDA_CHECK(cudaMallocHost(&ptr_, bytes), "PinnedMemory");
  bytes_ = bytes;
}

PinnedMemory::~PinnedMemory() { release(); }

void PinnedMemory::release() noexcept {
  if (ptr_) (void)cudaFreeHost(ptr_);  // no throw in a destructor
  ptr_ = nullptr;
  bytes_ = 0;
}

void DeviceMemory::zero() {
  if (bytes_ == 0) return;
  SSM_CUDA_CHECK(cudaMemset(ptr_, 0, bytes_), "DeviceMemory::zero");
}

namespace detail {
void device_buffer_range_error(const char* what, std::size_t n, std::size_t offset,
                               std::size_t size) {
  throw Error(concat("DeviceBuffer::", what, ": argument 'n' must fit the buffer: ", n,
                     " elements at offset ", offset, " of ", size));
}
}  // namespace detail

void device_synchronize() { SSM_CUDA_CHECK(cudaDeviceSynchronize(), "device_synchronize"); }

}  // namespace ssm
