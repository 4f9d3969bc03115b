#define BOOST_TEST_MODULE dense_filter
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "ssm/continuous/hippo.hpp"
#include "ssm/core/error.hpp"
#include "ssm/stream/dense_filter.hpp"
#include "support/rt_guard.hpp"
#include "support/testing.hpp"

using namespace ssm;

namespace {
ContinuousSystem mimo() {
  const auto t = hippo::legs(8);
  ContinuousSystem s{t.A, Eigen::MatrixXd(8, 2), Eigen::MatrixXd(3, 8), Eigen::MatrixXd(3, 2)};
  s.B << t.B, t.B.reverse();
  std::srand(5);
  s.C = Eigen::MatrixXd::Random(3, 8);
  s.D = Eigen::MatrixXd::Random(3, 2);
  return s;
}
}  // namespace

BOOST_AUTO_TEST_CASE(stream_matches_direct_recurrence_both_conventions) {
  const auto sys = mimo();
  const auto u = ssm::test::randn(2 * 300, 11);
  for (auto conv : {Convention::ssm, Convention::control}) {
    for (auto m : {Method::zoh, Method::bilinear, Method::backward_diff}) {
      DenseFilter<double> f(sys, {m, conv});
      f.prepare_dt(0.01, 17);
      const auto d = f.discrete();
      Eigen::VectorXd x = Eigen::VectorXd::Zero(8);
      double worst = 0;
      for (int k = 0; k < 300; ++k) {
        Eigen::Map<const Eigen::Vector2d> uk(&u[2 * k]);
        double y[3];
        f.process_mono(&u[2 * k], y, 1);
        Eigen::Vector3d ref;
        if (conv == Convention::control) { ref = d.Cd * x + d.Dd * uk; x = d.Ad * x + d.Bd * uk; }
        else { x = d.Ad * x + d.Bd * uk; ref = d.Cd * x + d.Dd * uk; }
        for (int p = 0; p < 3; ++p) worst = std::max(worst, std::fabs(y[p] - ref(p)));
      }
      BOOST_TEST(worst < 1e-12);
    }
  }
}

BOOST_AUTO_TEST_CASE(float_matches_double_and_blocks_match_samples) {
  const auto sys = mimo();
  const auto ud = ssm::test::randn(2 * 1000, 3);
  const std::vector<float> uf(ud.begin(), ud.end());
  DenseFilter<double> fd(sys, {Method::bilinear, Convention::ssm});
  DenseFilter<float> fs(sys, {Method::bilinear, Convention::ssm}), fb(sys, {Method::bilinear, Convention::ssm});
  fd.prepare({16000.0, 1});
  fs.prepare({16000.0, 1});
  fb.prepare({16000.0, 64});
  std::vector<double> yd(3000);
  std::vector<float> ys(3000), yb(3000);
  for (int k = 0; k < 1000; ++k) { fd.process_mono(&ud[2 * k], &yd[3 * k], 1); fs.process_mono(&uf[2 * k], &ys[3 * k], 1); }
  for (int k = 0; k < 1000;) {
    const int n = std::min(1000 - k, 1 + (k * 7) % 64);  // ragged block sizes 1..64
    fb.process_mono(&uf[2 * k], &yb[3 * k], n);
    k += n;
  }
  BOOST_TEST(ssm::test::max_abs_diff(ys, yb) == 0.0);
  BOOST_TEST(ssm::test::max_abs_diff(ys, yd) < 1e-4);
}

