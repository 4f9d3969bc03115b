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

/// max |a - b| / max |b| (the absolute difference when b is all zeros); a NaN anywhere gives
/// NaN and a size mismatch inf, so that `max_rel_diff(a, b) < tol` fails for both.
template <class A, class B>
double max_rel_diff(const A& a, const B& b) {
  if (a.size() != b.size()) return INFINITY;
  double err = 0, mag = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double d = std::fabs(static_cast<double>(a[i]) - static_cast<double>(b[i]));
    if (!(d <= err)) err = d;  // NaN propagates
    mag = std::fmax(mag, std::fabs(static_cast<double>(b[i])));
  }
  return mag > 0 ? err / mag : err;
}

/// n deterministic N(0, 1) samples in type T.
template <class T>
std::vector<T> randn_as(std::size_t n, std::uint64_t seed);

/// Directory of conformance cases: $SSM_CONFORMANCE_DIR or the repository's default.
std::string conformance_dir();

/// A temporary directory unique to this process, removed at exit.
std::string temp_dir();

/// $SSM_TORCH_CHECK_DIR, where tools/export_*.py --check wrote models and PyTorch's outputs
/// ("" when not set: the PyTorch comparisons then have nothing to check).
std::string torch_check_dir();
/// The files of `dir` whose name ends in `suffix`, sorted.
std::vector<std::string> files_ending_in(const std::string& dir, const std::string& suffix);

/// The whole content of a file ("" when it cannot be read).
std::string slurp(const std::string& path);

/// The build tree this test program runs from (it lives in <build>/tests/).
std::string build_dir();

/// What a program run through the shell left: its exit status (-1 when it did not exit) and
/// its stdout and stderr.
struct ProgramResult {
  int status = -1;
  std::string out, err;
};
/// Runs `<prefix> '<exe>' <args>` through the shell (prefix: VAR=value words, or a wrapper), with
/// stdout and stderr captured in files under `scratch_dir`.
ProgramResult run_program(const std::string& exe, const std::string& args, const std::string& scratch_dir,
                          const std::string& prefix = "");

/// The ssmkit program of this build tree (<build>/src/cli/ssmkit), run as a user runs it, with
/// its files in a directory of its own under temp_dir().
struct Ssmkit {
  explicit Ssmkit(const std::string& scratch_name);
  std::string exe, dir;
  /// A file in dir.
  std::string path(const std::string& name) const { return dir + "/" + name; }
  /// `<env> ssmkit <args>` (env: VAR=value words, or a prefix such as "cd X &&").
  ProgramResult operator()(const std::string& args, const std::string& env = "") const {
    return run_program(exe, args, dir, env);
  }
};

/// Global fixture of the cuda-labelled test programs (BOOST_TEST_GLOBAL_FIXTURE(ssm::test::RequireGpu)):
/// without a GPU it prints "SKIP: no GPU present (...)" and exits 77, which CTest reports as
/// skipped (SKIP_RETURN_CODE).
struct RequireGpu {
  RequireGpu();
};

template <class T>
std::vector<T> randn_as(std::size_t n, std::uint64_t seed) {
  const auto d = randn(n, seed);
  return std::vector<T>(d.begin(), d.end());
}

}  // namespace ssm::test
