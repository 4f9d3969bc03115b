#pragma once
// Vision Mamba's bidirectional block (hustvl/Vim `Mamba` with bimamba_type "v2"), with the
// original parameter names (FORMAT.md `bimamba_block`). For x (batch, L, d_model), row-major:
//
//   xz  = x in_proj.weightᵀ (+ in_proj.bias)            (batch, L, 2 d_inner), shared
//   f   = inner(xz)          with conv1d, x_proj, dt_proj, A_log, D               (forward branch)
//   b   = inner(flip_L(xz))  with conv1d_b, x_proj_b, dt_proj_b, A_b_log, D_b     (backward branch)
//   y   = (f + flip_L(b)) * (if_divide_out ? 1/2 : 1)
//   out = y out_proj.weightᵀ (+ out_proj.bias)           (batch, L, d_model), shared
// where inner() is the Mamba inner part (MambaBlock::forward_inner: causal depthwise conv +
// SiLU, x_proj -> (dt, B, C), dt_proj, selective scan with A = -exp(A_log), D, delta_bias =
// dt_proj.bias, softplus, gated by SiLU(z)). The whole xz is reversed for the backward branch,
// so its z gate too; in original time order that branch is an anti-causal convolution
//   xc_b[t] = silu(conv1d_b.bias + sum_k conv1d_b.weight[:, 0, k] * x[t + d_conv - 1 - k])
// (zeros past the end) and a scan running from t = L-1 down to 0, gated by the same
// SiLU(z[t]) as the forward branch.
//
// Paths (BiMambaPath):
//   fused    the default: both convolutions read xz in place (the backward one through the
//            reversed index map), one bidirectional_selective_scan (scan/bidirectional_scan.hpp)
//            merges, scales and gates in its output write. No flipped copy exists.
//   unfused  the reference recipe: explicit flips of xz, two MambaBlock::forward_inner calls
//            (plain selective_scan), flip back and add. For tests and benchmarks.
// Not causal: there is no step/streaming path (offline scan mode only).
//
// Devices: forward(..., Device::cpu) runs everything on the CPU (Eigen GEMM, OpenMP team).
// GPU: to_device() uploads every weight once to the current CUDA device; then
// forward_device() runs the whole fused block there on device pointers (cuBLAS projections,
// conv/relayout kernels, the CUDA bidirectional scan), and forward(..., Device::cuda, fused)
// is the same with x uploaded and y downloaded. forward(..., Device::cuda, unfused) runs the
// two plain selective scans on the GPU (activations copied per call; a reference path).
// Precision: T = float or double.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ssm/core/device.hpp"
#include "ssm/io/safetensors.hpp"
#include "ssm/layers/mamba_block.hpp"

namespace ssm {

class TensorReader;
namespace detail {
template <class T>
struct BiMambaDevice;
}

struct BiMambaBlockConfig {
  int d_model = 0;
  int d_inner = 0;
  int d_state = 16;
  int d_conv = 4;
  int dt_rank = 0;
  bool in_proj_bias = false;
  bool conv_bias = true;      // conv1d.bias and conv1d_b.bias (both or neither)
  bool out_proj_bias = false;
  bool if_divide_out = false; // Vim's if_divide_out: halve the sum of the two branches

  /// Throws ssm::Error(where: argument '<field>' ...) unless every size is >= 1.
  void validate(const char* where) const;
  /// The MambaBlockConfig of the forward branch with the shared projections.
  MambaBlockConfig forward_branch() const;
  /// The block whose forward branch is `m` (its sizes and bias flags).
  static BiMambaBlockConfig with_forward_branch(const MambaBlockConfig& m, bool if_divide_out = false);
};

/// Parameters in PyTorch's layouts. `fwd` holds the shared in_proj / out_proj and the forward
/// branch under mamba_ssm's names; the backward branch's tensors follow (`*_b` in Vim).
template <class T>
struct BiMambaBlockParams {
  MambaBlockParams<T> fwd;
  std::vector<T> conv1d_b_weight;    // (d_inner, 1, d_conv)
  std::vector<T> conv1d_b_bias;      // (d_inner) or empty
  std::vector<T> x_proj_b_weight;    // (dt_rank + 2 d_state, d_inner)
  std::vector<T> dt_proj_b_weight;   // (d_inner, dt_rank)
  std::vector<T> dt_proj_b_bias;     // (d_inner)
  std::vector<T> A_b_log;            // (d_inner, d_state)
  std::vector<T> D_b;                // (d_inner)
};

/// Sizes from the tensors `<prefix>in_proj.weight`, `A_log`, `conv1d.weight`, `dt_proj.weight`
/// and the presence of every backward-branch tensor; if_divide_out stays false (it is not in
/// the weights: the caller sets it from metadata or config). Throws ssm::Error naming a
/// missing tensor (e.g. 'conv1d_b.weight') or a shape that disagrees with d_inner.
BiMambaBlockConfig infer_bimamba_block_config(const io::SafeTensors& file, const std::string& prefix = "");

/// Reads every tensor of the block under `prefix`, validating presence, shape and dtype.
template <class T>
BiMambaBlockParams<T> read_bimamba_block(TensorReader& reader, const std::string& prefix,
                                         const BiMambaBlockConfig& cfg);

/// Random parameters drawn like Vim's initialization (both branches as random_mamba_block).
template <class T>
BiMambaBlockParams<T> random_bimamba_block(const BiMambaBlockConfig& cfg, std::uint64_t seed);

enum class BiMambaPath { fused, unfused };

template <class T>
class BiMambaBlock {
public:
  BiMambaBlock() = default;
  /// Validates sizes against cfg (errors name the tensor) and finiteness.
  BiMambaBlock(const BiMambaBlockConfig& cfg, BiMambaBlockParams<T> params);

  const BiMambaBlockConfig& config() const noexcept { return cfg_; }
  const BiMambaBlockParams<T>& params() const noexcept { return p_; }

  /// x (batch, length, d_model) -> y (batch, length, d_model), row-major; y must not overlap x.
  /// Device::cuda with the fused path needs to_device() first (throws ssm::Error naming
  /// 'device' otherwise).
  void forward(const T* x, int batch, int length, T* y, Device device = Device::cpu,
               BiMambaPath path = BiMambaPath::fused) const;

  /// Uploads the weights to the current CUDA device (once; again replaces them). Throws
  /// ssm::Error without CUDA.
  void to_device();
  bool on_device() const noexcept { return dev_ != nullptr; }
  /// The fused forward on the GPU of to_device(): x, y device pointers (batch, length,
  /// d_model); returns when y is written.
  void forward_device(const T* x, int batch, int length, T* y) const;

private:
  void forward_fused(const T* x, int batch, int length, T* y) const;  // CPU
  void forward_unfused(const T* x, int batch, int length, T* y, Device device) const;
  BiMambaBlockConfig cfg_{};
  BiMambaBlockParams<T> p_{};
  MambaBlock<T> fwd_, bwd_;  // the branches' inner parts for the unfused path (bwd_: d_model 1)
  std::vector<T> A_f_, A_b_;            // -exp(A_log), -exp(A_b_log)
  std::vector<T> conv_f_t_, conv_b_t_;  // (d_conv, d_inner) transposed conv weights
  std::shared_ptr<const detail::BiMambaDevice<T>> dev_;  // resident GPU weights (immutable)
};

extern template class BiMambaBlock<float>;
extern template class BiMambaBlock<double>;

}  // namespace ssm
