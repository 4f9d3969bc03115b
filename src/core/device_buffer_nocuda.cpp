// ssm::DeviceMemory without CUDA: allocating or transferring throws ssm::Error; an empty
// buffer can still be created, moved and destroyed.
#ifndef SSM_WITH_CUDA
#include "ssm/core/device_buffer.hpp"
#include "ssm/core/error.hpp"

namespace ssm {
namespace {
[[noreturn]] void no_cuda(const char* where) {
  throw Error(detail::concat(where, ": CUDA not compiled in (SSM_WITH_CUDA=OFF); device memory "
                                    "is unavailable"));
}
}  // namespace

DeviceMemory::DeviceMemory(std::size_t bytes) {
  if (bytes != 0) no_cuda("DeviceMemory");
}
DeviceMemory::~DeviceMemory() { release(); }
void DeviceMemory::release() noexcept {
  ptr_ = nullptr;
  bytes_ = 0;
}
void DeviceMemory::upload(const void*, std::size_t, std::size_t) { no_cuda("DeviceMemory::upload"); }
void DeviceMemory::download(void*, std::size_t, std::size_t) const { no_cuda("DeviceMemory::download"); }
void DeviceMemory::zero() { no_cuda("DeviceMemory::zero"); }
void DeviceMemory::upload_async(const void*, std::size_t, std::size_t, const CudaStream&) {
  no_cuda("DeviceMemory::upload_async");
}
void DeviceMemory::download_async(void*, std::size_t, std::size_t, const CudaStream&) const {
  no_cuda("DeviceMemory::download_async");
}

PinnedMemory::PinnedMemory(std::size_t bytes) {
  if (bytes != 0) no_cuda("PinnedMemory");
}
PinnedMemory::~PinnedMemory() { release(); }
void PinnedMemory::release() noexcept {
  ptr_ = nullptr;
  bytes_ = 0;
}

namespace detail {
void device_buffer_range_error(const char* what, std::size_t n, std::size_t offset,
                               std::size_t size) {
  throw Error(concat("DeviceBuffer::", what, ": argument 'n' must fit the buffer: ", n,
                     " elements at offset ", offset, " of ", size));
}
}  // namespace detail

void device_synchronize() { no_cuda("device_synchronize"); }

}  // namespace ssm
#endif
