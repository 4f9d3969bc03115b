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
#endif

}  // namespace ssm
