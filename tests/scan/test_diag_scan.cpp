// Diagonal LTI scan: every `diag_filter` conformance case of the case directory, in float32
// and float64, sequential and chunked-parallel; chunked vs sequential on long sequences;
// h0 carried across a split; validation.
#define BOOST_TEST_MODULE scan_diag_scan
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <filesystem>
#include <random>
#include <vector>

#include "ssm/core/error.hpp"
#include "ssm/io/safetensors.hpp"
#include "ssm/scan/diag_scan.hpp"
#include "support/testing.hpp"

using namespace ssm;

namespace {

struct Diag {
  int Bt = 2, H = 3, N = 8, L = 100;
  Method method = Method::zoh;
  std::vector<double> A, B, C, D, dt, u;

  void fill(std::uint64_t seed) {
    std::mt19937_64 g(seed);
    std::normal_distribution<double> nd(0, 1);
    std::uniform_real_distribution<double> ud(0, 1);
    const std::size_t hn = static_cast<std::size_t>(H) * N;
    A.resize(2 * hn); B.resize(2 * hn); C.resize(2 * hn);
    for (std::size_t i = 0; i < hn; ++i) {
      A[2 * i] = -0.5;  // S4D-Lin
      A[2 * i + 1] = M_PI * static_cast<double>(i % N);
      B[2 * i] = 1; B[2 * i + 1] = 0;
      C[2 * i] = nd(g); C[2 * i + 1] = nd(g);
    }
    D.resize(H); dt.resize(H);
    for (int h = 0; h < H; ++h) { D[h] = nd(g); dt[h] = std::exp(std::log(1e-3) + ud(g) * std::log(100.0)); }
    u.resize(static_cast<std::size_t>(Bt) * H * L);
    for (auto& x : u) x = nd(g);
  }
};

template <class T>
struct BoundDiag {
  std::vector<T> A, B, C, D, dt, u, y, h;
  DiagScanArgs<T> args;
  explicit BoundDiag(const Diag& p) {
    auto cv = [](const std::vector<double>& v) { return std::vector<T>(v.begin(), v.end()); };
    A = cv(p.A); B = cv(p.B); C = cv(p.C); D = cv(p.D); dt = cv(p.dt); u = cv(p.u);
    y.assign(u.size(), T(-777));
    h.assign(static_cast<std::size_t>(p.Bt) * p.H * p.N * 2, T(-777));
    auto& a = args;
    a.batch = p.Bt; a.channels = p.H; a.modes = p.N; a.length = p.L; a.method = p.method;
    a.A = A.data(); a.B = B.data(); a.C = C.data(); a.D = D.data(); a.dt = dt.data();
    a.u = u.data(); a.y = y.data(); a.last_state = h.data();
  }
};

// |got - exp| <= atol + rtol |exp| with complex pairs compared on the modulus (FORMAT.md).
double worst(const std::vector<double>& got, const std::vector<double>& exp, double atol,
             double rtol, bool complex) {
  BOOST_REQUIRE_EQUAL(got.size(), exp.size());
  double w = 0;
  const std::size_t step = complex ? 2 : 1;
  for (std::size_t i = 0; i + step - 1 < got.size(); i += step) {
    const double d = complex ? std::hypot(got[i] - exp[i], got[i + 1] - exp[i + 1]) : std::fabs(got[i] - exp[i]);
    const double m = complex ? std::hypot(exp[i], exp[i + 1]) : std::fabs(exp[i]);
    const double r = d / (atol + rtol * m);
    if (!(r <= w)) w = r;
  }
  return w;
}

template <class T>
std::vector<double> dbl(const std::vector<T>& v) { return {v.begin(), v.end()}; }

template <class T>
void run_case(const io::SafeTensors& st, const ScanCpuOptions& opts) {
  const auto us = st.info("u").shape;
  auto cv = [&](const std::string& n) { const auto v = st.to_double(n); return std::vector<T>(v.begin(), v.end()); };
  const auto A = cv("A"), B = cv("B"), C = cv("C"), D = cv("D"), dt = cv("dt"), u = cv("u");
  DiagScanArgs<T> a;
  a.batch = static_cast<int>(us.at(0));
  a.channels = static_cast<int>(us.at(1));
  a.length = static_cast<int>(us.at(2));
  a.modes = static_cast<int>(st.info("A").shape.at(1));
  a.method = parse_method(st.meta("method"));
  if (a.method == Method::gbt) a.alpha = st.meta_double("alpha");
  std::vector<T> y(u.size()), h(static_cast<std::size_t>(a.batch) * a.channels * a.modes * 2);
  a.A = A.data(); a.B = B.data(); a.C = C.data(); a.D = st.has("D") ? D.data() : nullptr;
  a.dt = dt.data(); a.u = u.data(); a.y = y.data(); a.last_state = h.data();
  diag_scan_cpu(a, opts);
  const double rtol = st.meta_double("rtol"), atol = st.meta_double("atol");
  const double atol_y = st.metadata().count("atol.y") ? st.meta_double("atol.y") : atol;
  const double atol_h = st.metadata().count("atol.h") ? st.meta_double("atol.h") : atol;
  BOOST_TEST(worst(dbl(y), st.to_double("expected.y"), atol_y, rtol, false) <= 1.0);
  BOOST_TEST(worst(dbl(h), st.to_double("expected.h"), atol_h, rtol, true) <= 1.0);
}

}  // namespace

