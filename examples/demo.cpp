// ssmkit demo: a HiPPO-LegT state space model as a streaming "memory" of a signal.
//
// HiPPO-LegT keeps, in N states, the Legendre coefficients of the input over a sliding
// window of the last `window` seconds. Reading the states out with
//   C[n] = sqrt(2n+1) P_n(1 - 2 d / window)
// reconstructs the input as it was d seconds ago: the filter is a delay line made of
// N continuous-time states. The demo generates a signal (default: a 2 s chirp at 48 kHz with
// a little noise), streams it sample by sample and in blocks, and reports what happened.
//
//   example_demo [seconds] [sample_rate] [N] [window_ms] [delay_ms]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numbers>
#include <random>
#include <vector>

#include "ssm/continuous/hippo.hpp"
#include "ssm/stream/dense_filter.hpp"

namespace {
double arg(int argc, char** argv, int i, double dflt) { return argc > i ? std::atof(argv[i]) : dflt; }
}  // namespace

int main(int argc, char** argv) {
  const double seconds = arg(argc, argv, 1, 2.0), rate = arg(argc, argv, 2, 48000.0);
  const int N = static_cast<int>(arg(argc, argv, 3, 32));
  const double window = arg(argc, argv, 4, 10.0) * 1e-3, delay = arg(argc, argv, 5, 5.0) * 1e-3;
  const auto L = static_cast<std::size_t>(seconds * rate);

  // Input: a chirp from 20 Hz to 400 Hz plus 1% noise.
  std::vector<float> u(L);
  std::mt19937 rng(1);
  std::normal_distribution<float> noise(0.f, 0.01f);
  for (std::size_t i = 0; i < L; ++i) {
    const double t = static_cast<double>(i) / rate;
    const double f0 = 20, f1 = 400;
    u[i] = static_cast<float>(std::sin(2 * std::numbers::pi * (f0 * t + (f1 - f0) * t * t / (2 * seconds)))) + noise(rng);
  }

  // The model. The S4 convention of LegT spans a window of 2 time units, so theta = window / 2.
  const auto sys = ssm::hippo::system(ssm::hippo::Measure::legt, N,
                                      ssm::hippo::legt_delay_readout(N, delay, window), 0.0, window / 2);
  ssm::DenseFilter<float> per_sample(sys, {ssm::Method::bilinear, ssm::Convention::ssm});
  ssm::DenseFilter<float> blocked(sys, {ssm::Method::bilinear, ssm::Convention::ssm});
  per_sample.prepare({rate, 1});
  blocked.prepare({rate, 64});

  std::vector<float> y1(L), y2(L);
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < L; ++i) per_sample.process_mono(&u[i], &y1[i], 1);
  const auto t1 = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < L; i += 64) blocked.process_mono(&u[i], &y2[i], static_cast<int>(std::min<std::size_t>(64, L - i)));
  const auto t2 = std::chrono::steady_clock::now();

  // Reconstruction error against the true delayed input (after the window has filled).
  const auto d = static_cast<std::size_t>(std::lround(delay * rate));
  const auto start = static_cast<std::size_t>(std::ceil(window * rate));
  double err = 0, ref = 0, diff = 0;
  for (std::size_t i = start; i < L; ++i) {
    err += (y1[i] - u[i - d]) * (y1[i] - u[i - d]);
    ref += static_cast<double>(u[i - d]) * u[i - d];
    diff = std::fmax(diff, std::fabs(y1[i] - y2[i]));
  }
  const double sec1 = std::chrono::duration<double>(t1 - t0).count();
  const double sec2 = std::chrono::duration<double>(t2 - t1).count();
  std::printf("ssmkit demo: HiPPO-LegT memory, N = %d states, window %.1f ms, bilinear at %.0f Hz\n",
              N, window * 1e3, rate);
  std::printf("  input        : %.1f s chirp 20..400 Hz + 1%% noise (%zu samples)\n", seconds, L);
  std::printf("  read-out     : C[n] = sqrt(2n+1) P_n(1 - 2d/window), d = %.1f ms (%zu samples)\n", delay * 1e3, d);
  std::printf("  delay error  : %.2f%% relative RMS vs the input delayed by %zu samples\n",
              100.0 * std::sqrt(err / ref), d);
  std::printf("  block 64 vs per-sample: max |difference| = %.3g\n", diff);
  std::printf("  speed        : per-sample %.1f ns/sample (real-time factor %.0fx), block 64 %.1f ns/sample (%.0fx)\n",
              1e9 * sec1 / L, seconds / sec1, 1e9 * sec2 / L, seconds / sec2);
  std::printf("                 (real-time factor: seconds of signal per second of compute; 1 = just real time)\n");
  return (std::sqrt(err / ref) < 0.2 && diff < 1e-4) ? 0 : 1;
}
