// Without CUDA: the GPU forward of BiMambaBlock throws (src/layers/bimamba_cuda.hpp).
#include "backend/bimamba_cuda.hpp"

#ifndef SSM_WITH_CUDA
#include "ssm/core/error.hpp"

namespace ssm::detail {

template <class T>
struct BiMambaDevice {};

template <class T>
std::shared_ptr<const BiMambaDevice<T>> bimamba_upload(const BiMambaBlockConfig&, const BiMambaBlockParams<T>&,
                                                       const std::vector<T>&, const std::vector<T>&) {
  throw Error("BiMambaBlock::to_device: argument 'device' cuda requested but ssmkit was built without CUDA");
}
template <class T>
void bimamba_forward_cuda(const BiMambaDevice<T>&, const T*, int, int, T*) {
  throw Error("BiMambaBlock::forward_device: argument 'device' cuda requested but ssmkit was built without CUDA");
}

template std::shared_ptr<const BiMambaDevice<float>> bimamba_upload<float>(const BiMambaBlockConfig&,
    const BiMambaBlockParams<float>&, const std::vector<float>&, const std::vector<float>&);
template std::shared_ptr<const BiMambaDevice<double>> bimamba_upload<double>(const BiMambaBlockConfig&,
    const BiMambaBlockParams<double>&, const std::vector<double>&, const std::vector<double>&);
template void bimamba_forward_cuda<float>(const BiMambaDevice<float>&, const float*, int, int, float*);
template void bimamba_forward_cuda<double>(const BiMambaDevice<double>&, const double*, int, int, double*);

}  // namespace ssm::detail
#endif
