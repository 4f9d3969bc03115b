#include "support/rt_guard.hpp"

#include <dlfcn.h>
#include <pthread.h>
#include <unistd.h>

#include <cstdlib>
#include <new>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SSM_RT_NO_MALLOC_HOOKS 1
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SSM_RT_NO_MALLOC_HOOKS 1
#endif
#endif

namespace {
thread_local bool g_armed = false;
thread_local ssm::test::RtViolations g_v;

inline void note_alloc() noexcept { if (g_armed) ++g_v.allocations; }
}  // namespace

namespace ssm::test {
RtGuard::RtGuard() noexcept { g_v = {}; g_armed = true; }
RtGuard::~RtGuard() { g_armed = false; }
RtViolations RtGuard::stop() noexcept { g_armed = false; active_ = false; return g_v; }
bool rt_guard_intercepts_throw() noexcept {
#ifdef SSM_RT_GUARD_STATIC_LIBSTDCXX
  return false;
#else
  return true;
#endif
}

bool rt_guard_intercepts_malloc() noexcept {
#ifdef SSM_RT_NO_MALLOC_HOOKS
  return false;
#else
  return true;
#endif
}
}  // namespace ssm::test

// ---- operator new / delete (all replaceable forms route through these) ----------------------
void* operator new(std::size_t n) {
  note_alloc();
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return ::operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { note_alloc(); return std::malloc(n ? n : 1); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { note_alloc(); return std::malloc(n ? n : 1); }
void* operator new(std::size_t n, std::align_val_t a) {
  note_alloc();
  void* p = nullptr;
  if (posix_memalign(&p, static_cast<std::size_t>(a) < sizeof(void*) ? sizeof(void*) : static_cast<std::size_t>(a), n ? n : 1) == 0) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) { return ::operator new(n, a); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

#ifndef SSM_RT_NO_MALLOC_HOOKS
// ---- C allocation, locks, throws, writes (glibc) --------------------------------------------
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void __libc_free(void*);

void* malloc(std::size_t n) { note_alloc(); return __libc_malloc(n); }
void* calloc(std::size_t a, std::size_t b) { note_alloc(); return __libc_calloc(a, b); }
void* realloc(void* p, std::size_t n) { note_alloc(); return __libc_realloc(p, n); }
void free(void* p) { __libc_free(p); }
int posix_memalign(void** out, std::size_t al, std::size_t n) {
  note_alloc();
  void* p = __libc_memalign(al, n);
  if (!p) return 12;  // ENOMEM
  *out = p;
  return 0;
}
void* aligned_alloc(std::size_t al, std::size_t n) { note_alloc(); return __libc_memalign(al, n); }

using lock_fn = int (*)(pthread_mutex_t*);
using throw_fn = void (*)(void*, void*, void (*)(void*));
using write_fn = ssize_t (*)(int, const void*, std::size_t);
static lock_fn real_lock() {
  static lock_fn f = reinterpret_cast<lock_fn>(dlsym(RTLD_NEXT, "pthread_mutex_lock"));
  return f;
}
int pthread_mutex_lock(pthread_mutex_t* m) {
  if (g_armed) ++g_v.locks;
  return real_lock()(m);
}
#ifndef SSM_RT_GUARD_STATIC_LIBSTDCXX
// (A toolchain that links libstdc++ statically has no __cxa_throw to forward to: there the
// build defines SSM_RT_GUARD_STATIC_LIBSTDCXX and throws are not counted; see .ci/gpu.sh.)
[[noreturn]] void __cxa_throw(void* obj, void* tinfo, void (*dest)(void*)) {
  static throw_fn f = reinterpret_cast<throw_fn>(dlsym(RTLD_NEXT, "__cxa_throw"));
  if (g_armed) ++g_v.throws;
  f(obj, tinfo, dest);
  __builtin_unreachable();
}
#endif
ssize_t write(int fd, const void* buf, std::size_t n) {
  static write_fn f = reinterpret_cast<write_fn>(dlsym(RTLD_NEXT, "write"));
  if (g_armed) ++g_v.writes;
  return f(fd, buf, n);
}
}
namespace {
// Resolve the forwarding targets before any test arms the guard.
[[maybe_unused]] const bool g_init = (real_lock() != nullptr);
}
#endif
