#include "ssm/conv/dplr_kernel.hpp"

#include <fftw3.h>

#include <cmath>
#include <complex>
#include <memory>
#include <mutex>
#include <numbers>
#include <vector>

#include "ssm/core/error.hpp"

namespace ssm {

namespace {

// FFTW's planner is process-global and not thread-safe; fftw_make_planner_thread_safe()
// makes every planner call in the process (ours and other ssmkit or user code) take FFTW's
// own lock, and our mutex keeps plan/destroy pairs of this file serialized as well.
std::mutex& planner_mutex() {
  static std::mutex m;
  return m;
}

struct FftwFree {
  void operator()(void* p) const noexcept { fftw_free(p); }
};

}  // namespace

Eigen::VectorXd inverse_real_dft(const Eigen::VectorXcd& X, std::ptrdiff_t L) {
  require(L >= 1, "inverse_real_dft", "L", "must be >= 1, got ", L);
  require(X.size() == L / 2 + 1, "inverse_real_dft", "half_spectrum", "must have L/2 + 1 = ", L / 2 + 1,
          " values, got ", X.size());
  const std::size_t nc = static_cast<std::size_t>(L / 2 + 1);
  std::unique_ptr<fftw_complex, FftwFree> in(static_cast<fftw_complex*>(fftw_malloc(nc * sizeof(fftw_complex))));
  std::unique_ptr<double, FftwFree> out(static_cast<double*>(fftw_malloc(static_cast<std::size_t>(L) * sizeof(double))));
  if (!in || !out) throw std::bad_alloc();
  fftw_plan plan;
  {
    std::lock_guard<std::mutex> lock(planner_mutex());
    static const bool once = (fftw_make_planner_thread_safe(), true);
    (void)once;
    plan = fftw_plan_dft_c2r_1d(static_cast<int>(L), in.get(), out.get(), FFTW_ESTIMATE);
  }
  require(plan != nullptr, "inverse_real_dft", "L", "could not be planned by FFTW (L = ", L, ")");
  for (std::size_t k = 0; k < nc; ++k) {
    in.get()[k][0] = X(static_cast<Eigen::Index>(k)).real();
    in.get()[k][1] = X(static_cast<Eigen::Index>(k)).imag();
  }
  fftw_execute(plan);
  {
    std::lock_guard<std::mutex> lock(planner_mutex());
    fftw_destroy_plan(plan);
  }
  Eigen::VectorXd x(L);
  const double s = 1.0 / static_cast<double>(L);
  for (std::ptrdiff_t l = 0; l < L; ++l) x(l) = out.get()[l] * s;
  return x;
}

Eigen::VectorXd dplr_kernel_bilinear(const NPLR& sys, const Eigen::RowVectorXcd& C_modes,
                                     const Eigen::RowVectorXcd& CAdL_modes, double dt, std::ptrdiff_t L,
                                     double decay) {
  const char* where = "dplr_kernel_bilinear";
  const Eigen::Index n2 = sys.Lambda.size();
  const Eigen::Index r = sys.P.cols();
  require(n2 >= 1 && sys.B.size() == n2 && sys.P.rows() == n2, where, "sys",
          "must be a consistent NPLR form (Lambda, B, P with N2 rows)");
  require(C_modes.size() == n2, where, "C_modes", "must have N2 = ", n2, " values, got ", C_modes.size());
  require(CAdL_modes.size() == n2, where, "CAdL_modes", "must have N2 = ", n2, " values, got ",
          CAdL_modes.size());
  require(std::isfinite(decay) && decay > 0 && decay <= 1, where, "decay", "must lie in (0, 1], got ", decay);
  // C~ = C (I - rho^L Ad^L) for evaluation points w_k = rho z_k, rho^L = decay.
  const Eigen::RowVectorXcd c = C_modes - decay * CAdL_modes;
  const double rho = std::pow(decay, 1.0 / static_cast<double>(L));
  require(std::isfinite(dt) && dt > 0, where, "dt", "must be finite and > 0, got ", dt);
  require(L >= 1, where, "L", "must be >= 1, got ", L);
  using cd = std::complex<double>;

  // Products v for the four Cauchy sums: k00 <- c b, k01_j <- c P_j, k10_i <- conj(P_i) b,
  // k11_ij <- conj(P_i) P_j. Stored as columns of one (N2 x m) matrix, m = (1 + r)^2.
  const Eigen::Index m = (1 + r) * (1 + r);
  Eigen::MatrixXcd Vt(n2, m);
  auto left = [&](Eigen::Index i, Eigen::Index n) -> cd { return i == 0 ? c(n) : std::conj(sys.P(n, i - 1)); };
  auto right = [&](Eigen::Index j, Eigen::Index n) -> cd { return j == 0 ? sys.B(n) : sys.P(n, j - 1); };
  for (Eigen::Index i = 0; i <= r; ++i)
    for (Eigen::Index j = 0; j <= r; ++j)
      for (Eigen::Index n = 0; n < n2; ++n) Vt(n, i * (1 + r) + j) = left(i, n) * right(j, n);

  const std::ptrdiff_t nk = L / 2 + 1;
  Eigen::VectorXcd Khat(nk);
  Eigen::VectorXcd sums(m);
  Eigen::MatrixXcd M(r, r);
  Eigen::VectorXcd k10(r), k01(r);
  const double two_pi = 2.0 * std::numbers::pi;
  for (std::ptrdiff_t k = 0; k < nk; ++k) {
    const double th = -two_pi * static_cast<double>(k) / static_cast<double>(L);
    const cd z = rho * cd(std::cos(th), std::sin(th));
    const cd alpha = (2.0 / dt) * (1.0 - z), beta = 1.0 + z;
    sums.setZero();
    for (Eigen::Index n = 0; n < n2; ++n) {
      const cd lam = sys.Lambda(n);
      const cd r1 = 1.0 / (alpha - beta * lam), r2 = 1.0 / (alpha - beta * std::conj(lam));
      for (Eigen::Index q = 0; q < m; ++q) sums(q) += Vt(n, q) * r1 + std::conj(Vt(n, q)) * r2;
    }
    cd val = sums(0);
    if (r > 0) {
      for (Eigen::Index i = 0; i < r; ++i) {
        k01(i) = sums(i + 1);               // (0, j = i+1)
        k10(i) = sums((i + 1) * (1 + r));   // (i+1, 0)
        for (Eigen::Index j = 0; j < r; ++j) M(i, j) = beta * sums((i + 1) * (1 + r) + j + 1);
        M(i, i) += 1.0;
      }
      const Eigen::VectorXcd x = M.partialPivLu().solve(k10);
      val -= beta * (k01.array() * x.array()).sum();
    }
    Khat(k) = 2.0 * val;
  }
  Eigen::VectorXd K = inverse_real_dft(Khat, L);
  // The transform gives K[l] rho^l.
  for (std::ptrdiff_t l = 0; l < L; ++l) K(l) /= std::pow(rho, static_cast<double>(l));
  require(K.allFinite(), where, "sys", "gives a non-finite kernel (dt = ", dt, ", L = ", L, ")");
  return K;
}

}  // namespace ssm
