// The one dispatch point of the vectorized CPU paths (include/ssm/core/cpu.hpp).
//
// Every hot loop is compiled per Highway target (foreach_target.h) and called through
// HWY_DYNAMIC_DISPATCH, whose tables index by hwy::GetChosenTarget(). This file sets that
// choice once per process, during static initialisation (before any op can run): the best
// target the CPU supports, or the one SSM_CPU_ISA names (through Highway's target mock, so
// SupportedTargets() and every table agree). detail::cpu_isa() (core/isa.hpp) follows the same
// choice.
#include "ssm/core/cpu.hpp"

#include <hwy/highway.h>
#include <hwy/targets.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/isa.hpp"
#include "core/simd.hpp"
#include "ssm/core/error.hpp"

namespace ssm {

namespace {

struct Named {
  const char* name;
  std::int64_t bits;  // Highway targets the name stands for (the best one compiled is used)
};

// Best first. "scalar" is Highway's portable fallback (EMU128: 128-bit vectors emulated in plain
// C++), the baseline every build has.
constexpr Named kNames[] = {
#if HWY_ARCH_X86
    {"avx512", HWY_AVX3_DL | HWY_AVX3},
    {"avx2", HWY_AVX2},
    {"sse4", HWY_SSE4},  // SSSE3 is not compiled (HWY_DISABLED_TARGETS, CMakeLists.txt)
#elif HWY_ARCH_ARM_A64
    {"sve2", HWY_SVE2 | HWY_SVE2_128},
    {"sve", HWY_SVE | HWY_SVE_256},
    {"neon", HWY_NEON},
#elif HWY_ARCH_ARM
    {"neon", HWY_NEON},
#endif
    {"scalar", HWY_EMU128 | HWY_SCALAR},
};

std::int64_t lowest_bit(std::int64_t v) { return v & -v; }

struct Selection {
  std::int64_t target = 0;       // the Highway target the tables call
  std::int64_t available = 0;    // compiled here and supported by the CPU
  std::string forced;            // SSM_CPU_ISA, if set
  std::string error;             // non-empty: SSM_CPU_ISA is unusable here
};

std::string supported_list(std::int64_t available) {
  std::string s;
  for (const Named& n : kNames)
    if (n.bits & available) s += (s.empty() ? "" : " ") + std::string(n.name);
  return s;
}

const Selection& selection() noexcept {
  static const Selection sel = [] {
    Selection s;
    s.available = hwy::SupportedTargets() & HWY_TARGETS;
    if (const char* env = std::getenv("SSM_CPU_ISA"); env != nullptr && *env != '\0') {
      s.forced = env;
      std::int64_t bits = 0;
      for (const Named& n : kNames)
        if (s.forced == n.name) bits = n.bits;
      if (bits == 0) {
        s.error = "must be one of " + supported_list(s.available) + " on this machine, got '" + s.forced + "'";
      } else if ((bits & s.available) == 0) {
        s.error = "'" + s.forced + "' is not supported by this CPU (supported: " + supported_list(s.available) + ")";
      } else {
        hwy::SetSupportedTargetsForTest(lowest_bit(bits & s.available));
      }
    }
    hwy::GetChosenTarget().Update(hwy::SupportedTargets());
    s.target = lowest_bit(hwy::SupportedTargets() & HWY_TARGETS);
    return s;
  }();
  return sel;
}

// Choose during static initialisation, so that no op (and no real-time path) ever makes the
// first choice itself.
[[maybe_unused]] const bool g_selected = (selection(), true);

const char* name_of(std::int64_t target) {
  for (const Named& n : kNames)
    if (n.bits & target) return n.name;
  return "scalar";
}

}  // namespace

namespace detail {

void require_cpu_isa(const char* where) {
  const Selection& s = selection();
  if (!s.error.empty()) fail(where, "SSM_CPU_ISA", s.error);
}

Isa selected_isa() noexcept {
  const std::int64_t t = selection().target;
#if HWY_ARCH_X86
  if (t & (HWY_AVX3 | HWY_AVX3_DL)) return Isa::avx512;
  if (t & HWY_AVX2) return Isa::avx2;
#endif
  (void)t;
  return Isa::base;
}

}  // namespace detail

std::string cpu_isa() { return name_of(selection().target); }

std::string cpu_description() {
  const Selection& s = selection();
  std::string d = std::string(name_of(s.target)) + " (Highway " + hwy::TargetName(s.target) +
                  "; supported: " + supported_list(s.available) + "; SSM_CPU_ISA=";
  d += s.forced.empty() ? "unset" : s.forced;
  if (!s.error.empty()) d += ": invalid, " + s.error;
  return d + ")";
}

std::vector<std::string> cpu_isas_supported() {
  std::vector<std::string> v;
  for (const Named& n : kNames)
    if (n.bits & selection().available) v.emplace_back(n.name);
  return v;
}

}  // namespace ssm
