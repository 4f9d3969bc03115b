// fftconv / FFTConv against the direct O(L Lk) convolution, f32 against f64, strided and
// in-place views, the content-keyed spectrum cache, argument checking and concurrent calls;
// both layouts of a row (one FFT, or partitioned blocks: src/conv/fftconv_layout.hpp) and the
// layout cost model; FFTW planning efforts and wisdom files.
#define BOOST_TEST_MODULE conv_fftconv
#include <boost/test/unit_test.hpp>

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "conv/fftconv_layout.hpp"
#include "ssm/conv/fftconv.hpp"
#include "ssm/core/error.hpp"
#include "support/testing.hpp"

using ssm::View3;

namespace {


// Decaying random kernel (like an SSM kernel): k[h,j] ~ N(0,1) * exp(-j / tau).
template <class T>
std::vector<T> kernel(std::ptrdiff_t H, std::ptrdiff_t Lk, std::uint64_t seed, double tau = 300.0) {
  auto k = ssm::test::randn_as<T>(static_cast<std::size_t>(H * Lk), seed);
  for (std::ptrdiff_t h = 0; h < H; ++h)
    for (std::ptrdiff_t j = 0; j < Lk; ++j) k[h * Lk + j] *= static_cast<T>(std::exp(-j / tau));
  return k;
}

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::fabs(x));
  return m;
}

template <class T>
std::vector<double> to_d(const std::vector<T>& v) { return std::vector<double>(v.begin(), v.end()); }

struct Shape {
  std::ptrdiff_t B, H, L, Lk;
};

const Shape kShapes[] = {{1, 1, 1, 1},   {2, 3, 17, 5},    {1, 4, 100, 100}, {3, 2, 64, 200},
                         {2, 5, 257, 31}, {1, 3, 1000, 1}, {1, 2, 4096, 4096}, {2, 1, 300, 7000}};

}  // namespace

BOOST_AUTO_TEST_CASE(fast_size_is_smallest_5_smooth) {
  auto smooth = [](std::ptrdiff_t n) {
    for (int p : {2, 3, 5})
      while (n % p == 0) n /= p;
    return n == 1;
  };
  for (std::ptrdiff_t m = 1; m <= 3000; ++m) {
    const auto n = ssm::fft_fast_size(m);
    BOOST_TEST_REQUIRE(n >= m);
    BOOST_TEST_REQUIRE(smooth(n));
    for (std::ptrdiff_t q = m; q < n; ++q) BOOST_TEST_REQUIRE(!smooth(q));
  }
  BOOST_TEST(ssm::fft_fast_size(65536 + 65535) == 131072);
  BOOST_CHECK_THROW(ssm::fft_fast_size(0), ssm::Error);
}

template <class T>
void check_against_direct(double tol) {
  std::uint64_t seed = 11;
  for (const Shape& s : kShapes) {
    for (bool with_d : {false, true}) {
      const auto u = ssm::test::randn_as<T>(static_cast<std::size_t>(s.B * s.H * s.L), ++seed);
      const auto k = kernel<T>(s.H, s.Lk, ++seed);
      const auto D = ssm::test::randn_as<T>(static_cast<std::size_t>(s.H), ++seed);
      std::vector<T> y(u.size()), ref(u.size());
      View3<const T> uv(u.data(), s.B, s.H, s.L);
      ssm::fftconv<T>(uv, k.data(), s.Lk, with_d ? D.data() : nullptr, View3<T>(y.data(), s.B, s.H, s.L));
      ssm::direct_conv<T>(uv, k.data(), s.Lk, with_d ? D.data() : nullptr,
                          View3<T>(ref.data(), s.B, s.H, s.L));
      const double scale = std::max(1.0, max_abs(to_d(ref)));
      const double err = ssm::test::max_abs_diff(y, ref) / scale;
      BOOST_TEST_INFO("B=" << s.B << " H=" << s.H << " L=" << s.L << " Lk=" << s.Lk << " D=" << with_d);
      BOOST_TEST(err < tol);
    }
  }
}

BOOST_AUTO_TEST_CASE(fftconv_equals_direct_f64) { check_against_direct<double>(1e-12); }
BOOST_AUTO_TEST_CASE(fftconv_equals_direct_f32) { check_against_direct<float>(2e-5); }

