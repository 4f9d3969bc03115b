// CUDA backend of ssm::diag_scan (include/ssm/scan/diag_scan.hpp): the S4D recurrence
// x_t = Ad x_{t-1} + Bd u_t, y_t = 2 Re(sum_n C x_t) + D u_t as the chunked warp scan of
// scan_kernel.cuh in LTI mode (a_t = Ad constant, b_t = Bd u_t).
//
// The small parameter arrays (A, B, C, dt: channels x modes) are copied to the host, checked
// (dt > 0, everything finite) and discretized there in float64 with ssm::discretize_diag, the
// same closed forms as the CPU path; Ad and Bd are rounded to T and uploaded. u and y stay on
// the device. On a CudaStream the call first waits for the work queued on the stream before it
// (it must read A, B, dt as that work leaves them), then queues the upload and the scan and
// returns without waiting for them.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <vector>

#include "kernels/core/cuda_check.cuh"
#include "backend/scan_cuda.hpp"
#include "kernels/scan/scan_kernel.cuh"
#include "kernels/scan/diag_scan_lti.cuh"
#include "kernels/scan/diag_scan_gemm.cuh"
#include "kernels/scan/diag_scan_tc.cuh"

namespace ssm::detail {
namespace {

constexpr int kMaxLtiModes = 16 * 32;  // 16 modes a thread, 32 lanes a channel

/// The earlier kernel: scan_kernel.cuh's chunked warp scan in LTI mode (kept for modes > 512
/// and as the bench's baseline).
template <class T>
void run_legacy(const DiagScanArgs<T>& a, const std::vector<T>& Ad, const std::vector<T>& Bd,
                cudaStream_t st, const char* where) {
  // Ad and Bd on the device, in one scratch allocation released after the scan in stream order
  // (the copies from these pageable vectors are staged before cudaMemcpyAsync returns).
  const std::size_t bytes = Ad.size() * sizeof(T);
  const StreamScratch ws(2 * bytes, st, where);
  T* Ad_p = static_cast<T*>(ws.get());
  T* Bd_p = Ad_p + Ad.size();
  SSM_CUDA_CHECK(cudaMemcpyAsync(Ad_p, Ad.data(), bytes, cudaMemcpyHostToDevice, st), where);
  SSM_CUDA_CHECK(cudaMemcpyAsync(Bd_p, Bd.data(), bytes, cudaMemcpyHostToDevice, st), where);
  scan::Params<T, T> p{};
  p.batch = a.batch;
  p.dim = a.channels;
  p.dstate = a.modes;
  p.length = a.length;
  p.groups = 1;
  p.dim_per_group = a.channels;
  p.softplus = false;
  p.B_variable = p.C_variable = false;
  p.u = a.u;
  p.A = Ad_p;
  p.B = Bd_p;
  p.C = a.C;
  p.D = a.D;
  p.h0 = a.h0;
  p.out = a.y;
  p.last_state = a.last_state;
  const Strides3 su = a.u_strides.resolved(a.channels, a.length);
  const Strides3 sy = a.y_strides.resolved(a.channels, a.length);
  p.su_b = su.b; p.su_d = su.d; p.su_l = su.l;
  p.so_b = sy.b; p.so_d = sy.d; p.so_l = sy.l;
  scan::launch<T, T>(p, /*complex=*/true, /*lti=*/true, where, st);
}

int sm_count_of_current() {
  int dev = 0, n = 0;
  cudaGetDevice(&dev);
  cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev);
  return n > 0 ? n : 1;
}

template <class T, int MPT, bool kUnit>
void launch_lti(const lti::Params<T>& p, int G, cudaStream_t st, const char* where) {
  int log2G = 0;
  while ((1 << log2G) < G) ++log2G;
  const int CH = lti::kThreads / G;
  const dim3 grid((p.channels + CH - 1) / CH, p.batch, p.n_chunks);
  const std::size_t smem = lti::smem_bytes<T>(G);
  auto k1 = lti::scan_kernel<T, MPT, kUnit, false>;
  auto k2 = lti::scan_kernel<T, MPT, kUnit, true>;
  // The attribute belongs to the current device: set on every call (host-side, microseconds).
  SSM_CUDA_CHECK(cudaFuncSetAttribute(k1, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)), where);
  SSM_CUDA_CHECK(cudaFuncSetAttribute(k2, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)), where);
  if (p.n_chunks > 1) k1<<<grid, lti::kThreads, smem, st>>>(p, log2G);
  k2<<<grid, lti::kThreads, smem, st>>>(p, log2G);
  SSM_CUDA_CHECK(cudaGetLastError(), where);
}

