// Bidirectional selective scan on the CPU: the fused op against the unfused recipe (flip
// direction 1's inputs in time, two plain selective scans, flip back, add), on random shapes
// (L = 1, odd L, L not a multiple of the 64-step block, dstate 1..16, groups > 1, with and
// without D, z, delta_bias, h0, time-major strides), float and double; against a direct
// float64 transcription of the formula; one thread vs the team; named argument errors.
#define BOOST_TEST_MODULE scan_bidirectional_scan
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "ssm/core/error.hpp"
#include "ssm/scan/bidirectional_scan.hpp"
#include "ssm/scan/selective_scan.hpp"
#include "support/testing.hpp"
#include "bidirectional_problem.hpp"

using namespace ssm;

using namespace bidir_test;

namespace {

/// The unfused recipe in T: direction 0 by selective_scan; direction 1 by selective_scan on
/// time-flipped contiguous copies of its inputs (and of z), flipped back; summed and scaled.
template <class T>
void unfused(const Problem& p, std::vector<T>& out, std::vector<T> last[2]) {
  Data<T> d(p);
  const std::size_t nseq = p.n_seq();
  std::vector<T> part[2];
  for (int k = 0; k < 2; ++k) {
    std::vector<T> u(nseq), de(nseq), z(nseq), B(d.B[k].size()), C(d.C[k].size());
    for (int b = 0; b < p.Bt; ++b)
      for (int c = 0; c < p.Dm; ++c)
        for (int t = 0; t < p.L; ++t) {
          const int s = k == 0 ? t : p.L - 1 - t;
          const std::size_t o = (std::size_t(b) * p.Dm + c) * p.L + t;
          u[o] = d.u[k][p.at(b, c, s)];
          de[o] = d.delta[k][p.at(b, c, s)];
          z[o] = d.z[p.at(b, c, s)];
        }
    for (std::size_t r = 0; r < B.size() / p.L; ++r)
      for (int t = 0; t < p.L; ++t) {
        const int s = k == 0 ? t : p.L - 1 - t;
        B[r * p.L + t] = d.B[k][r * p.L + s];
        C[r * p.L + t] = d.C[k][r * p.L + s];
      }
    part[k].assign(nseq, T(0));
    last[k].assign(p.n_state(), T(0));
    SelectiveScanProblem<T> a;
    a.dstate = p.N; a.groups = p.G;
    a.delta_softplus = true;
    a.u = {u.data(), p.Bt, p.Dm, p.L}; a.delta = {de.data(), p.Bt, p.Dm, p.L};
    a.A = d.A[k].data(); a.B = B.data(); a.C = C.data();
    a.D = p.has_D ? d.D[k].data() : nullptr;
    if (p.has_z) a.z = {z.data(), p.Bt, p.Dm, p.L};
    a.delta_bias = p.has_bias ? d.bias[k].data() : nullptr;
    a.h0 = p.has_h0 ? d.h0[k].data() : nullptr;
    a.last_state = last[k].data();
    a.out = {part[k].data(), p.Bt, p.Dm, p.L};
    selective_scan(a, Device::cpu);
  }
  out.assign(nseq, T(0));
  for (int b = 0; b < p.Bt; ++b)
    for (int c = 0; c < p.Dm; ++c)
      for (int t = 0; t < p.L; ++t) {
        const std::size_t o = (std::size_t(b) * p.Dm + c) * p.L;
        out[p.at(b, c, t)] = T(p.scale) * (part[0][o + t] + part[1][o + (p.L - 1 - t)]);
      }
}

/// The formula of bidirectional_scan.hpp, directly, in float64.
void direct(const Problem& p, std::vector<double>& out, std::vector<double> last[2]) {
  out.assign(p.n_seq(), 0.0);
  const int Dg = p.Dm / p.G;
  for (int k = 0; k < 2; ++k) {
    last[k].assign(p.n_state(), 0.0);
    for (int b = 0; b < p.Bt; ++b)
      for (int c = 0; c < p.Dm; ++c) {
        const int g = c / Dg;
        std::vector<double> h(p.N, 0.0);
        if (p.has_h0)
          for (int n = 0; n < p.N; ++n) h[n] = p.h0[k][(std::size_t(b) * p.Dm + c) * p.N + n];
        for (int j = 0; j < p.L; ++j) {
          const int t = k == 0 ? j : p.L - 1 - j;
          double dt = p.delta[k][p.at(b, c, t)] + (p.has_bias ? p.bias[k][c] : 0.0);
          dt = std::log1p(std::exp(dt));
          const double uu = p.u[k][p.at(b, c, t)];
          double y = 0;
          for (int n = 0; n < p.N; ++n) {
            const std::size_t bo = ((std::size_t(b) * p.G + g) * p.N + n) * p.L + t;
            h[n] = std::exp(dt * p.A[k][std::size_t(c) * p.N + n]) * h[n] + dt * p.B[k][bo] * uu;
            y += p.C[k][bo] * h[n];
          }
          out[p.at(b, c, t)] += y + (p.has_D ? p.D[k][c] * uu : 0.0);
        }
        for (int n = 0; n < p.N; ++n) last[k][(std::size_t(b) * p.Dm + c) * p.N + n] = h[n];
      }
  }
  for (int b = 0; b < p.Bt; ++b)
    for (int c = 0; c < p.Dm; ++c)
      for (int t = 0; t < p.L; ++t) {
        double& o = out[p.at(b, c, t)];
        o *= p.scale;
        if (p.has_z) {
          const double zz = p.z[p.at(b, c, t)];
          o *= zz / (1 + std::exp(-zz));
        }
      }
}

template <class T, class U>
double worst(const std::vector<T>& got, const std::vector<U>& want, double atol, double rtol) {
  BOOST_REQUIRE_EQUAL(got.size(), want.size());
  double w = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double e = std::fabs(double(got[i]) - double(want[i])) / (atol + rtol * std::fabs(double(want[i])));
    w = std::fmax(w, std::isnan(e) ? INFINITY : e);
  }
  return w;
}

