// Selective scan (S6) on the CPU: against a float64 reference written from FORMAT.md, against
// L single steps, split sequences, chunked-parallel vs sequential, complex A, groups, strides,
// the streaming wrapper, and argument validation.
#define BOOST_TEST_MODULE scan_selective_scan
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <complex>
#include <random>
#include <vector>

#include "core/activations.hpp"
#include "ssm/core/error.hpp"
#include "ssm/scan/selective_scan.hpp"
#include "ssm/scan/state_update.hpp"
#include "support/testing.hpp"

using namespace ssm;
using cd = std::complex<double>;

namespace {

struct Problem {
  int Bt = 2, Dm = 8, N = 16, L = 100, G = 1;
  bool cplx = false, bvar = true, cvar = true, softplus = true;
  bool has_D = true, has_z = true, has_bias = true, has_h0 = false;
  std::vector<double> u, delta, A, B, C, D, z, bias, h0;

  int S() const { return cplx ? 2 : 1; }
  std::size_t n_state() const { return static_cast<std::size_t>(Bt) * Dm * N * S(); }
  std::size_t n_seq() const { return static_cast<std::size_t>(Bt) * Dm * L; }
  std::size_t n_B(bool var) const {
    return (var ? static_cast<std::size_t>(Bt) * G * N * L : static_cast<std::size_t>(Dm) * N) * S();
  }