template <class T, bool kUnit>
void dispatch_mpt(const lti::Params<T>& p, int mpt, int G, cudaStream_t st, const char* where) {
  if (mpt == 4) return launch_lti<T, 4, kUnit>(p, G, st, where);
  if (mpt == 8) return launch_lti<T, 8, kUnit>(p, G, st, where);
  return launch_lti<T, 16, kUnit>(p, G, st, where);
}

/// C (channels, modes, 2) read back to the host and checked finite: the recurrence and GEMM paths
/// fold it into their coefficients on the host.
template <class T>
std::vector<T> host_C(const DiagScanArgs<T>& a, const char* where) {
  std::vector<T> C(2 * static_cast<std::size_t>(a.channels) * a.modes);
  SSM_CUDA_CHECK(cudaMemcpy(C.data(), a.C, C.size() * sizeof(T), cudaMemcpyDeviceToHost), where);
  for (const T c : C) require(std::isfinite(static_cast<double>(c)), "diag_scan", "C", "must be finite");
  return C;
}

/// The register-resident sequential scan of diag_scan_lti.cuh. Modes a thread: the config's or
/// 8 (16 above 128 modes); lanes a channel G = next power of two of modes / MPT; time chunks so
/// that about 2048 threads an SM run (each chunk at least 4 tiles long).
template <class T>
void run_lti(const DiagScanArgs<T>& a, const std::vector<T>& Ad, const std::vector<T>& Bd, const std::vector<T>& C,
             const DiagScanCudaConfig& cfg, cudaStream_t st, const char* where) {
  const bool unit = a.h0 == nullptr;  // folded coordinates need no h0
  // 4 modes a thread measured fastest on the H200 at 8 and 32 modes, both layouts (docs/cuda.md).
  int mpt = cfg.modes_per_thread > 0 ? cfg.modes_per_thread : 4;
  require(mpt == 4 || mpt == 8 || mpt == 16, where, "modes_per_thread", "must be 4, 8 or 16, got ", mpt);
  while (mpt < 16 && (a.modes + mpt - 1) / mpt > 32) mpt *= 2;
  int G = 1;
  while (G * mpt < a.modes) G *= 2;
  const long long threads = static_cast<long long>(a.batch) * a.channels * G;
  int chunks = cfg.chunks;
  if (chunks <= 0) {
    const long long want = 2048LL * sm_count_of_current();
    chunks = static_cast<int>(std::min<long long>((want + threads - 1) / threads,
                                                  std::max<long long>(1, a.length / (4 * lti::kTT<T>))));
    chunks = std::max(chunks, 1);
  }
  chunks = std::min(chunks, a.length);
  // Equal chunks a multiple of the tile (the last may be shorter).
  long long len = (static_cast<long long>(a.length) + chunks - 1) / chunks;
  len = (len + lti::kTT<T> - 1) / lti::kTT<T> * lti::kTT<T>;
  chunks = static_cast<int>((a.length + len - 1) / len);

  // Host: coefficients in float64, rounded once: Ad, Bc (Bd), Cc (C Bd folded, else C), P = Ad^len.
  const std::size_t HN = static_cast<std::size_t>(a.channels) * a.modes;
  std::vector<T> host(8 * HN);
  T* hAd = host.data();
  T* hBc = hAd + 2 * HN;
  T* hCc = hBc + 2 * HN;
  T* hP = hCc + 2 * HN;
  for (std::size_t i = 0; i < HN; ++i) {
    const std::complex<double> ad{double(Ad[2 * i]), double(Ad[2 * i + 1])};
    const std::complex<double> bd{double(Bd[2 * i]), double(Bd[2 * i + 1])};
    const std::complex<double> c{double(C[2 * i]), double(C[2 * i + 1])};
    const std::complex<double> cc = unit ? c * bd : c;
    std::complex<double> pw(1.0, 0.0), base = ad;
    for (long long e = len; e > 0; e >>= 1) {  // Ad^len by squaring
      if (e & 1) pw *= base;
      base *= base;
    }
    hAd[2 * i] = Ad[2 * i];
    hAd[2 * i + 1] = Ad[2 * i + 1];
    hBc[2 * i] = Bd[2 * i];
    hBc[2 * i + 1] = Bd[2 * i + 1];
    hCc[2 * i] = static_cast<T>(cc.real());
    hCc[2 * i + 1] = static_cast<T>(cc.imag());
    hP[2 * i] = static_cast<T>(pw.real());
    hP[2 * i + 1] = static_cast<T>(pw.imag());
  }
  const std::size_t coef_bytes = host.size() * sizeof(T);
  const std::size_t e_elems = chunks > 1 ? 2 * static_cast<std::size_t>(a.batch) * chunks * HN : 0;
  const StreamScratch ws(coef_bytes + e_elems * sizeof(T), st, where);
  T* d = static_cast<T*>(ws.get());
  SSM_CUDA_CHECK(cudaMemcpyAsync(d, host.data(), coef_bytes, cudaMemcpyHostToDevice, st), where);
  lti::Params<T> p{};
  p.batch = a.batch;
  p.channels = a.channels;
  p.modes = a.modes;
  p.length = a.length;
  p.chunk_len = static_cast<int>(len);
  p.n_chunks = chunks;
  p.u = a.u;
  p.y = a.y;
  const Strides3 su = a.u_strides.resolved(a.channels, a.length);
  const Strides3 sy = a.y_strides.resolved(a.channels, a.length);
  p.su_b = su.b; p.su_d = su.d; p.su_l = su.l;
  p.so_b = sy.b; p.so_d = sy.d; p.so_l = sy.l;
  p.Ad = d;
  p.Bc = d + 2 * HN;
  p.Cc = d + 4 * HN;
  p.P = d + 6 * HN;
  p.D = a.D;
  p.E = chunks > 1 ? d + 8 * HN : nullptr;
  p.h0 = a.h0;
  p.last_state = a.last_state;
  if (unit)
    dispatch_mpt<T, true>(p, mpt, G, st, where);
  else
    dispatch_mpt<T, false>(p, mpt, G, st, where);
}

