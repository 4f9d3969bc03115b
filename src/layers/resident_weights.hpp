#pragma once
// Internal: weights a layer keeps on the GPU, uploaded once per GPU on the first Device::cuda use
// and reused by every later call (MambaBlock's A, D and dt bias; S4DModel's per-layer A, B, C,
// D). get() returns the device copies on the calling thread's current GPU, uploading them there
// first if this is that GPU's first use (the host arrays come from `make_host`, called only
// then). Thread-safe: concurrent const forward calls may race to the first upload; one uploads,
// the others wait and then share the copies. Entries are never dropped while the object lives,
// so the returned reference stays valid. A layer holds this by shared_ptr: copies of the layer
// (same weights, which are immutable after construction) share the device copies.
#include <map>
#include <mutex>
#include <vector>

#include "ssm/core/device.hpp"
#include "ssm/core/device_buffer.hpp"

namespace ssm::detail {

template <class T>
class ResidentWeights {
public:
  /// make_host() -> std::vector<std::vector<T>>: the host arrays, in the order returned.
  template <class MakeHost>
  const std::vector<DeviceBuffer<T>>& get(MakeHost&& make_host) {
    const int device = cuda_current_device();
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = per_device_.find(device);
    if (it == per_device_.end()) {
      std::vector<DeviceBuffer<T>> bufs;
      for (const auto& h : make_host()) bufs.emplace_back(h);
      it = per_device_.emplace(device, std::move(bufs)).first;
      ++uploads_;
    }
    return it->second;
  }
  /// How many GPUs the weights were uploaded to (tests: uploaded once, not per call).
  int uploads() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return uploads_;
  }

private:
  mutable std::mutex mutex_;
  std::map<int, std::vector<DeviceBuffer<T>>> per_device_;
  int uploads_ = 0;
};

}  // namespace ssm::detail
