#pragma once
// Scoped flush-to-zero / denormals-are-zero for the calling thread (x86 SSE MXCSR; on other
// architectures a no-op). Real-time process() calls hold one for their duration so that
// decaying states (silence after a burst) never hit the slow subnormal path.
#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#endif

namespace ssm {

class ScopedFlushDenormals {
public:
  ScopedFlushDenormals() noexcept {
#if defined(__SSE__) || defined(__x86_64__)
    saved_ = _mm_getcsr();
    _mm_setcsr(saved_ | 0x8040u);  // FTZ (bit 15) | DAZ (bit 6)
#endif
  }
  ~ScopedFlushDenormals() {
#if defined(__SSE__) || defined(__x86_64__)
    _mm_setcsr(saved_);
#endif
  }
  ScopedFlushDenormals(const ScopedFlushDenormals&) = delete;
  ScopedFlushDenormals& operator=(const ScopedFlushDenormals&) = delete;

private:
  unsigned saved_ = 0;
};

}  // namespace ssm