/// The chunk length of the chunked-GEMM path, or 0 for the recurrence kernels. Automatic (the
/// whole config at its defaults): 128 samples when u and y have unit time strides, the signal is
/// at least 4 chunks long and there are 64 to 256 modes, or 32 or more at L >= 2^18. H200
/// (docs/cuda.md): 10-14 % faster than the recurrence at 64 modes and at 32 modes with L = 1M;
/// at 32 modes and L = 64K the two are within run-to-run spread (-9 % .. +4 %); at 8 modes the
/// recurrence is 1.4x faster (the GEMMs' T + 4 N2 multiply-adds a sample do not shrink with the
/// modes as the recurrence's 4 N2 do).
template <class T>
int choose_gemm_chunk(const DiagScanArgs<T>& a, const DiagScanCudaConfig& cfg) {
  const Strides3 su = a.u_strides.resolved(a.channels, a.length);
  const Strides3 sy = a.y_strides.resolved(a.channels, a.length);
  const bool unit = su.l == 1 && sy.l == 1;
  if (cfg.gemm_chunk > 0) {
    require(cfg.gemm_chunk >= 16 && cfg.gemm_chunk <= 1024, "diag_scan_cuda", "gemm_chunk",
            "must be in [16, 1024], got ", cfg.gemm_chunk);
    require(unit, "diag_scan_cuda", "gemm_chunk", "needs unit time strides of u and y");
    return a.length >= cfg.gemm_chunk ? cfg.gemm_chunk : 0;
  }
  const bool defaults = cfg.gemm_chunk == 0 && cfg.modes_per_thread == 0 && cfg.chunks == 0 && !cfg.legacy &&
                        cfg.tensor_core == 0;
  constexpr int kChunk = 128;
  const bool long_enough = a.modes >= 64 || (a.modes >= 32 && a.length >= (1 << 18));
  return defaults && unit && a.length >= 4 * kChunk && long_enough && a.modes <= 256 ? kChunk : 0;
}

