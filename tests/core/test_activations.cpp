// src/core/activations.hpp and src/core/isa.hpp: the one implementation of each activation,
// float forms against the float64 C-library forms, edge values, and the ISA levels.
#define BOOST_TEST_MODULE activations
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdlib>
#include <limits>

#include "core/activations.hpp"
#include "core/isa.hpp"
#include "ssm/core/cpu.hpp"

namespace m = ssm::detail::math;

namespace {
// max over x in [lo, hi] of |f_float(x) - f_double(x)| / max(|f_double(x)|, floor)
template <class F32, class F64>
double max_rel_err(F32 f32, F64 f64, double lo, double hi, double floor) {
  double worst = 0;
  for (int i = 0; i <= 200000; ++i) {
    const float x = static_cast<float>(lo + (hi - lo) * i / 200000.0);
    const double want = f64(static_cast<double>(x));
    const double got = f32(x);
    worst = std::max(worst, std::fabs(got - want) / std::max(std::fabs(want), floor));
  }
  return worst;
}
}  // namespace

BOOST_AUTO_TEST_CASE(float_forms_match_the_double_forms) {
  auto sp = [](auto x) { return m::softplus(x); };
  auto si = [](auto x) { return m::silu(x); };
  auto sg = [](auto x) { return m::sigmoid(x); };
  auto ge = [](auto x) { return m::gelu(x); };
  BOOST_TEST(max_rel_err(sp, sp, -80, 80, 1e-30) < 2e-6);
  BOOST_TEST(max_rel_err(si, si, -80, 80, 1e-30) < 2e-6);
  BOOST_TEST(max_rel_err(sg, sg, -80, 80, 1e-30) < 2e-6);
  // gelu is PyTorch's formula 0.5 x (1 + erf(x / sqrt 2)): for x << 0 the float sum cancels, as
  // in PyTorch's float32 nn.GELU(), so it is held to an absolute 2e-6 where |gelu| < 1.
  BOOST_TEST(max_rel_err(ge, ge, -8, 8, 1.0) < 2e-6);
  // The double forms are the textbook formulas.
  for (double x : {-30.0, -2.5, -1e-3, 0.0, 0.7, 3.0, 40.0}) {
    BOOST_TEST(m::softplus(x) == std::log1p(std::exp(x)), boost::test_tools::tolerance(1e-14));
    BOOST_TEST(m::sigmoid(x) == 1.0 / (1.0 + std::exp(-x)), boost::test_tools::tolerance(1e-15));
    BOOST_TEST(m::silu(x) == x * m::sigmoid(x), boost::test_tools::tolerance(1e-15));
    BOOST_TEST(m::gelu(x) == 0.5 * x * std::erfc(-x / std::sqrt(2.0)), boost::test_tools::tolerance(1e-14));
  }
}

BOOST_AUTO_TEST_CASE(edge_values) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  BOOST_TEST(m::softplus(100.0f) == 100.0f);  // no overflow of e^x
  BOOST_TEST(m::softplus(-100.0f) >= 0.0f);
  BOOST_TEST(m::softplus(-100.0f) < 1e-40f);
  BOOST_TEST(m::softplus(0.0f) == std::log(2.0f), boost::test_tools::tolerance(1e-6f));
  BOOST_TEST(m::silu(-200.0f) == 0.0f);       // e^200 = inf: the limit, not NaN
  BOOST_TEST(m::silu(200.0f) == 200.0f);
  BOOST_TEST(m::sigmoid(-200.0f) == 0.0f);
  BOOST_TEST(m::sigmoid(200.0f) == 1.0f);
  BOOST_TEST(std::isnan(m::softplus(nan)));
  BOOST_TEST(std::isnan(m::silu(nan)));
  BOOST_TEST(std::isnan(m::sigmoid(nan)));
  BOOST_TEST(m::exp_ps(inf) == inf);
  BOOST_TEST(m::exp_ps(-inf) == 0.0f);
}

BOOST_AUTO_TEST_CASE(isa_level_is_what_the_cpu_supports) {
  const auto isa = ssm::detail::cpu_isa();
  BOOST_TEST((isa == ssm::detail::selected_isa()));  // chosen once, same answer
  BOOST_TEST_MESSAGE("cpu isa: " << ssm::detail::to_string(isa) << ", " << ssm::cpu_description());
#if defined(SSM_ISA_VARIANTS)
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi2");
  if (isa != ssm::detail::Isa::base) BOOST_TEST(avx2);
  if (isa == ssm::detail::Isa::avx512) BOOST_TEST(__builtin_cpu_supports("avx512bw"));
  if (std::getenv("SSM_CPU_ISA") == nullptr && avx2 && !__builtin_cpu_supports("avx512f"))
    BOOST_TEST((isa == ssm::detail::Isa::avx2));
#else
  BOOST_TEST((isa == ssm::detail::Isa::base));
#endif
}
