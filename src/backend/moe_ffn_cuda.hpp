#pragma once
// Internal: the CUDA backend of MoEFFN (kernels/layers/moe_ffn.cu), called by MoEFFN::forward
// with Device::cuda when SSM_WITH_CUDA is defined. The holder owns the device copies of the
// weights (uploaded by the first call on a device) and a workspace that grows with the rows.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "ssm/layers/moe_ffn.hpp"

namespace ssm::detail {

/// A new, empty holder (no CUDA call is made until the first forward).
template <class T>
std::shared_ptr<MoEFFNCuda<T>> make_moe_ffn_cuda();

/// Host pointers in and out: x (rows, d_model) -> y (rows, d_model), expert_index (rows, top_k)
/// when not null. `p` and `cfg` must be those the holder was first used with.
template <class T>
void moe_ffn_forward_cuda(MoEFFNCuda<T>& holder, const MoEFFNConfig& cfg, const MoEFFNParams<T>& p,
                          const T* x, std::ptrdiff_t rows, T* y, std::int64_t* expert_index);

/// Device pointers (on the current device) in and out, the same computation; runs on the
/// legacy default stream and returns when done.
template <class T>
void moe_ffn_forward_cuda_device(MoEFFNCuda<T>& holder, const MoEFFNConfig& cfg, const MoEFFNParams<T>& p,
                                 const T* dx, std::ptrdiff_t rows, T* dy, std::int64_t* d_expert_index);

}  // namespace ssm::detail
