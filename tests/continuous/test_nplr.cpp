#define BOOST_TEST_MODULE nplr
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <numbers>

#include "ssm/continuous/hippo.hpp"
#include "ssm/continuous/nplr.hpp"
#include "ssm/continuous/s4d_init.hpp"
#include "ssm/core/error.hpp"

using namespace ssm;
using hippo::Measure;

namespace {
double rel(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  return (a - b).cwiseAbs().maxCoeff() / std::max(1.0, b.cwiseAbs().maxCoeff());
}
}  // namespace

BOOST_AUTO_TEST_CASE(reconstructs_every_measure) {
  for (Measure m : {Measure::legs, Measure::legt, Measure::lagt, Measure::fout}) {
    for (int N : {2, 8, 16, 64, 128}) {
      BOOST_TEST_CONTEXT("measure " << hippo::to_string(m) << " N " << N) {
        const auto t = hippo::transition(m, N);
        const NPLR f = nplr(m, N);
        BOOST_TEST(f.modes() == N / 2);
        BOOST_TEST(rel(f.dense_A(), t.A) < 1e-11);
        const Eigen::VectorXd b = 2.0 * (f.V * f.B).real();
        BOOST_TEST(rel(b, t.B) < 1e-11);
        const Eigen::MatrixXd p = 2.0 * (f.V * f.P).real();
        BOOST_TEST(rel(p, f.P_real.transpose()) < 1e-11);
        // [V, conj V] is unitary: V^* V = I and V^T V = 0.
        const Eigen::MatrixXcd g = f.V.adjoint() * f.V;
        BOOST_TEST((g - Eigen::MatrixXcd::Identity(N / 2, N / 2)).cwiseAbs().maxCoeff() < 1e-11);
        BOOST_TEST((f.V.transpose() * f.V).cwiseAbs().maxCoeff() < 1e-11);
        for (int n = 0; n < f.modes(); ++n) {
          BOOST_TEST(std::abs(f.Lambda(n).real() - f.real_part) < 1e-12);
          BOOST_TEST(f.Lambda(n).imag() >= 0.0);
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(normal_part_real_parts) {
  BOOST_TEST(std::abs(nplr(Measure::legs, 32).real_part + 0.5) < 1e-12);
  BOOST_TEST(std::abs(nplr(Measure::lagt, 32).real_part) < 1e-12);
  BOOST_TEST(std::abs(nplr(Measure::legt, 32).real_part) < 1e-12);
  BOOST_TEST(nplr(Measure::legt, 32).rank == 2);
}

BOOST_AUTO_TEST_CASE(odd_size_keeps_one_real_direction) {
  // LegS with N = 7: the skew part has a 1-dimensional null space, kept as u/sqrt(2).
  const auto t = hippo::legs(7);
  const NPLR f = nplr(Measure::legs, 7);
  BOOST_TEST(f.modes() == 4);
  BOOST_TEST(rel(f.dense_A(), t.A) < 1e-11);
  BOOST_TEST(rel(Eigen::VectorXd(2.0 * (f.V * f.B).real()), t.B) < 1e-11);
}

BOOST_AUTO_TEST_CASE(fout_null_space_is_paired) {
  // FouT's states 0 and 1 are decoupled (eigenvalue 0 twice): one paired mode at s + 0i.
  const NPLR f = nplr(Measure::fout, 16);
  BOOST_TEST(f.modes() == 8);
  int zero = 0;
  for (int n = 0; n < 8; ++n) zero += std::abs(f.Lambda(n).imag()) < 1e-9;
  BOOST_TEST(zero == 1);
  // The other frequencies are pi k for k = 1..7 (rotation blocks of A0).
  for (int n = 1; n < 8; ++n) BOOST_TEST(std::abs(f.Lambda(n).imag() - std::numbers::pi * n) < 1e-9);
}

BOOST_AUTO_TEST_CASE(rejects_bad_input) {
  BOOST_CHECK_THROW(nplr(Measure::legs, 1), Error);
  const auto t = hippo::legs(8);
  BOOST_CHECK_THROW(nplr(t.A, t.B, Eigen::MatrixXd::Ones(1, 8)), Error);  // not a valid correction
  BOOST_CHECK_THROW(nplr(t.A, Eigen::VectorXd::Ones(7), rank_correction(Measure::legs, 8)), Error);
  BOOST_CHECK_THROW(nplr(Measure::fout, 7), Error);
}

BOOST_AUTO_TEST_CASE(s4d_initializations) {
  const int N2 = 16;
  const auto lin = s4d_eigenvalues(S4DInit::lin, N2);
  const auto inv = s4d_eigenvalues(S4DInit::inv, N2);
  const auto real = s4d_eigenvalues(S4DInit::real, N2);
  const auto legs = s4d_eigenvalues(S4DInit::legs, N2);
  for (int n = 0; n < N2; ++n) {
    BOOST_TEST(lin[n] == std::complex<double>(-0.5, std::numbers::pi * n));
    const double N = 2.0 * N2;
    BOOST_TEST(std::abs(inv[n] - std::complex<double>(-0.5, N / std::numbers::pi * (N / (2 * n + 1.0) - 1))) < 1e-12);
    BOOST_TEST(real[n] == std::complex<double>(-(n + 1.0), 0.0));
    BOOST_TEST(std::abs(legs[n].real() + 0.5) < 1e-12);
    BOOST_TEST(legs[n].imag() > 0.0);
  }
  // S4D-LegS B is V^* B of the LegS NPLR form.
  const auto b = s4d_input_gains(S4DInit::legs, N2);
  const NPLR f = nplr(Measure::legs, 2 * N2);
  for (int n = 0; n < N2; ++n) BOOST_TEST(std::abs(b[n] - f.B(n)) < 1e-14);

  S4DInitOptions o;
  o.seed = 7;
  o.dt_min = 1e-3;
  o.dt_max = 1e-1;
  const DiagonalSSM m = s4d_init(S4DInit::inv, 5, N2, o);
  BOOST_TEST(m.H == 5);
  BOOST_TEST(m.A.size() == 5u * N2);
  for (int h = 0; h < 5; ++h) {
    BOOST_TEST(m.dt(h) >= 1e-3 * (1 - 1e-12));
    BOOST_TEST(m.dt(h) <= 1e-1 * (1 + 1e-12));
    BOOST_TEST(m.a(h, 3) == inv[3]);
    BOOST_TEST(m.b(h, 3) == std::complex<double>(1.0, 0.0));
  }
  const DiagonalSSM m2 = s4d_init(S4DInit::inv, 5, N2, o);
  BOOST_TEST(m2.C.re == m.C.re);  // deterministic per seed
  o.seed = 8;
  BOOST_TEST(s4d_init(S4DInit::inv, 5, N2, o).C.re != m.C.re);
  BOOST_CHECK_THROW(s4d_init(S4DInit::lin, 0, 4), Error);
  o.dt_max = 1e-4;
  BOOST_CHECK_THROW(s4d_init(S4DInit::lin, 2, 4, o), Error);
  BOOST_CHECK_THROW(parse_s4d_init("foo"), Error);
}
