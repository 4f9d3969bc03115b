// fftconv / FFTConv against the direct O(L Lk) convolution, f32 against f64, strided and
// in-place views, the content-keyed spectrum cache, argument checking and concurrent calls.
#define BOOST_TEST_MODULE conv_fftconv
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <thread>
#include <vector>

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
