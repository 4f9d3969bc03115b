#pragma once
// Small helpers shared by the test programs.
#include <cmath>
#include <complex>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace ssm::test {

/// Deterministic N(0, 1) samples.
std::vector<double> randn(std::size_t n, std::uint64_t seed);
std::vector<float> randn_f(std::size_t n, std::uint64_t seed);

/// max |a - b| / (atol + rtol |b|); <= 1 means "within tolerance".
double worst_ratio(const double* a, const double* b, std::size_t n, double atol, double rtol);
template <class A, class B>
double max_abs_diff(const A& a, const B& b) {
  double m = a.size() == b.size() ? 0.0 : INFINITY;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i)
    m = std::fmax(m, std::fabs(static_cast<double>(a[i]) - static_cast<double>(b[i])));
  return m;
}

/// Directory of conformance cases: $SSM_CONFORMANCE_DIR or the repository's default.
std::string conformance_dir();

/// A temporary directory unique to this process, removed at exit.
std::string temp_dir();

/// Global fixture of the cuda-labelled test programs (BOOST_TEST_GLOBAL_FIXTURE(ssm::test::RequireGpu)):
/// without a GPU it prints "SKIP: no GPU present (...)" and exits 77, which CTest reports as
/// skipped (SKIP_RETURN_CODE).
struct RequireGpu {
  RequireGpu();
};

}  // namespace ssm::test