BOOST_AUTO_TEST_CASE(diag_filter_conformance_cases) {
  const std::string dir = ssm::test::conformance_dir();
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ".safetensors") continue;
    const auto st = io::SafeTensors::load(e.path().string());
    if (st.meta("op") != "diag_filter") continue;
    ++n;
    for (const ScanCpuOptions& o : {ScanCpuOptions{}, ScanCpuOptions{2, 37}, ScanCpuOptions{1, 1}})
      BOOST_TEST_CONTEXT(e.path().filename().string() << " threads=" << o.threads << " chunk=" << o.time_chunk) {
        run_case<float>(st, o);
        run_case<double>(st, o);
      }
  }
  BOOST_TEST(n > 0, "no diag_filter cases in " << dir);
}

BOOST_AUTO_TEST_CASE(chunked_parallel_equals_sequential) {
  for (Method m : {Method::zoh, Method::bilinear, Method::backward_diff}) {
    Diag p;
    p.Bt = 1; p.H = 1; p.L = 5003; p.method = m;
    p.fill(17);
    BoundDiag<double> seq(p);
    diag_scan_cpu(seq.args, {1, 0});
    for (ScanCpuOptions o : {ScanCpuOptions{2, 0}, ScanCpuOptions{3, 0}, ScanCpuOptions{2, 1000}, ScanCpuOptions{2, 4999}}) {
      BoundDiag<double> par(p);
      diag_scan_cpu(par.args, o);
      BOOST_TEST(worst(dbl(par.y), dbl(seq.y), 1e-10, 1e-10, false) <= 1.0);
      BOOST_TEST(worst(dbl(par.h), dbl(seq.h), 1e-10, 1e-10, true) <= 1.0);
      BoundDiag<float> pf(p);
      diag_scan_cpu(pf.args, o);
      BOOST_TEST(worst(dbl(pf.y), dbl(seq.y), 1e-4, 1e-4, false) <= 1.0);
    }
  }
}

BOOST_AUTO_TEST_CASE(split_with_h0_carried) {
  Diag p;
  p.L = 301;
  p.fill(23);
  BoundDiag<float> whole(p);
  diag_scan(whole.args);
  BoundDiag<float> parts(p);
  std::vector<float> state(parts.h.size());
  const Strides3 full{static_cast<std::ptrdiff_t>(p.H) * p.L, p.L, 1};
  int t0 = 0;
  for (int len : {1, 150, 150}) {
    auto a = parts.args;
    a.length = len;
    a.u = parts.u.data() + t0; a.y = parts.y.data() + t0;
    a.u_strides = a.y_strides = full;
    a.h0 = t0 == 0 ? nullptr : state.data();
    a.last_state = state.data();
    diag_scan(a);
    t0 += len;
  }
  BOOST_TEST(worst(dbl(parts.y), dbl(whole.y), 1e-5, 1e-5, false) <= 1.0);
  BOOST_TEST(worst(dbl(state), dbl(whole.h), 1e-5, 1e-5, true) <= 1.0);
}

BOOST_AUTO_TEST_CASE(bad_arguments_raise_ssm_error) {
  Diag p;
  p.fill(5);
  BoundDiag<float> bd(p);
  auto expect = [&](auto mutate, const char* what) {
    auto a = bd.args;
    auto dt = bd.dt;
    auto A = bd.A;
    a.dt = dt.data();
    a.A = A.data();
    mutate(a, dt, A);
    BOOST_CHECK_EXCEPTION(diag_scan(a), ssm::Error, [&](const ssm::Error& e) {
      const std::string m = e.what();
      return m.find("diag_scan") == 0 && m.find(what) != std::string::npos;
    });
  };
  using A = DiagScanArgs<float>;
  using V = std::vector<float>;
  expect([](A& a, V&, V&) { a.batch = 0; }, "'batch'");
  expect([](A& a, V&, V&) { a.modes = 0; }, "'modes'");
  expect([](A& a, V&, V&) { a.length = 0; }, "'length'");
  expect([](A& a, V&, V&) { a.method = Method::foh; }, "'method'");
  expect([](A& a, V&, V&) { a.method = Method::gbt; a.alpha = 1.5; }, "'alpha'");
  expect([](A& a, V&, V&) { a.u = nullptr; }, "'u'");
  expect([](A& a, V&, V&) { a.y = nullptr; }, "'y'");
  expect([](A& a, V&, V&) { a.y_strides = {0, 0, 1}; }, "'y_strides'");
  expect([](A&, V& dt, V&) { dt[1] = 0.0f; }, "'dt'");
  expect([](A&, V& dt, V&) { dt[0] = -1e-3f; }, "'dt'");
  expect([](A&, V&, V& Av) { Av[3] = NAN; }, "'A'");
#ifndef SSM_WITH_CUDA
  BOOST_CHECK_THROW(diag_scan(bd.args, Device::cuda), ssm::Error);
#endif
}
