#define BOOST_TEST_MODULE kernels
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <complex>
#include <vector>

#include "ssm/continuous/hippo.hpp"
#include "ssm/continuous/s4d_init.hpp"
#include "ssm/conv/dense_kernel.hpp"
#include "ssm/conv/diag_kernel.hpp"
#include "ssm/conv/dplr_kernel.hpp"
#include "ssm/conv/hippo_kernel.hpp"
#include "ssm/core/error.hpp"
#include "support/testing.hpp"

using namespace ssm;
using hippo::Measure;

namespace {

// The real system of one channel: each complex mode becomes a 2x2 rotation-scaling block
// [[ar, -ai], [ai, ar]] on (Re x, Im x), B = (br, bi), C = (2 cr, -2 ci): then
// y = 2 Re(c x) = C_real x_real. Independent of the diagonal discretization code.
ContinuousSystem real_system(const DiagonalSSM& m, int h) {
  const int n2 = m.N2;
  Eigen::MatrixXd A = Eigen::MatrixXd::Zero(2 * n2, 2 * n2);
  Eigen::VectorXd B(2 * n2);
  Eigen::RowVectorXd C(2 * n2);
  for (int n = 0; n < n2; ++n) {
    const auto a = m.a(h, n), b = m.b(h, n), c = m.c(h, n);
    A(2 * n, 2 * n) = a.real();
    A(2 * n, 2 * n + 1) = -a.imag();
    A(2 * n + 1, 2 * n) = a.imag();
    A(2 * n + 1, 2 * n + 1) = a.real();
    B(2 * n) = b.real();
    B(2 * n + 1) = b.imag();
    C(2 * n) = 2 * c.real();
    C(2 * n + 1) = -2 * c.imag();
  }
  return make_siso(A, B, C, 0.0);
}

double max_abs(const Eigen::VectorXd& v) { return v.cwiseAbs().maxCoeff(); }

}  // namespace