  void fill(std::uint64_t seed) {
    std::mt19937_64 g(seed);
    std::normal_distribution<double> nd(0, 1);
    std::uniform_real_distribution<double> ud(0, 1);
    auto randv = [&](std::size_t n, double scale) {
      std::vector<double> v(n);
      for (auto& x : v) x = scale * nd(g);
      return v;
    };
    u = randv(n_seq(), 1.0);
    delta.resize(n_seq());
    for (auto& x : delta) x = softplus ? 0.5 * nd(g) - 1.0 : 0.01 + 0.2 * ud(g);
    A.resize(static_cast<std::size_t>(Dm) * N * S());
    for (int d = 0; d < Dm; ++d)
      for (int n = 0; n < N; ++n) {
        const std::size_t i = static_cast<std::size_t>(d) * N + n;
        if (!cplx) A[i] = -(0.5 + n + ud(g));
        else { A[2 * i] = -(0.2 + ud(g)); A[2 * i + 1] = 3.0 * nd(g); }
      }
    B = randv(n_B(bvar), 1.0);
    C = randv(n_B(cvar), 1.0);
    D = randv(static_cast<std::size_t>(Dm), 1.0);
    z = randv(n_seq(), 1.0);
    bias = randv(static_cast<std::size_t>(Dm), 0.3);
    h0 = randv(n_state(), 1.0);
  }
};

// Complex value of parameter `v` at flat index i (real when !cplx).
cd at(const std::vector<double>& v, std::size_t i, bool cplx) {
  return cplx ? cd(v[2 * i], v[2 * i + 1]) : cd(v[i], 0.0);
}

// The float64 reference: FORMAT.md's formulas, one loop per symbol, from step t0 to t1 with
// state `h` (complex, (Bt,Dm,N)); writes out over [t0, t1).
struct RefResult {
  std::vector<double> out, last_state;
};
RefResult reference(const Problem& p) {
  RefResult r;
  r.out.assign(p.n_seq(), 0.0);
  std::vector<cd> h(static_cast<std::size_t>(p.Bt) * p.Dm * p.N);
  const int Dg = p.Dm / p.G;
  for (int b = 0; b < p.Bt; ++b)
    for (int d = 0; d < p.Dm; ++d) {
      const int g = d / Dg;
      cd* hs = h.data() + (static_cast<std::size_t>(b) * p.Dm + d) * p.N;
      for (int n = 0; n < p.N; ++n)
        hs[n] = p.has_h0 ? at(p.h0, (static_cast<std::size_t>(b) * p.Dm + d) * p.N + n, p.cplx) : cd(0);
      for (int t = 0; t < p.L; ++t) {
        const std::size_t i = (static_cast<std::size_t>(b) * p.Dm + d) * p.L + t;
        double dt = p.delta[i] + (p.has_bias ? p.bias[d] : 0.0);
        if (p.softplus) dt = std::log1p(std::exp(dt));
        cd y = 0;
        for (int n = 0; n < p.N; ++n) {
          const cd a = at(p.A, static_cast<std::size_t>(d) * p.N + n, p.cplx);
          const std::size_t vi = ((static_cast<std::size_t>(b) * p.G + g) * p.N + n) * p.L + t;
          const std::size_t fi = static_cast<std::size_t>(d) * p.N + n;
          const cd Bt = at(p.B, p.bvar ? vi : fi, p.cplx);
          const cd Ct = at(p.C, p.cvar ? vi : fi, p.cplx);
          hs[n] = std::exp(dt * a) * hs[n] + dt * Bt * p.u[i];
          y += Ct * hs[n];
        }
        double yr = p.cplx ? 2.0 * y.real() : y.real();
        if (p.has_D) yr += p.D[d] * p.u[i];
        if (p.has_z) yr *= p.z[i] / (1.0 + std::exp(-p.z[i]));
        r.out[i] = yr;
      }
    }
  for (const cd& v : h) {
    r.last_state.push_back(v.real());
    if (p.cplx) r.last_state.push_back(v.imag());
  }
  return r;
}

// The problem's arrays in precision T plus the scan problem pointing at them.
template <class T>
struct Bound {
  std::vector<T> u, delta, A, B, C, D, z, bias, h0, out, last;
  SelectiveScanProblem<T> args;
  explicit Bound(const Problem& p) {
    auto cv = [](const std::vector<double>& v) { return std::vector<T>(v.begin(), v.end()); };
    u = cv(p.u); delta = cv(p.delta); A = cv(p.A); B = cv(p.B); C = cv(p.C);
    D = cv(p.D); z = cv(p.z); bias = cv(p.bias); h0 = cv(p.h0);
    out.assign(p.n_seq(), T(-777));
    last.assign(p.n_state(), T(-777));
    auto& a = args;
    a.dstate = p.N; a.groups = p.G;
    a.complex = p.cplx; a.delta_softplus = p.softplus;
    a.u = {u.data(), p.Bt, p.Dm, p.L};
    a.delta = {delta.data(), p.Bt, p.Dm, p.L};
    a.A = A.data();
    a.B = {B.data(), !p.bvar};
    a.C = {C.data(), !p.cvar};
    a.D = p.has_D ? D.data() : nullptr;
    if (p.has_z) a.z = {z.data(), p.Bt, p.Dm, p.L};
    a.delta_bias = p.has_bias ? bias.data() : nullptr;
    a.h0 = p.has_h0 ? h0.data() : nullptr;
    a.out = {out.data(), p.Bt, p.Dm, p.L};
    a.last_state = last.data();
  }
};

template <class A, class B>
double worst(const A& got, const B& exp, double atol, double rtol) {
  BOOST_REQUIRE_EQUAL(got.size(), exp.size());
  std::vector<double> g(got.begin(), got.end()), e(exp.begin(), exp.end());
  return ssm::test::worst_ratio(g.data(), e.data(), g.size(), atol, rtol);
}

template <class T>
void check_against_reference(const Problem& p, const ScanCpuOptions& opts, double tol) {
  const RefResult ref = reference(p);
  Bound<T> bd(p);
  selective_scan_cpu(bd.args, opts);
  BOOST_TEST(worst(bd.out, ref.out, tol, tol) <= 1.0);
  BOOST_TEST(worst(bd.last, ref.last_state, tol, tol) <= 1.0);
}

}  // namespace

BOOST_AUTO_TEST_CASE(matches_float64_reference_real_and_complex_f32_f64) {
  for (bool cplx : {false, true})
    for (int N : {4, 5, 8, 16, 32, 40}) {
      Problem p;
      p.N = N;
      p.cplx = cplx;
      p.L = 130;  // two full blocks of 64 and a partial one
      p.has_h0 = true;
      p.fill(100 + N + (cplx ? 1000 : 0));
      BOOST_TEST_CONTEXT("cplx=" << cplx << " N=" << N) {
        check_against_reference<double>(p, {}, 1e-10);
        check_against_reference<float>(p, {}, 2e-4);
      }
    }
}

