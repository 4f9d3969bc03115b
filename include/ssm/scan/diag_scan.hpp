#pragma once
// Scan path of a time-invariant complex diagonal SSM (S4D), FORMAT.md `diag_filter`:
//
//   (Ad[h,n], Bd[h,n]) = ssm::discretize_diag(A[h,n], B[h,n], dt[h], method, alpha)
//        zoh:  Ad = exp(dt A),  Bd = (Ad - 1)/A * B
//        gbt:  Ad = (1 + (1-alpha) dt A)/(1 - alpha dt A),  Bd = dt B/(1 - alpha dt A)
//              (bilinear = gbt(1/2), euler = gbt(0), backward_diff = gbt(1))
//   x_t[n] = Ad[n] x_{t-1}[n] + Bd[n] u_t          (x_{-1} = h0 or 0)
//   y_t    = 2 Re(sum_n C[n] x_t[n]) + D u_t
// for every batch b and channel h independently (`ssm` read-out convention).
//
// Layout ("[,2]" = trailing re/im pair, interleaved):
//   A, B, C          (channels, modes, 2)  complex, contiguous
//   D, dt            (channels)            D optional (null = 0); dt > 0
//   u, y             (batch, channels, length), strided (Strides3, contiguous by default)
//   h0, last_state   (batch, channels, modes, 2) complex, contiguous; optional
// Precision: float in float32 (discretization done in float64 and rounded), double in float64.
// Pointers live on `device` (device pointers for Device::cuda; the caller transfers).
// h0 may alias last_state; y must not overlap any input.
#include "ssm/discretize/discretize.hpp"
#include "ssm/scan/selective_scan.hpp"

namespace ssm {

template <class T>
struct DiagScanArgs {
  int batch = 0, channels = 0, modes = 0, length = 0;
  Method method = Method::zoh;  // zoh | bilinear | euler | backward_diff | gbt (not foh)
  double alpha = 0.5;           // gbt only, in [0, 1]

  const T* A = nullptr;         // (channels, modes, 2)
  const T* B = nullptr;         // (channels, modes, 2)
  const T* C = nullptr;         // (channels, modes, 2)
  const T* D = nullptr;         // (channels) or null
  const T* dt = nullptr;        // (channels)
  const T* u = nullptr;         // (batch, channels, length), u_strides
  const T* h0 = nullptr;        // (batch, channels, modes, 2) or null
  T* y = nullptr;               // (batch, channels, length), y_strides
  T* last_state = nullptr;      // (batch, channels, modes, 2) or null

  Strides3 u_strides{}, y_strides{};

  /// Throws ssm::Error("diag_scan: argument '<name>' ...") for non-positive sizes, a missing
  /// required pointer (A, B, C, dt, u, y), foh, alpha outside [0, 1], negative strides or a
  /// broadcasting output stride. (dt > 0 and finite parameters are checked by the CPU path,
  /// which reads them; the CUDA path checks them after its own copy.)
  void validate() const;
};

/// Validates, discretizes and scans on `device`. Throws ssm::Error on bad arguments
/// (including dt <= 0 or non-finite A, B, C, dt on the CPU) or when Device::cuda is requested
/// and ssmkit was built without CUDA.
void diag_scan(const DiagScanArgs<float>& args, Device device = Device::cpu);
void diag_scan(const DiagScanArgs<double>& args, Device device = Device::cpu);
/// The CUDA scan on `stream` (pointers: device memory of stream.device()). It first waits for
/// the work already queued on the stream (it reads A, B, dt back to validate and discretize them
/// in float64 on the host), then queues the scan and returns without waiting for it
/// (include/ssm/core/cuda_stream.hpp). Throws like the Device::cuda call, or for a moved-from
/// stream, or without CUDA.
void diag_scan(const DiagScanArgs<float>& args, const CudaStream& stream);
void diag_scan(const DiagScanArgs<double>& args, const CudaStream& stream);

/// CPU path with explicit threading / time chunking (same knobs as the selective scan).
void diag_scan_cpu(const DiagScanArgs<float>& args, const ScanCpuOptions& opts);
void diag_scan_cpu(const DiagScanArgs<double>& args, const ScanCpuOptions& opts);

}  // namespace ssm
