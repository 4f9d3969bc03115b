// The CPU ISA dispatch point (include/ssm/core/cpu.hpp, src/core/cpu_isa.cpp). The environment
// is read once per process, so tests/conformance/each_cpu_isa.cmake runs this program once per
// supported SSM_CPU_ISA value and once with an invalid one; without SSM_CPU_ISA it checks the
// automatic choice.
#define BOOST_TEST_MODULE cpu_isa
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/simd.hpp"
#include "ssm/core/cpu.hpp"
#include "ssm/core/error.hpp"
#include "ssm/scan/selective_scan.hpp"

namespace {
const char* forced() {
  const char* e = std::getenv("SSM_CPU_ISA");
  return e != nullptr && *e != '\0' ? e : nullptr;
}
bool supported(const std::string& isa) {
  const auto v = ssm::cpu_isas_supported();
  return std::find(v.begin(), v.end(), isa) != v.end();
}
}  // namespace

BOOST_AUTO_TEST_CASE(supported_list_is_best_first_and_ends_with_scalar) {
  const auto v = ssm::cpu_isas_supported();
  BOOST_REQUIRE(!v.empty());
  BOOST_TEST(v.back() == "scalar");
  BOOST_TEST_MESSAGE("cpu: " << ssm::cpu_description());
}

BOOST_AUTO_TEST_CASE(the_choice_is_the_forced_isa_or_the_best) {
  const char* f = forced();
  if (f != nullptr && !supported(f)) return;  // covered by the next case
  const std::string want = f != nullptr ? std::string(f) : ssm::cpu_isas_supported().front();
  BOOST_TEST(ssm::cpu_isa() == want);
  const std::string d = ssm::cpu_description();
  BOOST_TEST(d.rfind(want + " (Highway ", 0) == 0);
  BOOST_TEST(d.find(f != nullptr ? "SSM_CPU_ISA=" + want : std::string("SSM_CPU_ISA=unset")) != std::string::npos);
  BOOST_CHECK_NO_THROW(ssm::detail::require_cpu_isa("test"));
}

BOOST_AUTO_TEST_CASE(an_unusable_forced_isa_is_an_error_of_every_cpu_op) {
  const char* f = forced();
  if (f == nullptr || supported(f)) return;  // only when the driver passes an invalid value
  BOOST_TEST(ssm::cpu_description().find("invalid") != std::string::npos);
  std::vector<float> u(4, 1.0f), dt(4, 0.1f), A(1, -1.0f), B(4, 1.0f), C(4, 1.0f), y(4);
  ssm::SelectiveScanProblem<float> a;
  a.dstate = 1;
  a.u = ssm::View3<const float>(u.data(), 1, 1, 4);
  a.delta = ssm::View3<const float>(dt.data(), 1, 1, 4);
  a.A = A.data(); a.B = B.data(); a.C = C.data();
  a.out = ssm::View3<float>(y.data(), 1, 1, 4);
  try {
    ssm::selective_scan(a);
    BOOST_FAIL("no error for SSM_CPU_ISA=" << f);
  } catch (const ssm::Error& e) {
    const std::string m = e.what();
    BOOST_TEST(m.find("SSM_CPU_ISA") != std::string::npos);
    BOOST_TEST(m.find(f) != std::string::npos);
    BOOST_TEST(m.find("scalar") != std::string::npos);  // lists what this machine accepts
  }
}
