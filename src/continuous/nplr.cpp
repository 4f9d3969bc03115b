#include "ssm/continuous/nplr.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "ssm/core/error.hpp"

namespace ssm {

Eigen::MatrixXd rank_correction(hippo::Measure measure, int N) {
  require(N >= 1, "rank_correction", "N", "must be >= 1, got ", N);
  switch (measure) {
    case hippo::Measure::legs: {
      Eigen::MatrixXd P(1, N);
      for (int n = 0; n < N; ++n) P(0, n) = std::sqrt(n + 0.5);
      return P;
    }
    case hippo::Measure::legt: {
      // sqrt(2n+1)/sqrt(2), split into even and odd n (rank 2), halved like LegT's A.
      Eigen::MatrixXd P = Eigen::MatrixXd::Zero(2, N);
      for (int n = 0; n < N; ++n) P(n % 2 == 0 ? 1 : 0, n) = std::sqrt((2.0 * n + 1.0) / 2.0);
      return P;
    }
    case hippo::Measure::lagt:
      return Eigen::MatrixXd::Constant(1, N, std::sqrt(0.5));
    case hippo::Measure::fout: {
      const auto t = hippo::fout(N);
      return t.B.transpose();
    }
  }
  throw Error("rank_correction: argument 'measure' is not a known measure");
}

NPLR nplr(const Eigen::MatrixXd& A, const Eigen::VectorXd& B, const Eigen::MatrixXd& P) {
  const char* where = "nplr";
  require(A.rows() >= 2 && A.rows() == A.cols(), where, "A", "must be square with N >= 2, got (",
          A.rows(), ", ", A.cols(), ")");
  const Eigen::Index N = A.rows();
  require(B.size() == N, where, "B", "must have N = ", N, " entries, got ", B.size());
  require(P.cols() == N && P.rows() >= 1, where, "P", "must be (r, ", N, ") with r >= 1, got (",
          P.rows(), ", ", P.cols(), ")");
  require(A.allFinite() && B.allFinite() && P.allFinite(), where, "A/B/P", "must be finite");

  const Eigen::MatrixXd S = A + P.transpose() * P;
  const double s = S.trace() / static_cast<double>(N);
  const Eigen::MatrixXd K = S - s * Eigen::MatrixXd::Identity(N, N);
  const double scale = std::max(1.0, S.cwiseAbs().maxCoeff());
  const double asym = (K + K.transpose()).cwiseAbs().maxCoeff();
  require(asym <= 1e-10 * scale, where, "P",
          "does not make A + P^T P normal of the form s I + skew (deviation ", asym, ")");

  // -iK is Hermitian with real eigenvalues w; K v = i w v, so S v = (s + i w) v.
  const Eigen::MatrixXcd Hm = std::complex<double>(0, -1) * K.cast<std::complex<double>>();
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXcd> es(Hm);
  require(es.info() == Eigen::Success, where, "A", "eigen-decomposition of the normal part failed");
  const Eigen::VectorXd w = es.eigenvalues();
  const Eigen::MatrixXcd& U = es.eigenvectors();
  const double tol = 1e-9 * std::max(1.0, w.cwiseAbs().maxCoeff());

  std::vector<Eigen::Index> pos, null;
  int neg = 0;
  for (Eigen::Index j = 0; j < N; ++j) {
    if (w(j) > tol) pos.push_back(j);
    else if (w(j) < -tol) ++neg;
    else null.push_back(j);
  }
  require(static_cast<int>(pos.size()) == neg, where, "A",
          "normal part has an unpaired spectrum (", pos.size(), " positive vs ", neg, " negative frequencies)");

  std::vector<Eigen::VectorXcd> cols;
  std::vector<std::complex<double>> lam;
  if (!null.empty()) {
    // K's null space is real: a real orthonormal basis from the real and imaginary parts.
    const Eigen::Index k = static_cast<Eigen::Index>(null.size());
    Eigen::MatrixXd M(N, 2 * k);
    for (Eigen::Index j = 0; j < k; ++j) {
      M.col(j) = U.col(null[j]).real();
      M.col(k + j) = U.col(null[j]).imag();
    }
    Eigen::JacobiSVD<Eigen::MatrixXd> svd(M, Eigen::ComputeThinU);
    const Eigen::MatrixXd Q = svd.matrixU().leftCols(k);
    const double r2 = std::sqrt(0.5);
    Eigen::Index j = 0;
    for (; j + 1 < k; j += 2) {
      Eigen::VectorXcd v(N);
      for (Eigen::Index i = 0; i < N; ++i) v(i) = std::complex<double>(Q(i, j), Q(i, j + 1)) * r2;
      cols.push_back(v);
      lam.emplace_back(s, 0.0);
    }
    if (j < k) {
      cols.push_back((Q.col(j) * r2).cast<std::complex<double>>());
      lam.emplace_back(s, 0.0);
    }
  }
  for (Eigen::Index j : pos) {  // ascending frequency
    cols.push_back(U.col(j));
    lam.emplace_back(s, w(j));
  }

  NPLR f;
  f.N = static_cast<int>(N);
  f.rank = static_cast<int>(P.rows());
  f.real_part = s;
  const Eigen::Index n2 = static_cast<Eigen::Index>(cols.size());
  f.Lambda.resize(n2);
  f.V.resize(N, n2);
  for (Eigen::Index j = 0; j < n2; ++j) {
    f.Lambda(j) = lam[j];
    f.V.col(j) = cols[j];
  }
  f.P = f.V.adjoint() * P.transpose().cast<std::complex<double>>();
  f.B = f.V.adjoint() * B.cast<std::complex<double>>();
  f.P_real = P;
  f.B_real = B;
  return f;
}

NPLR nplr(hippo::Measure measure, int N) {
  require(N >= 2, "nplr", "N", "must be >= 2, got ", N);
  const auto t = hippo::transition(measure, N);
  return nplr(t.A, t.B, rank_correction(measure, N));
}

Eigen::MatrixXd NPLR::dense_A() const {
  const Eigen::MatrixXcd VL = V * Lambda.asDiagonal();
  return 2.0 * (VL * V.adjoint()).real() - P_real.transpose() * P_real;
}

Eigen::RowVectorXcd NPLR::to_modes(const Eigen::RowVectorXd& c) const {
  require(c.size() == N, "NPLR::to_modes", "c", "must have N = ", N, " entries, got ", c.size());
  return c.cast<std::complex<double>>() * V;
}

}  // namespace ssm
