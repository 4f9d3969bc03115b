#pragma once
// The CPU instruction set the vectorized paths run on.
//
// The installed library is built for the baseline ISA of its architecture and carries every hot
// CPU loop (selective scan, diagonal scan and filters, dense filter, FFT-convolution products,
// activations, norms) compiled once per SIMD target with Google Highway; one dispatch point picks
// the best target the running CPU supports, once per process.
//
// The environment variable SSM_CPU_ISA forces a target (for tests and comparisons). Values:
//   x86-64   scalar (Highway's portable 128-bit emulation), sse4, avx2, avx512
//   aarch64  scalar, neon, sve, sve2
// An unknown value or one the CPU does not support makes every CPU op throw ssm::Error naming
// SSM_CPU_ISA and listing the values this machine accepts (checked outside real-time paths:
// in the op entry points and in the filters' prepare()).
#include <string>
#include <vector>

namespace ssm {

/// What runs: the ISA name, Highway's target name, what the CPU supports and whether
/// SSM_CPU_ISA forced it, e.g. "avx2 (Highway AVX2; supported: avx512 avx2 sse4 scalar;
/// SSM_CPU_ISA=avx2)". Not for real-time paths.
std::string cpu_description();

/// The name of the ISA the vectorized paths run on ("avx2", "avx512", "neon", "scalar", ...).
/// Not for real-time paths.
std::string cpu_isa();

/// The SSM_CPU_ISA values this machine accepts, best first (ends with "scalar").
std::vector<std::string> cpu_isas_supported();

}  // namespace ssm
