// Uses the installed ssmkit: a HiPPO-LegT filter streamed over a sine; checks the output is finite.
#include <cmath>
#include <cstdio>
#include <vector>

#include <ssm/continuous/hippo.hpp>
#include <ssm/stream/dense_filter.hpp>

int main() {
  const int N = 16;
  Eigen::RowVectorXd C = Eigen::RowVectorXd::Ones(N);
  ssm::DenseFilter<float> f(ssm::hippo::system(ssm::hippo::Measure::legt, N, C, 0.0, 0.01),
                            {ssm::Method::bilinear, ssm::Convention::ssm});
  f.prepare({48000.0, 480});
  std::vector<float> u(480), y(480);
  for (std::size_t i = 0; i < u.size(); ++i) u[i] = std::sin(0.05f * static_cast<float>(i));
  f.process_mono(u.data(), y.data(), static_cast<int>(u.size()));
  for (float v : y)
    if (!std::isfinite(v)) { std::puts("consumer: non-finite output"); return 1; }
  std::printf("consumer: ok, y[479] = %g\n", static_cast<double>(y.back()));
  return 0;
}
