#pragma once
// Timing helpers shared by the GPU benches (bench/*/bench_*_cuda.*): CUDA errors as ssm::Error
// and the median of event-timed runs on the default stream.
#include <cuda_runtime.h>

#include <algorithm>
#include <string>
#include <vector>

#include "ssm/core/error.hpp"

namespace ssm::bench {

inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw ssm::Error(std::string(what) + ": " + cudaGetErrorString(e));
}

/// Median of `reps` runs of f (each bracketed by CUDA events on the default stream) after
/// `warmups` untimed runs and a device synchronization, in milliseconds.
template <class F>
double median_event_ms(F&& f, int reps, int warmups) {
  cudaEvent_t a, b;
  check(cudaEventCreate(&a), "cudaEventCreate");
  check(cudaEventCreate(&b), "cudaEventCreate");
  for (int i = 0; i < warmups; ++i) f();
  check(cudaDeviceSynchronize(), "warm-up");
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    check(cudaEventRecord(a), "cudaEventRecord");
    f();
    check(cudaEventRecord(b), "cudaEventRecord");
    check(cudaEventSynchronize(b), "cudaEventSynchronize");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, a, b), "cudaEventElapsedTime");
    t.push_back(ms);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace ssm::bench
