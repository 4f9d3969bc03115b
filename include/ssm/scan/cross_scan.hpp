#pragma once
// VMamba's 2D cross-scan selective scan (SS2D forward_corev0's CrossScan + selective_scan +
// CrossMerge) as ONE op over one copy of the input: no flipped or transposed copies.
//
// Directions (L = H W positions, spatial index p = h W + w, row-major):
//   k = 0  row-major          step l visits p = l
//   k = 1  column-major       step l visits (h, w) = (l mod H, l div H), p = h W + w
//   k = 2  reverse of 0       step l visits pos_0(L-1-l)
//   k = 3  reverse of 1       step l visits pos_1(L-1-l)
// (cross_scan_position() below is this map.) Channel c of direction k is scan channel
// j = k dim + c (direction-major, VMamba's (B, K, D, L) flattened), and reads group k of B/C.
//
// Semantics: for every batch b, direction k, channel c, with j = k dim + c and p_l = pos_k(l):
//   dt_l  = delta[b, j, p_l] + delta_bias[j];  dt_l = softplus(dt_l) if delta_softplus
//   h_l   = exp(dt_l A[j]) * h_{l-1} + dt_l B[b, k, :, p_l] u[b, c, p_l]   (h_{-1} = h0[b, j] or 0)
//   y_k[b, c, p_l] = sum_n C[b, k, n, p_l] h_l[n]
//   out[b, c, p] = sum_{k=0..3} (y_k[b, c, p] + D[j] u[b, c, p])
// This is exactly "cross-scan (the four sequences x_k[l] = u[pos_k(l)]), one grouped selective
// scan over 4 dim channels with G = 4, then cross-merge (reverse 2, 3 back, map 1, 3 from
// column-major back to row-major, sum the four)" when delta, B and C are given in SPATIAL
// order: delta_k, B_k, C_k of VMamba are pointwise projections of x_k, so their value at
// direction step l is the projection at position pos_k(l); storing them by position p lets
// all four directions share one array each and read it through the index map.
//
// Layout (element offsets; every array of positions is indexed by the spatial p = h W + w):
//   u, out      (batch, dim, L)          Strides3 {b, d, l=p}; default contiguous, i.e.
//                                        (batch, dim, H, W); channels-last (batch, H, W, dim)
//                                        is {L dim, 1, dim}, which SS2DBlock uses (the layout
//                                        the following LayerNorm reads).
//   delta       (batch, 4 dim, L)        Strides3 over the scan channel j; channels-last
//                                        (batch, H, W, 4 dim) is {L 4 dim, 1, 4 dim}.
//   B, C        (batch, 4, dstate, L)    Strides4 {b, g, n, l=p}; default contiguous. Rows of
//                                        x_proj output (batch, H, W, 4 (R + 2N)) are
//                                        {L 4 XD, XD, 1, 4 XD} with XD = R + 2N (no copy).
//   A           (4 dim, dstate)          real (VMamba: A = -exp(A_logs)), contiguous
//   D, delta_bias (4 dim) or null
//   h0, last_state (batch, 4 dim, dstate) or null, contiguous: the states after each
//                                        direction's whole pass (k = 2, 3: after reaching the
//                                        first position), the selective scan's layout.
// Determinism: out is the sum of the four directions in the fixed order
//   out = (((y_0 + Du) + y_1) + y_2) + y_3   with Du = (D_0 + D_1 + D_2 + D_3) u,
// on every backend and thread count (each (b, c) is owned by one task / one CUDA block that
// runs the four directions in turn), so results do not change from run to run.
//
// Precision: float computes in float32, double in float64 (CPU). CUDA: float32 (float32 or
// bf16 storage, see kernels/scan/cross_scan_ext.hpp); double runs the unfused recipe on the
// GPU's selective scan. out must not overlap an input; h0 may alias last_state.
// Performance: both backends take any strides; the CUDA kernel's loads and stores are
// coalesced for the channels-last layouts above (unit channel / state strides), which is what
// SS2DBlock passes; the CPU gathers W channels a position, also best with unit channel stride.
//
// cross_selective_scan_unfused() is the textbook recipe (materialize the four direction-ordered
// copies of u, delta, B, C; one plain ssm::selective_scan with groups = 4; merge): the second,
// independent path for tests and the baseline of the benches.
#include <cstddef>

