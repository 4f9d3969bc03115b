// selective_state_update on the CPU: against a float64 reference written from FORMAT.md
// (real and complex A, groups, optional D / z / dt_bias / softplus), float32 vs float64,
// real-time safety of the unvalidated step, and argument validation.
#define BOOST_TEST_MODULE scan_state_update
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <complex>
#include <random>
#include <vector>

#include "ssm/core/error.hpp"
#include "ssm/scan/state_update.hpp"
#include "support/rt_guard.hpp"
#include "support/testing.hpp"

using namespace ssm;
using cd = std::complex<double>;

namespace {

struct Step {
  int Bt = 2, Dm = 8, N = 16, G = 1;
  bool cplx = false, softplus = true, has_D = true, has_z = true, has_bias = true;
  std::vector<double> state, x, dt, z, A, B, C, D, bias;

  void fill(std::uint64_t seed) {
    std::mt19937_64 g(seed);
    std::normal_distribution<double> nd(0, 1);
    std::uniform_real_distribution<double> ud(0, 1);
    const int S = cplx ? 2 : 1;
    auto randv = [&](std::size_t n) {
      std::vector<double> v(n);
      for (auto& e : v) e = nd(g);
      return v;
    };
    state = randv(static_cast<std::size_t>(Bt) * Dm * N * S);
    x = randv(static_cast<std::size_t>(Bt) * Dm);
    dt.resize(x.size());
    for (auto& e : dt) e = softplus ? nd(g) - 1.0 : 0.01 + 0.3 * ud(g);
    z = randv(x.size());
    A.resize(static_cast<std::size_t>(Dm) * N * S);
    for (std::size_t i = 0; i < static_cast<std::size_t>(Dm) * N; ++i) {
      if (cplx) { A[2 * i] = -(0.1 + ud(g)); A[2 * i + 1] = 4 * nd(g); }
      else A[i] = -(0.1 + 5 * ud(g));
    }
    B = randv(static_cast<std::size_t>(Bt) * G * N * S);
    C = randv(B.size());
    D = randv(static_cast<std::size_t>(Dm));
    bias = randv(static_cast<std::size_t>(Dm));
  }

  // Float64 reference; returns out, updates `st` (interleaved complex when cplx).
  std::vector<double> reference(std::vector<double>& st) const {
    std::vector<double> out(static_cast<std::size_t>(Bt) * Dm);
    const int Dg = Dm / G;
    auto at = [&](const std::vector<double>& v, std::size_t i) { return cplx ? cd(v[2 * i], v[2 * i + 1]) : cd(v[i], 0); };
    for (int b = 0; b < Bt; ++b)
      for (int d = 0; d < Dm; ++d) {
        const std::size_t bd = static_cast<std::size_t>(b) * Dm + d;
        double t = dt[bd] + (has_bias ? bias[d] : 0.0);
        if (softplus) t = std::log1p(std::exp(t));
        cd y = 0;
        for (int n = 0; n < N; ++n) {
          const std::size_t si = bd * N + n;
          const std::size_t gi = (static_cast<std::size_t>(b) * G + d / Dg) * N + n;
          cd h = std::exp(t * at(A, static_cast<std::size_t>(d) * N + n)) * at(st, si) + t * at(B, gi) * x[bd];
          y += at(C, gi) * h;
          if (cplx) { st[2 * si] = h.real(); st[2 * si + 1] = h.imag(); }
          else st[si] = h.real();
        }
        double r = cplx ? 2 * y.real() : y.real();
        if (has_D) r += D[d] * x[bd];
        if (has_z) r *= z[bd] / (1 + std::exp(-z[bd]));
        out[bd] = r;
      }
    return out;
  }
};

template <class T>
struct BoundStep {
  std::vector<T> state, x, dt, z, A, B, C, D, bias, out;
  SelectiveStateUpdateArgs<T> args;
  explicit BoundStep(const Step& s) {
    auto cv = [](const std::vector<double>& v) { return std::vector<T>(v.begin(), v.end()); };
    state = cv(s.state); x = cv(s.x); dt = cv(s.dt); z = cv(s.z); A = cv(s.A); B = cv(s.B);
    C = cv(s.C); D = cv(s.D); bias = cv(s.bias);
    out.assign(x.size(), T(-777));
    auto& a = args;
    a.batch = s.Bt; a.dim = s.Dm; a.dstate = s.N; a.groups = s.G; a.complex_A = s.cplx;
    a.dt_softplus = s.softplus; a.state = state.data(); a.x = x.data(); a.dt = dt.data();
    a.A = A.data(); a.B = B.data(); a.C = C.data();
    a.D = s.has_D ? D.data() : nullptr;
    a.z = s.has_z ? z.data() : nullptr;
    a.dt_bias = s.has_bias ? bias.data() : nullptr;
    a.out = out.data();
  }
};

template <class A, class B>
double worst(const A& got, const B& exp, double tol) {
  BOOST_REQUIRE_EQUAL(got.size(), exp.size());
  std::vector<double> g(got.begin(), got.end()), e(exp.begin(), exp.end());
  return ssm::test::worst_ratio(g.data(), e.data(), g.size(), tol, tol);
}

}  // namespace

