// src/core/activations.hpp and src/core/isa.hpp: the one implementation of each activation,
// float forms against the float64 C-library forms, edge values, and the ISA levels.
#define BOOST_TEST_MODULE activations
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdlib>
#include <vector>
#include <algorithm>
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

// ---- array forms (vectorized per SIMD target; tests/conformance/each_cpu_isa.cmake runs this
// program under every SSM_CPU_ISA the machine supports) ---------------------------------------
namespace {

// Distance in units in the last place between two finite floats of the same sign region.
double ulps(float a, float b) {
  if (a == b) return 0;
  const double d = std::fabs(static_cast<double>(a) - static_cast<double>(b));
  const float m = std::max(std::fabs(a), std::fabs(b));
  const float next = std::nextafter(m, std::numeric_limits<float>::infinity());
  return d / (static_cast<double>(next) - static_cast<double>(m));
}

std::vector<float> sweep(float lo, float hi, int n) {
  std::vector<float> x(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) x[static_cast<std::size_t>(i)] = lo + (hi - lo) * static_cast<float>(i) / static_cast<float>(n - 1);
  return x;
}

}  // namespace

BOOST_AUTO_TEST_CASE(vector_exp_is_within_2_ulp_in_float_and_1_ulp_in_double) {
  BOOST_TEST_MESSAGE("cpu: " << ssm::cpu_description());
  const auto x = sweep(-87.0f, 88.0f, 100003);  // normal results; odd count: a scalar tail too
  std::vector<float> y(x.size());
  m::exp_n(x.data(), y.data(), x.size());
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i)
    worst = std::max(worst, ulps(y[i], static_cast<float>(std::exp(static_cast<double>(x[i])))));
  BOOST_TEST_MESSAGE("float exp worst error " << worst << " ulp");
  BOOST_TEST(worst <= 2.0);
  std::vector<double> xd(x.begin(), x.end()), yd(x.size());
  m::exp_n(xd.data(), yd.data(), xd.size());
  double worst_rel = 0;
  for (std::size_t i = 0; i < xd.size(); ++i) worst_rel = std::max(worst_rel, std::fabs(yd[i] / std::exp(xd[i]) - 1.0));
  BOOST_TEST(worst_rel <= 2.3e-16);  // 1 ulp of double (2^-52)
}

BOOST_AUTO_TEST_CASE(vector_exp_range_ends_and_nan) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> x{inf, -inf, nan, 89.0f, 200.0f, -104.0f, -1000.0f, 0.0f, -0.0f};
  std::vector<float> y(x.size());
  m::exp_n(x.data(), y.data(), x.size());
  BOOST_TEST(y[0] == inf);
  BOOST_TEST(y[1] == 0.0f);
  BOOST_TEST(std::isnan(y[2]));
  BOOST_TEST(y[3] == inf);
  BOOST_TEST(y[4] == inf);
  BOOST_TEST(y[5] < 1e-44f);
  BOOST_TEST(y[6] == 0.0f);
  BOOST_TEST(y[7] == 1.0f);
  BOOST_TEST(y[8] == 1.0f);
}

BOOST_AUTO_TEST_CASE(vector_activations_match_the_c_library) {
  const auto x = sweep(-30.0f, 30.0f, 20001);
  std::vector<float> y(x.size());
  auto check = [&](const char* name, void (*f)(const float*, float*, std::size_t) noexcept, auto ref, double tol) {
    f(x.data(), y.data(), x.size());
    double worst = 0;
    float at = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double r = ref(static_cast<double>(x[i]));
      // relative, with the smallest normal float as the floor (results that underflow in float)
      const double e = std::fabs(y[i] - r) / std::max(std::fabs(r), 1.1754943508222875e-38);
      if (e > worst) worst = e, at = x[i];
    }
    BOOST_TEST_MESSAGE(name << " worst relative error " << worst << " at x = " << at);
    BOOST_TEST(worst <= tol, name << ": " << worst << " at x = " << at);
  };
  check("softplus", m::softplus_n, [](double v) { return v > 0 ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v)); }, 1e-6);
  check("sigmoid", m::sigmoid_n, [](double v) { return 1.0 / (1.0 + std::exp(-v)); }, 1e-6);
  check("silu", m::silu_n, [](double v) { return v / (1.0 + std::exp(-v)); }, 1e-6);
  check("tanh", m::tanh_n, [](double v) { return std::tanh(v); }, 1e-6);
  // deep in the negative tail erfc amplifies the rounding of the float argument: 1e-5 there
  check("gelu", m::gelu_n, [](double v) { return 0.5 * v * std::erfc(-v / std::sqrt(2.0)); }, 2e-5);
  // NaN propagates through every form; in place works.
  std::vector<float> n{std::numeric_limits<float>::quiet_NaN(), 1.0f};
  using Fn = void (*)(const float*, float*, std::size_t) noexcept;
  for (Fn f : {Fn(m::softplus_n), Fn(m::sigmoid_n), Fn(m::silu_n), Fn(m::tanh_n), Fn(m::gelu_n)}) {
    std::vector<float> v = n;
    f(v.data(), v.data(), v.size());
    BOOST_TEST(std::isnan(v[0]));
    BOOST_TEST(std::isfinite(v[1]));
  }
}

