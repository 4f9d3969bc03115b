#pragma once
// Internal: CPU instruction-set selection, the one place that names x86-64 ISA levels.
//
// The library is built for the baseline x86-64 ISA (it is installed and runs anywhere); hot
// loops are compiled again for wider ISAs and picked at run time. Two mechanisms, both defined
// here so that every dispatching file uses the same levels:
//   explicit variants   f_avx512 / f_avx2 / f_base compiled with SSM_TARGET_AVX512 /
//                       SSM_TARGET_AVX2, picked by comparing cpu_isa() (detected once, during
//                       static initialisation: reading it in a real-time path takes no lock;
//                       before that it reads Isa::base, which is always valid);
//   SSM_TARGET_CLONES   GCC/Clang target_clones of one function (the loader's resolver picks
//                       the clone once, at load time), for leaf functions with no template
//                       plumbing.
// Levels (what a variant may use, and what detection requires of the CPU):
//   avx512   AVX-512 F, VL, DQ, BW + AVX2, FMA, BMI2 (Skylake-SP and later, Zen 4)
//   avx2     AVX2, FMA, BMI2 (Haswell and later, Zen)
//   base     the x86-64 baseline (SSE2), and every non-x86-64 build
// SSM_ISA_VARIANTS is defined when the variants exist (x86-64 with GCC or Clang); elsewhere
// the SSM_TARGET_* macros are empty, cpu_isa() is Isa::base, and only the baseline is built.
#if defined(__x86_64__) && defined(__GNUC__)
#define SSM_ISA_VARIANTS 1
#define SSM_TARGET_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma,bmi2")))
#define SSM_TARGET_AVX2 __attribute__((target("avx2,fma,bmi2")))
#define SSM_TARGET_CLONES __attribute__((target_clones("arch=skylake-avx512", "arch=haswell", "default")))
#else
#define SSM_TARGET_AVX512
#define SSM_TARGET_AVX2
#define SSM_TARGET_CLONES
#endif

namespace ssm::detail {

enum class Isa { base, avx2, avx512 };

inline const char* to_string(Isa isa) noexcept {
  return isa == Isa::avx512 ? "avx512" : isa == Isa::avx2 ? "avx2" : "base";
}

/// The widest level the running CPU supports (see the top of this file).
inline Isa detect_cpu_isa() noexcept {
#if defined(SSM_ISA_VARIANTS)
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi2");
  if (avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw"))
    return Isa::avx512;
  if (avx2) return Isa::avx2;
#endif
  return Isa::base;
}

/// Detected once per process (an inline variable: one instance across translation units).
inline const Isa kCpuIsa = detect_cpu_isa();
inline Isa cpu_isa() noexcept { return kCpuIsa; }

}  // namespace ssm::detail