BOOST_AUTO_TEST_CASE(f32_tracks_f64_on_long_rows) {
  const std::ptrdiff_t B = 1, H = 2, L = 1 << 16, Lk = 1 << 16;
  const auto ud = ssm::test::randn_as<double>(static_cast<std::size_t>(B * H * L), 3);
  const auto kd = kernel<double>(H, Lk, 4, 5000.0);
  const std::vector<float> uf(ud.begin(), ud.end()), kf(kd.begin(), kd.end());
  // Reference from the float-rounded inputs, in double.
  const std::vector<double> ur(uf.begin(), uf.end()), kr(kf.begin(), kf.end());
  std::vector<double> yd(ud.size());
  std::vector<float> yf(ud.size());
  ssm::fftconv<double>(View3<const double>(ur.data(), B, H, L), kr.data(), Lk, nullptr,
                       View3<double>(yd.data(), B, H, L));
  ssm::fftconv<float>(View3<const float>(uf.data(), B, H, L), kf.data(), Lk, nullptr,
                      View3<float>(yf.data(), B, H, L));
  const double err = ssm::test::max_abs_diff(yf, yd) / max_abs(yd);
  BOOST_TEST(err < 2e-5);
  // Spot check a few outputs of the double result against the direct sum.
  for (std::ptrdiff_t t : {0L, 1L, 777L, L - 1}) {
    double acc = 0;
    for (std::ptrdiff_t j = 0; j <= t; ++j) acc += kr[static_cast<std::size_t>(j)] * ur[static_cast<std::size_t>(t - j)];
    BOOST_TEST(std::fabs(acc - yd[static_cast<std::size_t>(t)]) < 1e-9 * max_abs(yd));
  }
}

BOOST_AUTO_TEST_CASE(strided_views_and_in_place) {
  const std::ptrdiff_t B = 2, H = 3, L = 150, Lk = 40;
  const auto u = ssm::test::randn_as<double>(static_cast<std::size_t>(B * H * L), 21);
  const auto k = kernel<double>(H, Lk, 22);
  const auto D = ssm::test::randn_as<double>(static_cast<std::size_t>(H), 23);
  std::vector<double> ref(u.size());
  ssm::direct_conv<double>(View3<const double>(u.data(), B, H, L), k.data(), Lk, D.data(),
                           View3<double>(ref.data(), B, H, L));
  // (B, L, H) "channels last" layout for both input and output.
  std::vector<double> ut(u.size()), yt(u.size());
  for (std::ptrdiff_t b = 0; b < B; ++b)
    for (std::ptrdiff_t h = 0; h < H; ++h)
      for (std::ptrdiff_t t = 0; t < L; ++t) ut[(b * L + t) * H + h] = u[(b * H + h) * L + t];
  ssm::fftconv<double>(View3<const double>(ut.data(), B, H, L, L * H, 1, H), k.data(), Lk, D.data(),
                       View3<double>(yt.data(), B, H, L, L * H, 1, H));
  double err = 0;
  for (std::ptrdiff_t b = 0; b < B; ++b)
    for (std::ptrdiff_t h = 0; h < H; ++h)
      for (std::ptrdiff_t t = 0; t < L; ++t)
        err = std::max(err, std::fabs(yt[(b * L + t) * H + h] - ref[(b * H + h) * L + t]));
  BOOST_TEST(err < 1e-12);
  // Exact in-place.
  std::vector<double> inplace = u;
  View3<double> v(inplace.data(), B, H, L);
  ssm::fftconv<double>(View3<const double>(v), k.data(), Lk, D.data(), v);
  BOOST_TEST(ssm::test::max_abs_diff(inplace, ref) < 1e-12);
}

