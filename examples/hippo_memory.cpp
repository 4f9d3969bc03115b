// HiPPO memory of a signal: a HiPPO-LegT filter keeps, in N states, the Legendre coefficients
// of its input over the last `window` seconds. From the state alone, at any moment t, the
// whole window can be read back:
//   u(t - d) ~ sum_n x_n(t) sqrt(2n+1) P_n(1 - 2 d / window),   0 <= d <= window
// (S4's LegT spans 2 time units, so the system runs with time scale window / 2).
// This program streams a signal through LegT filters with N = 8, 32, 128, reconstructs the
// window at one instant from each state, prints the errors and draws
// docs/figures/hippo_memory.png (or the path given as argv[1]).
//
//   example_hippo_memory [figure.png]
#include <cmath>
#include <cstdio>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "ssm/continuous/hippo.hpp"
#include "ssm/io/png.hpp"
#include "ssm/stream/dense_filter.hpp"

int main(int argc, char** argv) {
  const std::string figure = argc > 1 ? argv[1] : "docs/figures/hippo_memory.png";
  const double rate = 8000, window = 0.05;  // 50 ms of memory
  const std::size_t L = 4000;               // 0.5 s; the reconstruction is taken at the end

  // A signal with structure at several time scales: two tones, a glide and a little noise.
  std::vector<double> u(L);
  std::mt19937 rng(3);
  std::normal_distribution<double> noise(0, 0.02);
  for (std::size_t i = 0; i < L; ++i) {
    const double t = static_cast<double>(i) / rate;
    u[i] = 0.6 * std::sin(2 * std::numbers::pi * 30 * t) + 0.3 * std::sin(2 * std::numbers::pi * (60 + 100 * t) * t) +
           noise(rng);
  }

  const std::size_t W = static_cast<std::size_t>(window * rate);  // window in samples
  const int Ns[] = {8, 32, 128};
  std::vector<std::vector<double>> recon;
  std::printf("HiPPO-LegT memory of the last %.0f ms (%zu samples at %.0f Hz), read from the state at t = %.2f s\n",
              window * 1e3, W, rate, static_cast<double>(L) / rate);
  for (int N : Ns) {
    // Only the state matters here; the read-out C is a placeholder (one output).
    const auto sys = ssm::hippo::system(ssm::hippo::Measure::legt, N, Eigen::RowVectorXd::Zero(N), 0.0, window / 2);
    ssm::DenseFilter<double> f(sys, {ssm::Method::bilinear, ssm::Convention::ssm});
    f.prepare({rate, 1});
    double y = 0;
    for (std::size_t i = 0; i < L; ++i) f.process_mono(&u[i], &y, 1);
    const auto x = f.channel_state();
    std::vector<double> r(W + 1);
    double err = 0, ref = 0;
    for (std::size_t k = 0; k <= W; ++k) {  // d = k / rate seconds ago
      const auto C = ssm::hippo::legt_delay_readout(N, static_cast<double>(k), static_cast<double>(W));
      double v = 0;
      for (int n = 0; n < N; ++n) v += x[static_cast<std::size_t>(n)] * C(n);
      r[k] = v;
      const double truth = u[L - 1 - k];
      if (k > 0 && k < W) {  // interior of the window (the endpoints converge slowest)
        err += (v - truth) * (v - truth);
        ref += truth * truth;
      }
    }
    std::printf("  N = %3d states: relative RMS error of the reconstructed window %.2f%%\n", N, 100 * std::sqrt(err / ref));
    recon.push_back(std::move(r));
  }

  // Figure: the signal, the window, and the reconstructions (time axis in ms before "now").
  using namespace ssm::io;
  Canvas c(1000, 620);
  c.text(20, 12, "HiPPO-LegT memory of a signal", black, 2);
  c.text(20, 34, "the state of N continuous-time states holds the last 50 ms; reconstruction from the state at t = 0.5 s", dark_grey);
  std::vector<float> uf(u.begin(), u.end());
  Plot top(c, 70, 70, 900, 170, 0, static_cast<double>(L) / rate, -1.2, 1.2);
  top.axes().series(uf.data(), uf.size(), 0, 1 / rate, grey).title("input signal (the window is the last 50 ms)").xlabel("time (s)");
  const double t_end = static_cast<double>(L - 1) / rate;
  c.fill_rect(top.px(t_end - window), 71, top.px(t_end) - top.px(t_end - window), 168, very_light_grey);
  top.series(uf.data(), uf.size(), 0, 1 / rate, grey);

  Plot p(c, 70, 300, 900, 280, -window * 1e3, 0, -1.2, 1.2);
  p.axes();
  // Truth: u(now - d) plotted at -d ms.
  std::vector<double> truth(W + 1);
  for (std::size_t k = 0; k <= W; ++k) truth[W - k] = u[L - 1 - k];
  p.series(truth.data(), truth.size(), -window * 1e3, 1e3 / rate, black);
  const std::uint8_t colors[] = {orange, green, blue};
  for (std::size_t j = 0; j < recon.size(); ++j) {
    std::vector<double> r(W + 1);
    for (std::size_t k = 0; k <= W; ++k) r[W - k] = recon[j][k];
    p.series(r.data(), r.size(), -window * 1e3, 1e3 / rate, colors[j]);
  }
  p.title("the last 50 ms: input and its reconstruction from the state").xlabel("time before now (ms)");
  p.legend("input", black).legend("N = 8", orange).legend("N = 32", green).legend("N = 128", blue);
  c.save_png(figure);
  std::printf("figure: %s\n", figure.c_str());
  return 0;
}
