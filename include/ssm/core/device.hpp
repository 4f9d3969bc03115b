#pragma once
// Device selection: every op has one entry point taking a Device; the CPU and CUDA
// implementations sit side by side (src/<stage>/ and kernels/<stage>/).
#include <string>
#include <string_view>

namespace ssm {

enum class Device { cpu, cuda };

/// True when ssmkit was compiled with CUDA support (SSM_WITH_CUDA).
bool cuda_compiled() noexcept;
/// True when CUDA is compiled in and at least one GPU is visible to the process.
bool cuda_available() noexcept;
/// Human readable description of the GPU (name, SMs, memory) or the reason there is none.
std::string cuda_description();

Device parse_device(std::string_view name);  // "cpu" | "cuda"; throws ssm::Error otherwise
const char* to_string(Device d) noexcept;

}  // namespace ssm
