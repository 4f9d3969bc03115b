#pragma once
// RAII GPU memory with explicit host <-> device transfers.
//
// DeviceBuffer<T> owns `size()` elements of T in GPU global memory (cudaMalloc; never managed
// memory). Nothing is copied implicitly: upload() copies host -> device, download() device ->
// host, both synchronous with respect to the host (they return once the copy is complete and
// all earlier work on the default stream has finished), so the host buffer may be reused at
// once. Element counts are checked against size(); a mismatch throws ssm::Error.
//
// Every CUDA failure (out of memory, a fault left by an earlier kernel) throws ssm::Error.
// Without SSM_WITH_CUDA every constructor that allocates and every transfer throws
// ssm::Error("... CUDA not compiled in"); a default-constructed (empty) buffer is always fine.
// Not for real-time paths: allocation and transfers block.
#include <cstddef>
#include <utility>
#include <vector>

namespace ssm {

/// Untyped owner of one device allocation. Move-only.
class DeviceMemory {
public:
  DeviceMemory() noexcept = default;
  /// Allocates `bytes` bytes (0 allocates nothing). Contents are uninitialised.
  explicit DeviceMemory(std::size_t bytes);
  ~DeviceMemory();
  DeviceMemory(DeviceMemory&& o) noexcept
      : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  DeviceMemory& operator=(DeviceMemory&& o) noexcept {
    if (this != &o) {
      release();
      ptr_ = std::exchange(o.ptr_, nullptr);
      bytes_ = std::exchange(o.bytes_, 0);
    }
    return *this;
  }
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;

  void* get() const noexcept { return ptr_; }
  std::size_t bytes() const noexcept { return bytes_; }

  /// Copies `bytes` bytes from host memory to [offset, offset + bytes) of this allocation.
  void upload(const void* host, std::size_t bytes, std::size_t offset = 0);
  /// Copies [offset, offset + bytes) of this allocation to host memory.
  void download(void* host, std::size_t bytes, std::size_t offset = 0) const;
  /// Sets every byte to zero.
  void zero();

private:
  void release() noexcept;
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

/// Typed device array of n elements of a trivially copyable T.
template <class T>
class DeviceBuffer {
public:
  DeviceBuffer() noexcept = default;
  explicit DeviceBuffer(std::size_t n) : mem_(n * sizeof(T)), n_(n) {}
  /// Allocates host.size() elements and uploads them.
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size()) { upload(host); }
  /// Moving leaves the source empty (size() == 0, data() == nullptr).
  DeviceBuffer(DeviceBuffer&& o) noexcept : mem_(std::move(o.mem_)), n_(std::exchange(o.n_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      mem_ = std::move(o.mem_);
      n_ = std::exchange(o.n_, 0);
    }
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  T* data() const noexcept { return static_cast<T*>(mem_.get()); }
  std::size_t size() const noexcept { return n_; }
  bool empty() const noexcept { return n_ == 0; }

  /// Uploads n elements from host to elements [offset, offset + n).
  void upload(const T* host, std::size_t n, std::size_t offset = 0) {
    check(n, offset, "upload");
    mem_.upload(host, n * sizeof(T), offset * sizeof(T));
  }
  void upload(const std::vector<T>& host) { upload(host.data(), host.size()); }
  /// Downloads elements [offset, offset + n) to host.
  void download(T* host, std::size_t n, std::size_t offset = 0) const {
    check(n, offset, "download");
    mem_.download(host, n * sizeof(T), offset * sizeof(T));
  }
  /// Downloads the whole buffer.
  std::vector<T> to_host() const {
    std::vector<T> v(n_);
    download(v.data(), n_);
    return v;
  }
  void zero() { mem_.zero(); }

private:
  void check(std::size_t n, std::size_t offset, const char* what) const;
  DeviceMemory mem_;
  std::size_t n_ = 0;
};

namespace detail {
[[noreturn]] void device_buffer_range_error(const char* what, std::size_t n, std::size_t offset,
                                            std::size_t size);
}

template <class T>
void DeviceBuffer<T>::check(std::size_t n, std::size_t offset, const char* what) const {
  if (offset > n_ || n > n_ - offset) detail::device_buffer_range_error(what, n, offset, n_);
}

/// Waits until all work queued on the GPU has finished; throws ssm::Error on any pending fault.
void device_synchronize();

}  // namespace ssm
