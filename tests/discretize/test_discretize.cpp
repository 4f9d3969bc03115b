#define BOOST_TEST_MODULE discretize
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <complex>
#include <limits>

#include "ssm/continuous/hippo.hpp"
#include "ssm/core/error.hpp"
#include "ssm/discretize/discretize.hpp"

using namespace ssm;

namespace {
ContinuousSystem random_system(int n, int m, int p, unsigned seed) {
  std::srand(seed);
  ContinuousSystem s{Eigen::MatrixXd::Random(n, n) - 2.0 * Eigen::MatrixXd::Identity(n, n),
                     Eigen::MatrixXd::Random(n, m), Eigen::MatrixXd::Random(p, n),
                     Eigen::MatrixXd::Random(p, m)};
  return s;
}
bool message_has(const Error& e, const char* s) { return std::string(e.what()).find(s) != std::string::npos; }
}  // namespace

BOOST_AUTO_TEST_CASE(zoh_handles_singular_A) {
  // A = 0: Ad = I, Bd = dt B exactly (a naive A^{-1}(e^{A dt} - I) B would fail).
  ContinuousSystem s{Eigen::MatrixXd::Zero(3, 3), Eigen::MatrixXd::Ones(3, 1), Eigen::MatrixXd::Ones(1, 3),
                     Eigen::MatrixXd::Zero(1, 1)};
  const auto d = discretize(s, 0.25, {Method::zoh, Convention::control});
  BOOST_TEST((d.Ad - Eigen::MatrixXd::Identity(3, 3)).norm() < 1e-14);
  BOOST_TEST((d.Bd - 0.25 * Eigen::MatrixXd::Ones(3, 1)).norm() < 1e-14);
}

BOOST_AUTO_TEST_CASE(gbt_family_matches_named_methods) {
  const auto s = random_system(5, 2, 3, 7);
  for (auto [m, a] : {std::pair{Method::bilinear, 0.5}, {Method::euler, 0.0}, {Method::backward_diff, 1.0}}) {
    for (auto c : {Convention::ssm, Convention::control}) {
      const auto d1 = discretize(s, 0.1, {m, c});
      const auto d2 = discretize(s, 0.1, {Method::gbt, c, a});
      BOOST_TEST((d1.Ad - d2.Ad).norm() < 1e-13);
      BOOST_TEST((d1.Bd - d2.Bd).norm() < 1e-13);
      BOOST_TEST((d1.Cd - d2.Cd).norm() < 1e-13);
      BOOST_TEST((d1.Dd - d2.Dd).norm() < 1e-13);
    }
  }
}

BOOST_AUTO_TEST_CASE(transfer_functions_of_both_conventions) {
  // control + bilinear is exactly Tustin's transform: Hc(z) = H(s) at s = (2/dt)(z-1)/(z+1).
  // zoh: the ssm read-out sees x after the current input, so its transfer function is the
  // control one advanced by a sample: Hssm(z) - D = z (Hc(z) - D).
  using cd = std::complex<double>;
  const auto s = random_system(4, 1, 1, 3);
  const double dt = 0.05;
  const Eigen::MatrixXcd I = Eigen::MatrixXcd::Identity(4, 4);
  auto H = [&](const Eigen::MatrixXd& A, const Eigen::MatrixXd& B, const Eigen::MatrixXd& C, double D, cd x) {
    return (C.cast<cd>() * (x * I - A.cast<cd>()).inverse() * B.cast<cd>())(0, 0) + D;
  };
  const auto tb = discretize(s, dt, {Method::bilinear, Convention::control});
  const auto zc = discretize(s, dt, {Method::zoh, Convention::control});
  const auto zs = discretize(s, dt, {Method::zoh, Convention::ssm});
  for (double w : {0.1, 0.7, 2.0}) {
    const cd z = std::polar(1.0, w);
    const cd sv = (2.0 / dt) * (z - 1.0) / (z + 1.0);
    BOOST_TEST(std::abs(H(tb.Ad, tb.Bd, tb.Cd, tb.Dd(0, 0), z) - H(s.A, s.B, s.C, s.D(0, 0), sv)) < 1e-10);
    const cd hc = H(zc.Ad, zc.Bd, zc.Cd, zc.Dd(0, 0), z) - s.D(0, 0);
    const cd hs = H(zs.Ad, zs.Bd, zs.Cd, 0.0, z) * z;  // C (I - Ad/z)^{-1} Bd = z C (zI - Ad)^{-1} Bd
    BOOST_TEST(std::abs(hs - z * hc) < 1e-10);
  }
}

