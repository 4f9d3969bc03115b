// HiPPO memory of a signal: a HiPPO-LegT filter keeps, in N states, the Legendre coefficients
// of its input over the last `window` seconds. From the state alone, at any moment t, the
// whole window can be read back:
//   u(t - d) ~ sum_n x_n(t) sqrt(2n+1) P_n(1 - 2 d / window),   0 <= d <= window
// (S4's LegT spans 2 time units, so the system runs with time scale window / 2).
// This program streams a signal through LegT filters with N = 8, 32, 128, reconstructs the
// window at one instant from each state, prints the errors and draws
// hippo_memory.png next to the program (or the path given as argv[1]) with matplotlib; the
// data behind it goes to <figure>_data/. Errors: one line on stderr, exit status 1.
//
//   example_hippo_memory [figure.png]
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "ssm/continuous/hippo.hpp"
#include "ssm/stream/dense_filter.hpp"
#include "figure.hpp"  // tools/plot: matplotlib

namespace {
int run(const std::string& figure);
}  // namespace

int main(int argc, char** argv) {
  // Default: next to this program (the build tree), never into the source tree.
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  const std::string figure = argc > 1 ? std::string(argv[1])
                                      : ((ec ? std::filesystem::path(".") : self.parent_path()) / "hippo_memory.png").string();
  try {
    return run(figure);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "example_hippo_memory: error: %s\n", e.what());
    return 1;
  }
}

namespace {
int run(const std::string& figure) {
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

  // Figure (matplotlib, tools/plot/figure.hpp): the signal with the window shaded, then the
  // window and its reconstructions (time axis in ms before "now").
  ssm::plot::Figure fig(5, 1, 10, 6.2);
  fig.title("HiPPO-LegT memory of a signal")
      .subtitle("the state of N continuous-time states holds the last 50 ms; reconstruction from the state at t = 0.5 s");
  const double t_end = static_cast<double>(L - 1) / rate;
  fig.axes(0, 0, 2, 1).span(t_end - window, t_end).line(u.data(), u.size(), 0, 1 / rate, "", "0.4")
      .ylim(-1.2, 1.2).title("input signal (the window is the last 50 ms)").xlabel("time (s)");
  auto& p = fig.axes(2, 0, 3, 1);
  // Truth: u(now - d) plotted at -d ms.
  std::vector<double> truth(W + 1);
  for (std::size_t k = 0; k <= W; ++k) truth[W - k] = u[L - 1 - k];
  p.line(truth.data(), truth.size(), -window * 1e3, 1e3 / rate, "input", "black");
  const char* colors[] = {"tab:orange", "tab:green", "tab:blue"};
  for (std::size_t j = 0; j < recon.size(); ++j) {
    std::vector<double> r(W + 1);
    for (std::size_t k = 0; k <= W; ++k) r[W - k] = recon[j][k];
    p.line(r.data(), r.size(), -window * 1e3, 1e3 / rate, "N = " + std::to_string(Ns[j]), colors[j]);
  }
  p.ylim(-1.2, 1.2).title("the last 50 ms: input and its reconstruction from the state").xlabel("time before now (ms)");
  fig.save(figure);
  std::printf("figure: %s\n", figure.c_str());
  return 0;
}
}  // namespace
