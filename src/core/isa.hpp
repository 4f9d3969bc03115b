#pragma once
// Internal: the x86-64 ISA level of the remaining `target`-attribute variants (src/layers'
// GEMM rows and S4D recurrence), read from the one dispatch point (src/core/cpu_isa.cpp), so
// SSM_CPU_ISA forces them too. Hot loops elsewhere use Highway (core/simd.hpp).
// Levels (what a variant may use):
//   avx512   AVX-512 F, VL, DQ, BW + AVX2, FMA, BMI2  (Highway AVX3 chosen)
//   avx2     AVX2, FMA, BMI2                          (Highway AVX2 chosen)
//   base     the baseline ISA, and every non-x86-64 build
// SSM_ISA_VARIANTS is defined when the variants exist (x86-64 with GCC or Clang); elsewhere the
// SSM_TARGET_* macros are empty and cpu_isa() is Isa::base.
#if defined(__x86_64__) && defined(__GNUC__)
#define SSM_ISA_VARIANTS 1
#define SSM_TARGET_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma,bmi2")))
#define SSM_TARGET_AVX2 __attribute__((target("avx2,fma,bmi2")))
#else
#define SSM_TARGET_AVX512
#define SSM_TARGET_AVX2
#endif

namespace ssm::detail {

enum class Isa { base, avx2, avx512 };

inline const char* to_string(Isa isa) noexcept {
  return isa == Isa::avx512 ? "avx512" : isa == Isa::avx2 ? "avx2" : "base";
}

/// The level matching the Highway target chosen for this process (src/core/cpu_isa.cpp).
Isa selected_isa() noexcept;

/// Read once per process (an inline variable: one instance across translation units).
inline const Isa kCpuIsa = selected_isa();
inline Isa cpu_isa() noexcept { return kCpuIsa; }

}  // namespace ssm::detail
