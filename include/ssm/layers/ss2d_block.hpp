#pragma once
// VMamba's SS2D block (MzeroMiko/VMamba `SS2D`, forward_corev0; FORMAT.md `ss2d_block`) with the
// original parameter names. Input x (batch, H, W, d_model), channels-last, row-major:
//
//   xz     = x in_proj.weightᵀ (+ in_proj.bias)                   (batch, H, W, 2 d_inner); x | z
//   xc     = silu(conv2d(x) + conv2d.bias)   depthwise k x k, zero padding (k-1)/2, k odd
//   x_dbl_k = xc x_proj_weight[k]ᵀ = [dt_k | B_k | C_k]              (R, N, N) per direction k
//   delta_k = dt_k dt_projs_weight[k]ᵀ                               (no bias: delta_bias below)
//   ys     = cross_selective_scan(u = xc, delta, A = -exp(A_logs), B, C, D = Ds,
//                                 delta_bias = dt_projs_bias, softplus)   (sum of 4 directions)
//   out    = (LayerNorm(ys; out_norm, eps out_norm_eps (1e-5)) * silu(z)) out_proj.weightᵀ (+ out_proj.bias)
// with the four directions of include/ssm/scan/cross_scan.hpp (0 row-major, 1 column-major,
// 2 and 3 their reverses). Every projection is computed ONCE at each spatial position and the
// cross-scan reads it through the directions' index maps (delta, B, C are pointwise in the
// position), so the block never materializes flipped or transposed copies; the unfused path
// (SS2DPath::unfused) runs the textbook recipe (copies, plain selective scan, merge) instead.
//
// Shapes (the config is inferred from them by infer_ss2d_block_config):
//   in_proj.weight (2 d_inner, d_model), in_proj.bias (2 d_inner) optional
//   conv2d.weight (d_inner, 1, k, k), conv2d.bias (d_inner) optional; meta d_conv = k
//   x_proj_weight (4, R + 2 N, d_inner), dt_projs_weight (4, d_inner, R), dt_projs_bias (4, d_inner)
//   A_logs (4 d_inner, N), Ds (4 d_inner), out_norm.{weight,bias} (d_inner)
//   out_proj.weight (d_model, d_inner), out_proj.bias (d_model) optional
// Scratch layouts (all channels-last, M = batch H W rows): xz (M, 2 d_inner), xc (M, d_inner),
// x_dbl (M, 4 (R + 2N)), delta (M, 4 d_inner), ys (M, d_inner).
//
// Offline only (a 2D scan is not causal): forward() over whole images. Device::cpu runs
// everything on the CPU (Eigen GEMM, OpenMP team); Device::cuda runs the cross-scan on the GPU
// and the rest on the CPU: the scan's weights (A, Ds, dt_projs_bias) are uploaded to a GPU once,
// on its first use or by to_device(), and stay resident (shared by copies of the block, as for
// MambaBlock); the activations go up and down per call. SS2DBlockCuda
// (ss2d_block_cuda.hpp) runs the whole block on the GPU. Precision: T = float or double.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ssm/core/device.hpp"
#include "ssm/core/device_buffer.hpp"
#include "ssm/io/safetensors.hpp"

namespace ssm {
namespace detail {
template <class T>
class ResidentWeights;
}  // namespace detail

class TensorReader;

struct SS2DBlockConfig {
  int d_model = 0;
  int d_inner = 0;   // expand * d_model in VMamba (ssm_ratio)
  int d_state = 16;
  int d_conv = 3;    // k of the k x k depthwise conv; odd
  int dt_rank = 0;   // ceil(d_model / 16) in VMamba ("auto")
  bool in_proj_bias = false;
  bool conv_bias = true;
  bool out_proj_bias = false;
  double out_norm_eps = 1e-5;  // eps of out_norm (VMamba's LayerNorm default)

