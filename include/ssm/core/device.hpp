#pragma once
// Device selection: every op has one entry point taking a Device; the CPU and CUDA
// implementations sit side by side (src/<stage>/ and kernels/<stage>/).
//
// Which GPU: Device::cuda runs on the calling thread's current CUDA device, the one
// cudaSetDevice (or cuda_set_device below) selected, device 0 unless changed. Device pointers
// passed to the device-level interfaces must live on that device. State the library keeps
// between calls (kernel launch attributes, cuFFT plans, cached kernel spectra) is kept per
// device, so a process may drive several GPUs, from one thread or one thread per GPU. An object
// that owns device memory (e.g. the cuFFT convolution's precomputed spectra) runs on the device
// it was created on, whatever the current device at the call, and leaves the current device as
// it found it.
#include <string>
#include <string_view>

namespace ssm {

enum class Device { cpu, cuda };

/// True when ssmkit was compiled with CUDA support (SSM_WITH_CUDA).
bool cuda_compiled() noexcept;
/// True when CUDA is compiled in and at least one GPU is visible to the process.
bool cuda_available() noexcept;
/// Human readable description of the current GPU (name, SMs, memory) or the reason there is none.
std::string cuda_description();
/// Number of GPUs visible to the process (0 without CUDA support or without a GPU).
int cuda_device_count() noexcept;
/// The calling thread's current CUDA device, where Device::cuda work runs. Throws ssm::Error
/// without CUDA support or without a GPU.
int cuda_current_device();
/// Makes GPU `index` (0 <= index < cuda_device_count()) the calling thread's current device.
/// Throws ssm::Error naming 'index' when it is out of range (or CUDA is not compiled in).
void cuda_set_device(int index);

Device parse_device(std::string_view name);  // "cpu" | "cuda"; throws ssm::Error otherwise
const char* to_string(Device d) noexcept;

}  // namespace ssm
