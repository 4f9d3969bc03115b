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
// Layout (element offsets, row-major, "[,2]" = a trailing re/im pair when `complex`):
//   u, delta, z, out   (batch, dim, length)          View3s: any strides (contiguous or a
//                                                   channels-last (batch, length, dim) buffer)
//   A                  (dim, dstate)[,2]             contiguous
//   B, C input-dependent (batch, groups, dstate, length)[,2]  contiguous (mamba_ssm's layout)
//   B, C fixed         (dim, dstate)[,2]             contiguous   (SelectiveBC::fixed)
//   D, delta_bias      (dim)
//   h0, last_state     (batch, dim, dstate)[,2]      contiguous; the same layout as the `state`
//                      of selective_state_update, so a prefill's last_state can be stepped on.
// Complex layout: interleaved re/im pairs (std::complex<T>'s layout, PyTorch's view_as_real),
// the same in every complex array of the scans, the state update and the model files; when
// `complex`, A, B, C, h0 and last_state are complex; u, delta, z, D and out are always real.
//
// Precision: float inputs are computed and accumulated in float32, double in float64.
// Pointers live on the device named by the `device` argument: for Device::cuda they are
// device pointers (the caller transfers explicitly; nothing is copied behind its back).
// h0 may alias last_state (the state is read before it is overwritten); `out` must not
// overlap any input. NaN/Inf in the data propagate; they are not searched for.
//
// Names: mamba_ssm's (selective_scan_fn: u, delta, A, B, C, D, z, delta_bias, delta_softplus;
// its kernels' dim, dstate, n_groups); docs/api.md maps them to the other ops' words.
#include <cstddef>
#include <vector>

#include "ssm/core/cuda_stream.hpp"
#include "ssm/core/device.hpp"
#include "ssm/core/view.hpp"

namespace ssm {

/// B or C of a selective scan with the layout of its pointer: input-dependent (the default;
/// mamba_ssm's "variable" B/C, (batch, groups, dstate, length)[,2]) or fixed per channel
/// ((dim, dstate)[,2]). Converts from a plain pointer (input-dependent): `p.B = ptr;`,
/// `p.C = {ptr, SelectiveBC<T>::fixed}`.
template <class T>
struct SelectiveBC {
  static constexpr bool fixed = true;
  const T* data = nullptr;
  bool is_fixed = false;
  SelectiveBC() = default;
  SelectiveBC(const T* p, bool fixed_layout = false) : data(p), is_fixed(fixed_layout) {}  // NOLINT: implicit
};

/// The selective-scan problem: its arrays and the few choices of the formula above. The sizes
/// batch, dim and length are those of `u`; dstate, groups and `complex` say how A, B, C and the
/// states are laid out.
template <class T>
struct SelectiveScanProblem {
  int dstate = 0;               // N: states per channel
  int groups = 1;               // B/C groups; dim % groups == 0
  bool complex = false;         // A, B, C, h0, last_state complex (interleaved re/im)
  bool delta_softplus = false;  // dt = softplus(delta + delta_bias)

  View3<const T> u;             // (batch, dim, length): the problem's sizes
  View3<const T> delta;         // the shape of u
  View3<const T> z;             // the shape of u, or empty (default: no gate)
  const T* A = nullptr;         // (dim, dstate)[,2]
  SelectiveBC<T> B, C;          // see SelectiveBC
  const T* D = nullptr;         // (dim) or null
  const T* delta_bias = nullptr;// (dim) or null
  const T* h0 = nullptr;        // (batch, dim, dstate)[,2] or null (zero initial state)

  View3<T> out;                 // the shape of u
  T* last_state = nullptr;      // (batch, dim, dstate)[,2] or null (not returned)

  int batch() const noexcept { return static_cast<int>(u.batch); }
  int dim() const noexcept { return static_cast<int>(u.channels); }
  int length() const noexcept { return static_cast<int>(u.length); }

  /// Throws ssm::Error("selective_scan: argument '<name>' ...") for an empty u or sizes beyond
  /// int, non-positive dstate, dim % groups != 0, delta / z / out of another shape than u, a
  /// missing required pointer (u, delta, A, B, C, out) or negative / output-broadcasting
  /// strides. Checks only shapes and pointers (works for device pointers).
  void validate() const;
};

/// Runs the selective scan on `device` (validates first; throws ssm::Error on bad arguments,
/// or when Device::cuda is requested and ssmkit was built without CUDA).
void selective_scan(const SelectiveScanProblem<float>& problem, Device device = Device::cpu);
void selective_scan(const SelectiveScanProblem<double>& problem, Device device = Device::cpu);
/// The CUDA scan queued on `stream` (pointers: device memory of stream.device()); returns
/// without waiting for it (include/ssm/core/cuda_stream.hpp says when results are there).
/// Validates first; throws ssm::Error on bad arguments, a moved-from stream, or without CUDA.
void selective_scan(const SelectiveScanProblem<float>& problem, const CudaStream& stream);
void selective_scan(const SelectiveScanProblem<double>& problem, const CudaStream& stream);

/// CPU tuning knobs (tests and benches; the defaults are what selective_scan uses).
struct ScanCpuOptions {
  int threads = 0;      // 0: OpenMP's default team size; 1: run on the calling thread
  int time_chunk = 0;   // 0: automatic (split time only when batch*dim cannot fill the threads);
                        // > 0: always use the chunked time-parallel scan with chunks of this length
};
void selective_scan_cpu(const SelectiveScanProblem<float>& problem, const ScanCpuOptions& opts);
void selective_scan_cpu(const SelectiveScanProblem<double>& problem, const ScanCpuOptions& opts);

/// Streaming wrapper: processes a long sequence chunk by chunk, carrying the state
/// (batch, dim, dstate)[,2] between calls, so that feeding L samples in any split equals one
/// scan over L. Owns the state; allocates only in the constructor (process() itself may use
/// the CPU thread team; it is an offline path, not a real-time one).
template <class T>
class SelectiveScanStream {
public:
  SelectiveScanStream(int batch, int dim, int dstate, bool complex);

  /// Zeroes the carried state.
  void reset() noexcept;
  /// The carried state, (batch, dim, dstate)[,2] contiguous; writable to restore a state.
  T* state() noexcept { return state_.data(); }
  const T* state() const noexcept { return state_.data(); }
  std::size_t state_size() const noexcept { return state_.size(); }

  /// Scans one chunk: `chunk` describes the next `chunk.length()` samples (batch, dim, dstate,
  /// complex must match the constructor); its h0 and last_state are ignored and replaced by
  /// the carried state. Throws ssm::Error on mismatching arguments.
  void process(const SelectiveScanProblem<T>& chunk, const ScanCpuOptions& opts = {});

private:
  int batch_, dim_, dstate_;
  bool complex_;
  std::vector<T> state_;
};

}  // namespace ssm
