// The fused 2D cross-scan selective scan (ssm::cross_selective_scan) against the unfused recipe
// (explicit direction-ordered copies + ssm::selective_scan + merge) and against a direct
// float64 transcription of the definition; layouts (contiguous and channels-last strides as
// SS2DBlock passes them), H != W, H = 1, W = 1, odd sizes, L not a multiple of any block,
// h0 / last_state; determinism across thread counts; bad arguments named in the error.
#define BOOST_TEST_MODULE scan_cross_scan
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "ssm/core/error.hpp"
#include "ssm/scan/cross_scan.hpp"
#include "scan/cross_scan_problem.hpp"
#include "support/testing.hpp"

using namespace ssm;
using ssm::test::Problem;
using ssm::test::Shape;

namespace {

template <class T>
double worst(const std::vector<T>& a, const std::vector<double>& b, double atol, double rtol) {
  double w = a.size() == b.size() ? 0 : INFINITY;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    const double r = std::fabs(double(a[i]) - b[i]) / (atol + rtol * std::fabs(b[i]));
    if (!(r <= w)) w = r;
  }
  return w;
}
template <class T>
std::vector<double> dbl(const std::vector<T>& v) { return std::vector<double>(v.begin(), v.end()); }

const std::vector<Shape> kShapes = {
    {2, 16, 16, 7, 9, true},              // H != W, odd, channels-last (the layer's layout)
    {1, 5, 4, 1, 70, false},              // H = 1: columns of one pixel, L > one 64-step block
    {2, 19, 8, 67, 1, true},              // W = 1, dim not a multiple of the SIMD lanes
    {3, 8, 3, 5, 13, false, false, false, false},  // no h0 / D / bias, odd dstate
    {1, 33, 16, 11, 12, true},            // L = 132: not a multiple of 64 or 32
    {1, 1, 1, 1, 1, false},               // one pixel, one channel, one state
};

template <class T>
void check_all(double tol) {
  std::uint64_t seed = 1;
  for (const Shape& s : kShapes) {
    BOOST_TEST_CONTEXT("shape B=" << s.batch << " dim=" << s.dim << " N=" << s.dstate << " H=" << s.H
                                  << " W=" << s.W << " channels_last=" << s.channels_last) {
      Problem<T> fused(s, seed), unfused(s, seed);
      ++seed;
      cross_selective_scan(fused.args);
      cross_selective_scan_unfused(unfused.args);
      std::vector<double> ro, rl;
      fused.reference(ro, rl);
      BOOST_TEST(worst(fused.out, dbl(unfused.out), tol, tol) <= 1.0);
      BOOST_TEST(worst(fused.last, dbl(unfused.last), tol, tol) <= 1.0);
      BOOST_TEST(worst(fused.out, ro, tol, tol) <= 1.0);
      BOOST_TEST(worst(fused.last, rl, tol, tol) <= 1.0);
      BOOST_TEST(worst(unfused.out, ro, tol, tol) <= 1.0);
      // Something really was computed (not all zeros).
      BOOST_TEST(test::max_abs_diff(fused.out, std::vector<T>(fused.out.size(), T(0))) > 1e-3);
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(positions_are_a_permutation_per_direction) {
  for (auto [H, W] : {std::pair{3, 5}, {1, 7}, {6, 1}, {4, 4}}) {
    for (int k = 0; k < 4; ++k) {
      std::set<std::ptrdiff_t> seen;
      for (int l = 0; l < H * W; ++l) seen.insert(cross_scan_position(k, l, H, W));
      BOOST_TEST(seen.size() == std::size_t(H * W));
      BOOST_TEST(*seen.begin() == 0);
      BOOST_TEST(*seen.rbegin() == H * W - 1);
    }
    // direction 1 step 1 is the pixel below the first; 2 starts at the last pixel
    if (H > 1) BOOST_TEST(cross_scan_position(1, 1, H, W) == W);
    BOOST_TEST(cross_scan_position(2, 0, H, W) == H * W - 1);
    BOOST_TEST(cross_scan_position(3, H * W - 1, H, W) == 0);
  }
}

BOOST_AUTO_TEST_CASE(fused_equals_unfused_and_definition_f32) { check_all<float>(2e-4); }
BOOST_AUTO_TEST_CASE(fused_equals_unfused_and_definition_f64) { check_all<double>(1e-11); }

BOOST_AUTO_TEST_CASE(bit_identical_for_any_thread_count) {
  const Shape s{2, 40, 16, 9, 10, true};
  Problem<float> one(s, 7), many(s, 7);
  cross_selective_scan_cpu(one.args, ScanCpuOptions{1, 0});
  cross_selective_scan_cpu(many.args, ScanCpuOptions{4, 0});
  BOOST_TEST(one.out == many.out);
  BOOST_TEST(one.last == many.last);
}

BOOST_AUTO_TEST_CASE(h0_may_alias_last_state) {
  const Shape s{1, 8, 4, 3, 4, false};
  Problem<double> a(s, 3), b(s, 3);
  cross_selective_scan(a.args);
  b.last = b.h0;
  b.args.h0 = b.last.data();
  b.args.last_state = b.last.data();
  cross_selective_scan(b.args);
  BOOST_TEST(worst(b.last, dbl(a.last), 1e-12, 1e-12) <= 1.0);
}

namespace {
void expect_error(const CrossScanArgs<float>& a, const std::string& name) {
  try {
    cross_selective_scan(a);
    BOOST_ERROR("no error for bad '" << name << "'");
  } catch (const Error& e) {
    const std::string msg = e.what();
    BOOST_TEST(msg.find("'" + name + "'") != std::string::npos, msg);
  }
}
}  // namespace

BOOST_AUTO_TEST_CASE(bad_arguments_are_named) {
  Problem<float> p(Shape{1, 4, 4, 2, 3, false}, 1);
  auto a = p.args;
  a.height = 0; expect_error(a, "height");
  a = p.args; a.width = 0; expect_error(a, "width");
  a = p.args; a.dim = 0; expect_error(a, "dim");
  a = p.args; a.dstate = -1; expect_error(a, "dstate");
  a = p.args; a.batch = 0; expect_error(a, "batch");
  a = p.args; a.u = nullptr; expect_error(a, "u");
  a = p.args; a.delta = nullptr; expect_error(a, "delta");
  a = p.args; a.A = nullptr; expect_error(a, "A");
  a = p.args; a.B = nullptr; expect_error(a, "B");
  a = p.args; a.C = nullptr; expect_error(a, "C");
  a = p.args; a.out = nullptr; expect_error(a, "out");
  a = p.args; a.out_strides = Strides3{24, 0, 1}; expect_error(a, "out");
  a = p.args; a.B_strides = Strides4{1, -1, 1, 1}; expect_error(a, "B");
#ifndef SSM_WITH_CUDA
  try {
    cross_selective_scan(p.args, Device::cuda);
    BOOST_ERROR("no error for cuda without CUDA");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("'device'") != std::string::npos);
  }
#endif
}