BOOST_AUTO_TEST_CASE(options_off_fixed_B_C_and_groups) {
  struct V { bool bvar, cvar, softplus, D, z, bias; int G; };
  for (V v : {V{false, false, false, false, false, false, 1}, V{true, false, true, true, false, true, 4},
              V{false, true, false, true, true, false, 2}, V{true, true, true, false, true, true, 8}})
    for (bool cplx : {false, true}) {
      Problem p;
      p.Dm = 8; p.G = v.G; p.bvar = v.bvar; p.cvar = v.cvar; p.softplus = v.softplus;
      p.has_D = v.D; p.has_z = v.z; p.has_bias = v.bias; p.cplx = cplx; p.L = 77;
      p.fill(7 + v.G + (cplx ? 50 : 0));
      BOOST_TEST_CONTEXT("bvar=" << v.bvar << " cvar=" << v.cvar << " G=" << v.G << " cplx=" << cplx) {
        check_against_reference<double>(p, {}, 1e-10);
        check_against_reference<float>(p, {}, 2e-4);
      }
    }
}

BOOST_AUTO_TEST_CASE(length_one) {
  for (bool cplx : {false, true}) {
    Problem p;
    p.L = 1; p.cplx = cplx; p.has_h0 = true; p.G = 2;
    p.fill(3);
    check_against_reference<double>(p, {}, 1e-12);
    check_against_reference<float>(p, {}, 1e-4);
    check_against_reference<float>(p, ScanCpuOptions{2, 1}, 1e-4);
  }
}

BOOST_AUTO_TEST_CASE(chunked_parallel_equals_sequential) {
  for (bool cplx : {false, true}) {
    Problem p;
    p.Bt = 1; p.Dm = 3; p.L = 517; p.cplx = cplx; p.has_h0 = true; p.G = 3;
    p.fill(11 + cplx);
    for (bool f64 : {false, true}) {
      auto run = [&](auto tag, const ScanCpuOptions& o) {
        using T = decltype(tag);
        Bound<T> bd(p);
        selective_scan_cpu(bd.args, o);
        return std::make_pair(std::vector<double>(bd.out.begin(), bd.out.end()),
                              std::vector<double>(bd.last.begin(), bd.last.end()));
      };
      const auto seq = f64 ? run(double{}, {1, 0}) : run(float{}, {1, 0});
      // Chunk lengths that divide nothing (7, 100), one step, one block, L-1, and L itself.
      for (int chunk : {1, 7, 64, 100, 516, 517, 1000})
        for (int threads : {1, 2, 3}) {
          const auto par = f64 ? run(double{}, {threads, chunk}) : run(float{}, {threads, chunk});
          const double tol = f64 ? 1e-11 : 1e-4;
          BOOST_TEST_CONTEXT("f64=" << f64 << " cplx=" << cplx << " chunk=" << chunk << " threads=" << threads) {
            BOOST_TEST(worst(par.first, seq.first, tol, tol) <= 1.0);
            BOOST_TEST(worst(par.second, seq.second, tol, tol) <= 1.0);
          }
        }
    }
  }
  // The automatic split (batch*dim smaller than the team) agrees with the reference too.
  Problem p;
  p.Bt = 1; p.Dm = 1; p.L = 2000; p.fill(5);
  check_against_reference<float>(p, ScanCpuOptions{2, 0}, 2e-4);
  check_against_reference<double>(p, ScanCpuOptions{4, 0}, 1e-10);
}

