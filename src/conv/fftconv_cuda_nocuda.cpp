// ssm::CudaFFTConv without CUDA: the constructor throws ssm::Error; nothing else is reachable
// (there is no object to call it on).
#ifndef SSM_WITH_CUDA
#include "ssm/conv/fftconv_cuda.hpp"
#include "ssm/core/error.hpp"

namespace ssm {

struct CudaFFTConv::Impl {};

CudaFFTConv::CudaFFTConv(int, std::ptrdiff_t, const float*, std::ptrdiff_t, const float*, std::size_t) {
  throw Error("CudaFFTConv: CUDA not compiled in (SSM_WITH_CUDA=OFF)");
}
CudaFFTConv::~CudaFFTConv() = default;
CudaFFTConv::CudaFFTConv(CudaFFTConv&&) noexcept = default;
CudaFFTConv& CudaFFTConv::operator=(CudaFFTConv&&) noexcept = default;
void CudaFFTConv::apply(const float*, float*, int, std::ptrdiff_t) const {
  throw Error("CudaFFTConv::apply: CUDA not compiled in (SSM_WITH_CUDA=OFF)");
}
void CudaFFTConv::apply(const float*, float*, int, std::ptrdiff_t, const CudaStream&) const {
  throw Error("CudaFFTConv::apply: CUDA not compiled in (SSM_WITH_CUDA=OFF)");
}
int CudaFFTConv::device() const noexcept { return -1; }
int CudaFFTConv::channels() const noexcept { return 0; }
std::ptrdiff_t CudaFFTConv::fft_size() const noexcept { return 0; }
std::ptrdiff_t CudaFFTConv::max_length() const noexcept { return 0; }

}  // namespace ssm
#endif
