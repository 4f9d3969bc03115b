// SS2DBlockCuda without CUDA: the constructor throws ssm::Error (kernels/layers/ss2d_block.cu is
// the implementation when SSM_WITH_CUDA is on).
#ifndef SSM_WITH_CUDA
#include "ssm/core/error.hpp"
#include "ssm/layers/ss2d_block_cuda.hpp"

namespace ssm {

struct SS2DBlockCuda::Impl {
  SS2DBlockConfig cfg;
};

SS2DBlockCuda::SS2DBlockCuda(const SS2DBlock<float>&) {
  throw Error("SS2DBlockCuda: argument 'device' cuda requested but ssmkit was built without CUDA");
}
SS2DBlockCuda::~SS2DBlockCuda() = default;
SS2DBlockCuda::SS2DBlockCuda(SS2DBlockCuda&&) noexcept = default;
SS2DBlockCuda& SS2DBlockCuda::operator=(SS2DBlockCuda&&) noexcept = default;
const SS2DBlockConfig& SS2DBlockCuda::config() const noexcept { return impl_->cfg; }
void SS2DBlockCuda::forward_device(const float*, int, int, int, float*) {
  throw Error("SS2DBlockCuda: argument 'device' cuda requested but ssmkit was built without CUDA");
}
void SS2DBlockCuda::forward(const float*, int, int, int, float*) {
  throw Error("SS2DBlockCuda: argument 'device' cuda requested but ssmkit was built without CUDA");
}

}  // namespace ssm
#endif
