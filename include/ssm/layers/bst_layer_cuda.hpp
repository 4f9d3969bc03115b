#pragma once
// ssm::CudaBSTLayer: the BST layer (bst_layer.hpp, FORMAT.md `bst_layer`) on the GPU, float32,
// with its weights resident on the device (uploaded once by the constructor).
//
// Same function as BSTLayer<float>::forward, computed as:
//   rows padded per sequence to Lp = ceil(L / W) W (padding rows are zeros; every output row
//   t < L depends on rows <= t only, so padding never reaches an output)
//   xn = LayerNorm1(x)                                   warp-per-row kernel
//   c  = S4D(xn): K (d, Lp) by the GPU Vandermonde kernel (kernels/conv/diag_kernel.cu, the
//        float64-anchored power chunks of diag_kernel) and CudaFFTConv (cuFFT), on the
//        channel-major transpose (batch, d, Lp)
//   Q  = xn q_projᵀ;  X_cat (batch * nblocks, S + W, d) = [c rows jW-S .. jW-1 (zeros before 0);
//        xn rows of the block];  K, V = X_cat k_proj/v_projᵀ           cuBLAS SGEMM (+ bias kernel)
//   per head: scores (S + W) x W = K_h Q_hᵀ / sqrt(dh) for all blocks at once (strided-batched
//        SGEMM over blocks), masked softmax (warp per query: context rows that exist and block
//        rows at or before the query), attention = P V_h (strided-batched SGEMM)
//   h = x + out_proj(att); y = h + fc2(gelu(fc1(LayerNorm2(h))))         SGEMMs + epilogue kernels
// cuBLAS runs in its default (full float32, no TF32) math mode. Accuracy: float32 round-off,
// within the conformance tolerance of the float64 reference.
//
// Devices and streams: the object lives on the GPU that was current at construction; every
// call runs there, on the legacy default stream, and returns once the result is written.
// Offline only (allocates per call); the streaming path is BSTLayer::step on the CPU. Without
// CUDA compiled in, the constructor throws ssm::Error.
#include <memory>

#include "ssm/layers/bst_layer.hpp"

namespace ssm {

class CudaBSTLayer {
public:
  /// Uploads the layer's weights (and the discretized context SSM) to the current device.
  explicit CudaBSTLayer(const BSTLayer<float>& layer);
  ~CudaBSTLayer();
  CudaBSTLayer(CudaBSTLayer&&) noexcept;
  CudaBSTLayer& operator=(CudaBSTLayer&&) noexcept;

  const BSTLayerConfig& config() const noexcept;
  /// The GPU the weights live on.
  int device() const noexcept;

  /// Device pointers, contiguous (batch, length, d): x -> y, and c into context when not null.
  /// y and context must not overlap x. Throws ssm::Error on bad sizes and CUDA failures.
  void forward(const float* x, int batch, int length, float* y, float* context = nullptr) const;
  /// The same on host memory (uploads x, downloads y and context).
  void forward_host(const float* x, int batch, int length, float* y, float* context = nullptr) const;

  struct Impl;

private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ssm