template <class T>
void check_problem(const Problem& p, const std::string& name) {
  const double tol = std::is_same_v<T, float> ? 2e-4 : 1e-10;
  Data<T> d(p);
  bidirectional_selective_scan(d.args(p), Device::cpu);
  std::vector<T> uo, ul[2];
  unfused<T>(p, uo, ul);
  std::vector<double> ro, rl[2];
  direct(p, ro, rl);
  BOOST_TEST_CONTEXT(name) {
    BOOST_TEST(worst(d.out, uo, tol, tol) <= 1.0);
    BOOST_TEST(worst(d.out, ro, tol, tol) <= 1.0);
    for (int k = 0; k < 2; ++k) {
      BOOST_TEST(worst(d.last[k], ul[k], tol, tol) <= 1.0);
      BOOST_TEST(worst(d.last[k], rl[k], tol, tol) <= 1.0);
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(fused_equals_unfused_and_formula_float) {
  int i = 0;
  for (const auto& p : problems()) check_problem<float>(p, "problem " + std::to_string(i++));
}

BOOST_AUTO_TEST_CASE(fused_equals_unfused_and_formula_double) {
  int i = 0;
  for (const auto& p : problems()) check_problem<double>(p, "problem " + std::to_string(i++));
}

BOOST_AUTO_TEST_CASE(one_thread_equals_team_bitwise) {
  for (const auto& p : problems()) {
    Data<float> a(p), b(p);
    bidirectional_selective_scan_cpu(a.args(p), BidirectionalScanCpuOptions{1});
    bidirectional_selective_scan_cpu(b.args(p), BidirectionalScanCpuOptions{4});
    BOOST_TEST(a.out == b.out);
    BOOST_TEST(a.last[1] == b.last[1]);
  }
}

BOOST_AUTO_TEST_CASE(h0_may_alias_last_state) {
  Problem p = problems()[2];
  Data<double> a(p), b(p);
  auto args = b.args(p);
  for (int k = 0; k < 2; ++k) {
    b.last[k] = b.h0[k];
    args.dir[k].h0 = b.last[k].data();
  }
  bidirectional_selective_scan(a.args(p), Device::cpu);
  bidirectional_selective_scan(args, Device::cpu);
  BOOST_TEST(a.out == b.out);
  BOOST_TEST(a.last[0] == b.last[0]);
  BOOST_TEST(a.last[1] == b.last[1]);
}

namespace {
void expect_error(const BidirectionalScanArgs<float>& a, const std::string& needle) {
  try {
    bidirectional_selective_scan(a, Device::cpu);
    BOOST_ERROR("no error for " << needle);
  } catch (const Error& e) {
    const std::string m = e.what();
    BOOST_TEST_INFO(m);
    BOOST_TEST(m.find("bidirectional_selective_scan") != std::string::npos);
    BOOST_TEST(m.find("'" + needle + "'") != std::string::npos);
  }
}
}  // namespace

BOOST_AUTO_TEST_CASE(bad_arguments_are_named) {
  Problem p = problems()[2];
  Data<float> d(p);
  auto good = d.args(p);
  { auto a = good; a.dir[1].B = nullptr; expect_error(a, "dir[1].B"); }
  { auto a = good; a.dir[0].delta = nullptr; expect_error(a, "dir[0].delta"); }
  { auto a = good; a.dir[1].A = nullptr; expect_error(a, "dir[1].A"); }
  { auto a = good; a.out = nullptr; expect_error(a, "out"); }
  { auto a = good; a.groups = 5; expect_error(a, "groups"); }
  { auto a = good; a.dstate = 0; expect_error(a, "dstate"); }
  { auto a = good; a.length = 0; expect_error(a, "length"); }
  { auto a = good; a.out_strides = Strides3{p.Dm * p.L, 0, 1}; expect_error(a, "out_strides"); }
  { auto a = good; a.dir[1].u_strides = Strides3{-1, 1, 1}; expect_error(a, "dir[1].u_strides"); }
  { auto a = good; a.out_scale = NAN; expect_error(a, "out_scale"); }
  {
    BidirectionalScanCpuOptions o;
    o.threads = -1;
    BOOST_CHECK_THROW(bidirectional_selective_scan_cpu(good, o), Error);
  }
#ifndef SSM_WITH_CUDA
  BOOST_CHECK_THROW(bidirectional_selective_scan(good, Device::cuda), Error);
#endif
}
