#pragma once
// Mamba's selective scan (S6) over a whole sequence, CPU and CUDA behind one entry point.
//
// Semantics (FORMAT.md `selective_scan`, identical to mamba_ssm's selective_scan_ref):
//   dt_t  = delta_t + delta_bias                  (delta_bias optional, per channel)
//   dt_t  = softplus(dt_t) = log(1 + e^{dt_t})     if delta_softplus
//   h_t   = exp(dt_t A) * h_{t-1} + dt_t B_t u_t   (elementwise over the N states; h_{-1} = h0 or 0)
//   y_t   = sum_n C_t[n] h_t[n]                    (complex A: 2 Re(sum_n C_t[n] h_t[n]), no conjugation)
//   out_t = (y_t + D u_t) * silu(z_t)              (D, z optional; silu(z) = z / (1 + e^{-z}))
// for every batch b and channel d independently (channel d reads group g = d / (dim/groups)
// of variable B and C).
//
// Layout (element offsets, row-major, "[,2]" = a trailing re/im pair when complex_A):
//   u, delta, z, out   (batch, dim, length)          strided: see Strides3 (contiguous by default)
//   A                  (dim, dstate)[,2]             contiguous
//   B, C fixed         (dim, dstate)[,2]             contiguous   (B_variable / C_variable false)
//   B, C variable      (batch, groups, dstate, length)[,2]  contiguous (mamba_ssm's layout)
//   D, delta_bias      (dim)
//   h0, last_state     (batch, dim, dstate)[,2]      contiguous; the same layout as the `state`
//                      of selective_state_update, so a prefill's last_state can be stepped on.
// Complex-ness is decided by A: when complex_A, A, B, C, h0 and last_state are complex
// (interleaved re/im); u, delta, z, D and out are always real.
//
// Precision: float inputs are computed and accumulated in float32, double in float64.
// Pointers live on the device named by the `device` argument: for Device::cuda they are
// device pointers (the caller transfers explicitly; nothing is copied behind its back).
// h0 may alias last_state (the state is read before it is overwritten); `out` must not
// overlap any input. NaN/Inf in the data propagate; they are not searched for.
#include <cstddef>
#include <vector>

#include "ssm/core/cuda_stream.hpp"
#include "ssm/core/device.hpp"

namespace ssm {

/// Element strides of a (batch, dim, length) array. All three zero (the default) means the
/// contiguous row-major layout (dim*length, length, 1). Strides are in elements, never
/// negative; a zero stride broadcasts an input along that axis (never allowed for outputs).
struct Strides3 {
  std::ptrdiff_t b = 0, d = 0, l = 0;
  constexpr bool is_default() const noexcept { return b == 0 && d == 0 && l == 0; }
  /// These strides with the default replaced by the contiguous layout of (., dim, length).
  constexpr Strides3 resolved(std::ptrdiff_t dim, std::ptrdiff_t length) const noexcept {
    return is_default() ? Strides3{dim * length, length, 1} : *this;
  }
  constexpr std::ptrdiff_t offset(std::ptrdiff_t ib, std::ptrdiff_t id, std::ptrdiff_t il) const noexcept {
    return ib * b + id * d + il * l;
  }
};

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

/// Runs the selective scan on `device` (validates first; throws ssm::Error on bad arguments,
/// or when Device::cuda is requested and ssmkit was built without CUDA).
void selective_scan(const SelectiveScanArgs<float>& args, Device device = Device::cpu);
void selective_scan(const SelectiveScanArgs<double>& args, Device device = Device::cpu);
/// The CUDA scan queued on `stream` (pointers: device memory of stream.device()); returns
/// without waiting for it (include/ssm/core/cuda_stream.hpp says when results are there).
/// Validates first; throws ssm::Error on bad arguments, a moved-from stream, or without CUDA.
void selective_scan(const SelectiveScanArgs<float>& args, const CudaStream& stream);
void selective_scan(const SelectiveScanArgs<double>& args, const CudaStream& stream);

/// CPU tuning knobs (tests and benches; the defaults are what selective_scan uses).
struct ScanCpuOptions {
  int threads = 0;      // 0: OpenMP's default team size; 1: run on the calling thread
  int time_chunk = 0;   // 0: automatic (split time only when batch*dim cannot fill the threads);
                        // > 0: always use the chunked time-parallel scan with chunks of this length
};
void selective_scan_cpu(const SelectiveScanArgs<float>& args, const ScanCpuOptions& opts);
void selective_scan_cpu(const SelectiveScanArgs<double>& args, const ScanCpuOptions& opts);

/// Streaming wrapper: processes a long sequence chunk by chunk, carrying the state
/// (batch, dim, dstate)[,2] between calls, so that feeding L samples in any split equals one
/// scan over L. Owns the state; allocates only in the constructor (process() itself may use
/// the CPU thread team; it is an offline path, not a real-time one).
template <class T>
class SelectiveScanStream {
public:
  SelectiveScanStream(int batch, int dim, int dstate, bool complex_A);

  /// Zeroes the carried state.
  void reset() noexcept;
  /// The carried state, (batch, dim, dstate)[,2] contiguous; writable to restore a state.
  T* state() noexcept { return state_.data(); }
  const T* state() const noexcept { return state_.data(); }
  std::size_t state_size() const noexcept { return state_.size(); }

  /// Scans one chunk: `chunk` describes the next `chunk.length` samples (batch, dim, dstate,
  /// complex_A must match the constructor); its h0 and last_state are ignored and replaced by
  /// the carried state. Throws ssm::Error on mismatching arguments.
  void process(const SelectiveScanArgs<T>& chunk, const ScanCpuOptions& opts = {});

private:
  int batch_, dim_, dstate_;
  bool complex_;
  std::vector<T> state_;
};

}  // namespace ssm
