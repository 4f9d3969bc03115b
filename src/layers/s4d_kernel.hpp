#pragma once
// Internal: the S4D kernel's parameters, as the S4D layer (s4d_layer.hpp) and the BST layer's
// context SSM (bst_layer.hpp) both hold them: the S4 repository's S4DKernel plus the skip D.
// P is any params struct with the fields log_dt (H), log_A_real (H, N2), A_imag (H, N2),
// C (H, N2, 2) re/im pairs and D (H) (S4DLayerParams, BSTLayerParams).
//
//   names  s4d_kernel_tensors (tensor_names.hpp)
//   ssm    the continuous DiagonalSSM: A = -exp(log_A_real) + i A_imag, B = 1, C = C[.., 0] +
//          i C[.., 1], D, log_dt (zoh of it is the kernel K[l] = 2 Re(sum_n C_n (exp(dt A_n) - 1)
//          / A_n exp(dt A_n l)))
//   init   S4D-Lin: log_dt ~ U[log 1e-3, log 1e-1], A = -1/2 + i pi n, C ~ CN(0, 1) (each part
//          N(0, 1/2)), D ~ N(0, 1); draws in the order log_dt, C, D.
#include <cmath>
#include <cstdint>
#include <numbers>

#include "layers/model_io.hpp"
#include "ssm/continuous/diagonal.hpp"

namespace ssm::layers_detail {

/// The continuous system of checked kernel parameters (validated: finite, sizes).
template <class P>
DiagonalSSM s4d_kernel_ssm(const P& p, int H, int N2, double reference_rate, const char* where) {
  DiagonalSSM s(H, N2);
  const std::size_t n = std::size_t(H) * std::size_t(N2);
  for (std::size_t k = 0; k < n; ++k) {
    s.A.re[k] = -std::exp(double(p.log_A_real[k]));
    s.A.im[k] = double(p.A_imag[k]);
    s.B.re[k] = 1.0;
    s.B.im[k] = 0.0;
    s.C.re[k] = double(p.C[2 * k]);
    s.C.im[k] = double(p.C[2 * k + 1]);
  }
  for (std::size_t h = 0; h < std::size_t(H); ++h) {
    s.D[h] = double(p.D[h]);
    s.log_dt[h] = double(p.log_dt[h]);
  }
  s.reference_rate = reference_rate;
  s.validate(where);
  return s;
}

template <class T, class P>
void random_s4d_kernel(P& p, std::size_t H, std::size_t N2, UniformInit<T>& draw) {
  p.log_dt = draw.between(H, std::log(1e-3), std::log(1e-1));
  p.log_A_real.assign(H * N2, static_cast<T>(std::log(0.5)));
  p.A_imag.resize(H * N2);
  for (std::size_t h = 0; h < H; ++h)
    for (std::size_t n = 0; n < N2; ++n) p.A_imag[h * N2 + n] = static_cast<T>(std::numbers::pi * double(n));
  p.C = draw.normal(H * N2 * 2, std::sqrt(0.5));
  p.D = draw.normal(H, 1.0);
}

}  // namespace ssm::layers_detail
