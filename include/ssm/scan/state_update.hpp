#pragma once
// One decoding step of Mamba's selective SSM (FORMAT.md `selective_state_update`, the
// semantics of mamba_ssm's selective_state_update), CPU and CUDA behind one entry point.
//
//   dt    = dt + dt_bias                     (dt_bias optional, per channel)
//   dt    = softplus(dt)                     if dt_softplus
//   state = exp(dt A) * state + dt B x       (elementwise over the N states, in place)
//   y     = sum_n C[n] state[n]              (complex A: 2 Re(sum_n C[n] state[n]), no conjugation)
//   out   = (y + D x) * silu(z)              (D, z optional)
// Channel d reads group g = d / (dim/groups) of B and C.
//
// Layout (contiguous, row-major, "[,2]" = trailing re/im pair when complex_A):
//   state            (batch, dim, dstate)[,2]   read and written in place; the same layout as
//                    selective_scan's h0 / last_state, so a prefill hands over to decoding
//   x, dt, z, out    (batch, dim)
//   A                (dim, dstate)[,2]
//   B, C             (batch, groups, dstate)[,2]
//   D, dt_bias       (dim)
// Precision: float in float32, double in float64. Pointers live on `device` (device pointers
// for Device::cuda; the caller transfers). `out` must not overlap any input.
// On the CPU one call performs no allocation, lock or throw after validate() has passed, and
// runs on the calling thread (it is the per-token path of a decoder).
#include "ssm/core/cuda_stream.hpp"
#include "ssm/core/device.hpp"

namespace ssm {

template <class T>
struct SelectiveStateUpdateArgs {
  int batch = 0, dim = 0, dstate = 0;
  int groups = 1;              // dim % groups == 0
  bool complex_A = false;      // A, B, C, state complex (interleaved re/im)
  bool dt_softplus = false;

  T* state = nullptr;          // (batch, dim, dstate)[,2], updated in place
  const T* x = nullptr;        // (batch, dim)
  const T* dt = nullptr;       // (batch, dim)
  const T* A = nullptr;        // (dim, dstate)[,2]
  const T* B = nullptr;        // (batch, groups, dstate)[,2]
  const T* C = nullptr;        // (batch, groups, dstate)[,2]
  const T* D = nullptr;        // (dim) or null
  const T* z = nullptr;        // (batch, dim) or null (no gate)
  const T* dt_bias = nullptr;  // (dim) or null

  T* out = nullptr;            // (batch, dim)

  /// Throws ssm::Error("selective_state_update: argument '<name>' ...") for non-positive
  /// sizes, dim % groups != 0 or a missing required pointer (state, x, dt, A, B, C, out).
  void validate() const;
};

/// Validates, then performs one step on `device`. Throws ssm::Error on bad arguments or when
/// Device::cuda is requested and ssmkit was built without CUDA.
void selective_state_update(const SelectiveStateUpdateArgs<float>& args, Device device = Device::cpu);
void selective_state_update(const SelectiveStateUpdateArgs<double>& args, Device device = Device::cpu);
/// The CUDA step queued on `stream` (pointers: device memory of stream.device()); returns
/// without waiting for it (include/ssm/core/cuda_stream.hpp). Validates first; throws
/// ssm::Error on bad arguments, a moved-from stream, or without CUDA.
void selective_state_update(const SelectiveStateUpdateArgs<float>& args, const CudaStream& stream);
void selective_state_update(const SelectiveStateUpdateArgs<double>& args, const CudaStream& stream);

/// The CPU step without validation: never allocates, locks or throws (args must have passed
/// validate()). For real-time decoders that validate once and then step.
void selective_state_update_cpu(const SelectiveStateUpdateArgs<float>& args) noexcept;
void selective_state_update_cpu(const SelectiveStateUpdateArgs<double>& args) noexcept;

}  // namespace ssm
