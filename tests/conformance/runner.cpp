// The conformance runner: runs every .safetensors case in $SSM_CONFORMANCE_DIR (default
// ../shared/conformance/cases) on every backend compiled in and present ($SSM_DEVICE =
// cpu | cuda | all, default all), in float32 and, where the op offers it, float64, through
// every path the op has. Prints one line per failure and ends with
//   conformance: N passed, M failed, K skipped
// N and M count (case, backend, precision, path) runs; K counts cases whose op is listed
// in kNotImplementedYet below. An unknown op or unreadable file is a failure.
#define BOOST_TEST_MODULE conformance
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <set>

#include "conformance/conformance.hpp"
#include "ssm/core/error.hpp"
#include "support/testing.hpp"

namespace ssm::conformance {

// Ops not implemented yet: cases of these ops are counted as skipped. This list must shrink
// to empty as the issues that implement them land.
static const std::set<std::string> kNotImplementedYet = {
};

static std::map<std::string, OpHandler>& registry() {
  static std::map<std::string, OpHandler> r;
  return r;
}

bool register_op(const std::string& op, OpHandler h) {
  registry()[op] = std::move(h);
  return true;
}

std::vector<std::int64_t> shape(const io::SafeTensors& st, const std::string& name) {
  return st.info(name).shape;
}

bool is_complex(const io::SafeTensors& st, const std::string& name, std::size_t real_rank) {
  const auto& s = st.info(name).shape;
  return s.size() == real_rank + 1 && s.back() == 2;
}

Eigen::MatrixXd matrix(const io::SafeTensors& st, const std::string& name) {
  const auto s = shape(st, name);
  const auto v = st.to_double(name);
  if (s.size() == 1) return Eigen::Map<const Eigen::VectorXd>(v.data(), s[0]);
  if (s.size() != 2) throw Error("case tensor '" + name + "' must be 1-D or 2-D");
  Eigen::MatrixXd m(s[0], s[1]);
  for (std::int64_t i = 0; i < s[0]; ++i)
    for (std::int64_t j = 0; j < s[1]; ++j) m(i, j) = v[static_cast<std::size_t>(i * s[1] + j)];
  return m;
}

Eigen::VectorXd vector(const io::SafeTensors& st, const std::string& name) {
  const auto v = st.to_double(name);
  return Eigen::Map<const Eigen::VectorXd>(v.data(), static_cast<Eigen::Index>(v.size()));
}

std::vector<std::complex<double>> complex_values(const io::SafeTensors& st, const std::string& name) {
  const auto s = shape(st, name);
  if (s.empty() || s.back() != 2) throw Error("case tensor '" + name + "' must have a trailing dimension of 2 (complex)");
  const auto v = st.to_double(name);
  std::vector<std::complex<double>> c(v.size() / 2);
  for (std::size_t i = 0; i < c.size(); ++i) c[i] = {v[2 * i], v[2 * i + 1]};
  return c;
}

Output out_matrix(const Eigen::MatrixXd& m) {
  Output o;
  o.values.reserve(static_cast<std::size_t>(m.size()));
  for (Eigen::Index i = 0; i < m.rows(); ++i)
    for (Eigen::Index j = 0; j < m.cols(); ++j) o.values.push_back(m(i, j));
  return o;
}

namespace {

struct Tally {
  int passed = 0, failed = 0, skipped = 0, refused = 0;
};

const char* prec_name(Precision p) { return p == Precision::f32 ? "f32" : "f64"; }

// Worst ratio |got-exp| / (atol + rtol|exp|) over all expected outputs; <= 1 passes.
double compare(const io::SafeTensors& st, const Outputs& got, std::string& detail) {
  double worst = 0;
  const double rtol = st.meta_double("rtol");
  const double atol_default = st.meta_double("atol");
  for (const auto& name : st.names()) {
    if (name.rfind("expected.", 0) != 0) continue;
    const std::string out = name.substr(9);
    const double atol = st.metadata().count("atol." + out) ? st.meta_double("atol." + out) : atol_default;
    const auto exp = st.to_double(name);
    auto it = got.find(out);
    if (it == got.end()) { detail = "output '" + out + "' not produced"; return INFINITY; }
    const auto& g = it->second.values;
    if (g.size() != exp.size()) {
      detail = "output '" + out + "' has " + std::to_string(g.size()) + " values, expected " + std::to_string(exp.size());
      return INFINITY;
    }
    double w = 0, err = 0;
    if (it->second.complex) {
      for (std::size_t i = 0; i + 1 < g.size(); i += 2) {
        const double d = std::hypot(g[i] - exp[i], g[i + 1] - exp[i + 1]);
        const double r = d / (atol + rtol * std::hypot(exp[i], exp[i + 1]));
        if (!(r <= w)) { w = r; err = d; }
      }
    } else {
      for (std::size_t i = 0; i < g.size(); ++i) {
        const double d = std::fabs(g[i] - exp[i]);
        const double r = d / (atol + rtol * std::fabs(exp[i]));
        if (!(r <= w)) { w = r; err = d; }
      }
    }
    if (!(w <= worst)) {
      worst = w;
      char buf[160];
      std::snprintf(buf, sizeof buf, "worst on '%s': |err| = %.3g (%.3g x tolerance)", out.c_str(), err, w);
      detail = buf;
    }
  }
  return worst;
}

}  // namespace
}  // namespace ssm::conformance