BOOST_AUTO_TEST_CASE(object_matches_function_and_shorter_inputs) {
  const std::ptrdiff_t B = 2, H = 4, Lmax = 500, Lk = 333;
  const auto k = kernel<float>(H, Lk, 31);
  const auto D = ssm::test::randn_as<float>(static_cast<std::size_t>(H), 32);
  ssm::FFTConv<float> conv(H, Lmax, k.data(), Lk, D.data());
  BOOST_TEST(conv.fft_size() >= Lmax + Lk - 1);
  BOOST_TEST(conv.channels() == H);
  for (std::ptrdiff_t L : {Lmax, std::ptrdiff_t{123}, std::ptrdiff_t{1}}) {
    const auto u = ssm::test::randn_as<float>(static_cast<std::size_t>(B * H * L), 33 + L);
    std::vector<float> y1(u.size()), y2(u.size()), ref(u.size());
    conv.apply(View3<const float>(u.data(), B, H, L), View3<float>(y1.data(), B, H, L));
    ssm::fftconv<float>(View3<const float>(u.data(), B, H, L), k.data(), Lk, D.data(),
                        View3<float>(y2.data(), B, H, L));
    ssm::direct_conv<float>(View3<const float>(u.data(), B, H, L), k.data(), Lk, D.data(),
                            View3<float>(ref.data(), B, H, L));
    const double scale = std::max(1.0, max_abs(to_d(ref)));
    BOOST_TEST(ssm::test::max_abs_diff(y1, ref) / scale < 2e-5);
    BOOST_TEST(ssm::test::max_abs_diff(y2, ref) / scale < 2e-5);
  }
  std::vector<float> u(static_cast<std::size_t>(H * (Lmax + 1))), y(u.size());
  BOOST_CHECK_THROW(conv.apply(View3<const float>(u.data(), 1, H, Lmax + 1), View3<float>(y.data(), 1, H, Lmax + 1)),
                    ssm::Error);
  // set_kernel replaces the spectra.
  const auto k2 = kernel<float>(H, 10, 34);
  conv.set_kernel(k2.data(), 10, nullptr);
  const auto u2 = ssm::test::randn_as<float>(static_cast<std::size_t>(H * 50), 35);
  std::vector<float> a(u2.size()), r(u2.size());
  conv.apply(View3<const float>(u2.data(), 1, H, 50), View3<float>(a.data(), 1, H, 50));
  ssm::direct_conv<float>(View3<const float>(u2.data(), 1, H, 50), k2.data(), 10, nullptr,
                          View3<float>(r.data(), 1, H, 50));
  BOOST_TEST(ssm::test::max_abs_diff(a, r) < 1e-5);
}

BOOST_AUTO_TEST_CASE(spectrum_cache_is_keyed_by_contents) {
  // Same buffer, contents changed in place between calls: the cache must not return the old
  // spectra; same contents in a different buffer must give bit-identical results.
  const std::ptrdiff_t B = 1, H = 2, L = 256, Lk = 64;
  const auto u = ssm::test::randn_as<double>(static_cast<std::size_t>(B * H * L), 41);
  auto k = kernel<double>(H, Lk, 42);
  std::vector<double> y1(u.size()), y2(u.size()), y3(u.size()), ref(u.size());
  View3<const double> uv(u.data(), B, H, L);
  ssm::fftconv<double>(uv, k.data(), Lk, nullptr, View3<double>(y1.data(), B, H, L));
  const auto kcopy = k;
  ssm::fftconv<double>(uv, kcopy.data(), Lk, nullptr, View3<double>(y2.data(), B, H, L));
  BOOST_TEST(y1 == y2);  // cache hit: bit-identical
  k[static_cast<std::size_t>(H * Lk - 1)] += 1.0;  // last tap of the last row
  ssm::fftconv<double>(uv, k.data(), Lk, nullptr, View3<double>(y3.data(), B, H, L));
  ssm::direct_conv<double>(uv, k.data(), Lk, nullptr, View3<double>(ref.data(), B, H, L));
  BOOST_TEST(ssm::test::max_abs_diff(y3, ref) < 1e-12);
  BOOST_TEST(ssm::test::max_abs_diff(y3, y1) > 0.1);
}

