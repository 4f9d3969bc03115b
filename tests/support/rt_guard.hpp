#pragma once
// Real-time guard for tests: counts heap allocations (operator new, malloc/calloc/realloc),
// mutex locks, C++ throws and write(2) calls made by the current thread while armed.
//
//   ssm::test::RtGuard g;          // arms on construction
//   filter.process(...);
//   auto v = g.stop();             // disarms; v.allocations, v.locks, v.throws, v.writes
//   BOOST_TEST(v.clean());
//
// Interposers are defined in rt_guard.cpp (an OBJECT library linked into every test program).
// Under AddressSanitizer/ThreadSanitizer the malloc and lock interposers are left out (the
// sanitizer owns them); operator new counting still works there.
#include <cstddef>

namespace ssm::test {

struct RtViolations {
  std::size_t allocations = 0, locks = 0, throws = 0, writes = 0;
  bool clean() const noexcept { return allocations == 0 && locks == 0 && throws == 0 && writes == 0; }
};

class RtGuard {
public:
  RtGuard() noexcept;
  ~RtGuard();
  RtViolations stop() noexcept;
  RtGuard(const RtGuard&) = delete;
  RtGuard& operator=(const RtGuard&) = delete;

private:
  bool active_ = true;
};

/// True when the malloc/lock interposers are active in this build (false under ASan/TSan).
bool rt_guard_intercepts_malloc() noexcept;
/// True when throws are counted (false with a statically linked C++ runtime, see rt_guard.cpp).
bool rt_guard_intercepts_throw() noexcept;

}  // namespace ssm::test
