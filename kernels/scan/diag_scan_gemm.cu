// The chunked-GEMM diag_scan (kernels/scan/diag_scan_gemm.cuh has the math): coefficient
// kernels, the carry kernel and the cuBLAS calls.
#include "kernels/scan/diag_scan_gemm.cuh"
#include "kernels/scan/diag_scan_coef.cuh"

#include <cublas_v2.h>

#include <algorithm>
#include <cmath>

#include "kernels/core/cublas_check.cuh"
#include "kernels/core/cuda_check.cuh"

namespace ssm::detail {
namespace {

/// One cuBLAS handle per host thread and device, created on first use and kept (creating one
/// costs far more than a scan of a short signal; handles are not thread-safe to share).
cublasHandle_t handle_for(int device, const char* where) {
  static thread_local std::vector<cublasHandle_t> handles;
  if (device >= static_cast<int>(handles.size())) handles.resize(static_cast<std::size_t>(device) + 1, nullptr);
  if (!handles[device]) SSM_CUBLAS_CHECK(cublasCreate(&handles[device]), where);
  return handles[device];
}

cublasStatus_t gemm_batched(cublasHandle_t h, int m, int n, int k, const float* A, int lda, long long sA,
                            const float* B, int ldb, long long sB, float beta, float* C, int ldc, long long sC,
                            int count) {
  const float one = 1.f;
  return cublasSgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &one, A, lda, sA, B, ldb, sB, &beta, C,
                                   ldc, sC, count);
}
cublasStatus_t gemm_batched(cublasHandle_t h, int m, int n, int k, const double* A, int lda, long long sA,
                            const double* B, int ldb, long long sB, double beta, double* C, int ldc, long long sC,
                            int count) {
  const double one = 1.0;
  return cublasDgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &one, A, lda, sA, B, ldb, sB, &beta, C,
                                   ldc, sC, count);
}

/// Tm[h] (T x T, column-major): Tm(i, j) = k[h][i - j] for i >= j, else 0.
template <class T>
__global__ void fill_toeplitz(int H, int Tc, const T* __restrict__ k, T* __restrict__ Tm) {
  const long long total = static_cast<long long>(H) * Tc * Tc;
  for (long long e = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<long long>(gridDim.x) * blockDim.x) {
    const long long h = e / (static_cast<long long>(Tc) * Tc);
    const int r = static_cast<int>(e - h * Tc * Tc);
    const int j = r / Tc, i = r - j * Tc;
    Tm[e] = i >= j ? k[h * Tc + (i - j)] : T(0);
  }
}

/// Thread (h, n) of one batch row: S[h][:, 0] = state (the carry in), then
/// S[:, c] = P S[:, c-1] + S[:, c] for c = 1..nc, and state = S[:, nc] (the carry out).
/// S[h] is 2N2 x (nc + 1), column-major; state is (channels, modes, 2).
template <class T>
__global__ void carry_chunks(int H, int N2, int nc, const T* __restrict__ P, T* __restrict__ S,
                             T* __restrict__ state) {
  const long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
  if (i >= static_cast<long long>(H) * N2) return;
  const long long h = i / N2;
  const int n = static_cast<int>(i - h * N2);
  const int M = 2 * N2;
  T* s = S + h * M * (nc + 1LL) + 2 * n;
  const T pr = P[2 * i], pi = P[2 * i + 1];
  T sr = state[2 * i], si = state[2 * i + 1];
  s[0] = sr;
  s[1] = si;
#pragma unroll 4
  for (int c = 1; c <= nc; ++c) {
    T* x = s + static_cast<long long>(c) * M;
    const T xr = x[0], xi = x[1];
    const T nr = fma(pr, sr, fma(-pi, si, xr));
    const T ni = fma(pr, si, fma(pi, sr, xi));
    sr = nr;
    si = ni;
    x[0] = sr;
    x[1] = si;
  }
  state[2 * i] = sr;
  state[2 * i + 1] = si;
}

}  // namespace

