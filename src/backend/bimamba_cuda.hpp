#pragma once
// Internal: the GPU forward of BiMambaBlock with its weights resident on one device
// (kernels/layers/bimamba_block.cu; without CUDA the functions throw ssm::Error).
//   upload   copies every weight once (plus A = -exp(A_log) of both branches) and creates the
//            cuBLAS handle, on the current device;
//   forward  x, y device pointers on that device: in_proj (cuBLAS) -> both depthwise convs +
//            SiLU (one kernel, the backward one anti-causal) -> x_proj, dt_proj (cuBLAS) ->
//            B/C relayout -> bidirectional scan -> out_proj (cuBLAS). Activations are allocated
//            per call; returns after the device has finished.
#include <memory>
#include <vector>

#include "ssm/layers/bimamba_block.hpp"

namespace ssm::detail {

template <class T>
struct BiMambaDevice;

template <class T>
std::shared_ptr<const BiMambaDevice<T>> bimamba_upload(const BiMambaBlockConfig& cfg, const BiMambaBlockParams<T>& p,
                                                       const std::vector<T>& A_f, const std::vector<T>& A_b);

template <class T>
void bimamba_forward_cuda(const BiMambaDevice<T>& w, const T* x, int batch, int length, T* y);

}  // namespace ssm::detail
