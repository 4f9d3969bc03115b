// The fused FP64 tensor-core chunked diag_scan (kernels/scan/diag_scan_tc.cuh has the design).
#include "kernels/scan/diag_scan_tc.cuh"

#include <algorithm>
#include <type_traits>

#include "kernels/core/cuda_check.cuh"
#include "kernels/scan/diag_scan_coef.cuh"

namespace ssm::detail {
namespace {

constexpr int kT = kTcChunk;       // samples a chunk
constexpr int kNch = 32;           // chunks a group
constexpr int kThreads = 256;      // 8 warps
constexpr int kPitchT = kT + 4;    // doubles a row of W and of a chunk of u (conflict-free fragments)
constexpr int kPer = kNch * kT / kThreads;  // samples of a group a thread loads

/// State rows 2N2 rounded up to 16, 32, 64 or 128 (a compile-time size: the loops over them
/// unroll, so fragment loads are issued ahead of the products that use them).
int padded_rows(int modes) {
  int Mp = 16;
  while (Mp < 2 * modes) Mp *= 2;
  return Mp;
}

std::size_t smem_bytes(int Mp) {
  const std::size_t doubles = static_cast<std::size_t>(Mp) * kPitchT        // W
                              + static_cast<std::size_t>(kT) * (Mp + 4)     // R
                              + 2 * kT                                       // taps
                              + static_cast<std::size_t>(kNch) * kPitchT     // u
                              + static_cast<std::size_t>(kNch) * (Mp + 4);   // X, then S
  return doubles * sizeof(double);
}

template <class T>
struct Params {
  int batch, channels, modes;
  long long full;                  // whole chunks a row
  const T* u;
  T* y;
  long long su_b, su_d, sy_b, sy_d;
  const double* coef;              // per channel: k (kT), W (Mp x kT), R (kT x Mp), P (Mp)
  long long coef_h;                // doubles a channel
  T* state;                        // (batch, channels, modes, 2): in h0 or 0, out the carry
};

/// D (8x8) += A (8x4, row-major) B (4x8, column-major), float64. Fragments: lane = 4 g + t
/// holds A(g, t), B(t, g), D(g, 2t), D(g, 2t + 1).
__device__ __forceinline__ void dmma(double (&d)[2], double a, double b) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm("mma.sync.aligned.m8n8k4.row.col.f64.f64.f64.f64 {%0, %1}, {%2}, {%3}, {%0, %1};\n"
      : "+d"(d[0]), "+d"(d[1])
      : "d"(a), "d"(b));
#else
  (void)d; (void)a; (void)b;
  __trap();  // the host never launches this kernel below compute capability 8.0
#endif
}

template <class T, int Mp>
__global__ void __launch_bounds__(kThreads, 2) tc_scan_kernel(const Params<T> p) {
  extern __shared__ __align__(16) double smem[];
  constexpr int PR = Mp + 4;
  double* Ws = smem;                       // (Mp, kPitchT)
  double* Rs = Ws + Mp * kPitchT;          // (kT, PR)
  double* taps = Rs + kT * PR;             // taps[kT + d] = k[d] (d >= 0), 0 for d < 0
  double* Us = taps + 2 * kT;              // (kNch, kPitchT): chunk c, sample j
  double* Xs = Us + kNch * kPitchT;        // (kNch, PR): chunk c, state row m

  const int tid = static_cast<int>(threadIdx.x), lane = tid & 31, warp = tid >> 5;
  const int g = lane >> 2, t = lane & 3;
  const int h = static_cast<int>(blockIdx.x) / p.batch, b = static_cast<int>(blockIdx.x) % p.batch;
  const T* u = p.u + b * p.su_b + h * p.su_d;
  T* y = p.y + b * p.sy_b + h * p.sy_d;

  // Coefficients of channel h into shared memory (the padding rows of W, R, P are zero).
  const double* cf = p.coef + h * p.coef_h;
  const double* Wg = cf + kT;
  const double* Rg = Wg + static_cast<long long>(Mp) * kT;
  const double* Pg = Rg + static_cast<long long>(kT) * Mp;
  for (int e = tid; e < Mp * kT; e += kThreads) {
    Ws[(e / kT) * kPitchT + e % kT] = Wg[e];
    Rs[(e / Mp) * PR + e % Mp] = Rg[e];
  }
  for (int e = tid; e < 2 * kT; e += kThreads) taps[e] = e >= kT ? cf[e - kT] : 0.0;

  // The carry: thread n < Mp / 2 owns complex mode n.
  const bool carrier = tid < Mp / 2;
  double sr = 0, si = 0, pr = 0, pi = 0;
  T* st = p.state + ((static_cast<long long>(b) * p.channels + h) * p.modes) * 2;
  if (carrier && tid < p.modes) {
    sr = double(st[2 * tid]);
    si = double(st[2 * tid + 1]);
  }
  if (carrier) {
    pr = Pg[2 * tid];
    pi = Pg[2 * tid + 1];
  }

  const long long groups = (p.full + kNch - 1) / kNch;
  float pre[kPer];  // the next group's samples (double storage: converted on the way)
  double pre_d[std::is_same_v<T, double> ? kPer : 1];
  auto fetch = [&](long long gi) {
    const long long base = gi * kNch * kT;
    const long long n = std::min<long long>(kNch, p.full - gi * kNch) * kT;
#pragma unroll
    for (int r = 0; r < kPer; ++r) {
      const long long e = tid + r * kThreads;
      const T v = e < n ? u[base + e] : T(0);
      if constexpr (std::is_same_v<T, double>) pre_d[r] = v;
      else pre[r] = v;
    }
  };
  auto stash = [&]() {
#pragma unroll
    for (int r = 0; r < kPer; ++r) {
      const int e = tid + r * kThreads;
      double v;
      if constexpr (std::is_same_v<T, double>) v = pre_d[r];
      else v = double(pre[r]);
      Us[(e / kT) * kPitchT + e % kT] = v;
    }
  };
  fetch(0);
  stash();
  __syncthreads();

  // Tiles of this warp. Y (kT x kNch): m-tiles pm and 7 - pm (equal Toeplitz work), n-tiles
  // nq and nq + 2. X (Mp x kNch): super-tiles of 2 x 2 tiles, warp w takes w, w + 8, ...
  const int pm = warp & 3, nq = warp >> 2;
  const int ym[2] = {pm, 7 - pm}, yn[2] = {nq, nq + 2};
  constexpr int x_super = (Mp / 16) * (kNch / 16);

  for (long long gi = 0; gi < groups; ++gi) {
    const int nc = static_cast<int>(std::min<long long>(kNch, p.full - gi * kNch));
    if (gi + 1 < groups) fetch(gi + 1);

    // 2a. X = W U into Xs (chunk-major).
    for (int sidx = warp; sidx < x_super; sidx += kThreads / 32) {
      const int sm = sidx / (kNch / 16), sn = sidx % (kNch / 16);
      double acc[2][2][2] = {};
#pragma unroll 4
      for (int ks = 0; ks < kT / 4; ++ks) {
        double a[2], bb[2];
#pragma unroll
        for (int i = 0; i < 2; ++i) a[i] = Ws[((2 * sm + i) * 8 + g) * kPitchT + 4 * ks + t];
#pragma unroll
        for (int j = 0; j < 2; ++j) bb[j] = Us[((2 * sn + j) * 8 + g) * kPitchT + 4 * ks + t];
#pragma unroll
        for (int i = 0; i < 2; ++i)
#pragma unroll
          for (int j = 0; j < 2; ++j) dmma(acc[i][j], a[i], bb[j]);
      }
#pragma unroll
      for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j)
#pragma unroll
          for (int e = 0; e < 2; ++e)
            Xs[((2 * sn + j) * 8 + 2 * t + e) * PR + (2 * sm + i) * 8 + g] = acc[i][j][e];
    }

    // 2b. Y = Tm U (lower-triangular Toeplitz: m-tile mi needs k-steps 0 .. 2 mi + 1).
    double yacc[2][2][2] = {};
#pragma unroll 2
    for (int ks = 0; ks <= 2 * ym[1] + 1; ++ks) {
      double bb[2];
#pragma unroll
      for (int j = 0; j < 2; ++j) bb[j] = Us[(yn[j] * 8 + g) * kPitchT + 4 * ks + t];
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        if (ks > 2 * ym[i] + 1) continue;  // warp-uniform
        const double a = taps[kT + ym[i] * 8 + g - 4 * ks - t];
#pragma unroll
        for (int j = 0; j < 2; ++j) dmma(yacc[i][j], a, bb[j]);
      }
    }
    __syncthreads();  // X complete; U free

