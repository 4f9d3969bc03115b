#define BOOST_TEST_MODULE validation
// Input-validation audit of the public entry points (docs/reliability.md has the full table).
//
// Part 1 checks, for a representative bad input of each entry point, that ssm::Error is raised
// and that its message names the offending argument (the library's error contract,
// include/ssm/core/error.hpp). Part 2 (test cases named audit_*) covers checks the audit found
// missing; both have since been added to the library and these tests keep them in place.
#include <boost/test/unit_test.hpp>

#include <Eigen/Dense>
#include <cmath>
#include <complex>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "ssm/continuous/dense.hpp"
#include "ssm/continuous/hippo.hpp"
#include "ssm/conv/fftconv.hpp"
#include "ssm/core/error.hpp"
#include "ssm/discretize/discretize.hpp"
#include "ssm/io/safetensors.hpp"
#include "ssm/stream/dense_filter.hpp"
#include "ssm/stream/partitioned_convolver.hpp"
#if __has_include("ssm/io/npy.hpp")
#include "ssm/io/npy.hpp"
#define SSM_TEST_HAVE_NPY 1
#endif
#if __has_include("ssm/continuous/diagonal.hpp")
#include "ssm/discretize/diagonal.hpp"
#define SSM_TEST_HAVE_DIAGONAL 1
#endif

using namespace ssm;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Runs f; expects ssm::Error whose message contains "'<arg>'".
void expect_rejects(const std::string& what, const std::function<void()>& f, const std::string& arg) {
  BOOST_TEST_CONTEXT(what) {
    try {
      f();
      BOOST_ERROR("no ssm::Error raised");
    } catch (const Error& e) {
      const std::string msg = e.what();
      BOOST_TEST(msg.find(arg) != std::string::npos, "message '" << msg << "' should name " << arg);
    } catch (const std::exception& e) {
      BOOST_ERROR("raised a non-ssm::Error exception: " << e.what());
    }
  }
}

ContinuousSystem siso(int N = 4) {
  return hippo::system(hippo::Measure::legs, N, Eigen::RowVectorXd::Ones(N), 0.0, 1.0);
}

}  // namespace

// ---- Part 1: the checks that exist -----------------------------------------------------------

BOOST_AUTO_TEST_CASE(continuous_system_and_hippo) {
  auto s = siso();
  s.B.resize(3, 1);
  expect_rejects("ContinuousSystem::validate wrong B", [&] { s.validate("t"); }, "'B'");
  s = siso();
  s.A(1, 1) = kNaN;
  expect_rejects("ContinuousSystem::validate NaN A", [&] { s.validate("t"); }, "'A'");
  expect_rejects("hippo::legs N = 0", [] { hippo::legs(0); }, "'N'");
  expect_rejects("hippo::fout odd N", [] { hippo::fout(3); }, "'N'");
  expect_rejects("hippo::system theta <= 0",
                 [] { hippo::system(hippo::Measure::legt, 4, Eigen::RowVectorXd::Ones(4), 0, 0.0); }, "'theta'");
  expect_rejects("hippo::system C size",
                 [] { hippo::system(hippo::Measure::legt, 4, Eigen::RowVectorXd::Ones(3)); }, "'C'");
  expect_rejects("parse_measure", [] { hippo::parse_measure("legx"); }, "'measure'");
}

BOOST_AUTO_TEST_CASE(discretize_dense) {
  const auto s = siso();
  expect_rejects("discretize dt = 0", [&] { discretize(s, 0.0, {}); }, "'dt'");
  expect_rejects("discretize dt < 0", [&] { discretize(s, -1e-3, {}); }, "'dt'");
  expect_rejects("discretize dt NaN", [&] { discretize(s, kNaN, {}); }, "'dt'");
  expect_rejects("discretize alpha > 1", [&] { discretize(s, 1e-3, {Method::gbt, Convention::ssm, 1.5}); }, "'alpha'");
  expect_rejects("discretize foh + ssm", [&] { discretize(s, 1e-3, {Method::foh, Convention::ssm}); }, "'method'");
  // A pole at 1/(alpha dt): backward_diff with A = I/dt makes (I - dt A) singular.
  auto sing = s;
  sing.A = Eigen::MatrixXd::Identity(4, 4) * 100.0;
  expect_rejects("discretize singular gbt", [&] { discretize(sing, 0.01, {Method::backward_diff}); }, "'A'");
  // zoh of a strongly unstable A overflows: reported, not returned as Inf.
  auto unstable = s;
  unstable.A = Eigen::MatrixXd::Identity(4, 4) * 1e5;
  expect_rejects("discretize overflow", [&] { discretize(unstable, 1.0, {}); }, "'dt'");
  expect_rejects("parse_method", [] { parse_method("rk4"); }, "'method'");
  expect_rejects("parse_convention", [] { parse_convention("scipy"); }, "'convention'");
}

