#pragma once
// Internal: the one CPU/CUDA switch of the public entry points (selective_scan,
// selective_state_update, diag_scan, fftconv, diag_kernel, ...). Every entry point validates
// its arguments first, then calls dispatch(where, device, cpu, cuda):
//   Device::cpu   runs cpu();
//   Device::cuda  runs cuda() when ssmkit was built with CUDA and a GPU is visible; otherwise it
//                 throws the one error, naming the entry point and the argument 'device':
//                 "<where>: argument 'device' cuda requested but ssmkit was built without CUDA"
//                 "<where>: argument 'device' cuda requested but no GPU is usable (<why>)".
// require_cuda(where, arg) is the same check for the entry points that take a CudaStream (they
// name 'stream'). In a build without CUDA the cuda callable is never called, so the backends it
// names need only be declared (src/backend/*.hpp declare them unconditionally).
// Not for real-time paths: the first CUDA request reads the device count (once per process).
#include <string>
#include <utility>

#include "ssm/core/device.hpp"
#include "ssm/core/error.hpp"

namespace ssm::detail {

/// Throws unless a CUDA request can run here (built with CUDA, a GPU visible); `arg` is the
/// argument that asked for CUDA ("device" or "stream").
inline void require_cuda(const char* where, const char* arg) {
#ifdef SSM_WITH_CUDA
  static const bool usable = cuda_available();  // GPUs do not appear during a process's life
  if (!usable) fail(where, arg, "cuda requested but no GPU is usable (", cuda_description(), ")");
#else
  fail(where, arg, "cuda requested but ssmkit was built without CUDA");
#endif
}

/// Runs cpu() for Device::cpu, cuda() for Device::cuda (after require_cuda(where, "device")).
template <class Cpu, class Cuda>
decltype(auto) dispatch(const char* where, Device device, Cpu&& cpu, Cuda&& cuda) {
  if (device == Device::cpu) return std::forward<Cpu>(cpu)();
  require(device == Device::cuda, where, "device", "must be cpu or cuda, got ", static_cast<int>(device));
  require_cuda(where, "device");
#ifdef SSM_WITH_CUDA
  return std::forward<Cuda>(cuda)();
#else
  (void)cuda;
  return std::forward<Cpu>(cpu)();  // unreachable: require_cuda threw (keeps the return type)
#endif
}

}  // namespace ssm::detail