    // 3. the next group's u into shared memory; the carry over this group's chunks.
    if (gi + 1 < groups) stash();
    if (carrier) {
      for (int c = 0; c < nc; ++c) {
        double* x = Xs + c * PR + 2 * tid;
        const double xr = x[0], xi = x[1];
        x[0] = sr;
        x[1] = si;
        const double nr = fma(pr, sr, fma(-pi, si, xr));
        si = fma(pr, si, fma(pi, sr, xi));
        sr = nr;
      }
    }
    __syncthreads();  // S complete

    // 4. Y += R S, then y.
#pragma unroll 4
    for (int ks = 0; ks < Mp / 4; ++ks) {
      double a[2], bb[2];
#pragma unroll
      for (int i = 0; i < 2; ++i) a[i] = Rs[(ym[i] * 8 + g) * PR + 4 * ks + t];
#pragma unroll
      for (int j = 0; j < 2; ++j) bb[j] = Xs[(yn[j] * 8 + g) * PR + 4 * ks + t];
#pragma unroll
      for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j) dmma(yacc[i][j], a[i], bb[j]);
    }
    const long long base = gi * kNch * kT;
#pragma unroll
    for (int i = 0; i < 2; ++i)
#pragma unroll
      for (int j = 0; j < 2; ++j)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const int c = yn[j] * 8 + 2 * t + e;
          if (c < nc) y[base + static_cast<long long>(c) * kT + ym[i] * 8 + g] = static_cast<T>(yacc[i][j][e]);
        }
    __syncthreads();  // S read before the next group writes X
  }
  if (carrier && tid < p.modes) {
    st[2 * tid] = static_cast<T>(sr);
    st[2 * tid + 1] = static_cast<T>(si);
  }
}

}  // namespace

