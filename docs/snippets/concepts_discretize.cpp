#include <cmath>
#include <cstdio>
#include <ssm/continuous/hippo.hpp>
#include <ssm/discretize/discretize.hpp>

int main() {
  // A continuous model: HiPPO-LegS with 8 states, read out by the first state (time in seconds).
  const Eigen::RowVectorXd C = Eigen::RowVectorXd::Unit(8, 0);
  const ssm::ContinuousSystem sys = ssm::hippo::system(ssm::hippo::Measure::legs, 8, C, 0.5, 1e-3);

  // The same model at two sample rates: only dt changes, nothing is retrained.
  const auto at48 = ssm::discretize(sys, 1.0 / 48000, {ssm::Method::zoh, ssm::Convention::ssm});
  const auto at44 = ssm::discretize(sys, 1.0 / 44100, {ssm::Method::zoh, ssm::Convention::ssm});
  std::printf("Ad(0,0) at 48 kHz %.6f, at 44.1 kHz %.6f\n", at48.Ad(0, 0), at44.Ad(0, 0));

  // The two read-out conventions for zoh: ssm reads the state after the current input,
  // control before it, so y_ssm[k] - D u[k] == y_control[k+1] - D u[k+1].
  const auto ctl = ssm::discretize(sys, 1.0 / 48000, {ssm::Method::zoh, ssm::Convention::control});
  const double D = sys.D(0, 0);
  Eigen::VectorXd xs = Eigen::VectorXd::Zero(8), xc = xs;
  double prev_y = 0, prev_u = 0, worst = 0;
  for (int k = 0; k < 1000; ++k) {
    const double u = std::sin(0.01 * k) + (k % 7 == 0 ? 1.0 : 0.0);
    const double yc = (ctl.Cd * xc)(0) + ctl.Dd(0, 0) * u;  // control: y[k] from x[k] ...
    xc = ctl.Ad * xc + ctl.Bd * u;                            // ... then x[k+1]
    if (k > 0) worst = std::max(worst, std::abs((prev_y - D * prev_u) - (yc - D * u)));
    xs = at48.Ad * xs + at48.Bd * u;                          // ssm: x_k first ...
    prev_y = (at48.Cd * xs)(0) + at48.Dd(0, 0) * u;           // ... then y_k
    prev_u = u;
  }
  std::printf("max |(y_ssm[k] - D u[k]) - (y_control[k+1] - D u[k+1])| = %.2e\n", worst);
  return worst < 1e-9 ? 0 : 1;
}
