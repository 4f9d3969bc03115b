#pragma once
// Bidirectional selective scan (Vision Mamba, bimamba v2): two selective scans over the same
// sequence, one forward and one backward in time, merged and gated in the output write.
//
// Semantics. Direction k in {0, 1} has its own u_k, delta_k, A_k, B_k, C_k, D_k, delta_bias_k,
// all indexed in ORIGINAL time order t = 0..L-1. With
//   dt_k,t = delta_k,t + delta_bias_k     (then softplus if delta_softplus)
// direction 0 runs forward and direction 1 runs backward in time:
//   h_t = exp(dt_0,t A_0) * h_{t-1} + dt_0,t B_0,t u_0,t     t = 0 .. L-1,   h_{-1} = h0_0 or 0
//   g_t = exp(dt_1,t A_1) * g_{t+1} + dt_1,t B_1,t u_1,t     t = L-1 .. 0,   g_L   = h0_1 or 0
//   y_0,t = sum_n C_0,t[n] h_t[n],   y_1,t = sum_n C_1,t[n] g_t[n]
//   out_t = out_scale * (y_0,t + D_0 u_0,t + y_1,t + D_1 u_1,t) * silu(z_t)
// (z optional, shared by both directions; out_scale = 0.5 is Vim's if_divide_out).
// last_state_0 = h_{L-1} and last_state_1 = g_0: the state after each direction's last step.
// This equals the unfused recipe: flip every input of direction 1 in time, run selective_scan
// on it, flip its output back and add (selective_scan.hpp), up to float rounding (the gate is
// applied to the sum here, to each part there).
//
// Direction 1 reads its inputs through the reversed index map t = L-1-j (j = its step count);
// no flipped copy of any input is made.
//
// Layout (element offsets, row-major), per direction unless marked shared:
//   u, delta           (batch, dim, length)        strided (Strides3; default contiguous)
//   z, out   (shared)  (batch, dim, length)        strided
//   A                  (dim, dstate)               contiguous, real
//   B, C               (batch, groups, dstate, length) contiguous (variable B/C, mamba_ssm's
//                      layout; channel d reads group d / (dim / groups))
//   D, delta_bias      (dim) or null
//   h0, last_state     (batch, dim, dstate) or null (zero start / not returned)
// Complex A and fixed (input-independent) B/C are not offered: Vim uses neither.
//
// Precision: float computes in float32, double in float64. Pointers live on the device named
// by `device` (device pointers for Device::cuda). h0 may alias last_state of the same
// direction; `out` must not overlap any input.
#include "ssm/core/device.hpp"
#include "ssm/scan/selective_scan.hpp"

namespace ssm {

/// The per-direction inputs of a bidirectional scan (all in original time order).
template <class T>
struct BidirectionalScanDirection {
  const T* u = nullptr;          // (batch, dim, length), u_strides
  const T* delta = nullptr;      // (batch, dim, length), delta_strides
  const T* A = nullptr;          // (dim, dstate)
  const T* B = nullptr;          // (batch, groups, dstate, length)
  const T* C = nullptr;          // (batch, groups, dstate, length)
  const T* D = nullptr;          // (dim) or null
  const T* delta_bias = nullptr; // (dim) or null
  const T* h0 = nullptr;         // (batch, dim, dstate) or null
  T* last_state = nullptr;       // (batch, dim, dstate) or null
  Strides3 u_strides{}, delta_strides{};
};

template <class T>
struct BidirectionalScanArgs {
  int batch = 0, dim = 0, dstate = 0, length = 0;
  int groups = 1;              // B/C groups of both directions; dim % groups == 0
  bool delta_softplus = false;
  BidirectionalScanDirection<T> dir[2];  // [0] forward in time, [1] backward in time
  const T* z = nullptr;        // (batch, dim, length), z_strides, or null (no gate)
  T* out = nullptr;            // (batch, dim, length), out_strides
  T out_scale = T(1);          // 0.5: Vim's if_divide_out
  Strides3 z_strides{}, out_strides{};

  /// Throws ssm::Error("bidirectional_selective_scan: argument '<name>' ...") for
  /// non-positive sizes, dim % groups != 0, a missing required pointer (dir[k].u, .delta, .A,
  /// .B, .C, out), negative or output-broadcasting strides, or a non-finite out_scale.
  /// Checks shapes and pointers only (works for device pointers).
  void validate() const;
};

/// Runs the bidirectional scan on `device` (validates first; throws ssm::Error on bad
/// arguments, or for Device::cuda without CUDA).
void bidirectional_selective_scan(const BidirectionalScanArgs<float>& args, Device device = Device::cpu);
void bidirectional_selective_scan(const BidirectionalScanArgs<double>& args, Device device = Device::cpu);

/// CPU knobs (tests and benches). threads = 0: OpenMP's default team; 1: the calling thread.
struct BidirectionalScanCpuOptions {
  int threads = 0;
};
void bidirectional_selective_scan_cpu(const BidirectionalScanArgs<float>& args,
                                      const BidirectionalScanCpuOptions& opts);
void bidirectional_selective_scan_cpu(const BidirectionalScanArgs<double>& args,
                                      const BidirectionalScanCpuOptions& opts);

}  // namespace ssm
