// log_stft against a direct DFT of the windowed frames (float64), frame count and padding
// rules, a pure tone's peak bin, bad arguments named.
#define BOOST_TEST_MODULE conv_stft
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <complex>
#include <numbers>
#include <string>
#include <vector>

#include "ssm/conv/stft.hpp"
#include "ssm/core/error.hpp"
#include "support/testing.hpp"

using namespace ssm;

BOOST_AUTO_TEST_CASE(matches_direct_dft) {
  const auto xd = test::randn(1000, 4);
  const std::vector<float> x(xd.begin(), xd.end());
  for (auto [size, hop] : {std::pair{64, 16}, {50, 7}, {128, 128}}) {
    const auto s = log_stft(x.data(), std::int64_t(x.size()), size, hop);
    const int frames = 1 + (int(x.size()) - size + hop - 1) / hop;
    BOOST_TEST(s.frames == frames);
    BOOST_TEST(s.bins == size / 2 + 1);
    double worst = 0;
    for (int t = 0; t < s.frames; ++t)
      for (int f = 0; f < s.bins; ++f) {
        std::complex<double> acc = 0;
        for (int i = 0; i < size; ++i) {
          const std::size_t at = std::size_t(t) * hop + i;
          const double v = at < x.size() ? double(x[at]) : 0.0;
          acc += (0.5 - 0.5 * std::cos(2 * std::numbers::pi * i / size)) * v *
                 std::polar(1.0, -2 * std::numbers::pi * f * i / size);
        }
        worst = std::fmax(worst, std::fabs(std::log(std::abs(acc) + 1e-6) - s.values[std::size_t(t) * s.bins + f]));
      }
    BOOST_TEST(worst < 1e-4);
  }
}

BOOST_AUTO_TEST_CASE(tone_peaks_at_its_bin_and_short_signals_pad) {
  std::vector<float> x(4096);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = float(std::sin(2 * std::numbers::pi * 10.0 * double(i) / 256));
  const auto s = log_stft(x.data(), std::int64_t(x.size()), 256, 64);
  const float* row = s.values.data() + 5 * s.bins;
  int best = 0;
  for (int f = 1; f < s.bins; ++f)
    if (row[f] > row[best]) best = f;
  BOOST_TEST(best == 10);
  const auto one = log_stft(x.data(), 10, 256, 64);
  BOOST_TEST(one.frames == 1);
}

BOOST_AUTO_TEST_CASE(bad_arguments_are_named) {
  std::vector<float> x(100, 1.f);
  for (auto [size, hop, n, name] : {std::tuple{1, 4, 100, "'size'"}, {16, 0, 100, "'hop'"}, {16, 4, 0, "'x'"}}) {
    try {
      log_stft(x.data(), n, size, hop);
      BOOST_ERROR("no error for " << name);
    } catch (const Error& e) {
      BOOST_TEST(std::string(e.what()).find(name) != std::string::npos, e.what());
    }
  }
}
