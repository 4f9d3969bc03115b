// The Eigen-backed linear maps of nn_ops.hpp, instantiated once for float and double.
#include "layers/nn_ops.hpp"

#include <Eigen/Dense>

namespace ssm::layers_detail {
namespace {
template <class T>
using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using Vec = Eigen::Matrix<T, Eigen::Dynamic, 1>;
}  // namespace

template <class T>
void linear_gemm(const T* X, std::ptrdiff_t rows, std::ptrdiff_t in, const T* W, const T* b,
                 std::ptrdiff_t out, T* Y, std::ptrdiff_t y_stride, std::ptrdiff_t x_stride) {
  if (y_stride < 0) y_stride = out;
  if (x_stride < 0) x_stride = in;
  Eigen::Map<const RowMat<T>, 0, Eigen::OuterStride<>> x(X, rows, in, Eigen::OuterStride<>(x_stride));
  Eigen::Map<const RowMat<T>> w(W, out, in);
  Eigen::Map<RowMat<T>, 0, Eigen::OuterStride<>> y(Y, rows, out, Eigen::OuterStride<>(y_stride));
  y.noalias() = x * w.transpose();
  if (b) y.rowwise() += Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>(b, out);
}

template <class T>
void linear_rows(const T* X, std::ptrdiff_t rows, std::ptrdiff_t in, const T* W, const T* b,
                 std::ptrdiff_t out, T* Y) noexcept {
  for (std::ptrdiff_t r = 0; r < rows; ++r) {
    Eigen::Map<const Vec<T>> x(X + r * in, in);
    T* y = Y + r * out;
    for (std::ptrdiff_t o = 0; o < out; ++o) {
      const T acc = Eigen::Map<const Vec<T>>(W + o * in, in).dot(x);
      y[o] = b ? acc + b[o] : acc;
    }
  }
}

template void linear_gemm<float>(const float*, std::ptrdiff_t, std::ptrdiff_t, const float*, const float*,
                                 std::ptrdiff_t, float*, std::ptrdiff_t, std::ptrdiff_t);
template void linear_gemm<double>(const double*, std::ptrdiff_t, std::ptrdiff_t, const double*, const double*,
                                  std::ptrdiff_t, double*, std::ptrdiff_t, std::ptrdiff_t);
template void linear_rows<float>(const float*, std::ptrdiff_t, std::ptrdiff_t, const float*, const float*,
                                 std::ptrdiff_t, float*) noexcept;
template void linear_rows<double>(const double*, std::ptrdiff_t, std::ptrdiff_t, const double*, const double*,
                                  std::ptrdiff_t, double*) noexcept;

}  // namespace ssm::layers_detail