BOOST_AUTO_TEST_CASE(diagonal_closed_forms_match_dense) {
  // A complex mode a as the real 2x2 block [[re, -im], [im, re]].
  const std::complex<double> a(-0.7, 3.0), b(0.4, -1.1);
  const double dt = 0.03;
  ContinuousSystem s{Eigen::MatrixXd(2, 2), Eigen::MatrixXd(2, 1), Eigen::MatrixXd::Identity(2, 2), Eigen::MatrixXd::Zero(2, 1)};
  s.A << a.real(), -a.imag(), a.imag(), a.real();
  s.B << b.real(), b.imag();
  for (auto m : {Method::zoh, Method::bilinear, Method::euler, Method::backward_diff}) {
    std::complex<double> Ad, Bd;
    discretize_diag(a, b, dt, m, 0.5, Ad, Bd);
    const auto d = discretize(s, dt, {m, Convention::ssm});
    BOOST_TEST_INFO("method " << to_string(m));
    BOOST_TEST(std::abs(d.Ad(0, 0) - Ad.real()) < 1e-12);
    BOOST_TEST(std::abs(d.Ad(1, 0) - Ad.imag()) < 1e-12);
    BOOST_TEST(std::abs(d.Bd(0, 0) - Bd.real()) < 1e-12);
    BOOST_TEST(std::abs(d.Bd(1, 0) - Bd.imag()) < 1e-12);
  }
  // zoh near a = 0 uses the series: Bd -> dt b.
  std::complex<float> Ad, Bd;
  discretize_diag<float>({1e-9f, 0.f}, {1.f, 0.f}, 0.5f, Method::zoh, 0.5f, Ad, Bd);
  BOOST_TEST(std::abs(Bd - std::complex<float>(0.5f, 0.f)) < 1e-6f);
}

BOOST_AUTO_TEST_CASE(bad_inputs_name_the_argument) {
  auto s = random_system(3, 1, 1, 1);
  BOOST_CHECK_EXCEPTION(discretize(s, 0.0, {}), Error, [](const Error& e) { return message_has(e, "'dt'"); });
  BOOST_CHECK_EXCEPTION(discretize(s, -1.0, {}), Error, [](const Error& e) { return message_has(e, "'dt'"); });
  BOOST_CHECK_THROW(discretize(s, std::numeric_limits<double>::infinity(), {}), Error);
  BOOST_CHECK_THROW(discretize(s, 0.1, {Method::gbt, Convention::ssm, 1.5}), Error);
  BOOST_CHECK_EXCEPTION(discretize(s, 0.1, {Method::foh, Convention::ssm}), Error,
                        [](const Error& e) { return message_has(e, "foh"); });
  auto bad = s;
  bad.A(1, 1) = std::nan("");
  BOOST_CHECK_EXCEPTION(discretize(bad, 0.1, {}), Error, [](const Error& e) { return message_has(e, "'A'"); });
  bad = s;
  bad.B = Eigen::MatrixXd::Ones(2, 1);
  BOOST_CHECK_EXCEPTION(discretize(bad, 0.1, {}), Error, [](const Error& e) { return message_has(e, "'B'"); });
  bad = s;
  bad.A = Eigen::MatrixXd::Ones(3, 2);
  BOOST_CHECK_EXCEPTION(discretize(bad, 0.1, {}), Error, [](const Error& e) { return message_has(e, "square"); });
  bad = s;
  bad.D = Eigen::MatrixXd::Ones(2, 2);
  BOOST_CHECK_EXCEPTION(discretize(bad, 0.1, {}), Error, [](const Error& e) { return message_has(e, "'D'"); });
  // (I - alpha dt A) singular: A = 10 I with backward_diff, dt = 0.1.
  ContinuousSystem sing{10 * Eigen::MatrixXd::Identity(2, 2), Eigen::MatrixXd::Ones(2, 1), Eigen::MatrixXd::Ones(1, 2), Eigen::MatrixXd::Zero(1, 1)};
  BOOST_CHECK_EXCEPTION(discretize(sing, 0.1, {Method::backward_diff}), Error,
                        [](const Error& e) { return message_has(e, "singular"); });
  BOOST_CHECK_THROW(parse_method("rk4"), Error);
  BOOST_CHECK_THROW(parse_convention("matlab"), Error);
}
