#include "support/testing.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "ssm/core/device.hpp"

namespace ssm::test {

std::vector<double> randn(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 g(seed);
  std::normal_distribution<double> d(0.0, 1.0);
  std::vector<double> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

std::vector<float> randn_f(std::size_t n, std::uint64_t seed) {
  auto d = randn(n, seed);
  return std::vector<float>(d.begin(), d.end());
}

double worst_ratio(const double* a, const double* b, std::size_t n, double atol, double rtol) {
  double w = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double r = std::fabs(a[i] - b[i]) / (atol + rtol * std::fabs(b[i]));
    if (!(r <= w)) w = r;  // NaN propagates as "worst"
  }
  return w;
}

std::string conformance_dir() {
  if (const char* e = std::getenv("SSM_CONFORMANCE_DIR"); e && *e) return e;
  return SSM_DEFAULT_CASES;
}

namespace {
struct TempDir {
  std::filesystem::path p;
  TempDir() {
    p = std::filesystem::temp_directory_path() / ("ssmkit-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(p);
  }
  ~TempDir() { std::error_code ec; std::filesystem::remove_all(p, ec); }
};
}  // namespace

std::string temp_dir() {
  static TempDir t;
  return t.p.string();
}

std::string torch_check_dir() {
  const char* d = std::getenv("SSM_TORCH_CHECK_DIR");
  return d ? d : "";
}

std::vector<std::string> files_ending_in(const std::string& dir, const std::string& suffix) {
  std::vector<std::string> v;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string p = e.path().string();
    if (p.size() >= suffix.size() && p.compare(p.size() - suffix.size(), suffix.size(), suffix) == 0) v.push_back(p);
  }
  std::sort(v.begin(), v.end());
  return v;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string build_dir() {
  return std::filesystem::read_symlink("/proc/self/exe").parent_path().parent_path().string();
}

ProgramResult run_program(const std::string& exe, const std::string& args, const std::string& scratch_dir,
                          const std::string& prefix) {
  const std::string o = scratch_dir + "/stdout.txt", e = scratch_dir + "/stderr.txt";
  const std::string cmd = prefix + " '" + exe + "' " + args + " >'" + o + "' 2>'" + e + "'";
  const int rc = std::system(cmd.c_str());
  ProgramResult r;
  r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  r.out = slurp(o);
  r.err = slurp(e);
  return r;
}

Ssmkit::Ssmkit(const std::string& scratch_name)
    : exe(build_dir() + "/src/cli/ssmkit"), dir(temp_dir() + "/" + scratch_name) {
  std::filesystem::create_directories(dir);
}

RequireGpu::RequireGpu() {
  if (!cuda_available()) {
    std::cout << "SKIP: no GPU present (" << cuda_description() << ")\n";
    std::exit(77);
  }
}

}  // namespace ssm::test