#include "ssm/core/device.hpp"
#include "ssm/scan/selective_scan.hpp"

namespace ssm {

/// Element strides of a (batch, groups, dstate, length) array; all zero means contiguous.
struct Strides4 {
  std::ptrdiff_t b = 0, g = 0, n = 0, l = 0;
  constexpr bool is_default() const noexcept { return b == 0 && g == 0 && n == 0 && l == 0; }
  constexpr Strides4 resolved(std::ptrdiff_t groups, std::ptrdiff_t dstate, std::ptrdiff_t length) const noexcept {
    return is_default() ? Strides4{groups * dstate * length, dstate * length, length, 1} : *this;
  }
  constexpr std::ptrdiff_t offset(std::ptrdiff_t ib, std::ptrdiff_t ig, std::ptrdiff_t in,
                                  std::ptrdiff_t il) const noexcept {
    return ib * b + ig * g + in * n + il * l;
  }
};

/// The spatial position p = h W + w visited at step l of direction k (0 <= l < H W).
constexpr std::ptrdiff_t cross_scan_position(int k, std::ptrdiff_t l, std::ptrdiff_t H, std::ptrdiff_t W) noexcept {
  const std::ptrdiff_t L = H * W;
  const std::ptrdiff_t s = k >= 2 ? L - 1 - l : l;
  return (k & 1) ? (s % H) * W + s / H : s;
}

inline constexpr int kCrossDirections = 4;

template <class T>
struct CrossScanArgs {
  int batch = 0, dim = 0, dstate = 0, height = 0, width = 0;  // dim: channels per direction
  bool delta_softplus = true;

  const T* u = nullptr;           // (batch, dim, L), u_strides
  const T* delta = nullptr;       // (batch, 4 dim, L), delta_strides, spatial order
  const T* A = nullptr;           // (4 dim, dstate), real
  const T* B = nullptr;           // (batch, 4, dstate, L), B_strides, spatial order
  const T* C = nullptr;           // (batch, 4, dstate, L), C_strides, spatial order
  const T* D = nullptr;           // (4 dim) or null
  const T* delta_bias = nullptr;  // (4 dim) or null
  const T* h0 = nullptr;          // (batch, 4 dim, dstate) or null

  T* out = nullptr;               // (batch, dim, L), out_strides: the merged output
  T* last_state = nullptr;        // (batch, 4 dim, dstate) or null

  Strides3 u_strides{}, delta_strides{}, out_strides{};
  Strides4 B_strides{}, C_strides{};

  int length() const noexcept { return height * width; }
  /// Throws ssm::Error("cross_selective_scan: argument '<name>' ...") for non-positive sizes
  /// (height, width: H W = 0 has no positions), a missing required pointer (u, delta, A, B,
  /// C, out) or negative / output-broadcasting strides. Shapes and pointers only.
  void validate() const;
};

/// The fused op on `device` (validates first; Device::cuda without CUDA throws ssm::Error).
void cross_selective_scan(const CrossScanArgs<float>& args, Device device = Device::cpu);
void cross_selective_scan(const CrossScanArgs<double>& args, Device device = Device::cpu);

/// The fused CPU op with explicit threading (opts.threads: 0 = OpenMP default, 1 = the
/// calling thread; opts.time_chunk is not used: the four directions of a channel run in turn).
void cross_selective_scan_cpu(const CrossScanArgs<float>& args, const ScanCpuOptions& opts);
void cross_selective_scan_cpu(const CrossScanArgs<double>& args, const ScanCpuOptions& opts);

/// The unfused recipe (explicit cross-scan copies + ssm::selective_scan + cross-merge) on
/// `device`; same results up to rounding (the scan's own summation order). Allocates its
/// copies per call (host vectors or device buffers).
void cross_selective_scan_unfused(const CrossScanArgs<float>& args, Device device = Device::cpu);
void cross_selective_scan_unfused(const CrossScanArgs<double>& args, Device device = Device::cpu);

}  // namespace ssm
