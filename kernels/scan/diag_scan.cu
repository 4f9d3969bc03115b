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

#include <cmath>
#include <complex>
#include <vector>

#include "kernels/core/cuda_check.cuh"
#include "backend/scan_cuda.hpp"
#include "kernels/scan/scan_kernel.cuh"

namespace ssm::detail {
namespace {

/// stream null: the legacy default stream of the current device, waiting for the scan; else the
/// stream (on its device), waiting only for the work queued on it before (to read A, B, dt).
template <class T>
void run(const DiagScanArgs<T>& a, const CudaStream* stream) {
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
      Ad[2 * i] = static_cast<T>(ad.real());
      Ad[2 * i + 1] = static_cast<T>(ad.imag());
      Bd[2 * i] = static_cast<T>(bd.real());
      Bd[2 * i + 1] = static_cast<T>(bd.imag());
    }
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
  p.delta = nullptr;
  p.z = nullptr;
  p.A = Ad_p;
  p.B = Bd_p;
  p.C = a.C;
  p.D = a.D;
  p.delta_bias = nullptr;
  p.h0 = a.h0;
  p.out = a.y;
  p.last_state = a.last_state;
  const Strides3 su = a.u_strides.resolved(a.channels, a.length);
  const Strides3 sy = a.y_strides.resolved(a.channels, a.length);
  p.su_b = su.b; p.su_d = su.d; p.su_l = su.l;
  p.so_b = sy.b; p.so_d = sy.d; p.so_l = sy.l;
  scan::launch<T, T>(p, /*complex=*/true, /*lti=*/true, where, st);
  if (!stream) SSM_CUDA_CHECK(cudaStreamSynchronize(st), where);  // Device::cuda: return when done
}

}  // namespace

void diag_scan_cuda(const DiagScanArgs<float>& args) { run(args, nullptr); }
void diag_scan_cuda(const DiagScanArgs<double>& args) { run(args, nullptr); }
void diag_scan_cuda(const DiagScanArgs<float>& args, const CudaStream& s) { run(args, &s); }
void diag_scan_cuda(const DiagScanArgs<double>& args, const CudaStream& s) { run(args, &s); }

}  // namespace ssm::detail