BOOST_AUTO_TEST_CASE(bad_arguments_throw) {
  const std::ptrdiff_t B = 1, H = 2, L = 8, Lk = 4;
  std::vector<float> u(static_cast<std::size_t>(B * H * L), 1.f), y(u.size()), k(static_cast<std::size_t>(H * Lk), 0.5f);
  View3<const float> uv(u.data(), B, H, L);
  View3<float> yv(y.data(), B, H, L);
  BOOST_CHECK_THROW(ssm::fftconv<float>(uv, k.data(), 0, nullptr, yv), ssm::Error);
  BOOST_CHECK_THROW(ssm::fftconv<float>(uv, nullptr, Lk, nullptr, yv), ssm::Error);
  BOOST_CHECK_THROW(ssm::fftconv<float>(uv, k.data(), Lk, nullptr, View3<float>(y.data(), B, H, L - 1)), ssm::Error);
  BOOST_CHECK_THROW(ssm::fftconv<float>(uv, k.data(), Lk, nullptr, View3<float>(y.data(), B, 1, L)), ssm::Error);
  auto kn = k;
  kn[3] = NAN;
  BOOST_CHECK_THROW(ssm::fftconv<float>(uv, kn.data(), Lk, nullptr, yv), ssm::Error);
  const float Dbad[2] = {1.f, INFINITY};
  BOOST_CHECK_THROW(ssm::fftconv<float>(uv, k.data(), Lk, Dbad, yv), ssm::Error);
  auto un = u;
  un[5] = NAN;
  BOOST_CHECK_THROW(ssm::fftconv<float>(View3<const float>(un.data(), B, H, L), k.data(), Lk, nullptr, yv), ssm::Error);
  // Partial overlap of y and u.
  std::vector<float> buf(static_cast<std::size_t>(B * H * L + 3), 1.f);
  BOOST_CHECK_THROW(ssm::fftconv<float>(View3<const float>(buf.data(), B, H, L), k.data(), Lk, nullptr,
                                        View3<float>(buf.data() + 3, B, H, L)),
                    ssm::Error);
  BOOST_CHECK_THROW(ssm::FFTConv<float>(0, 10, k.data(), Lk), ssm::Error);
  BOOST_CHECK_THROW(ssm::FFTConv<float>(H, 0, k.data(), Lk), ssm::Error);
#ifndef SSM_WITH_CUDA
  try {
    ssm::fftconv<float>(uv, k.data(), Lk, nullptr, yv, ssm::Device::cuda);
    BOOST_FAIL("expected ssm::Error");
  } catch (const ssm::Error& e) {
    BOOST_TEST(std::string(e.what()) ==
               "fftconv: argument 'device' cuda requested but ssmkit was built without CUDA");
  }
#endif
  // Empty problems are fine.
  ssm::fftconv<float>(View3<const float>(u.data(), 0, H, L), k.data(), Lk, nullptr, View3<float>(y.data(), 0, H, L));
}

BOOST_AUTO_TEST_CASE(concurrent_calls_give_identical_results) {
  // Several threads convolve different problem sizes at once (so plans are created
  // concurrently) and repeat; every result must equal the single-threaded one bit for bit.
  struct Problem {
    std::ptrdiff_t B, H, L, Lk;
    std::vector<float> u, k, D, y_serial;
  };
  std::vector<Problem> probs;
  std::uint64_t seed = 100;
  for (std::ptrdiff_t L : {333, 1000, 1024, 2500, 4097, 6000}) {
    Problem p{2, 3, L, L / 2 + 1, {}, {}, {}, {}};
    p.u = ssm::test::randn_as<float>(static_cast<std::size_t>(p.B * p.H * p.L), ++seed);
    p.k = kernel<float>(p.H, p.Lk, ++seed);
    p.D = ssm::test::randn_as<float>(static_cast<std::size_t>(p.H), ++seed);
    probs.push_back(std::move(p));
  }
  std::vector<std::vector<std::vector<float>>> results(probs.size());
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < probs.size(); ++i)
    threads.emplace_back([&, i] {
      const Problem& p = probs[i];
      for (int rep = 0; rep < 3; ++rep) {
        std::vector<float> y(p.u.size());
        ssm::fftconv<float>(View3<const float>(p.u.data(), p.B, p.H, p.L), p.k.data(), p.Lk, p.D.data(),
                            View3<float>(y.data(), p.B, p.H, p.L));
        results[i].push_back(std::move(y));
      }
    });
  for (auto& t : threads) t.join();
  for (std::size_t i = 0; i < probs.size(); ++i) {
    Problem& p = probs[i];
    p.y_serial.resize(p.u.size());
    ssm::fftconv<float>(View3<const float>(p.u.data(), p.B, p.H, p.L), p.k.data(), p.Lk, p.D.data(),
                        View3<float>(p.y_serial.data(), p.B, p.H, p.L));
    for (const auto& y : results[i]) BOOST_TEST((y == p.y_serial));
    std::vector<float> ref(p.u.size());
    ssm::direct_conv<float>(View3<const float>(p.u.data(), p.B, p.H, p.L), p.k.data(), p.Lk, p.D.data(),
                            View3<float>(ref.data(), p.B, p.H, p.L));
    BOOST_TEST(ssm::test::max_abs_diff(p.y_serial, ref) / std::max(1.0, max_abs(to_d(ref))) < 2e-5);
  }
}

