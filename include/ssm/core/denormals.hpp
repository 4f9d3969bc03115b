#pragma once
// Scoped flush-to-zero for the calling thread: on x86-64 FTZ and DAZ in the SSE MXCSR, on
// aarch64 FZ in FPCR (bit 24: subnormal inputs and results of scalar, NEON and SVE float and
// double arithmetic are replaced by zero); elsewhere a no-op. Real-time process() calls hold
// one for their duration so that decaying states (silence after a burst) never hit the slow
// subnormal path. The previous mode is restored on destruction.
#include <cstdint>
#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#endif

namespace ssm {

class ScopedFlushDenormals {
public:
  ScopedFlushDenormals() noexcept {
#if defined(__SSE__) || defined(__x86_64__)
    saved_ = _mm_getcsr();
    _mm_setcsr(static_cast<unsigned>(saved_) | 0x8040u);  // FTZ (bit 15) | DAZ (bit 6)
#elif defined(__aarch64__) && defined(__GNUC__)
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(saved_));
    const std::uint64_t fz = saved_ | (std::uint64_t{1} << 24);
    __asm__ __volatile__("msr fpcr, %0" : : "r"(fz) : "memory");
#endif
  }
  ~ScopedFlushDenormals() {
#if defined(__SSE__) || defined(__x86_64__)
    _mm_setcsr(static_cast<unsigned>(saved_));
#elif defined(__aarch64__) && defined(__GNUC__)
    __asm__ __volatile__("msr fpcr, %0" : : "r"(saved_) : "memory");
#endif
  }
  ScopedFlushDenormals(const ScopedFlushDenormals&) = delete;
  ScopedFlushDenormals& operator=(const ScopedFlushDenormals&) = delete;

private:
  std::uint64_t saved_ = 0;  // MXCSR (32 bits) or FPCR
};

}  // namespace ssm