BOOST_AUTO_TEST_CASE(state_get_set_reset_restore_exactly) {
  DenseFilter<float> f(mimo(), {Method::zoh, Convention::ssm});
  f.prepare({48000.0, 32});
  const auto u = ssm::test::randn_f(2 * 64, 9);
  std::vector<float> y1(3 * 32), y2(3 * 32);
  f.process_mono(u.data(), y1.data(), 32);
  const std::vector<float> snap(f.channel_state().begin(), f.channel_state().end());
  f.process_mono(u.data() + 64, y1.data(), 32);
  BOOST_TEST(f.set_channel_state(snap));
  f.process_mono(u.data() + 64, y2.data(), 32);
  BOOST_TEST(y1 == y2, boost::test_tools::per_element());
  BOOST_TEST(!f.set_channel_state(std::vector<float>(3)));  // wrong size: refused, unchanged
  std::vector<float> bad = snap;
  bad[2] = NAN;
  BOOST_TEST(!f.set_channel_state(bad));  // non-finite: refused, unchanged
  f.reset();
  for (float v : f.channel_state()) BOOST_TEST(v == 0.0f);
  f.set_initial_state(snap);
  f.process_mono(u.data(), y1.data(), 4);
  f.reset();
  BOOST_TEST(std::vector<float>(f.channel_state().begin(), f.channel_state().end()) == snap, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(sample_rate_change_rediscretizes) {
  // The same continuous LegT system at 16 kHz and 48 kHz gives the same response to a smooth
  // input at shared instants (every 3rd sample at 48 kHz); bilinear error is O(dt^2).
  const int N = 16;
  Eigen::RowVectorXd C = Eigen::RowVectorXd::Ones(N);
  DenseFilter<double> f(hippo::system(hippo::Measure::legt, N, C, 0.0, 0.01), {Method::bilinear, Convention::ssm});
  auto run = [&](double rate, int n) {
    f.prepare({rate, 1});
    f.reset();
    std::vector<double> y(n);
    for (int k = 0; k < n; ++k) {
      const double u = std::sin(2 * M_PI * 50.0 * k / rate);
      f.process_mono(&u, &y[k], 1);
    }
    return y;
  };
  const auto y16 = run(16000.0, 1600), y48 = run(48000.0, 4800);
  BOOST_TEST(f.dt() == 1.0 / 48000.0);
  double worst = 0, peak = 0;
  for (int k = 0; k < 1600; ++k) { worst = std::max(worst, std::fabs(y16[k] - y48[3 * k])); peak = std::max(peak, std::fabs(y48[3 * k])); }
  BOOST_TEST(worst < 0.01 * peak);
}

BOOST_AUTO_TEST_CASE(process_reset_set_state_are_real_time_safe) {
  DenseFilter<float> f(mimo(), {Method::bilinear, Convention::control});
  f.prepare({48000.0, 256});
  const auto u = ssm::test::randn_f(2 * 256, 1);
  std::vector<float> y(3 * 256);
  const std::vector<float> s(8, 0.5f);
  ssm::test::RtGuard g;
  f.process_mono(u.data(), y.data(), 1);
  f.process_mono(u.data(), y.data(), 256);
  f.reset();
  f.set_channel_state(s);
  f.process_mono(u.data(), y.data(), 7);
  const auto v = g.stop();
  BOOST_TEST(v.allocations == 0u);
  BOOST_TEST(v.locks == 0u);
  BOOST_TEST(v.throws == 0u);
  BOOST_TEST(v.writes == 0u);
}

BOOST_AUTO_TEST_CASE(rt_guard_detects_violations) {
  // The guard itself must be able to fail, or the test above proves nothing.
  ssm::test::RtGuard g;
  auto* p = new int(3);
  delete p;
  try { throw std::runtime_error("x"); } catch (...) {}
  const auto v = g.stop();
  BOOST_TEST(v.allocations >= 1u);
  if (ssm::test::rt_guard_intercepts_malloc()) {  // throw/malloc/lock interposers (not under ASan/TSan)
    if (ssm::test::rt_guard_intercepts_throw()) BOOST_TEST(v.throws == 1u);
    ssm::test::RtGuard g2;
    void* volatile m = std::malloc(16);
    std::free(m);
    BOOST_TEST(g2.stop().allocations == 1u);
  }
}

BOOST_AUTO_TEST_CASE(bad_arguments_and_unprepared_filter) {
  auto sys = mimo();
  DenseFilter<float> f(sys, {Method::zoh, Convention::ssm});
  float u[2] = {1, 1}, y[3] = {9, 9, 9};
  f.process_mono(u, y, 1);  // not prepared: silence, no crash
  BOOST_TEST(y[0] == 0.0f);
  BOOST_CHECK_THROW(f.prepare({0.0, 64}), Error);
  BOOST_CHECK_THROW(f.prepare({48000.0, 0}), Error);
  BOOST_CHECK_THROW(f.prepare_dt(-1.0, 8), Error);
  BOOST_CHECK_THROW(f.set_initial_state(std::vector<float>(7)), Error);
  sys.A(0, 0) = INFINITY;
  BOOST_CHECK_THROW((DenseFilter<float>(sys, {})), Error);
  BOOST_CHECK_THROW((DenseFilter<float>(mimo(), {Method::foh, Convention::ssm})), Error);
}