BOOST_AUTO_TEST_CASE(measured_plans_give_the_same_convolution) {
  const std::ptrdiff_t B = 1, H = 3, L = 500, Lk = 120;
  const auto u = ssm::test::randn_as<double>(static_cast<std::size_t>(B * H * L), 51);
  const auto k = kernel<double>(H, Lk, 52);
  std::vector<double> y(u.size()), ref(u.size());
  BOOST_CHECK_THROW(ssm::set_fft_planning(ssm::FftPlanning::measure, 0.0), ssm::Error);
  ssm::set_fft_planning(ssm::FftPlanning::measure, 0.5);
  BOOST_TEST((ssm::fft_planning() == ssm::FftPlanning::measure));
  ssm::FFTConv<double> conv(H, L, k.data(), Lk);
  conv.apply(View3<const double>(u.data(), B, H, L), View3<double>(y.data(), B, H, L));
  ssm::set_fft_planning(ssm::FftPlanning::estimate);
  ssm::direct_conv<double>(View3<const double>(u.data(), B, H, L), k.data(), Lk, nullptr,
                           View3<double>(ref.data(), B, H, L));
  BOOST_TEST(ssm::test::max_abs_diff(y, ref) < 1e-12 * std::max(1.0, max_abs(ref)));
}

namespace {

/// Forces the layout of fftconv / FFTConv (fftconv_layout.hpp) for the life of the object.
struct ForceBlock {
  explicit ForceBlock(std::ptrdiff_t P) { ssm::detail::fftconv_force_block(P); }
  ~ForceBlock() { ssm::detail::fftconv_force_block(0); }
};

struct BlockCase {
  std::ptrdiff_t B, H, L, Lk, P;
};
// kin = kk, kin > kk (short kernel), kin < kk (Lk > L), L a multiple of P, L <= P (one block),
// Lk = 1, a last block of one sample.
const BlockCase kBlockCases[] = {{2, 3, 1000, 1000, 64}, {1, 2, 1000, 130, 64}, {1, 2, 300, 1000, 64},
                                 {2, 1, 512, 512, 128},  {1, 3, 50, 50, 64},    {1, 2, 700, 1, 32},
                                 {1, 2, 257, 257, 32}};

template <class T>
void check_blocked_against_direct(double tol) {
  std::uint64_t seed = 600;
  for (const BlockCase& c : kBlockCases) {
    const ForceBlock force(c.P);
    const auto u = ssm::test::randn_as<T>(static_cast<std::size_t>(c.B * c.H * c.L), ++seed);
    const auto k = kernel<T>(c.H, c.Lk, ++seed, 100.0);
    const auto D = ssm::test::randn_as<T>(static_cast<std::size_t>(c.H), ++seed);
    std::vector<T> y(u.size()), yo(u.size()), ref(u.size());
    const View3<const T> uv(u.data(), c.B, c.H, c.L);
    ssm::fftconv<T>(uv, k.data(), c.Lk, D.data(), View3<T>(y.data(), c.B, c.H, c.L));
    const ssm::FFTConv<T> conv(c.H, c.L, k.data(), c.Lk, D.data());
    conv.apply(uv, View3<T>(yo.data(), c.B, c.H, c.L));
    ssm::direct_conv<T>(uv, k.data(), c.Lk, D.data(), View3<T>(ref.data(), c.B, c.H, c.L));
    const double scale = std::max(1.0, max_abs(to_d(ref)));
    BOOST_TEST_INFO("B=" << c.B << " H=" << c.H << " L=" << c.L << " Lk=" << c.Lk << " P=" << c.P);
    BOOST_TEST(conv.fft_size() == 2 * c.P);
    BOOST_TEST(ssm::test::max_abs_diff(y, ref) / scale < tol);
    BOOST_TEST((y == yo));  // same layout, same plans: the object gives the same bits
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(blocked_layout_equals_direct_f64) { check_blocked_against_direct<double>(1e-12); }
BOOST_AUTO_TEST_CASE(blocked_layout_equals_direct_f32) { check_blocked_against_direct<float>(2e-5); }

BOOST_AUTO_TEST_CASE(blocked_layout_strided_in_place_and_shorter_inputs) {
  const ForceBlock force(64);
  const std::ptrdiff_t B = 2, H = 3, L = 400, Lk = 250;
  const auto u = ssm::test::randn_as<double>(static_cast<std::size_t>(B * H * L), 71);
  const auto k = kernel<double>(H, Lk, 72, 80.0);
  const auto D = ssm::test::randn_as<double>(static_cast<std::size_t>(H), 73);
  std::vector<double> ref(u.size());
  ssm::direct_conv<double>(View3<const double>(u.data(), B, H, L), k.data(), Lk, D.data(),
                           View3<double>(ref.data(), B, H, L));
  // Channels-last (B, L, H) views in and out.
  std::vector<double> ut(u.size()), yt(u.size());
  for (std::ptrdiff_t b = 0; b < B; ++b)
    for (std::ptrdiff_t h = 0; h < H; ++h)
      for (std::ptrdiff_t t = 0; t < L; ++t) ut[(b * L + t) * H + h] = u[(b * H + h) * L + t];
  ssm::fftconv<double>(View3<const double>(ut.data(), B, H, L, L * H, 1, H), k.data(), Lk, D.data(),
                       View3<double>(yt.data(), B, H, L, L * H, 1, H));
  double err = 0;
  for (std::ptrdiff_t b = 0; b < B; ++b)
    for (std::ptrdiff_t h = 0; h < H; ++h)
      for (std::ptrdiff_t t = 0; t < L; ++t)
        err = std::max(err, std::fabs(yt[(b * L + t) * H + h] - ref[(b * H + h) * L + t]));
  BOOST_TEST(err < 1e-12 * std::max(1.0, max_abs(ref)));
  // Exact in place.
  std::vector<double> inplace = u;
  const View3<double> v(inplace.data(), B, H, L);
  ssm::fftconv<double>(View3<const double>(v), k.data(), Lk, D.data(), v);
  BOOST_TEST(ssm::test::max_abs_diff(inplace, ref) < 1e-12 * std::max(1.0, max_abs(ref)));
  // An object built for L applied to shorter inputs (fewer input blocks, kernel blocks past the
  // input unused).
  const ssm::FFTConv<double> conv(H, L, k.data(), Lk, D.data());
  for (std::ptrdiff_t Ls : {std::ptrdiff_t{1}, std::ptrdiff_t{63}, std::ptrdiff_t{64}, std::ptrdiff_t{65}, std::ptrdiff_t{200}}) {
    std::vector<double> us(static_cast<std::size_t>(B * H * Ls)), ys(us.size()), rs(us.size());
    for (std::ptrdiff_t r = 0; r < B * H; ++r)
      std::copy(u.begin() + r * L, u.begin() + r * L + Ls, us.begin() + r * Ls);
    conv.apply(View3<const double>(us.data(), B, H, Ls), View3<double>(ys.data(), B, H, Ls));
    ssm::direct_conv<double>(View3<const double>(us.data(), B, H, Ls), k.data(), Lk, D.data(),
                             View3<double>(rs.data(), B, H, Ls));
    BOOST_TEST_INFO("L = " << Ls);
    BOOST_TEST(ssm::test::max_abs_diff(ys, rs) < 1e-12 * std::max(1.0, max_abs(rs)));
  }
}

BOOST_AUTO_TEST_CASE(first_second_and_cached_calls_give_the_same_bits) {
  // First call with a kernel: spectra made per thread and dropped (fused); second: the spectra
  // are made and kept; third: served from the cache. With 1 and 4 OpenMP threads (B > 1 with
  // fewer channel groups than threads makes the spectra first): the layout and the plans do not
  // depend on the thread count, so neither do the bits.
  const int saved = omp_get_max_threads();
  for (const std::ptrdiff_t P : {std::ptrdiff_t{0}, std::ptrdiff_t{-1}, std::ptrdiff_t{64}}) {
    const ForceBlock force(P);
    for (const std::ptrdiff_t H : {std::ptrdiff_t{1}, std::ptrdiff_t{5}}) {
      const std::ptrdiff_t B = 3, L = 900, Lk = 700;
      const auto u = ssm::test::randn_as<float>(static_cast<std::size_t>(B * H * L), 80 + static_cast<std::uint64_t>(H));
      auto k = kernel<float>(H, Lk, 90 + static_cast<std::uint64_t>(H + P));
      const auto D = ssm::test::randn_as<float>(static_cast<std::size_t>(H), 91);
      const View3<const float> uv(u.data(), B, H, L);
      std::vector<std::vector<float>> ys;
      for (const int threads : {1, 4}) {
        omp_set_num_threads(threads);
        k[0] += 0.25f;  // a kernel no earlier call has seen
        for (int call = 0; call < 3; ++call) {
          std::vector<float> y(u.size());
          ssm::fftconv<float>(uv, k.data(), Lk, D.data(), View3<float>(y.data(), B, H, L));
          ys.push_back(std::move(y));
        }
        k[0] -= 0.25f;
        std::vector<float> y(u.size());
        ssm::fftconv<float>(uv, k.data(), Lk, D.data(), View3<float>(y.data(), B, H, L));
        ys.push_back(std::move(y));
      }
      std::vector<float> ref(u.size());
      k[0] += 0.25f;
      ssm::direct_conv<float>(uv, k.data(), Lk, D.data(), View3<float>(ref.data(), B, H, L));
      k[0] -= 0.25f;
      BOOST_TEST_INFO("P=" << P << " H=" << H);
      BOOST_TEST(ssm::test::max_abs_diff(ys[0], ref) / std::max(1.0, max_abs(to_d(ref))) < 2e-5);
      for (std::size_t i : {1u, 2u, 4u, 5u, 6u}) BOOST_TEST((ys[i] == ys[0]));
      BOOST_TEST((ys[7] == ys[3]));
      BOOST_TEST(ssm::test::max_abs_diff(ys[3], ys[0]) > 1e-3);  // the other kernel
    }
  }
  omp_set_num_threads(saved);
}

BOOST_AUTO_TEST_CASE(layout_cost_model) {
  using ssm::detail::fftconv_layout;
  // Short rows: one transform of the whole zero-padded row, a fast size, channels batched.
  auto s = fftconv_layout(500, 120, false, 8);
  BOOST_TEST(!s.blocked);
  BOOST_TEST(s.n == ssm::fft_fast_size(619));
  BOOST_TEST(s.group > 1);
  BOOST_TEST(s.kk == 1);
  // Long rows (issue 20's shapes): blocks, several of them, transforms far shorter than the row.
  for (const std::ptrdiff_t L : {std::ptrdiff_t{65536}, std::ptrdiff_t{1} << 20}) {
    for (const bool once : {false, true}) {
      const auto b = fftconv_layout(L, L, once, 8);
      BOOST_TEST_INFO("L = " << L << " kernel once " << once);
      BOOST_TEST(b.blocked);
      BOOST_TEST(b.n == 2 * b.P);
      BOOST_TEST(b.kk == (L + b.P - 1) / b.P);
      BOOST_TEST(b.kk >= 2);
      BOOST_TEST(b.n <= L / 2);
      BOOST_TEST(b.group == 1);
      BOOST_TEST(b.bstride() % 8 == 0);
      BOOST_TEST(b.bstride() >= b.nc());
    }
  }
  // A short kernel on a long row: overlap-save with blocks about the kernel's length.
  const auto os = fftconv_layout(1 << 20, 4096, false, 8);
  BOOST_TEST(os.blocked);
  BOOST_TEST(os.P <= 16384);
  BOOST_TEST(os.kin(1 << 20) == ((std::ptrdiff_t{1} << 20) + os.P - 1) / os.P);
  // Forcing.
  {
    const ForceBlock force(-1);
    BOOST_TEST(!fftconv_layout(65536, 65536, false, 8).blocked);
  }
  {
    const ForceBlock force(100);
    const auto f = fftconv_layout(50, 50, false, 8);
    BOOST_TEST(f.blocked);
    BOOST_TEST(f.P == 100);
    BOOST_TEST(f.kin(50) == 1);
  }
}

BOOST_AUTO_TEST_CASE(non_finite_samples_anywhere_are_rejected) {
  // The finite checks run on SIMD vectors and a scalar tail: a NaN or Inf at every position of
  // rows whose lengths are not multiples of a vector, in u and in k.
  const std::ptrdiff_t H = 2, L = 37, Lk = 37;
  const std::vector<float> u(static_cast<std::size_t>(H * L), 0.5f), k(static_cast<std::size_t>(H * Lk), 0.25f);
  std::vector<float> y(u.size());
  const View3<float> yv(y.data(), 1, H, L);
  for (const float bad : {NAN, INFINITY, -INFINITY})
    for (std::size_t i = 0; i < u.size(); ++i) {
      auto ub = u;
      ub[i] = bad;
      BOOST_CHECK_THROW(ssm::fftconv<float>(View3<const float>(ub.data(), 1, H, L), k.data(), Lk, nullptr, yv), ssm::Error);
      auto kb = k;
      kb[i] = bad;
      BOOST_CHECK_THROW(ssm::fftconv<float>(View3<const float>(u.data(), 1, H, L), kb.data(), Lk, nullptr, yv), ssm::Error);
    }
  // Large finite values pass.
  auto big = u;
  big[3] = 3e38f;
  BOOST_CHECK_NO_THROW(ssm::fftconv<float>(View3<const float>(big.data(), 1, H, L), k.data(), Lk, nullptr, yv));
  try {
    auto ub = u;
    ub[static_cast<std::size_t>(L + 30)] = NAN;
    ssm::fftconv<float>(View3<const float>(ub.data(), 1, H, L), k.data(), Lk, nullptr, yv);
    BOOST_FAIL("expected ssm::Error");
  } catch (const ssm::Error& e) {
    BOOST_TEST(std::string(e.what()).find("u[0,1,30]") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(planning_efforts_and_wisdom_files) {
  const std::string dir = ssm::test::temp_dir();
  const std::string path = dir + "/wisdom.txt";
  BOOST_TEST(!ssm::load_fft_wisdom(dir + "/missing.txt"));
  BOOST_CHECK_THROW(ssm::load_fft_wisdom(""), ssm::Error);
  BOOST_CHECK_THROW(ssm::save_fft_wisdom(""), ssm::Error);
  BOOST_CHECK_THROW(ssm::save_fft_wisdom(dir + "/no/such/folder/wisdom.txt"), ssm::Error);
  {
    std::ofstream(dir + "/bad.txt") << "not wisdom\n";
    BOOST_CHECK_THROW(ssm::load_fft_wisdom(dir + "/bad.txt"), ssm::Error);
  }
  // Patient, then measured plans of small sizes (quick), saved and loaded back.
  const std::ptrdiff_t H = 2, L = 96, Lk = 40;
  const auto u = ssm::test::randn_as<double>(static_cast<std::size_t>(H * L), 95);
  const auto k = kernel<double>(H, Lk, 96);
  std::vector<double> ref(u.size());
  ssm::direct_conv<double>(View3<const double>(u.data(), 1, H, L), k.data(), Lk, nullptr,
                           View3<double>(ref.data(), 1, H, L));
  for (const auto effort : {ssm::FftPlanning::patient, ssm::FftPlanning::measure}) {
    ssm::set_fft_planning(effort, 0.2);
    BOOST_TEST((ssm::fft_planning() == effort));
    std::vector<double> y(u.size());
    ssm::fftconv<double>(View3<const double>(u.data(), 1, H, L), k.data(), Lk, nullptr, View3<double>(y.data(), 1, H, L));
    BOOST_TEST(ssm::test::max_abs_diff(y, ref) < 1e-12 * std::max(1.0, max_abs(ref)));
    std::vector<float> uf(u.begin(), u.end()), kf(k.begin(), k.end()), yf(u.size());
    ssm::fftconv<float>(View3<const float>(uf.data(), 1, H, L), kf.data(), Lk, nullptr, View3<float>(yf.data(), 1, H, L));
    BOOST_TEST(ssm::test::max_abs_diff(yf, ref) / std::max(1.0, max_abs(ref)) < 2e-5);
  }
  ssm::set_fft_planning(ssm::FftPlanning::estimate);
  ssm::save_fft_wisdom(path);
  std::ifstream in(path);
  std::string first, all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  BOOST_TEST(all.rfind("ssmkit-fftw-wisdom 1\n", 0) == 0);
  BOOST_TEST(all.find("fftw_wisdom") != std::string::npos);   // double
  BOOST_TEST(all.find("fftwf_wisdom") != std::string::npos);  // float
  BOOST_TEST(ssm::load_fft_wisdom(path));
  std::remove(path.c_str());
  std::remove((dir + "/bad.txt").c_str());
}
