// The selective scan's per-task loops in float64 (selective_scan_tasks-inl.hpp), compiled once
// per Highway target and called through the process's dispatch choice (core/simd.hpp).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "scan/selective_scan_tasks_f64.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/highway.h>

#include "scan/selective_scan_tasks-inl.hpp"

HWY_BEFORE_NAMESPACE();
namespace ssm::detail::sscan::HWY_NAMESPACE {
void RunTaskF64(const Ctx<double>& c, const Task& k, Scratch<double>& s) { run_task_any<double>(c, k, s); }
}  // namespace ssm::detail::sscan::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace ssm::detail::sscan {
HWY_EXPORT(RunTaskF64);

void run_task(const Ctx<double>& c, const Task& k, Scratch<double>& s) noexcept {
  HWY_DYNAMIC_DISPATCH(RunTaskF64)(c, k, s);
}
}  // namespace ssm::detail::sscan
#endif