BOOST_AUTO_TEST_CASE(matches_float64_reference) {
  struct V { bool cplx, softplus, D, z, bias; int G, N; };
  for (V v : {V{false, true, true, true, true, 1, 16}, V{true, true, true, true, true, 2, 4},
              V{false, false, false, false, false, 4, 5}, V{true, false, true, false, true, 8, 64}}) {
    Step s;
    s.cplx = v.cplx; s.softplus = v.softplus; s.has_D = v.D; s.has_z = v.z; s.has_bias = v.bias;
    s.G = v.G; s.N = v.N;
    s.fill(1 + v.G + v.N);
    std::vector<double> st = s.state;
    // Three consecutive steps with the same inputs: the state carries.
    BoundStep<float> f(s);
    BoundStep<double> d(s);
    for (int k = 0; k < 3; ++k) {
      const auto out = s.reference(st);
      selective_state_update(f.args);
      selective_state_update(d.args);
      BOOST_TEST_CONTEXT("cplx=" << v.cplx << " G=" << v.G << " N=" << v.N << " step " << k) {
        BOOST_TEST(worst(d.out, out, 1e-12) <= 1.0);
        BOOST_TEST(worst(d.state, st, 1e-12) <= 1.0);
        BOOST_TEST(worst(f.out, out, 1e-4) <= 1.0);
        BOOST_TEST(worst(f.state, st, 1e-4) <= 1.0);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(step_is_real_time_safe) {
  for (bool cplx : {false, true}) {
    Step s;
    s.cplx = cplx;
    s.fill(9);
    BoundStep<float> f(s);
    f.args.validate();
    ssm::test::RtGuard guard;
    for (int k = 0; k < 16; ++k) selective_state_update_cpu(f.args);
    const auto v = guard.stop();
    BOOST_TEST(v.clean(), "allocations " << v.allocations << " locks " << v.locks << " throws " << v.throws);
    for (float o : f.out) BOOST_TEST(std::isfinite(o));
  }
}

BOOST_AUTO_TEST_CASE(bad_arguments_raise_ssm_error) {
  Step s;
  s.Dm = 6; s.G = 3;
  s.fill(3);
  BoundStep<float> f(s);
  auto expect = [&](auto mutate, const char* what) {
    auto a = f.args;
    mutate(a);
    BOOST_CHECK_EXCEPTION(selective_state_update(a), ssm::Error, [&](const ssm::Error& e) {
      const std::string m = e.what();
      return m.find("selective_state_update") == 0 && m.find(what) != std::string::npos;
    });
  };
  using A = SelectiveStateUpdateArgs<float>;
  expect([](A& a) { a.batch = 0; }, "'batch'");
  expect([](A& a) { a.dim = 0; }, "'dim'");
  expect([](A& a) { a.dstate = -2; }, "'dstate'");
  expect([](A& a) { a.groups = 4; }, "'groups'");
  expect([](A& a) { a.state = nullptr; }, "'state'");
  expect([](A& a) { a.x = nullptr; }, "'x'");
  expect([](A& a) { a.dt = nullptr; }, "'dt'");
  expect([](A& a) { a.A = nullptr; }, "'A'");
  expect([](A& a) { a.B = nullptr; }, "'B'");
  expect([](A& a) { a.C = nullptr; }, "'C'");
  expect([](A& a) { a.out = nullptr; }, "'out'");
#ifndef SSM_WITH_CUDA
  BOOST_CHECK_THROW(selective_state_update(f.args, Device::cuda), ssm::Error);
#endif
}
