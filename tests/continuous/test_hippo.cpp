#define BOOST_TEST_MODULE hippo
#include <boost/test/unit_test.hpp>

#include <Eigen/Eigenvalues>
#include <cmath>

#include "ssm/continuous/hippo.hpp"
#include "ssm/core/error.hpp"
#include "ssm/discretize/discretize.hpp"

using namespace ssm;

BOOST_AUTO_TEST_CASE(structure_of_each_measure) {
  const int N = 12;
  const auto s = hippo::legs(N);
  for (int n = 0; n < N; ++n)
    for (int k = n + 1; k < N; ++k) BOOST_TEST(s.A(n, k) == 0.0);  // lower triangular
  for (int n = 0; n < N; ++n) BOOST_TEST(s.A(n, n) == -(n + 1.0));  // eigenvalues -1..-N
  const auto l = hippo::lagt(N);
  BOOST_TEST(l.A(3, 3) == -0.5);
  BOOST_TEST(l.A(3, 1) == -1.0);
  BOOST_TEST(l.A(1, 3) == 0.0);
  const auto f = hippo::fout(N);
  BOOST_TEST((f.A + f.A.transpose() + 2 * f.B * f.B.transpose()).norm() < 1e-12);  // skew + rank one
}

BOOST_AUTO_TEST_CASE(all_measures_are_stable) {
  for (auto m : {hippo::Measure::legs, hippo::Measure::legt, hippo::Measure::lagt, hippo::Measure::fout}) {
    const auto t = hippo::transition(m, 16);
    Eigen::EigenSolver<Eigen::MatrixXd> es(t.A);
    BOOST_TEST_INFO("measure " << hippo::to_string(m));
    BOOST_TEST(es.eigenvalues().real().maxCoeff() < 1e-9);
  }
}

BOOST_AUTO_TEST_CASE(legt_is_a_delay_line) {
  // Second path: LegT states read out with Legendre values reconstruct a delayed sine.
  const int N = 24;
  const double window = 1.0, delay = 0.5, dt = 1e-3;
  Eigen::RowVectorXd C(N);
  for (int n = 0; n < N; ++n) C(n) = std::sqrt(2.0 * n + 1) * std::legendre(n, 1.0 - 2.0 * delay / window);
  const auto d = discretize(hippo::system(hippo::Measure::legt, N, C, 0.0, window / 2), dt,
                            {Method::bilinear, Convention::ssm});
  Eigen::VectorXd x = Eigen::VectorXd::Zero(N);
  double worst = 0;
  for (int k = 0; k < 4000; ++k) {
    const double u = std::sin(2 * M_PI * 2.0 * k * dt);
    x = d.Ad * x + d.Bd * u;
    const double y = (C * x)(0);
    if (k * dt > window) worst = std::max(worst, std::fabs(y - std::sin(2 * M_PI * 2.0 * (k * dt - delay))));
  }
  BOOST_TEST(worst < 0.01);
}

BOOST_AUTO_TEST_CASE(legendre_and_legt_readout_match_std_legendre) {
  // The library's recurrence against libstdc++'s std::legendre (an independent implementation).
  for (int n : {0, 1, 2, 5, 17, 40})
    for (double x : {-1.0, -0.73, 0.0, 0.31, 1.0})
      BOOST_TEST(hippo::legendre(n, x) == std::legendre(n, x), boost::test_tools::tolerance(1e-12));
  const auto C = hippo::legt_delay_readout(8, 0.25, 2.0);  // x = 1 - 2 * 0.25 / 2 = 0.75
  BOOST_TEST(C.size() == 8);
  for (int n = 0; n < 8; ++n)
    BOOST_TEST(C(n) == std::sqrt(2.0 * n + 1) * std::legendre(n, 0.75), boost::test_tools::tolerance(1e-12));
  BOOST_CHECK_THROW(hippo::legendre(-1, 0.5), Error);
  BOOST_CHECK_THROW(hippo::legt_delay_readout(0, 0.1, 1.0), Error);
  BOOST_CHECK_THROW(hippo::legt_delay_readout(4, 0.1, 0.0), Error);
}

BOOST_AUTO_TEST_CASE(bad_arguments) {
  BOOST_CHECK_EXCEPTION(hippo::fout(5), Error, [](const Error& e) {
    return std::string(e.what()).find("'N' must be even") != std::string::npos;
  });
  BOOST_CHECK_THROW(hippo::legs(0), Error);
  BOOST_CHECK_THROW(hippo::transition(hippo::Measure::legt, -3), Error);
  BOOST_CHECK_THROW(hippo::parse_measure("legendre"), Error);
  BOOST_CHECK_THROW(hippo::system(hippo::Measure::legs, 4, Eigen::RowVectorXd::Ones(3)), Error);
  BOOST_CHECK_THROW(hippo::system(hippo::Measure::legs, 4, Eigen::RowVectorXd::Ones(4), 0, 0.0), Error);
}
