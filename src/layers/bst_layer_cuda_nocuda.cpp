// ssm::CudaBSTLayer without CUDA: the constructor throws ssm::Error; nothing else is reachable
// (there is no object to call it on).
#ifndef SSM_WITH_CUDA
#include "ssm/core/error.hpp"
#include "ssm/layers/bst_layer_cuda.hpp"

namespace ssm {

struct CudaBSTLayer::Impl {
  BSTLayerConfig cfg;
};

CudaBSTLayer::CudaBSTLayer(const BSTLayer<float>&) {
  throw Error("CudaBSTLayer: CUDA not compiled in (SSM_WITH_CUDA=OFF)");
}
CudaBSTLayer::~CudaBSTLayer() = default;
CudaBSTLayer::CudaBSTLayer(CudaBSTLayer&&) noexcept = default;
CudaBSTLayer& CudaBSTLayer::operator=(CudaBSTLayer&&) noexcept = default;
const BSTLayerConfig& CudaBSTLayer::config() const noexcept { return impl_->cfg; }
int CudaBSTLayer::device() const noexcept { return -1; }
void CudaBSTLayer::forward(const float*, int, int, float*, float*) const {
  throw Error("CudaBSTLayer::forward: CUDA not compiled in (SSM_WITH_CUDA=OFF)");
}
void CudaBSTLayer::forward_host(const float*, int, int, float*, float*) const {
  throw Error("CudaBSTLayer::forward_host: CUDA not compiled in (SSM_WITH_CUDA=OFF)");
}

}  // namespace ssm
#endif