bool diag_scan_tc_available(int modes, const char* where) {
  if (modes < 1 || modes > kTcMaxModes) return false;
  const int dev = current_device(where);
  int major = 0, optin = 0;
  SSM_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev), where);
  SSM_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev), where);
  return major >= 8 && smem_bytes(padded_rows(modes)) <= static_cast<std::size_t>(optin);
}

template <class T>
void diag_scan_tc(const DiagScanArgs<T>& a, const std::vector<std::complex<double>>& Ad,
                  const std::vector<std::complex<double>>& Bd, const std::vector<T>& C, T* state, cudaStream_t st,
                  const char* where) {
  const int H = a.channels, N2 = a.modes, Mp = padded_rows(N2);
  const long long full = a.length / kT;
  require(full >= 1, where, "length", "must hold at least one chunk of ", kT, " samples");
  require(diag_scan_tc_available(N2, where), where, "modes",
          "the tensor-core path needs compute capability 8.0+ and at most ", kTcMaxModes, " modes, got ", N2);
  const long long coef_h = kT + 2LL * Mp * kT + Mp;
  const std::vector<double> coef = chunk_coef_inputs(Ad, Bd, C);
  const std::size_t out_bytes = static_cast<std::size_t>(H) * coef_h * sizeof(double);
  const StreamScratch ws(out_bytes + coef.size() * sizeof(double), st, where);
  double* dcf = static_cast<double*>(ws.get());
  double* din = dcf + static_cast<std::size_t>(H) * coef_h;
  SSM_CUDA_CHECK(cudaMemsetAsync(dcf, 0, out_bytes, st), where);
  SSM_CUDA_CHECK(cudaMemcpyAsync(din, coef.data(), coef.size() * sizeof(double), cudaMemcpyHostToDevice, st), where);
  // Per channel: k, then W (Mp x kT) and R (kT x Mp) row-major, then P.
  const ChunkCoefLayout lay{coef_h, coef_h, kT, 1, coef_h, Mp, 1, coef_h};
  build_chunk_coefficients<double, T><<<H, 128, 0, st>>>(N2, kT, din, a.D, lay, dcf, dcf + kT,
                                                         dcf + kT + static_cast<long long>(Mp) * kT,
                                                         dcf + kT + 2LL * Mp * kT);
  SSM_CUDA_CHECK(cudaGetLastError(), where);

  const std::size_t state_bytes = static_cast<std::size_t>(a.batch) * H * N2 * 2 * sizeof(T);
  if (a.h0)
    SSM_CUDA_CHECK(cudaMemcpyAsync(state, a.h0, state_bytes, cudaMemcpyDeviceToDevice, st), where);
  else
    SSM_CUDA_CHECK(cudaMemsetAsync(state, 0, state_bytes, st), where);

  const Strides3 su = a.u_strides.resolved(a.channels, a.length);
  const Strides3 sy = a.y_strides.resolved(a.channels, a.length);
  Params<T> p{};
  p.batch = a.batch;
  p.channels = H;
  p.modes = N2;
  p.full = full;
  p.u = a.u;
  p.y = a.y;
  p.su_b = su.b; p.su_d = su.d; p.sy_b = sy.b; p.sy_d = sy.d;
  p.coef = dcf;
  p.coef_h = coef_h;
  p.state = state;
  const std::size_t smem = smem_bytes(Mp);
  const long long blocks = static_cast<long long>(a.batch) * H;
  require(blocks <= 0x7fffffffLL, where, "batch*channels", "must be at most 2^31-1");
  auto go = [&](auto kernel) {
    SSM_CUDA_CHECK(
        cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)), where);
    kernel<<<static_cast<unsigned>(blocks), kThreads, smem, st>>>(p);
    SSM_CUDA_CHECK(cudaGetLastError(), where);
  };
  switch (Mp) {
    case 16: go(tc_scan_kernel<T, 16>); break;
    case 32: go(tc_scan_kernel<T, 32>); break;
    case 64: go(tc_scan_kernel<T, 64>); break;
    default: go(tc_scan_kernel<T, 128>); break;
  }
}

template void diag_scan_tc<float>(const DiagScanArgs<float>&, const std::vector<std::complex<double>>&,
                                  const std::vector<std::complex<double>>&, const std::vector<float>&, float*,
                                  cudaStream_t, const char*);
template void diag_scan_tc<double>(const DiagScanArgs<double>&, const std::vector<std::complex<double>>&,
                                   const std::vector<std::complex<double>>&, const std::vector<double>&, double*,
                                   cudaStream_t, const char*);

}  // namespace ssm::detail
