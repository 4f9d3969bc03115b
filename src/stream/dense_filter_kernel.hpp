#pragma once
// Internal: the DenseFilter products per SIMD target (dense_filter_kernel.cpp), dispatched
// (core/simd.hpp): out = M1 v1 + M2 v2 with M1 (rows x c1) and M2 (rows x c2) column-major
// (Eigen's default layout, leading dimension = rows), one vector of rows at a time, columns
// accumulated in order. out must not alias v1 or v2. Real-time safe.
#include <cstddef>

namespace ssm::detail::densef {

void gemv2(const float* M1, const float* v1, int c1, const float* M2, const float* v2, int c2, int rows,
           float* out) noexcept;
void gemv2(const double* M1, const double* v1, int c1, const double* M2, const double* v2, int c2, int rows,
           double* out) noexcept;

}  // namespace ssm::detail::densef