BOOST_AUTO_TEST_CASE(dense_filter) {
  expect_rejects("DenseFilter foh + ssm", [] { DenseFilter<float>(siso(), {Method::foh, Convention::ssm}); }, "'method'");
  DenseFilter<float> f(siso(), {});
  expect_rejects("prepare sample_rate 0", [&] { f.prepare({0.0, 64}); }, "'spec.sample_rate'");
  expect_rejects("prepare sample_rate NaN", [&] { f.prepare({kNaN, 64}); }, "'spec.sample_rate'");
  expect_rejects("prepare time_scale < 0", [&] { f.prepare({48000.0, 64, -1.0}); }, "'spec.time_scale'");
  expect_rejects("prepare max_block 0", [&] { f.prepare({48000.0, 0}); }, "'spec.max_block'");
  expect_rejects("prepare_dt dt 0", [&] { f.prepare_dt(0.0, 8); }, "'dt'");
  expect_rejects("set_initial_state size", [&] { f.set_initial_state(std::vector<float>(3)); }, "'x0'");
  expect_rejects("set_initial_state NaN",
                 [&] { f.set_initial_state(std::vector<float>(4, std::numeric_limits<float>::quiet_NaN())); }, "'x0'");
}

BOOST_AUTO_TEST_CASE(fft_convolution) {
  std::vector<float> u(2 * 16 + 1, 1.0f), y(2 * 16), k(2 * 4, 0.5f), D(2, 1.0f);
  auto call = [&](std::ptrdiff_t H, std::ptrdiff_t Lk, const float* kp, const float* Dp, float* yp) {
    fftconv<float>(View3<const float>(u.data(), 1, H, 16), kp, Lk, Dp, View3<float>(yp, 1, H, 16));
  };
  expect_rejects("fftconv Lk 0", [&] { call(2, 0, k.data(), nullptr, y.data()); }, "'Lk'");
  expect_rejects("fftconv k null", [&] { call(2, 4, nullptr, nullptr, y.data()); }, "'k'");
  expect_rejects("fftconv y null", [&] { call(2, 4, k.data(), nullptr, nullptr); }, "'y'");
  // Exact in-place (y == u, same strides) is allowed; a partial overlap is not.
  expect_rejects("fftconv y overlaps u",
                 [&] { fftconv<float>(View3<const float>(u.data(), 1, 2, 16), k.data(), 4, nullptr, View3<float>(u.data() + 1, 1, 2, 16)); }, "'y'");
  k[3] = NAN;
  expect_rejects("fftconv k NaN", [&] { call(2, 4, k.data(), nullptr, y.data()); }, "'k'");
  k[3] = 0.5f;
  D[1] = INFINITY;
  expect_rejects("fftconv D Inf", [&] { call(2, 4, k.data(), D.data(), y.data()); }, "'D'");
  u[5] = NAN;
  expect_rejects("fftconv u NaN", [&] { call(2, 4, k.data(), nullptr, y.data()); }, "'u'");
  expect_rejects("FFTConv channels 0", [&] { FFTConv<float>(0, 16, k.data(), 4); }, "'channels'");
  expect_rejects("fft_fast_size 0", [] { fft_fast_size(0); }, "'min_size'");
}

BOOST_AUTO_TEST_CASE(partitioned_convolver) {
  std::vector<float> k(64, 0.25f);
  PartitionedConvolver<float> pc;
  PartitionSpec spec;
  expect_rejects("prepare channels 0", [&] { pc.prepare(0, k.data(), 64, nullptr, spec); }, "'channels'");
  expect_rejects("prepare Lk 0", [&] { pc.prepare(1, k.data(), 0, nullptr, spec); }, "'Lk'");
  expect_rejects("prepare k null", [&] { pc.prepare(1, nullptr, 64, nullptr, spec); }, "'k'");
  spec.tail_partition = 100;  // not a multiple of the head partition
  spec.head_partition = 64;
  expect_rejects("prepare tail_partition", [&] { pc.prepare(1, k.data(), 64, nullptr, spec); }, "'spec.tail_partition'");
  spec = {};
  k[7] = NAN;
  expect_rejects("prepare k NaN", [&] { pc.prepare(1, k.data(), 64, nullptr, spec); }, "'k'");
}