BOOST_AUTO_TEST_CASE(diag_kernel_matches_dense_real_system) {
  for (S4DInit init : {S4DInit::lin, S4DInit::inv, S4DInit::legs, S4DInit::real}) {
    for (Method method : {Method::zoh, Method::bilinear}) {
      BOOST_TEST_CONTEXT("init " << to_string(init) << " method " << to_string(method)) {
        S4DInitOptions o;
        o.seed = 3;
        const DiagonalSSM m = s4d_init(init, 3, 8, o);
        const std::ptrdiff_t L = 700;
        const auto K64 = diag_kernel<double>(m, method, L);
        const auto K32 = diag_kernel<float>(m, method, L);
        for (int h = 0; h < m.H; ++h) {
          const Eigen::VectorXd ref = dense_kernel(real_system(m, h), m.dt(h), method, L);
          const double scale = max_abs(ref);
          double e64 = 0, e32 = 0;
          for (std::ptrdiff_t l = 0; l < L; ++l) {
            e64 = std::max(e64, std::abs(K64[h * L + l] - ref(l)));
            e32 = std::max(e32, std::abs(K32[h * L + l] - ref(l)));
          }
          BOOST_TEST(e64 <= 1e-12 * scale);
          BOOST_TEST(e32 <= 2e-6 * scale);
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(diag_kernel_float32_is_stable_over_long_lengths) {
  // Slowly decaying, fast rotating modes over 1M taps: float32 must not drift.
  DiagonalSSM m(1, 4);
  for (int n = 0; n < 4; ++n) {
    m.A.set(n, {-1e-4, 0.7 + n});
    m.B.set(n, {1.0, 0.0});
    m.C.set(n, {0.5, -0.25 * n});
  }
  m.set_dt(std::vector<double>{0.05});
  const std::ptrdiff_t L = 1 << 20;
  const auto K64 = diag_kernel<double>(m, Method::zoh, L);
  const auto K32 = diag_kernel<float>(m, Method::zoh, L);
  double scale = 0, err = 0;
  for (std::ptrdiff_t l = 0; l < L; ++l) {
    scale = std::max(scale, std::abs(K64[l]));
    err = std::max(err, std::abs(K32[l] - K64[l]));
  }
  BOOST_TEST(err <= 5e-6 * scale);
  // The float64 kernel against a long double evaluation at a few far taps.
  for (std::ptrdiff_t l : {std::ptrdiff_t(0), std::ptrdiff_t(12345), L - 1}) {
    long double acc = 0;
    for (int n = 0; n < 4; ++n) {
      std::complex<double> ad, bd;
      discretize_diag<double>(m.a(0, n), m.b(0, n), 0.05, Method::zoh, 0.0, ad, bd);
      const std::complex<long double> w = std::complex<long double>(m.c(0, n)) * std::complex<long double>(bd);
      const std::complex<long double> p = std::exp(static_cast<long double>(l) * 0.05L *
                                                   std::complex<long double>(m.a(0, n)));
      acc += 2 * (w * p).real();
    }
    BOOST_TEST(std::abs(K64[l] - static_cast<double>(acc)) <= 1e-10 * scale);
  }
}

BOOST_AUTO_TEST_CASE(diag_kernel_rejects_bad_input) {
  DiagonalSSM m(2, 3);
  BOOST_CHECK_THROW(diag_kernel<float>(m, Method::zoh, 0), Error);
  BOOST_CHECK_THROW(diag_kernel<float>(m, Method::foh, 8), Error);
  m.A.re[1] = NAN;
  BOOST_CHECK_THROW(diag_kernel<float>(m, Method::zoh, 8), Error);
  DiagonalSSM p(1, 1);
  p.A.set(0, {2.0, 0.0});  // pole at 1/(dt/2) for dt = 1: singular bilinear
  BOOST_CHECK_THROW(diag_kernel<double>(p, Method::bilinear, 8), Error);
}

BOOST_AUTO_TEST_CASE(dplr_equals_dense_bilinear) {
  struct Case { Measure m; int N; std::ptrdiff_t L; double dt; };
  const std::vector<Case> cases = {
      {Measure::legs, 64, 4096, 1e-2}, {Measure::legs, 64, 16384, 1e-3},
      {Measure::legt, 64, 4096, 1e-2}, {Measure::legt, 128, 8192, 1e-3},
      {Measure::lagt, 64, 4096, 1e-2}, {Measure::fout, 64, 4096, 1e-3},
      {Measure::legs, 256, 16384, 1e-3}, {Measure::fout, 256, 16384, 1e-3},
      {Measure::legs, 16, 1000, 0.1},  // odd L
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(hippo::to_string(c.m) << " N=" << c.N << " L=" << c.L << " dt=" << c.dt) {
      const auto r = test::randn(static_cast<std::size_t>(c.N), 11);
      const Eigen::RowVectorXd C = Eigen::Map<const Eigen::RowVectorXd>(r.data(), c.N);
      const Eigen::VectorXd Kd = hippo_kernel(c.m, c.N, C, c.dt, c.L, Method::bilinear, KernelAlgorithm::dense);
      const Eigen::VectorXd Kp = hippo_kernel(c.m, c.N, C, c.dt, c.L, Method::bilinear, KernelAlgorithm::dplr);
      const double err = (Kd - Kp).cwiseAbs().maxCoeff() / max_abs(Kd);
      BOOST_TEST_MESSAGE("relative max error " << err);
      BOOST_TEST(err <= 1e-7);
    }
  }
}

BOOST_AUTO_TEST_CASE(dplr_zoh_through_diagonalization) {
  for (Measure m : {Measure::legs, Measure::legt, Measure::fout}) {
    BOOST_TEST_CONTEXT(hippo::to_string(m)) {
      const int N = 16;
      const auto r = test::randn(N, 5);
      const Eigen::RowVectorXd C = Eigen::Map<const Eigen::RowVectorXd>(r.data(), N);
      const Eigen::VectorXd Kd = hippo_kernel(m, N, C, 1e-2, 2048, Method::zoh, KernelAlgorithm::dense);
      const Eigen::VectorXd Kp = hippo_kernel(m, N, C, 1e-2, 2048, Method::zoh, KernelAlgorithm::dplr);
      BOOST_TEST((Kd - Kp).cwiseAbs().maxCoeff() <= 1e-7 * max_abs(Kd));
    }
  }
  // LegS at N = 64: the eigenvector matrix is far too ill-conditioned, and LagT's A is a
  // single Jordan block (eigenvalue -1/2, not diagonalizable): refused, not wrong.
  const Eigen::RowVectorXd C = Eigen::RowVectorXd::Ones(64);
  BOOST_CHECK_THROW(hippo_kernel(Measure::lagt, 16, C.head(16), 1e-2, 64, Method::zoh, KernelAlgorithm::dplr), Error);
  BOOST_CHECK_THROW(hippo_kernel(Measure::legs, 64, C, 1e-2, 64, Method::zoh, KernelAlgorithm::dplr), Error);
}

// The automatic choice: dplr wherever dplr is accepted, dense exactly where dplr refuses; the
// automatic kernel equals the kernel of the algorithm it names, and is never refused.
BOOST_AUTO_TEST_CASE(automatic_algorithm_takes_dplr_where_it_is_accepted_and_dense_elsewhere) {
  for (Measure m : {Measure::legs, Measure::legt, Measure::lagt, Measure::fout})
    for (int N : {8, 16, 32, 64})
      for (Method meth : {Method::zoh, Method::bilinear}) {
        BOOST_TEST_CONTEXT(hippo::to_string(m) << " N=" << N << " " << to_string(meth)) {
          const auto r = test::randn(N, 9);
          const Eigen::RowVectorXd C = Eigen::Map<const Eigen::RowVectorXd>(r.data(), N);
          const KernelAlgorithm pick = resolve_kernel_algorithm(m, N, meth);
          BOOST_TEST((pick == KernelAlgorithm::dense || pick == KernelAlgorithm::dplr));
          bool dplr_ok = true;
          try {
            (void)hippo_kernel(m, N, C, 1e-2, 64, meth, KernelAlgorithm::dplr);
          } catch (const Error&) {
            dplr_ok = false;
          }
          BOOST_TEST(dplr_ok == (pick == KernelAlgorithm::dplr));
          const Eigen::VectorXd Ka = hippo_kernel(m, N, C, 1e-2, 64, meth, KernelAlgorithm::automatic);
          const Eigen::VectorXd Kp = hippo_kernel(m, N, C, 1e-2, 64, meth, pick);
          BOOST_TEST((Ka - Kp).cwiseAbs().maxCoeff() == 0.0);
        }
      }
  BOOST_TEST((resolve_kernel_algorithm(Measure::legs, 64, Method::zoh) == KernelAlgorithm::dense));
  BOOST_TEST((resolve_kernel_algorithm(Measure::legs, 64, Method::bilinear) == KernelAlgorithm::dplr));
  BOOST_TEST((parse_kernel_algorithm("auto") == KernelAlgorithm::automatic));
  BOOST_CHECK_THROW(parse_kernel_algorithm("fast"), Error);
}

BOOST_AUTO_TEST_CASE(dense_kernel_and_power_basics) {
  Eigen::MatrixXd M(2, 2);
  M << 0.5, 0.1, -0.2, 0.9;
  Eigen::MatrixXd P = Eigen::MatrixXd::Identity(2, 2);
  for (int i = 0; i < 13; ++i) P = P * M;
  BOOST_TEST((matrix_power(M, 13) - P).cwiseAbs().maxCoeff() < 1e-15);
  BOOST_TEST((matrix_power(M, 0) - Eigen::MatrixXd::Identity(2, 2)).cwiseAbs().maxCoeff() == 0.0);
  const Eigen::VectorXd K = dense_kernel(M, Eigen::Vector2d(1, 2), Eigen::RowVector2d(3, -1), 5);
  for (int l = 0; l < 5; ++l)
    BOOST_TEST(std::abs(K(l) - Eigen::RowVector2d(3, -1) * matrix_power(M, l) * Eigen::Vector2d(1, 2)) < 1e-14);
  BOOST_CHECK_THROW(dense_kernel(M, Eigen::Vector3d(1, 2, 3), Eigen::RowVector2d(3, -1), 5), Error);
  BOOST_CHECK_THROW(matrix_power(M, -1), Error);
}

BOOST_AUTO_TEST_CASE(hippo_kernel_rejects_bad_input) {
  const Eigen::RowVectorXd C = Eigen::RowVectorXd::Ones(8);
  BOOST_CHECK_THROW(hippo_kernel(Measure::legs, 8, C, 0.0, 16, Method::bilinear, KernelAlgorithm::dplr), Error);
  BOOST_CHECK_THROW(hippo_kernel(Measure::legs, 8, C, 0.1, 0, Method::bilinear, KernelAlgorithm::dplr), Error);
  BOOST_CHECK_THROW(hippo_kernel(Measure::legs, 9, C, 0.1, 16, Method::bilinear, KernelAlgorithm::dplr), Error);
  BOOST_CHECK_THROW(hippo_kernel(Measure::legs, 8, C, 0.1, 16, Method::euler, KernelAlgorithm::dense), Error);
  BOOST_CHECK_THROW(parse_kernel_algorithm("fast"), Error);
}

BOOST_AUTO_TEST_CASE(inverse_dft_roundtrip) {
  for (std::ptrdiff_t L : {1, 2, 7, 64, 1000}) {
    const auto x = test::randn(static_cast<std::size_t>(L), 2);
    Eigen::VectorXcd X(L / 2 + 1);
    for (std::ptrdiff_t k = 0; k <= L / 2; ++k) {
      std::complex<double> s = 0;
      for (std::ptrdiff_t l = 0; l < L; ++l)
        s += x[l] * std::polar(1.0, -2.0 * M_PI * double(k) * double(l) / double(L));
      X(k) = s;
    }
    const Eigen::VectorXd y = inverse_real_dft(X, L);
    for (std::ptrdiff_t l = 0; l < L; ++l) BOOST_TEST(std::abs(y(l) - x[l]) < 1e-10);
  }
}
