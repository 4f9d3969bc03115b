// The CUDA backends of the conv ops without CUDA: detail::dispatch / require_cuda
// (src/core/dispatch.hpp) throw before any of these can be called, so they are unreachable; they
// are defined (throwing the same error) so that a build without CUDA links whatever the
// compiler emits for the entry points' CUDA branches.
#ifndef SSM_WITH_CUDA
#include "backend/diag_kernel_cuda.hpp"
#include "backend/fftconv_cuda.hpp"
#include "ssm/core/error.hpp"

namespace ssm::detail {
namespace {
[[noreturn]] void no_cuda(const char* where) {
  throw Error(concat(where, ": argument 'device' cuda requested but ssmkit was built without CUDA"));
}
}  // namespace

void fftconv_cuda(View3<const float>, const float*, std::ptrdiff_t, const float*, View3<float>) {
  no_cuda("fftconv");
}
void diag_kernel_cuda(const DiagonalSSM&, Method, std::ptrdiff_t, float*, double, double) { no_cuda("diag_kernel"); }
void vandermonde_kernel_cuda(int, int, const double*, const double*, const double*, const double*,
                             std::ptrdiff_t, float*) {
  no_cuda("vandermonde_kernel_cuda");
}
}  // namespace ssm::detail
#endif
