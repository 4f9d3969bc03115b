// ssm::CudaStream without CUDA: creating or wrapping a stream throws ssm::Error; a moved-from
// object can still be destroyed.
#ifndef SSM_WITH_CUDA
#include "ssm/core/cuda_stream.hpp"
#include "ssm/core/error.hpp"

namespace ssm {
namespace {
[[noreturn]] void no_cuda(const char* where) {
  throw Error(detail::concat(where, ": CUDA not compiled in (SSM_WITH_CUDA=OFF); there are no streams"));
}
}  // namespace

CudaStream::CudaStream() { no_cuda("CudaStream"); }
CudaStream::CudaStream(Wrap, void*) { no_cuda("CudaStream::wrap"); }
CudaStream CudaStream::wrap(void* s) { return CudaStream(Wrap{}, s); }
CudaStream::~CudaStream() { release(); }
void CudaStream::release() noexcept {
  stream_ = nullptr;
  valid_ = false;
}
CudaStream::CudaStream(CudaStream&& o) noexcept { o.valid_ = false; }
CudaStream& CudaStream::operator=(CudaStream&& o) noexcept {
  o.valid_ = false;
  return *this;
}
void CudaStream::synchronize() const { no_cuda("CudaStream::synchronize"); }
bool CudaStream::ready() const { no_cuda("CudaStream::ready"); }

}  // namespace ssm
#endif
