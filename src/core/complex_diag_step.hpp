#pragma once
// Internal: one time step of a complex diagonal recurrence over `count` modes, the inner loop of
// both the streaming DiagFilter (src/stream/diag_filter.cpp) and the CPU diag_scan
// (src/scan/diag_scan.cpp):
//   x_n <- a_n x_n + b_n u   (complex, split re/im arrays),   returns sum_n Re(c_n x_n)
// with the new x. `count` is an int or a std::integral_constant (compile-time mode count, so
// the loop fully unrolls over register-resident arrays). kOut = false updates x only.
// Real-time safe: no allocation, lock or throw.

namespace ssm::detail {

template <bool kOut = true, class T, class Count>
[[gnu::always_inline]] inline T complex_diag_step(const T* __restrict ar, const T* __restrict ai,
                                                  const T* __restrict br, const T* __restrict bi,
                                                  const T* __restrict cr, const T* __restrict ci,
                                                  T* __restrict xr, T* __restrict xi, Count count,
                                                  T u) noexcept {
  T acc = 0;
#pragma omp simd reduction(+ : acc)
  for (int n = 0; n < count; ++n) {
    const T r = ar[n] * xr[n] - ai[n] * xi[n] + br[n] * u;
    const T i = ar[n] * xi[n] + ai[n] * xr[n] + bi[n] * u;
    xr[n] = r;
    xi[n] = i;
    if constexpr (kOut) acc += cr[n] * r - ci[n] * i;
  }
  return acc;
}

}  // namespace ssm::detail