BOOST_AUTO_TEST_CASE(vector_gelu_keeps_the_tails) {
  // The float gelu_n is the vector erfc form (core/simd_math-inl.hpp GeluV): the deep negative
  // tail keeps its relative precision into the subnormal range (absolute error far below the
  // smallest normal), the positive side goes to x, and the clamp of |x| gives exact limits.
  const std::vector<float> x{-14.0f, -13.0f, -10.0f, -5.5f, -1e-3f, 0.0f, 1e-30f, 5.5f, 15.0f, 100.0f, 1e30f};
  std::vector<float> y(x.size());
  m::gelu_n(x.data(), y.data(), x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double r = 0.5 * double(x[i]) * std::erfc(-double(x[i]) / std::sqrt(2.0));
    BOOST_TEST(std::fabs(double(y[i]) - r) <= 2e-6 * std::max(std::fabs(r), 1.1754943508222875e-38),
               "gelu(" << x[i] << ") = " << y[i] << ", expected " << r);
  }
  BOOST_TEST(y[5] == 0.0f);
  BOOST_TEST(y[9] == 100.0f);
  BOOST_TEST(y[10] == 1e30f);
  BOOST_TEST(y[0] < 0.0f);  // -7 erfc(9.9) ~ -1e-43: a subnormal, not flushed by the form itself
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> e{inf};
  m::gelu_n(e.data(), e.data(), 1);
  BOOST_TEST(e[0] == inf);
}

BOOST_AUTO_TEST_CASE(decay_exp2_within_2_ulp_and_never_below_its_floor) {
  // 2^y for y <= 0 (the Mamba stream's e^{dt A} = 2^{dt A log2 e}): within 2 ulp of the double
  // result on [-125, 0], exactly 1 at 0, and clamped at 2^-125 below (a normal number, never 0,
  // negative or a NaN pattern from the exponent arithmetic).
  const auto x = sweep(-125.0f, 0.0f, 200003);
  std::vector<float> y(x.size());
  m::exp2_decay_n(x.data(), y.data(), x.size());
  double worst = 0;
  float at = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double e = ulps(y[i], static_cast<float>(std::exp2(static_cast<double>(x[i]))));
    if (e > worst) worst = e, at = x[i];
  }
  BOOST_TEST_MESSAGE("exp2 decay worst error " << worst << " ulp at y = " << at);
  BOOST_TEST(worst <= 2.0);
  // near 0 (the decays that matter for a long memory) the relative error is a rounding of ~1
  auto small = sweep(-1e-3f, 0.0f, 1001);
  std::vector<float> ys(small.size());
  m::exp2_decay_n(small.data(), ys.data(), small.size());
  for (std::size_t i = 0; i < small.size(); ++i)
    BOOST_TEST(std::fabs(double(ys[i]) / std::exp2(double(small[i])) - 1.0) <= 6e-8);
  const std::vector<float> edge{0.0f, -0.0f, -125.0f, -126.0f, -1000.0f, -std::numeric_limits<float>::infinity()};
  std::vector<float> ye(edge.size());
  m::exp2_decay_n(edge.data(), ye.data(), edge.size());
  BOOST_TEST(ye[0] == 1.0f);
  BOOST_TEST(ye[1] == 1.0f);
  for (std::size_t i = 2; i < edge.size(); ++i) {
    BOOST_TEST(std::isnormal(ye[i]));
    BOOST_TEST(ye[i] > 0.0f);
    BOOST_TEST(ye[i] <= std::exp2(-124.0f));
  }
}
