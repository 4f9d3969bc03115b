#pragma once
// Internal: the selective scan's kernel parameters. The public problem
// (ssm::SelectiveScanProblem, include/ssm/scan/selective_scan.hpp) is turned into this flat
// struct once, by detail::selective_scan_params(); the CPU loops (src/scan/selective_scan.cpp),
// the CUDA kernels (kernels/scan/selective_scan*.cu), the unfused recipes of the other scans
// and the benches' kernel choices run on it. Plain C++ (no CUDA headers).
//
// The fields are the problem's, flattened: sizes stated once, each strided array as a pointer
// plus a Strides3 (core/view.hpp; all-zero = contiguous), the layout choices as flags:
//   complex_A               A, B, C, h0, last_state complex (interleaved re/im)
//   B_variable / C_variable  (batch, groups, dstate, length)[,2] when true, (dim, dstate)[,2] else
#include <cstddef>

#include "ssm/core/cuda_stream.hpp"
#include "ssm/core/device.hpp"
#include "ssm/core/view.hpp"
#include "ssm/scan/selective_scan.hpp"

namespace ssm {

template <class T>
struct SelectiveScanArgs {
  int batch = 0, dim = 0, dstate = 0, length = 0;
  int groups = 1;               // variable B/C groups; dim % groups == 0
  bool complex_A = false;       // A, B, C, h0, last_state complex (interleaved re/im)
  bool delta_softplus = false;

  const T* u = nullptr;         // (batch, dim, length), u_strides
  const T* delta = nullptr;     // (batch, dim, length), delta_strides
  const T* A = nullptr;         // (dim, dstate)[,2]
  const T* B = nullptr;         // fixed (dim, dstate)[,2] or variable (batch, groups, dstate, length)[,2]
  const T* C = nullptr;         // same as B
  bool B_variable = true, C_variable = true;
  const T* D = nullptr;         // (dim) or null
  const T* z = nullptr;         // (batch, dim, length), z_strides, or null (no gate)
  const T* delta_bias = nullptr;// (dim) or null
  const T* h0 = nullptr;        // (batch, dim, dstate)[,2] or null (zero initial state)

  T* out = nullptr;             // (batch, dim, length), out_strides
  T* last_state = nullptr;      // (batch, dim, dstate)[,2] or null (not returned)

  Strides3 u_strides{}, delta_strides{}, z_strides{}, out_strides{};

  /// Throws ssm::Error("selective_scan: argument '<name>' ...") for non-positive sizes,
  /// dim % groups != 0, a missing required pointer (u, delta, A, B, C, out) or negative /
  /// output-broadcasting strides. Checks only shapes and pointers (works for device pointers).
  void validate() const;
};

/// The kernel parameters of a problem (validates it first: SelectiveScanProblem::validate).
SelectiveScanArgs<float> selective_scan_params(const SelectiveScanProblem<float>& problem);
SelectiveScanArgs<double> selective_scan_params(const SelectiveScanProblem<double>& problem);

/// The scan on kernel parameters (what the public entry points run after converting):
/// validates, then runs on `device` / queues on `stream` / runs on the CPU with `opts`.
void selective_scan(const SelectiveScanArgs<float>& args, Device device = Device::cpu);
void selective_scan(const SelectiveScanArgs<double>& args, Device device = Device::cpu);
void selective_scan(const SelectiveScanArgs<float>& args, const CudaStream& stream);
void selective_scan(const SelectiveScanArgs<double>& args, const CudaStream& stream);
void selective_scan_cpu(const SelectiveScanArgs<float>& args, const ScanCpuOptions& opts);
void selective_scan_cpu(const SelectiveScanArgs<double>& args, const ScanCpuOptions& opts);

}  // namespace ssm
