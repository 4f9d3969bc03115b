#pragma once
// RAII GPU memory with explicit host <-> device transfers.
//
// DeviceBuffer<T> owns `size()` elements of T in GPU global memory (cudaMalloc; never managed
// memory). Nothing is copied implicitly: upload() copies host -> device, download() device ->
// host, both synchronous with respect to the host (they return once the copy is complete and
// all earlier work on the default stream has finished), so the host buffer may be reused at
// once. Element counts are checked against size(); a mismatch throws ssm::Error.
//
// Asynchronous transfers: upload_async() / download_async() queue the copy on a CudaStream
// (include/ssm/core/cuda_stream.hpp) and return at once, so copies overlap GPU work and each
// other. They take only page-locked host memory (PinnedBuffer below, or memory the caller
// pinned with cudaHostAlloc / cudaHostRegister): a copy from pageable memory cannot run
// asynchronously, so it is refused with ssm::Error naming 'host' rather than silently
// serialized. The host memory must stay untouched until the stream has run the copy (after
// stream.synchronize(), or for work queued later on the same stream).
//
// Every CUDA failure (out of memory, a fault left by an earlier kernel) throws ssm::Error.
// Without SSM_WITH_CUDA every constructor that allocates and every transfer throws
// ssm::Error("... CUDA not compiled in"); a default-constructed (empty) buffer is always fine.
// Not for real-time paths: allocation and transfers block.
#include <cstddef>
#include <utility>
#include <vector>

namespace ssm {

class CudaStream;

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
  /// Queues the copy of `bytes` bytes from pinned host memory to [offset, offset + bytes) on
  /// `stream`; returns at once (see the file comment).
  void upload_async(const void* host, std::size_t bytes, std::size_t offset, const CudaStream& stream);
  /// Queues the copy of [offset, offset + bytes) to pinned host memory on `stream`.
  void download_async(void* host, std::size_t bytes, std::size_t offset, const CudaStream& stream) const;

private:
  void release() noexcept;
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

/// Untyped owner of page-locked (pinned) host memory (cudaMallocHost). Move-only.
class PinnedMemory {
public:
  PinnedMemory() noexcept = default;
  /// Allocates `bytes` bytes of pinned host memory (0 allocates nothing); uninitialised.
  explicit PinnedMemory(std::size_t bytes);
  ~PinnedMemory();
  PinnedMemory(PinnedMemory&& o) noexcept
      : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  PinnedMemory& operator=(PinnedMemory&& o) noexcept {
    if (this != &o) {
      release();
      ptr_ = std::exchange(o.ptr_, nullptr);
      bytes_ = std::exchange(o.bytes_, 0);
    }
    return *this;
  }
  PinnedMemory(const PinnedMemory&) = delete;
  PinnedMemory& operator=(const PinnedMemory&) = delete;

  void* get() const noexcept { return ptr_; }
  std::size_t bytes() const noexcept { return bytes_; }

private:
  void release() noexcept;
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

/// Host array of n elements of a trivially copyable T in pinned memory: the source and
/// destination of asynchronous transfers. Pinned memory is a scarce system resource (it cannot
/// be paged out); allocate it once and reuse it. Without CUDA, allocating throws ssm::Error.
template <class T>
class PinnedBuffer {
public:
  PinnedBuffer() noexcept = default;
  /// n elements, uninitialised.
  explicit PinnedBuffer(std::size_t n) : mem_(n * sizeof(T)), n_(n) {}
  PinnedBuffer(PinnedBuffer&& o) noexcept : mem_(std::move(o.mem_)), n_(std::exchange(o.n_, 0)) {}
  PinnedBuffer& operator=(PinnedBuffer&& o) noexcept {
    if (this != &o) {
      mem_ = std::move(o.mem_);
      n_ = std::exchange(o.n_, 0);
    }
    return *this;
  }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  T* data() const noexcept { return static_cast<T*>(mem_.get()); }
  std::size_t size() const noexcept { return n_; }
  bool empty() const noexcept { return n_ == 0; }
  T& operator[](std::size_t i) const noexcept { return data()[i]; }
  T* begin() const noexcept { return data(); }
  T* end() const noexcept { return data() + n_; }

private:
  PinnedMemory mem_;
  std::size_t n_ = 0;
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

  /// Queues the upload of host[0, n) (pinned memory) to elements [offset, offset + n) on
  /// `stream` and returns at once (see the file comment).
  void upload_async(const T* host, std::size_t n, std::size_t offset, const CudaStream& stream) {
    check(n, offset, "upload_async");
    mem_.upload_async(host, n * sizeof(T), offset * sizeof(T), stream);
  }
  void upload_async(const PinnedBuffer<T>& host, const CudaStream& stream) {
    upload_async(host.data(), host.size(), 0, stream);
  }
  /// Queues the download of elements [offset, offset + n) to host[0, n) (pinned memory).
  void download_async(T* host, std::size_t n, std::size_t offset, const CudaStream& stream) const {
    check(n, offset, "download_async");
    mem_.download_async(host, n * sizeof(T), offset * sizeof(T), stream);
  }
  void download_async(PinnedBuffer<T>& host, const CudaStream& stream) const {
    download_async(host.data(), host.size(), 0, stream);
  }

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
