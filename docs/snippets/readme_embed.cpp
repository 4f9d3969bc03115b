#include <cmath>
#include <cstdio>
#include <numbers>
#include <vector>
#include <ssm/continuous/hippo.hpp>
#include <ssm/stream/dense_filter.hpp>

int main() {
  // A 32-state HiPPO-LegT memory over a 10 ms window, read out as the input 5 ms ago.
  const Eigen::RowVectorXd C = ssm::hippo::legt_delay_readout(32, /*delay=*/0.005, /*window=*/0.010);
  ssm::DenseFilter<float> filter(ssm::hippo::system(ssm::hippo::Measure::legt, 32, C, 0.0, 0.005),
                                 {ssm::Method::bilinear, ssm::Convention::ssm});
  filter.prepare({48000.0, /*max_block=*/512});  // allocates; discretizes at dt = 1/48000

  std::vector<float> in(48000), out(48000);       // 1 s of a 100 Hz sine
  for (int t = 0; t < 48000; ++t) in[t] = std::sin(2 * std::numbers::pi * 100 * t / 48000);
  for (int t = 0; t < 48000; t += 480)            // what an audio callback does (10 ms blocks):
    filter.process_mono(&in[t], &out[t], 480);         // real-time safe, no allocation, lock or throw

  double err = 0;                                  // out[t] ~ in[t - 240] (5 ms at 48 kHz)
  for (int t = 4800; t < 48000; ++t) err = std::max(err, std::abs(double(out[t]) - in[t - 240]));
  std::printf("max |out[t] - in[t - 5 ms]| = %.4f\n", err);
  return err < 0.05 ? 0 : 1;
}
