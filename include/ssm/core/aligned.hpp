#pragma once
// Storage aligned for vector loads: AlignedVector<T> is a std::vector whose data() is aligned to
// kSimdAlign = 64 bytes (a cache line, one AVX-512 vector). The CPU kernels read their weights,
// states and scratch rows with unaligned vector loads; on 16-byte aligned storage (what
// operator new gives) every other 32-byte load straddles two cache lines, which halves the load
// throughput of the streaming kernels on current x86 cores (docs/realtime.md).
// Allocation happens where a std::vector's would (construction, assign, resize): real-time
// paths keep their rule of not resizing.
#include <cstddef>
#include <new>
#include <vector>

namespace ssm {

inline constexpr std::size_t kSimdAlign = 64;

template <class T>
struct AlignedAllocator {
  using value_type = T;
  AlignedAllocator() noexcept = default;
  template <class U>
  AlignedAllocator(const AlignedAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(kSimdAlign)));
  }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, std::align_val_t(kSimdAlign)); }
  template <class U>
  bool operator==(const AlignedAllocator<U>&) const noexcept { return true; }
  template <class U>
  bool operator!=(const AlignedAllocator<U>&) const noexcept { return false; }
};

template <class T>
using AlignedVector = std::vector<T, AlignedAllocator<T>>;

}  // namespace ssm