BOOST_AUTO_TEST_CASE(scan_over_L_equals_L_single_steps) {
  for (bool cplx : {false, true})
    for (int G : {1, 2}) {
      Problem p;
      p.Bt = 2; p.Dm = 4; p.N = 8; p.L = 37; p.G = G; p.cplx = cplx; p.has_h0 = true;
      p.fill(21 + G + 10 * cplx);
      auto steps = [&](auto tag) {
        using T = decltype(tag);
        Bound<T> bd(p);
        selective_scan_cpu(bd.args, {});
        std::vector<T> state(bd.h0);
        std::vector<T> x(p.Bt * p.Dm), dt(p.Bt * p.Dm), z(p.Bt * p.Dm), out(p.Bt * p.Dm);
        const int S = p.S();
        std::vector<T> B(static_cast<std::size_t>(p.Bt) * G * p.N * S), C(B.size());
        SelectiveStateUpdateArgs<T> s;
        s.batch = p.Bt; s.dim = p.Dm; s.dstate = p.N; s.groups = G; s.complex_A = cplx;
        s.dt_softplus = p.softplus; s.state = state.data(); s.x = x.data(); s.dt = dt.data();
        s.A = bd.A.data(); s.B = B.data(); s.C = C.data(); s.D = bd.D.data(); s.z = z.data();
        s.dt_bias = bd.bias.data(); s.out = out.data();
        std::vector<T> out_steps(p.n_seq());
        for (int t = 0; t < p.L; ++t) {
          for (int i = 0; i < p.Bt * p.Dm; ++i) {
            x[i] = bd.u[static_cast<std::size_t>(i) * p.L + t];
            dt[i] = bd.delta[static_cast<std::size_t>(i) * p.L + t];
            z[i] = bd.z[static_cast<std::size_t>(i) * p.L + t];
          }
          for (int j = 0; j < p.Bt * G * p.N; ++j)
            for (int c = 0; c < S; ++c) {
              B[j * S + c] = bd.B[(static_cast<std::size_t>(j) * p.L + t) * S + c];
              C[j * S + c] = bd.C[(static_cast<std::size_t>(j) * p.L + t) * S + c];
            }
          selective_state_update(s);
          for (int i = 0; i < p.Bt * p.Dm; ++i) out_steps[static_cast<std::size_t>(i) * p.L + t] = out[i];
        }
        BOOST_TEST(worst(out_steps, bd.out, 1e-5, 1e-5) <= 1.0);
        BOOST_TEST(worst(state, bd.last, 1e-5, 1e-5) <= 1.0);
      };
      BOOST_TEST_CONTEXT("cplx=" << cplx << " G=" << G) {
        steps(float{});
        steps(double{});
      }
    }
}

BOOST_AUTO_TEST_CASE(split_in_two_with_h0_carried_and_streaming) {
  for (bool cplx : {false, true}) {
    Problem p;
    p.Bt = 2; p.Dm = 6; p.N = 16; p.L = 150; p.G = 2; p.cplx = cplx;
    p.fill(31 + cplx);
    Bound<float> whole(p);
    selective_scan_cpu(whole.args, {});
    // Split at t = 61: two scans over strided views of the same arrays (u, delta, z, out keep
    // their full-length strides; B and C are cut out into their own (Bt,G,N,len) arrays).
    const int S = p.S();
    auto cut = [&](const std::vector<float>& v, int t0, int len) {
      std::vector<float> r(static_cast<std::size_t>(p.Bt) * p.G * p.N * len * S);
      for (int j = 0; j < p.Bt * p.G * p.N; ++j)
        for (int t = 0; t < len; ++t)
          for (int c = 0; c < S; ++c)
            r[(static_cast<std::size_t>(j) * len + t) * S + c] = v[(static_cast<std::size_t>(j) * p.L + t0 + t) * S + c];
      return r;
    };
    Bound<float> parts(p);
    std::vector<float> mid(p.n_state());
    int t0 = 0;
    for (int len : {61, 89}) {
      auto a = parts.args;
      const Strides3 full{static_cast<std::ptrdiff_t>(p.Dm) * p.L, p.L, 1};
      a.u = {parts.u.data() + t0, p.Bt, p.Dm, len, full};
      a.delta = {parts.delta.data() + t0, p.Bt, p.Dm, len, full};
      a.z = {parts.z.data() + t0, p.Bt, p.Dm, len, full};
      a.out = {parts.out.data() + t0, p.Bt, p.Dm, len, full};
      const auto Bc = cut(parts.B, t0, len), Cc = cut(parts.C, t0, len);
      a.B = Bc.data(); a.C = Cc.data();
      a.h0 = t0 == 0 ? nullptr : mid.data();
      a.last_state = mid.data();  // aliasing h0 and last_state is allowed
      selective_scan(a);
      t0 += len;
    }
    BOOST_TEST(worst(parts.out, whole.out, 1e-5, 1e-5) <= 1.0);
    BOOST_TEST(worst(mid, whole.last, 1e-5, 1e-5) <= 1.0);

    // The streaming wrapper over uneven chunk sizes (1, 5, 64, rest).
    SelectiveScanStream<float> stream(p.Bt, p.Dm, p.N, cplx);
    Bound<float> st(p);
    t0 = 0;
    for (int len : {1, 5, 64, 80}) {
      auto a = st.args;
      const Strides3 full{static_cast<std::ptrdiff_t>(p.Dm) * p.L, p.L, 1};
      a.u = {st.u.data() + t0, p.Bt, p.Dm, len, full};
      a.delta = {st.delta.data() + t0, p.Bt, p.Dm, len, full};
      a.z = {st.z.data() + t0, p.Bt, p.Dm, len, full};
      a.out = {st.out.data() + t0, p.Bt, p.Dm, len, full};
      const auto Bc = cut(st.B, t0, len), Cc = cut(st.C, t0, len);
      a.B = Bc.data(); a.C = Cc.data();
      stream.process(a, ScanCpuOptions{2, 0});
      t0 += len;
    }
    BOOST_TEST(worst(st.out, whole.out, 1e-5, 1e-5) <= 1.0);
    BOOST_TEST(worst(std::vector<float>(stream.state(), stream.state() + stream.state_size()), whole.last, 1e-5, 1e-5) <= 1.0);
    stream.reset();
    for (std::size_t i = 0; i < stream.state_size(); ++i) BOOST_TEST(stream.state()[i] == 0.0f);
  }
}