using namespace ssm;
using namespace ssm::conformance;

BOOST_AUTO_TEST_CASE(all_cases) {
  const std::string dir = ssm::test::conformance_dir();
  const char* dev_env = std::getenv("SSM_DEVICE");
  const std::string dev = dev_env && *dev_env ? dev_env : "all";
  BOOST_REQUIRE_MESSAGE(dev == "cpu" || dev == "cuda" || dev == "all",
                        "SSM_DEVICE must be cpu, cuda or all, got '" << dev << "'");
  std::vector<Device> devices;
  if (dev != "cuda") devices.push_back(Device::cpu);
  if (dev != "cpu") {
    if (ssm::cuda_available()) devices.push_back(Device::cuda);
    else if (dev == "cuda") {
      std::cout << "conformance: SKIP: SSM_DEVICE=cuda but no GPU: " << ssm::cuda_description() << "\n";
      std::exit(77);  // CTest SKIP_RETURN_CODE
    }
  }

  std::error_code ec;
  BOOST_REQUIRE_MESSAGE(std::filesystem::is_directory(dir, ec), "case directory '" << dir << "' does not exist");
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".safetensors") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  BOOST_REQUIRE_MESSAGE(!files.empty(), "no .safetensors cases in '" << dir << "'");

  // SSM_CONFORMANCE_VERBOSE=1: one line per case and backend with the worst error as a fraction
  // of the tolerance (what docs/convolution.md quotes as each path's margin).
  const char* verbose_env = std::getenv("SSM_CONFORMANCE_VERBOSE");
  const bool verbose = verbose_env && *verbose_env && std::string(verbose_env) != "0";
  Tally t;
  auto fail = [&](const std::string& file, const std::string& op, const std::string& backend,
                  const std::string& why) {
    ++t.failed;
    std::cout << "FAIL " << file << " op=" << op << " backend=" << backend << ": " << why << "\n";
  };
  for (const auto& f : files) {
    const std::string file = f.filename().string();
    std::string op = "?";
    try {
      const auto st = io::SafeTensors::load(f.string());
      op = st.meta("op");
      if (kNotImplementedYet.count(op)) { ++t.skipped; continue; }
      auto it = registry().find(op);
      if (it == registry().end()) { fail(file, op, "-", "unknown op"); continue; }
      const OpHandler& h = it->second;
      const auto paths = h.paths_for ? h.paths_for(st) : h.paths;
      for (Device d : devices) {
        if (d == Device::cuda && !h.has_cuda) continue;
        for (Precision p : {Precision::f32, Precision::f64}) {
          if (p == Precision::f64 && !(d == Device::cpu ? h.has_f64 : h.cuda_f64)) continue;
          for (const auto& path : paths) {
            if (d == Device::cuda && !h.cuda_paths.empty() &&
                std::find(h.cuda_paths.begin(), h.cuda_paths.end(), path) == h.cuda_paths.end())
              continue;
            const std::string backend = std::string(to_string(d)) + "/" + prec_name(p) + "/" + path;
            try {
              const Outputs out = h.run(st, Run{d, p, path});
              std::string detail;
              const double w = compare(st, out, detail);
              if (verbose) std::printf("case %s op=%s backend=%s worst=%.3g x tolerance\n", file.c_str(), op.c_str(), backend.c_str(), w);
              if (w <= 1.0) ++t.passed;
              else fail(file, op, backend, detail);
            } catch (const Refused& e) {
              ++t.refused;
              std::cout << "REFUSED " << file << " op=" << op << " backend=" << backend << ": " << e.what() << "\n";
            } catch (const std::exception& e) {
              fail(file, op, backend, std::string("exception: ") + e.what());
            }
          }
        }
      }
    } catch (const std::exception& e) {
      fail(file, op, "-", std::string("unreadable case: ") + e.what());
    }
  }
  std::cout << "conformance: " << t.passed << " passed, " << t.failed << " failed, " << t.skipped
            << " skipped, " << t.refused << " refused" << std::endl;
  BOOST_TEST(t.failed == 0);
  BOOST_TEST(t.passed > 0);
}
