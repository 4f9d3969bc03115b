#pragma once
// Internal (core: shared by conv/ and stream/, so neither reaches into the other):
// process-wide cache of FFTW real-to-complex / complex-to-real plans.
//
// FFTW's planner is not thread-safe, its executor is: a plan may be executed concurrently on
// different arrays through the new-array functions (fftw_execute_dft_r2c / _c2r), provided the
// arrays have the alignment the plan was made for. This cache therefore
//   - creates every plan under one global mutex (and also calls fftw_make_planner_thread_safe(),
//     so other FFTW users in the process are serialised with us),
//   - plans on fftw_malloc'ed (SIMD-aligned) arrays; callers must execute on fftw_malloc'ed
//     arrays too (FftwBuffer below),
//   - never destroys a plan while the process runs (plans are destroyed at exit), so a
//     `const RealPlan*` stays valid forever and can be stored by real-time objects.
//
// Layout of a plan for (n, howmany): `howmany` rows, real rows of n values at distance n,
// complex rows of n/2+1 values at distance n/2+1, out of place. The c2r transform overwrites
// its complex input (FFTW's default for out-of-place c2r).
#include <fftw3.h>

#include <complex>
#include <cstddef>
#include <memory>
#include <new>

namespace ssm::detail {

template <class T>
struct Fftw;

template <>
struct Fftw<double> {
  using plan = fftw_plan;
  using cpx = fftw_complex;
  static void* malloc(std::size_t bytes) { return fftw_malloc(bytes); }
  static void free(void* p) { fftw_free(p); }
  static void r2c(plan p, double* in, std::complex<double>* out) noexcept {
    fftw_execute_dft_r2c(p, in, reinterpret_cast<cpx*>(out));
  }
  static void c2r(plan p, std::complex<double>* in, double* out) noexcept {
    fftw_execute_dft_c2r(p, reinterpret_cast<cpx*>(in), out);
  }
};

template <>
struct Fftw<float> {
  using plan = fftwf_plan;
  using cpx = fftwf_complex;
  static void* malloc(std::size_t bytes) { return fftwf_malloc(bytes); }
  static void free(void* p) { fftwf_free(p); }
  static void r2c(plan p, float* in, std::complex<float>* out) noexcept {
    fftwf_execute_dft_r2c(p, in, reinterpret_cast<cpx*>(out));
  }
  static void c2r(plan p, std::complex<float>* in, float* out) noexcept {
    fftwf_execute_dft_c2r(p, reinterpret_cast<cpx*>(in), out);
  }
};

/// A pair of plans (forward r2c, backward c2r, unnormalised) for `howmany` rows of size n.
template <class T>
struct RealPlan {
  typename Fftw<T>::plan forward = nullptr;
  typename Fftw<T>::plan backward = nullptr;
  std::ptrdiff_t n = 0, howmany = 0;

  /// in: howmany*n reals -> out: howmany*(n/2+1) complex.  Thread-safe, no allocation
  /// for the plans this cache makes (rank-1 contiguous rows).
  void r2c(T* in, std::complex<T>* out) const noexcept { Fftw<T>::r2c(forward, in, out); }
  /// in: howmany*(n/2+1) complex (destroyed) -> out: howmany*n reals (times n).
  void c2r(std::complex<T>* in, T* out) const noexcept { Fftw<T>::c2r(backward, in, out); }
};

/// The cached plan for (n, howmany); creates it on first use (takes the planner mutex).
/// n >= 1, howmany >= 1. Throws ssm::Error if FFTW fails to plan.
template <class T>
const RealPlan<T>& real_plan(std::ptrdiff_t n, std::ptrdiff_t howmany);

/// The global FFTW planner mutex: anyone in ssmkit calling an FFTW planning function
/// (fftw_plan_*, fftw_destroy_plan) directly must hold it.
void lock_fftw_planner();
void unlock_fftw_planner();

/// Owning SIMD-aligned array from fftw_malloc (not value-initialised).
template <class V>
class FftwBuffer {
public:
  FftwBuffer() = default;
  explicit FftwBuffer(std::size_t count) { reset(count); }
  void reset(std::size_t count) {
    p_.reset(count ? static_cast<V*>(fftw_malloc(count * sizeof(V))) : nullptr);
    if (count && !p_) throw std::bad_alloc();
    n_ = count;
  }
  V* data() const noexcept { return p_.get(); }
  std::size_t size() const noexcept { return n_; }
  V& operator[](std::size_t i) const noexcept { return p_.get()[i]; }

private:
  struct Free {
    void operator()(V* p) const noexcept { fftw_free(p); }
  };
  std::unique_ptr<V, Free> p_;
  std::size_t n_ = 0;
};

}  // namespace ssm::detail