BOOST_AUTO_TEST_CASE(strided_inputs_equal_contiguous) {
  Problem p;
  p.Bt = 2; p.Dm = 5; p.N = 16; p.L = 70;
  p.fill(41);
  Bound<float> ref(p);
  selective_scan_cpu(ref.args, {});
  // u and z stored (Bt, L, Dm) (channels last), out written (L, Bt, Dm); delta broadcast over
  // batch from a (Dm, L) array when both batch rows are equal.
  Problem q = p;
  for (int d = 0; d < p.Dm; ++d)
    for (int t = 0; t < p.L; ++t) q.delta[(static_cast<std::size_t>(p.Dm) + d) * p.L + t] = q.delta[static_cast<std::size_t>(d) * p.L + t];
  Bound<float> same(q);
  selective_scan_cpu(same.args, {});
  Bound<float> bd(q);
  std::vector<float> ut(q.n_seq()), zt(q.n_seq()), ot(q.n_seq(), -1.0f);
  for (int b = 0; b < p.Bt; ++b)
    for (int d = 0; d < p.Dm; ++d)
      for (int t = 0; t < p.L; ++t) {
        const std::size_t i = (static_cast<std::size_t>(b) * p.Dm + d) * p.L + t;
        ut[(static_cast<std::size_t>(b) * p.L + t) * p.Dm + d] = bd.u[i];
        zt[(static_cast<std::size_t>(b) * p.L + t) * p.Dm + d] = bd.z[i];
      }
  auto a = bd.args;
  const std::ptrdiff_t LD = std::ptrdiff_t(p.L) * p.Dm;
  a.u = {ut.data(), p.Bt, p.Dm, p.L, LD, 1, p.Dm};
  a.z = {zt.data(), p.Bt, p.Dm, p.L, LD, 1, p.Dm};
  a.delta = {a.delta.data, p.Bt, p.Dm, p.L, 0, p.L, 1};
  a.out = {ot.data(), p.Bt, p.Dm, p.L, p.Dm, 1, std::ptrdiff_t(p.Bt) * p.Dm};
  selective_scan_cpu(a, {});
  std::vector<float> back(q.n_seq());
  for (int b = 0; b < p.Bt; ++b)
    for (int d = 0; d < p.Dm; ++d)
      for (int t = 0; t < p.L; ++t)
        back[(static_cast<std::size_t>(b) * p.Dm + d) * p.L + t] = ot[(static_cast<std::size_t>(t) * p.Bt + b) * p.Dm + d];
  BOOST_TEST(ssm::test::max_abs_diff(back, same.out) == 0.0);  // same arithmetic, bit-identical
}

BOOST_AUTO_TEST_CASE(float32_close_to_float64) {
  Problem p;
  p.Bt = 2; p.Dm = 16; p.N = 16; p.L = 300; p.has_h0 = true;
  p.fill(51);
  Bound<float> f(p);
  Bound<double> d(p);
  selective_scan_cpu(f.args, {});
  selective_scan_cpu(d.args, {});
  BOOST_TEST(worst(f.out, d.out, 1e-4, 1e-4) <= 1.0);
  BOOST_TEST(worst(f.last, d.last, 1e-4, 1e-4) <= 1.0);
}

