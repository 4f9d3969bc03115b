#include "ssm/core/device.hpp"

#include "ssm/core/error.hpp"

namespace ssm {

Device parse_device(std::string_view name) {
  if (name == "cpu") return Device::cpu;
  if (name == "cuda") return Device::cuda;
  throw Error(detail::concat("parse_device: argument 'device' must be 'cpu' or 'cuda', got '",
                             std::string(name), "'"));
}

const char* to_string(Device d) noexcept { return d == Device::cpu ? "cpu" : "cuda"; }

#ifndef SSM_WITH_CUDA
bool cuda_compiled() noexcept { return false; }
bool cuda_available() noexcept { return false; }
std::string cuda_description() { return "CUDA not compiled in (SSM_WITH_CUDA=OFF)"; }
int cuda_device_count() noexcept { return 0; }
int cuda_current_device() {
  throw Error("cuda_current_device: CUDA not compiled in (SSM_WITH_CUDA=OFF)");
}
void cuda_set_device(int index) {
  throw Error(detail::concat("cuda_set_device: argument 'index' (", index,
                             ") names no GPU: CUDA not compiled in (SSM_WITH_CUDA=OFF)"));
}
#endif

}  // namespace ssm
