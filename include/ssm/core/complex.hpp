#pragma once
// Complex diagonal states are stored split: separate contiguous real and imaginary arrays,
// so that loops over modes vectorize (one SIMD lane per mode). SplitComplex is a pair of
// non-owning pointers; SplitComplexVec owns the storage (allocated outside real-time paths).
#include <complex>
#include <cstddef>
#include <vector>

namespace ssm {

template <class T>
struct SplitComplexVec {
  std::vector<T> re, im;
  SplitComplexVec() = default;
  explicit SplitComplexVec(std::size_t n) : re(n, T(0)), im(n, T(0)) {}
  void resize(std::size_t n) { re.assign(n, T(0)); im.assign(n, T(0)); }
  std::size_t size() const noexcept { return re.size(); }
  std::complex<T> get(std::size_t i) const { return {re[i], im[i]}; }
  void set(std::size_t i, std::complex<T> v) { re[i] = v.real(); im[i] = v.imag(); }
};

}  // namespace ssm