/// Whether the fused FP64 tensor-core kernel runs: forced (an error where it cannot), never, or
/// automatically where it applies (unit time strides, at least 4 chunks, <= 64 modes, compute
/// capability 8.0+) with the rest of the config at its defaults. H200 (bench_conv_ssm_conv_cuda,
/// docs/cuda.md): faster than the recurrence and the cuBLAS GEMMs at 8, 32 and 64 modes.
template <class T>
bool choose_tensor_core(const DiagScanArgs<T>& a, const DiagScanCudaConfig& cfg, const char* where) {
  const Strides3 su = a.u_strides.resolved(a.channels, a.length);
  const Strides3 sy = a.y_strides.resolved(a.channels, a.length);
  const bool unit = su.l == 1 && sy.l == 1;
  if (cfg.tensor_core > 0) {
    require(unit, "diag_scan_cuda", "tensor_core", "needs unit time strides of u and y");
    require(diag_scan_tc_available(a.modes, where), "diag_scan_cuda", "tensor_core",
            "needs compute capability 8.0+ and at most ", kTcMaxModes, " modes, got ", a.modes);
    return a.length >= kTcChunk;
  }
  const bool defaults = cfg.tensor_core == 0 && cfg.gemm_chunk == 0 && cfg.modes_per_thread == 0 &&
                        cfg.chunks == 0 && !cfg.legacy;
  return defaults && unit && a.length >= 4 * kTcChunk && diag_scan_tc_available(a.modes, where);
}

/// The whole chunks by one of the chunked formulations (the cuBLAS GEMMs of diag_scan_gemm.cu with
/// chunks of `chunk` samples, or with chunk = kTcChunk and `tensor`, diag_scan_tc.cu), then the
/// tail (length % chunk samples) by the recurrence kernel from the state they leave.
template <class T>
void run_chunked(const DiagScanArgs<T>& a, const std::vector<T>& Ad, const std::vector<T>& Bd, const std::vector<T>& C,
                 const std::vector<std::complex<double>>& Ad64, const std::vector<std::complex<double>>& Bd64,
                 int chunk, bool tensor, cudaStream_t st, const char* where) {
  const std::size_t HN = static_cast<std::size_t>(a.channels) * a.modes;
  const std::size_t state_elems = 2 * static_cast<std::size_t>(a.batch) * HN;
  const StreamScratch ws(state_elems * sizeof(T), st, where);
  T* state = static_cast<T*>(ws.get());
  if (tensor)
    diag_scan_tc(a, Ad64, Bd64, C, state, st, where);
  else
    diag_scan_gemm(a, Ad64, Bd64, C, chunk, state, st, where);
  const long long done = static_cast<long long>(a.length) / chunk * chunk;
  if (done < a.length) {
    DiagScanArgs<T> t = a;
    t.u_strides = a.u_strides.resolved(a.channels, a.length);
    t.y_strides = a.y_strides.resolved(a.channels, a.length);
    t.u = a.u + done;  // unit time strides
    t.y = a.y + done;
    t.length = static_cast<int>(a.length - done);
    t.h0 = state;
    run_lti(t, Ad, Bd, C, DiagScanCudaConfig{}, st, where);
  } else if (a.last_state) {
    SSM_CUDA_CHECK(cudaMemcpyAsync(a.last_state, state, state_elems * sizeof(T), cudaMemcpyDeviceToDevice, st), where);
  }
}