BOOST_AUTO_TEST_CASE(fast_math_accuracy) {
  using namespace ssm::detail::math;
  double worst_exp = 0, worst_sp = 0;
  for (double x = -103.0; x <= 88.7; x += 0.0137) {
    const float xf = static_cast<float>(x);
    const double e = std::exp(static_cast<double>(xf));
    if (e > 1.2e-38) worst_exp = std::max(worst_exp, std::fabs(exp_ps(xf) - e) / e);
    const double sp = std::log1p(std::exp(static_cast<double>(xf)));
    if (sp > 1.2e-38) worst_sp = std::max(worst_sp, std::fabs(softplus(xf) - sp) / sp);
  }
  BOOST_TEST(worst_exp < 4e-7);
  BOOST_TEST(worst_sp < 4e-7);
  BOOST_TEST(exp_ps(0.0f) == 1.0f);
  BOOST_TEST(std::isinf(exp_ps(89.0f)));
  BOOST_TEST(exp_ps(-200.0f) == 0.0f);
  BOOST_TEST(std::isnan(exp_ps(std::nanf(""))));
  BOOST_TEST(std::isinf(exp_ps(INFINITY)));
  BOOST_TEST(exp_ps(-INFINITY) == 0.0f);
}

BOOST_AUTO_TEST_CASE(bad_arguments_raise_ssm_error) {
  Problem p;
  p.Dm = 6; p.G = 2;
  p.fill(61);
  Bound<float> bd(p);
  auto expect_error = [&](auto mutate, const char* what) {
    auto a = bd.args;
    mutate(a);
    BOOST_CHECK_EXCEPTION(selective_scan(a), ssm::Error, [&](const ssm::Error& e) {
      const std::string m = e.what();
      const bool ok = m.find(what) != std::string::npos && m.find("selective_scan") == 0;
      if (!ok) BOOST_TEST_MESSAGE("message: " << m);
      return ok;
    });
  };
  using A = SelectiveScanProblem<float>;
  expect_error([](A& a) { a.u.batch = a.delta.batch = a.out.batch = 0; }, "'u'");
  expect_error([](A& a) { a.u.length = 0; }, "'u'");
  expect_error([](A& a) { a.dstate = 0; }, "'dstate'");
  expect_error([](A& a) { a.delta.length -= 1; }, "'delta'");
  expect_error([](A& a) { a.out.channels += 1; }, "'out'");
  expect_error([](A& a) { a.z = {a.delta.data, a.u.batch, a.u.channels, a.u.length - 1}; }, "'z'");
  expect_error([](A& a) { a.groups = 4; }, "'groups'");  // 6 % 4 != 0
  expect_error([](A& a) { a.groups = 0; }, "'groups'");
  expect_error([](A& a) { a.u.data = nullptr; }, "'u'");
  expect_error([](A& a) { a.delta.data = nullptr; }, "'delta'");
  expect_error([](A& a) { a.A = nullptr; }, "'A'");
  expect_error([](A& a) { a.B = nullptr; }, "'B'");
  expect_error([](A& a) { a.C = {nullptr, SelectiveBC<float>::fixed}; }, "'C'");
  expect_error([](A& a) { a.out.data = nullptr; }, "'out'");
  expect_error([](A& a) { a.u.stride_b = -1; }, "'u'");
  expect_error([](A& a) { a.out.stride_c = 0; }, "'out'");
#ifndef SSM_WITH_CUDA
  BOOST_CHECK_EXCEPTION(selective_scan(bd.args, Device::cuda), ssm::Error, [](const ssm::Error& e) {
    return std::string(e.what()).find("built without CUDA") != std::string::npos;
  });
#endif
  BOOST_CHECK_THROW(selective_scan_cpu(bd.args, ScanCpuOptions{-1, 0}), ssm::Error);
  BOOST_CHECK_THROW(selective_scan_cpu(bd.args, ScanCpuOptions{1, -3}), ssm::Error);
  BOOST_CHECK_THROW(SelectiveScanStream<float>(0, 4, 4, false), ssm::Error);
  SelectiveScanStream<float> s(p.Bt, p.Dm + 1, p.N, false);
  BOOST_CHECK_THROW(s.process(bd.args), ssm::Error);
}
