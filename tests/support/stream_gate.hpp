#pragma once
// For GPU tests (label cuda; they see the CUDA headers): a host function queued on a stream that
// holds the stream until `open` is set, or 20 s pass, and records which. Work queued after it
// cannot start before the gate opens, so a call that returns while the gate is closed has not
// waited for its own work.
#include <cuda_runtime.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

#include "ssm/core/cuda_stream.hpp"

namespace ssm::test {

struct StreamGate {
  std::atomic<bool> open{false};
  std::atomic<bool> released{false};  // the gate was opened (not timed out)

  static void CUDART_CB hold(void* p) {
    auto* g = static_cast<StreamGate*>(p);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!g->open.load() && std::chrono::steady_clock::now() < until) std::this_thread::yield();
    g->released.store(g->open.load());
  }
  /// Queues the gate on `s`.
  void queue(const CudaStream& s) {
    if (cudaLaunchHostFunc(static_cast<cudaStream_t>(s.handle()), hold, this) != cudaSuccess)
      throw std::runtime_error("StreamGate: cudaLaunchHostFunc failed");
  }
};

}  // namespace ssm::test
