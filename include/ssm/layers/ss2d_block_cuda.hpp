#pragma once
// SS2DBlock (include/ssm/layers/ss2d_block.hpp) entirely on the GPU, float32, with its weights
// resident in device memory: uploaded once by the constructor, never per call.
//
// forward_device(x, ..., y): x, y (batch, H, W, d_model) channels-last DEVICE pointers (of the
// device current at construction). The stages, all on the legacy default stream:
//   in_proj, x_proj (one GEMM with the stacked (4 (R + 2N), d_inner) weight), dt_projs (one
//   strided-batched GEMM over the 4 directions) and out_proj through cuBLAS (row-major weights
//   used as their column-major transposes, no copies); the depthwise conv + SiLU, LayerNorm +
//   SiLU(z) gate and bias adds as small kernels; the cross-scan is the fused kernel of
//   include/ssm/scan/cross_scan.hpp on the layer's channels-last layout (no direction copies).
// Scratch (xz, xc, x_dbl, delta, ys: (M, 2 d_inner + d_inner + 4 (R + 2N) + 4 d_inner + d_inner)
// floats, M = batch H W) is kept between calls and grown when a call needs more; forward()
// with host pointers additionally stages x and y through device buffers.
// The same formulas and checks as SS2DBlock::forward; results agree with the CPU to float32
// rounding (tests/layers/test_ss2d_cuda.cpp). Not thread-safe (one stream of calls at a time).
// Without CUDA compiled in, the constructor throws ssm::Error.
#include <memory>

#include "ssm/layers/ss2d_block.hpp"

namespace ssm {

class SS2DBlockCuda {
public:
  /// Uploads the block's weights (and A = -exp(A_logs)) to the current device.
  explicit SS2DBlockCuda(const SS2DBlock<float>& block);
  ~SS2DBlockCuda();
  SS2DBlockCuda(SS2DBlockCuda&&) noexcept;
  SS2DBlockCuda& operator=(SS2DBlockCuda&&) noexcept;
  SS2DBlockCuda(const SS2DBlockCuda&) = delete;
  SS2DBlockCuda& operator=(const SS2DBlockCuda&) = delete;

  const SS2DBlockConfig& config() const noexcept;

  /// Device pointers in and out; returns after the work has finished. y must not overlap x.
  /// Throws ssm::Error naming 'batch', 'height', 'width', 'x' or 'y'.
  void forward_device(const float* x, int batch, int height, int width, float* y);
  /// Host pointers in and out (x uploaded, y downloaded; the weights stay on the GPU).
  void forward(const float* x, int batch, int height, int width, float* y);

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ssm
