#pragma once
// Internal: the seam between the op entry points and their Highway kernels.
//
// Kernels live in translation units compiled once per Highway target (HWY_TARGET_INCLUDE +
// hwy/foreach_target.h) and are called through HWY_DYNAMIC_DISPATCH; the target is chosen once
// per process by src/core/cpu_isa.cpp (the best the CPU supports, or SSM_CPU_ISA). Entry points
// and prepare() call require_cpu_isa(where) before the first kernel call so that an unusable
// SSM_CPU_ISA is reported as ssm::Error instead of being ignored; real-time paths call the
// dispatched kernels directly (the dispatch is one indirect call, no lock, no allocation).
#include "core/isa.hpp"

namespace ssm::detail {

/// Throws ssm::Error(where, "SSM_CPU_ISA", ...) when SSM_CPU_ISA names an unknown ISA or one
/// this CPU does not support. Not for real-time paths.
void require_cpu_isa(const char* where);

}  // namespace ssm::detail