/// stream null: the legacy default stream of the current device, waiting for the scan; else the
/// stream (on its device), waiting only for the work queued on it before (to read A, B, dt).
template <class T>
void run(const DiagScanArgs<T>& a, const CudaStream* stream, const DiagScanCudaConfig& cfg = {}) {
  const char* where = stream ? "diag_scan" : "diag_scan_cuda";
  const cudaStream_t st = stream ? stream_of(*stream, where) : nullptr;
  const DeviceGuard on_device(stream ? stream->device() : current_device(where), where);
  if (stream) SSM_CUDA_CHECK(cudaStreamSynchronize(st), where);  // A, B, dt as that work leaves them
  const std::size_t HN = static_cast<std::size_t>(a.channels) * a.modes;
  std::vector<T> A(2 * HN), B(2 * HN), dt(static_cast<std::size_t>(a.channels));
  SSM_CUDA_CHECK(cudaMemcpy(A.data(), a.A, A.size() * sizeof(T), cudaMemcpyDeviceToHost), where);
  SSM_CUDA_CHECK(cudaMemcpy(B.data(), a.B, B.size() * sizeof(T), cudaMemcpyDeviceToHost), where);
  SSM_CUDA_CHECK(cudaMemcpy(dt.data(), a.dt, dt.size() * sizeof(T), cudaMemcpyDeviceToHost), where);
  for (int h = 0; h < a.channels; ++h)
    require(std::isfinite(static_cast<double>(dt[h])) && dt[h] > 0, "diag_scan", "dt",
            "must be finite and > 0, got dt[", h, "] = ", dt[h]);
  for (std::size_t i = 0; i < 2 * HN; ++i)
    require(std::isfinite(static_cast<double>(A[i])) && std::isfinite(static_cast<double>(B[i])),
            "diag_scan", "A, B", "must be finite");
  std::vector<T> Ad(2 * HN), Bd(2 * HN);
  std::vector<std::complex<double>> Ad64(HN), Bd64(HN);
  for (int h = 0; h < a.channels; ++h)
    for (int n = 0; n < a.modes; ++n) {
      const std::size_t i = static_cast<std::size_t>(h) * a.modes + n;
      std::complex<double> ad, bd;
      discretize_diag<double>({double(A[2 * i]), double(A[2 * i + 1])},
                              {double(B[2 * i]), double(B[2 * i + 1])}, double(dt[h]), a.method,
                              a.alpha, ad, bd);
      require(std::isfinite(ad.real()) && std::isfinite(ad.imag()) && std::isfinite(bd.real()) &&
                  std::isfinite(bd.imag()),
              "diag_scan", "A", "gives a non-finite discretization at channel ", h, ", mode ", n);
      Ad64[i] = ad;
      Bd64[i] = bd;
      Ad[2 * i] = static_cast<T>(ad.real());
      Ad[2 * i + 1] = static_cast<T>(ad.imag());
      Bd[2 * i] = static_cast<T>(bd.real());
      Bd[2 * i + 1] = static_cast<T>(bd.imag());
    }
  const bool tensor = cfg.tensor_core >= 0 && choose_tensor_core(a, cfg, where);
  const int gemm_chunk = tensor ? 0 : choose_gemm_chunk(a, cfg);
  if (tensor) {
    run_chunked(a, Ad, Bd, host_C(a, where), Ad64, Bd64, kTcChunk, true, st, where);
  } else if (gemm_chunk > 0) {
    run_chunked(a, Ad, Bd, host_C(a, where), Ad64, Bd64, gemm_chunk, false, st, where);
  } else if (cfg.legacy || a.modes > kMaxLtiModes) {
    run_legacy(a, Ad, Bd, st, where);
  } else {
    run_lti(a, Ad, Bd, host_C(a, where), cfg, st, where);
  }
  if (!stream) SSM_CUDA_CHECK(cudaStreamSynchronize(st), where);  // Device::cuda: return when done
}

}  // namespace

void diag_scan_cuda(const DiagScanArgs<float>& args) { run(args, nullptr); }
void diag_scan_cuda(const DiagScanArgs<double>& args) { run(args, nullptr); }
void diag_scan_cuda(const DiagScanArgs<float>& args, const CudaStream& s) { run(args, &s); }
void diag_scan_cuda(const DiagScanArgs<double>& args, const CudaStream& s) { run(args, &s); }
void diag_scan_cuda(const DiagScanArgs<float>& args, const DiagScanCudaConfig& c) { run(args, nullptr, c); }
void diag_scan_cuda(const DiagScanArgs<double>& args, const DiagScanCudaConfig& c) { run(args, nullptr, c); }

}  // namespace ssm::detail
