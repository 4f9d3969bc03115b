#pragma once
// CUDA-internal: the per-channel coefficients of the chunked formulations of the time-invariant
// diagonal scan (diag_scan_gemm.cuh has the math), shared by the cuBLAS path
// (diag_scan_gemm.cu) and the FP64 tensor-core path (diag_scan_tc.cu), which differ only in
// where each coefficient goes in memory.
#include <cuda_runtime.h>

#include <cmath>
#include <complex>
#include <vector>

namespace ssm::detail {

/// Where build_chunk_coefficients writes, in elements: channel h's
///   k[h][l]                         at k + h * k_h + l                               (taps)
///   W[h](m, j), m < 2N2, j < T      at W + h * w_h + m * w_m + j * w_j                (chunk-end state)
///   R[h](i, m), i < T, m < 2N2      at R + h * r_h + i * r_i + m * r_m                (carry read-out)
///   P[h][n] re, im                  at P + h * p_h + 2n, + 1                          (Ad^T)
struct ChunkCoefLayout {
  long long k_h, w_h, w_m, w_j, r_h, r_i, r_m, p_h;
};

/// Per (h, n) six doubles, the input of build_chunk_coefficients: log|Ad| (-inf for Ad = 0),
/// arg Ad, Bd re/im, C re/im (C is (channels, modes, 2)).
template <class T>
std::vector<double> chunk_coef_inputs(const std::vector<std::complex<double>>& Ad,
                                      const std::vector<std::complex<double>>& Bd, const std::vector<T>& C) {
  std::vector<double> coef(6 * Ad.size());
  for (std::size_t i = 0; i < Ad.size(); ++i) {
    const double r = std::abs(Ad[i]);
    coef[6 * i] = r > 0 ? std::log(r) : -INFINITY;
    coef[6 * i + 1] = std::arg(Ad[i]);
    coef[6 * i + 2] = Bd[i].real();
    coef[6 * i + 3] = Bd[i].imag();
    coef[6 * i + 4] = double(C[2 * i]);
    coef[6 * i + 5] = double(C[2 * i + 1]);
  }
  return coef;
}

/// Block h, threads over l = 0..T: z = Ad^l from (log|Ad|, arg Ad) in float64, then
///   k[h][l]            = 2 Re(sum_n C z Bd) (+ D at l = 0)          l < T
///   W[h](2n(+1), T-1-l) = Re, Im of z Bd                              l < T
///   R[h](l-1, 2n(+1))   = 2 Re(C z), -2 Im(C z)                        l >= 1
///   P[h][n]            = z                                            l = T
/// Elements of the layout not named here are left as they are (the tensor-core path zeroes its
/// padding rows first).
template <class T, class TD>
__global__ void build_chunk_coefficients(int N2, int Tc, const double* __restrict__ coef, const TD* __restrict__ D,
                                         ChunkCoefLayout o, T* __restrict__ k, T* __restrict__ W,
                                         T* __restrict__ R, T* __restrict__ P) {
  const long long h = blockIdx.x;
  for (int l = threadIdx.x; l <= Tc; l += blockDim.x) {
    double acc = 0;
    for (int n = 0; n < N2; ++n) {
      const double* c = coef + 6 * (h * N2 + n);
      double zr = 1, zi = 0;
      if (l > 0) {
        if (isinf(c[0])) {
          zr = 0;
        } else {
          const double m = exp(l * c[0]);
          double s, co;
          sincos(l * c[1], &s, &co);
          zr = m * co;
          zi = m * s;
        }
      }
      if (l < Tc) {
        const double br = zr * c[2] - zi * c[3], bi = zr * c[3] + zi * c[2];
        acc += 2 * (c[4] * br - c[5] * bi);
        T* w = W + h * o.w_h + static_cast<long long>(Tc - 1 - l) * o.w_j + 2LL * n * o.w_m;
        w[0] = static_cast<T>(br);
        w[o.w_m] = static_cast<T>(bi);
      }
      if (l >= 1) {
        const double cr = c[4] * zr - c[5] * zi, ci = c[4] * zi + c[5] * zr;
        T* r = R + h * o.r_h + static_cast<long long>(l - 1) * o.r_i + 2LL * n * o.r_m;
        r[0] = static_cast<T>(2 * cr);
        r[o.r_m] = static_cast<T>(-2 * ci);
      }
      if (l == Tc) {
        P[h * o.p_h + 2 * n] = static_cast<T>(zr);
        P[h * o.p_h + 2 * n + 1] = static_cast<T>(zi);
      }
    }
    if (l < Tc) k[h * o.k_h + l] = static_cast<T>(acc + (l == 0 && D ? double(D[h]) : 0.0));
  }
}

}  // namespace ssm::detail