#ifdef SSM_TEST_HAVE_DIAGONAL
BOOST_AUTO_TEST_CASE(diagonal_model) {
  expect_rejects("DiagonalSSM H 0", [] { DiagonalSSM(0, 4); }, "'H'");
  DiagonalSSM m(2, 3);
  expect_rejects("set_dt <= 0", [&] { std::vector<double> dt{1e-3, 0.0}; m.set_dt(dt); }, "'dt'");
  expect_rejects("discretize dt_scale 0", [&] { discretize(m, Method::zoh, 0.0); }, "'dt_scale'");
  expect_rejects("discretize foh", [&] { discretize(m, Method::foh); }, "'method'");
  m.D[1] = kNaN;
  expect_rejects("validate NaN D", [&] { m.validate("t"); }, "'D'");
}
#endif

BOOST_AUTO_TEST_CASE(safetensors_reader_and_writer) {
  // The reader's checks are exercised by the fuzz corpus (test_parser_corpus.cpp); here the
  // writer's and the accessors'.
  using namespace ssm::io;
  expect_rejects("serialize negative shape", [] { serialize_safetensors({{"x", DType::F32, {-1}, {}}}, {}); }, "'shape'");
  expect_rejects("serialize values count", [] { serialize_safetensors({{"x", DType::F32, {3}, {1, 2}}}, {}); }, "'values'");
  expect_rejects("serialize reserved name", [] { serialize_safetensors({{"__metadata__", DType::F32, {1}, {1}}}, {}); }, "'name'");
  const auto st = SafeTensors::parse(serialize_safetensors({{"x", DType::F32, {1}, {1}}}, {{"n", "abc"}}), "mem");
  expect_rejects("missing tensor", [&] { st.info("y"); }, "'y'");
  expect_rejects("missing metadata", [&] { st.meta("m"); }, "'m'");
  expect_rejects("metadata not an int", [&] { st.meta_int("n"); }, "'n'");
  expect_rejects("load missing file", [] { SafeTensors::load("/nonexistent/file.safetensors"); }, "'path'");
}

#ifdef SSM_TEST_HAVE_NPY
BOOST_AUTO_TEST_CASE(npy_writer) {
  const std::vector<float> v(6, 1.0f);
  expect_rejects("serialize_npy count", [&] { io::serialize_npy<float>({2, 2}, v.data(), v.size()); }, "'data'");
  expect_rejects("serialize_npy negative", [&] { io::serialize_npy<float>({-6}, v.data(), v.size()); }, "'shape'");
}
#endif

// ---- Part 2: checks the audit found missing, since added (docs/reliability.md) ---------------

// discretize_diag (include/ssm/discretize/discretize.hpp) is public and takes dt and alpha; the
// audit found it validated neither (dt <= 0, NaN dt or alpha outside [0, 1] returned garbage
// Ad/Bd; dt < 0 turns a stable mode into an unstable one), unlike discretize() and
// discretize(DiagonalSSM).
BOOST_AUTO_TEST_CASE(audit_discretize_diag_dt_and_alpha) {
  std::complex<double> Ad, Bd;
  const std::complex<double> a(-0.5, 3.0), b(1.0, 0.0);
  expect_rejects("discretize_diag dt < 0", [&] { discretize_diag(a, b, -1e-2, Method::zoh, 0.5, Ad, Bd); }, "'dt'");
  expect_rejects("discretize_diag dt = 0", [&] { discretize_diag(a, b, 0.0, Method::bilinear, 0.5, Ad, Bd); }, "'dt'");
  expect_rejects("discretize_diag dt NaN", [&] { discretize_diag(a, b, kNaN, Method::zoh, 0.5, Ad, Bd); }, "'dt'");
  expect_rejects("discretize_diag alpha 2", [&] { discretize_diag(a, b, 1e-2, Method::gbt, 2.0, Ad, Bd); }, "'alpha'");
}

// serialize_safetensors / save_safetensors stored double values into integer dtypes with a
// plain static_cast: a value outside the dtype's range or a NaN was undefined behaviour
// (UBSan: float-cast-overflow) and a non-integer was silently truncated. The library's rule is
// "nothing silently clamped": these raise ssm::Error naming 'values'.
BOOST_AUTO_TEST_CASE(audit_safetensors_integer_values_out_of_range) {
  using namespace ssm::io;
  expect_rejects("I32 value 1e10", [] { serialize_safetensors({{"x", DType::I32, {1}, {1e10}}}, {}); }, "'values'");
  expect_rejects("U8 value 300", [] { serialize_safetensors({{"x", DType::U8, {1}, {300.0}}}, {}); }, "'values'");
  expect_rejects("I64 value NaN", [] { serialize_safetensors({{"x", DType::I64, {1}, {kNaN}}}, {}); }, "'values'");
  expect_rejects("I32 value 0.5", [] { serialize_safetensors({{"x", DType::I32, {1}, {0.5}}}, {}); }, "'values'");
}