template <class T>
void diag_scan_gemm(const DiagScanArgs<T>& a, const std::vector<std::complex<double>>& Ad,
                    const std::vector<std::complex<double>>& Bd, const std::vector<T>& C, int chunk, T* state,
                    cudaStream_t st, const char* where) {
  const int H = a.channels, N2 = a.modes, Tc = chunk, M = 2 * N2;
  const long long full = a.length / Tc;
  require(full >= 1, where, "length", "must hold at least one chunk of ", Tc, " samples");
  const std::size_t HN = static_cast<std::size_t>(H) * N2;
  // Time segments of at most `seg` chunks bound the carry workspace S to H x 2N2 x (seg + 1).
  const long long seg = std::min<long long>(full, std::max<long long>(1, (1LL << 16) / Tc));

  const std::vector<double> coef = chunk_coef_inputs(Ad, Bd, C);
  const std::size_t nTm = static_cast<std::size_t>(H) * Tc * Tc, nW = static_cast<std::size_t>(H) * M * Tc,
                    nk = static_cast<std::size_t>(H) * Tc, nP = 2 * HN,
                    nS = static_cast<std::size_t>(H) * M * static_cast<std::size_t>(seg + 1);
  const std::size_t elems = nTm + 2 * nW + nk + nP + nS;
  const std::size_t coef_bytes = coef.size() * sizeof(double);
  const std::size_t coef_off = (elems * sizeof(T) + 255) / 256 * 256;
  const StreamScratch ws(coef_off + coef_bytes, st, where);
  T* Tm = static_cast<T*>(ws.get());
  T* W = Tm + nTm;
  T* R = W + nW;
  T* k = R + nW;
  T* P = k + nk;
  T* S = P + nP;
  double* dcoef = reinterpret_cast<double*>(static_cast<char*>(ws.get()) + coef_off);
  SSM_CUDA_CHECK(cudaMemcpyAsync(dcoef, coef.data(), coef_bytes, cudaMemcpyHostToDevice, st), where);
  // W (2N2 x T) and R (T x 2N2) column-major, as the GEMMs read them.
  const ChunkCoefLayout lay{Tc, static_cast<long long>(M) * Tc, 1, M, static_cast<long long>(Tc) * M, 1, Tc, M};
  build_chunk_coefficients<T, T><<<H, 128, 0, st>>>(N2, Tc, dcoef, a.D, lay, k, W, R, P);
  SSM_CUDA_CHECK(cudaGetLastError(), where);
  fill_toeplitz<T><<<std::min<long long>((static_cast<long long>(nTm) + 255) / 256, 65535), 256, 0, st>>>(H, Tc, k, Tm);
  SSM_CUDA_CHECK(cudaGetLastError(), where);

  const std::size_t state_bytes = static_cast<std::size_t>(a.batch) * nP * sizeof(T);
  if (a.h0)
    SSM_CUDA_CHECK(cudaMemcpyAsync(state, a.h0, state_bytes, cudaMemcpyDeviceToDevice, st), where);
  else
    SSM_CUDA_CHECK(cudaMemsetAsync(state, 0, state_bytes, st), where);

  int device = 0;
  SSM_CUDA_CHECK(cudaGetDevice(&device), where);
  cublasHandle_t h = handle_for(device, where);
  SSM_CUBLAS_CHECK(cublasSetStream(h, st), where);
  const Strides3 su = a.u_strides.resolved(a.channels, a.length);
  const Strides3 sy = a.y_strides.resolved(a.channels, a.length);
  const long long sS = static_cast<long long>(M) * (seg + 1);
  for (int b = 0; b < a.batch; ++b) {
    T* st_b = state + static_cast<std::size_t>(b) * nP;
    for (long long c0 = 0; c0 < full; c0 += seg) {
      const int nc = static_cast<int>(std::min(seg, full - c0));
      const T* U = a.u + b * su.b + c0 * Tc;
      T* Y = a.y + b * sy.b + c0 * Tc;
      SSM_CUBLAS_CHECK(
          gemm_batched(h, Tc, nc, Tc, Tm, Tc, static_cast<long long>(Tc) * Tc, U, Tc, su.d, T(0), Y, Tc, sy.d, H),
          where);
      SSM_CUBLAS_CHECK(
          gemm_batched(h, M, nc, Tc, W, M, static_cast<long long>(M) * Tc, U, Tc, su.d, T(0), S + M, M, sS, H),
          where);
      carry_chunks<T><<<static_cast<unsigned>((HN + 127) / 128), 128, 0, st>>>(H, N2, nc, P, S, st_b);
      SSM_CUDA_CHECK(cudaGetLastError(), where);
      SSM_CUBLAS_CHECK(
          gemm_batched(h, Tc, nc, M, R, Tc, static_cast<long long>(Tc) * M, S, M, sS, T(1), Y, Tc, sy.d, H), where);
    }
  }
}

template void diag_scan_gemm<float>(const DiagScanArgs<float>&, const std::vector<std::complex<double>>&,
                                    const std::vector<std::complex<double>>&, const std::vector<float>&, int, float*,
                                    cudaStream_t, const char*);
template void diag_scan_gemm<double>(const DiagScanArgs<double>&, const std::vector<std::complex<double>>&,
                                     const std::vector<std::complex<double>>&, const std::vector<double>&, int,
                                     double*, cudaStream_t, const char*);

}  // namespace ssm::detail
