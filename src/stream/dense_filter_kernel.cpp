// DenseFilter's products per SIMD target (dense_filter_kernel.hpp).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "stream/dense_filter_kernel.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/highway.h>

#include "stream/dense_filter_kernel.hpp"

HWY_BEFORE_NAMESPACE();
namespace ssm::detail::densef::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

template <class T>
HWY_INLINE void gemv(const T* M1, const T* v1, int c1, const T* M2, const T* v2, int c2, int rows, T* out) {
  const hn::ScalableTag<T> d;
  const int L = static_cast<int>(hn::Lanes(d));
  int i = 0;
  for (; i + L <= rows; i += L) {
    auto acc = hn::Zero(d);
    for (int j = 0; j < c1; ++j) acc = hn::MulAdd(hn::LoadU(d, M1 + static_cast<std::ptrdiff_t>(j) * rows + i), hn::Set(d, v1[j]), acc);
    for (int j = 0; j < c2; ++j) acc = hn::MulAdd(hn::LoadU(d, M2 + static_cast<std::ptrdiff_t>(j) * rows + i), hn::Set(d, v2[j]), acc);
    hn::StoreU(acc, d, out + i);
  }
  for (; i < rows; ++i) {  // the remaining rows, same order of terms
    T acc = T(0);
    for (int j = 0; j < c1; ++j) acc += M1[static_cast<std::ptrdiff_t>(j) * rows + i] * v1[j];
    for (int j = 0; j < c2; ++j) acc += M2[static_cast<std::ptrdiff_t>(j) * rows + i] * v2[j];
    out[i] = acc;
  }
}

void GemvF32(const float* M1, const float* v1, int c1, const float* M2, const float* v2, int c2, int rows, float* out) {
  gemv(M1, v1, c1, M2, v2, c2, rows, out);
}
void GemvF64(const double* M1, const double* v1, int c1, const double* M2, const double* v2, int c2, int rows,
             double* out) {
  gemv(M1, v1, c1, M2, v2, c2, rows, out);
}

}  // namespace ssm::detail::densef::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace ssm::detail::densef {
HWY_EXPORT(GemvF32);
HWY_EXPORT(GemvF64);
void gemv2(const float* M1, const float* v1, int c1, const float* M2, const float* v2, int c2, int rows,
           float* out) noexcept {
  HWY_DYNAMIC_DISPATCH(GemvF32)(M1, v1, c1, M2, v2, c2, rows, out);
}
void gemv2(const double* M1, const double* v1, int c1, const double* M2, const double* v2, int c2, int rows,
           double* out) noexcept {
  HWY_DYNAMIC_DISPATCH(GemvF64)(M1, v1, c1, M2, v2, c2, rows, out);
}
}  // namespace ssm::detail::densef
#endif
