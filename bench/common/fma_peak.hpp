#pragma once
// The FMA peak of one core on the SIMD target the library runs on (SSM_CPU_ISA honoured):
// independent chains of vector FMAs at that target's width, compiled per target with Highway
// and dispatched like the library's kernels. The benches report their FMA-slot throughput as
// a fraction of this, measured in the same run.
#include <string>

namespace ssm::bench {

/// Scalar FMA slots per second of thread CPU time (best of a few short runs).
double fma_peak_slots_per_s();

/// The line the benches print first: "cpu path: <ssm::cpu_description()>".
std::string cpu_path_line();

}  // namespace ssm::bench