  /// Throws ssm::Error(where: argument '<field>' ...) unless every size is >= 1, d_conv is odd
  /// and out_norm_eps is finite and > 0.
  void validate(const char* where) const;
};

/// Parameters in PyTorch's layouts (row-major). Optional biases are empty when absent.
template <class T>
struct SS2DBlockParams {
  std::vector<T> in_proj_weight;   // (2 d_inner, d_model)
  std::vector<T> in_proj_bias;     // (2 d_inner) or empty
  std::vector<T> conv2d_weight;    // (d_inner, 1, k, k)
  std::vector<T> conv2d_bias;      // (d_inner) or empty
  std::vector<T> x_proj_weight;    // (4, R + 2 N, d_inner)
  std::vector<T> dt_projs_weight;  // (4, d_inner, R)
  std::vector<T> dt_projs_bias;    // (4, d_inner)
  std::vector<T> A_logs;           // (4 d_inner, N)
  std::vector<T> Ds;               // (4 d_inner)
  std::vector<T> out_norm_weight;  // (d_inner)
  std::vector<T> out_norm_bias;    // (d_inner)
  std::vector<T> out_proj_weight;  // (d_model, d_inner)
  std::vector<T> out_proj_bias;    // (d_model) or empty
};

/// The sizes implied by `<prefix>in_proj.weight`, `A_logs`, `conv2d.weight`, `x_proj_weight`,
/// `dt_projs_weight` (bias flags from the presence of the bias tensors). Throws ssm::Error naming
/// a missing tensor, an inconsistent shape (e.g. a d_inner that differs between tensors) or an
/// even / non-square conv2d kernel.
SS2DBlockConfig infer_ss2d_block_config(const io::SafeTensors& file, const std::string& prefix = "");

/// Reads the block's tensors under `prefix`, validating presence, shape and dtype against cfg.
template <class T>
SS2DBlockParams<T> read_ss2d_block(TensorReader& reader, const std::string& prefix, const SS2DBlockConfig& cfg);

/// Random parameters drawn like VMamba's initialization (uniform fan-in linear weights,
/// dt = exp(U[log 1e-3, log 1e-1]) through the inverse-softplus bias, A_logs = log(1..N),
/// Ds = 1, LayerNorm weight 1 / bias 0). For tests, benches and examples.
template <class T>
SS2DBlockParams<T> random_ss2d_block(const SS2DBlockConfig& cfg, std::uint64_t seed);

/// Which cross-scan recipe forward() runs.
enum class SS2DPath { fused, unfused };

template <class T>
class SS2DBlock {
public:
  SS2DBlock() = default;
  /// Validates sizes against cfg and finiteness; precomputes A = -exp(A_logs).
  SS2DBlock(const SS2DBlockConfig& cfg, SS2DBlockParams<T> params);

  const SS2DBlockConfig& config() const noexcept { return cfg_; }
  const SS2DBlockParams<T>& params() const noexcept { return p_; }

  /// x (batch, H, W, d_model) -> y (batch, H, W, d_model), channels-last; y must not overlap x.
  /// Throws ssm::Error naming 'batch', 'height', 'width' (>= 1 each: H W = 0 has nothing to
  /// scan), 'x' / 'y' (null, overlap) or 'device' (cuda without CUDA).
  void forward(const T* x, int batch, int height, int width, T* y, Device device = Device::cpu,
               SS2DPath path = SS2DPath::fused) const;

  /// Uploads A, Ds and dt_projs_bias to the current GPU now (else the first Device::cuda
  /// forward does); idempotent per GPU, thread-safe with concurrent forward calls. Throws
  /// ssm::Error without CUDA or a GPU.
  void to_device() const;
  /// How many GPUs hold this block's resident weights (0 before any cuda use; stays 1 over any
  /// number of calls on one GPU).
  int resident_devices() const;

private:
  SS2DBlockConfig cfg_{};
  SS2DBlockParams<T> p_{};
  std::vector<T> A_;       // (4 d_inner, N) = -exp(A_logs)
  std::vector<T> conv_t_;  // (k k, d_inner): conv2d weight transposed for channels-last
  // A, Ds, dt_projs_bias on the GPU, per device, uploaded on first cuda use
  // (src/layers/resident_weights.hpp)
  std::shared_ptr<detail::ResidentWeights<T>> gpu_;
  const std::vector<DeviceBuffer<T>>& resident_weights() const;
};

extern template class SS2DBlock<float>;
extern template class SS2DBlock<double>;

}  // namespace ssm
