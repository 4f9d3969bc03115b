// Continuous models and their discretization, kernels and filters: hippo, discretize,
// hippo_kernel, diag_kernel, lti_filter. Parameters are small host arrays (converted to the
// float64 Eigen / DiagonalSSM types the C++ API takes); data arrays are read in place.
#include <algorithm>
#include <cmath>
#include <complex>

#include <nanobind/eigen/dense.h>
#include <nanobind/nanobind.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>

#include "arrays.hpp"
#include "ssm/continuous/diagonal.hpp"
#include "ssm/continuous/hippo.hpp"
#include "ssm/conv/diag_kernel.hpp"
#include "ssm/conv/hippo_kernel.hpp"
#include "ssm/discretize/discretize.hpp"
#include "ssm/stream/dense_filter.hpp"

namespace ssmpy {
namespace {

using I = std::int64_t;

std::pair<Eigen::MatrixXd, Eigen::VectorXd> hippo(const std::string& measure, int N) {
  auto t = ssm::hippo::transition(ssm::hippo::parse_measure(measure), N);
  return {std::move(t.A), std::move(t.B)};
}

Eigen::MatrixXd as_matrix(const Eigen::MatrixXd& m) { return m; }

std::tuple<Eigen::MatrixXd, Eigen::MatrixXd, Eigen::MatrixXd, Eigen::MatrixXd> discretize(
    const Eigen::MatrixXd& A, const Eigen::MatrixXd& B, const Eigen::MatrixXd& C, const Eigen::MatrixXd& D, double dt,
    const std::string& method, const std::string& convention, double alpha) {
  ssm::Discretization how;
  how.method = ssm::parse_method(method);
  how.convention = ssm::parse_convention(convention);
  how.alpha = alpha;
  ssm::DiscreteSystem d;
  {
    nb::gil_scoped_release unlock;
    d = ssm::discretize(ssm::ContinuousSystem{A, B, C, D}, dt, how);
  }
  return {d.Ad, d.Bd, d.Cd, d.Dd};
}

Eigen::VectorXd hippo_kernel(const std::string& measure, int N, const Eigen::VectorXd& C, double dt, I L,
                             const std::string& method, const std::string& algorithm) {
  const Eigen::RowVectorXd c = C.transpose();
  nb::gil_scoped_release unlock;
  return ssm::hippo_kernel(ssm::hippo::parse_measure(measure), N, c, dt, L, ssm::parse_method(method),
                           ssm::parse_kernel_algorithm(algorithm));
}

// (H, N2) complex parameters of any complex dtype (read as complex128) into a DiagonalSSM.
ssm::DiagonalSSM diag_model(const char* where, nb::handle A_o, nb::handle B_o, nb::handle C_o, nb::handle dt_o,
                            bool& single) {
  Call c(where, A_o, "A");
  if (c.cuda()) c.value_error("A", "must be a host array (the kernel parameters are read on the host); pass device='cuda' to compute K on the GPU");
  auto complex_arg = [&](nb::handle o, const char* name) {
    Arr a = c.get(o, name);
    if (a.dtype() != nb::dtype<std::complex<double>>() && a.dtype() != nb::dtype<std::complex<float>>())
      c.type_error(name, "must be complex64 or complex128, got " + Call::describe_dtype(a));
    c.ndim(a, name, 2);
    c.contiguous(a, name);
    return a;
  };
  const Arr A = complex_arg(A_o, "A");
  single = A.dtype() == nb::dtype<std::complex<float>>();
  const I H = A.shape(0), N2 = A.shape(1);
  const Arr B = complex_arg(B_o, "B"), C = complex_arg(C_o, "C");
  c.shape(B, "B", {H, N2});
  c.shape(C, "C", {H, N2});
  const Arr dt = c.get(dt_o, "dt");
  if (dt.dtype() != nb::dtype<double>() && dt.dtype() != nb::dtype<float>()) c.type_error("dt", "must be float32 or float64");
  c.shape(dt, "dt", {H});
  c.contiguous(dt, "dt");
  ssm::DiagonalSSM m(static_cast<int>(H), static_cast<int>(N2));
  auto get = [](const Arr& a, I i) -> std::complex<double> {
    if (a.dtype() == nb::dtype<std::complex<float>>()) return static_cast<const std::complex<float>*>(a.data())[i];
    return static_cast<const std::complex<double>*>(a.data())[i];
  };
  for (I i = 0; i < H * N2; ++i) {
    m.A.set(std::size_t(i), get(A, i));
    m.B.set(std::size_t(i), get(B, i));
    m.C.set(std::size_t(i), get(C, i));
  }
  std::vector<double> dts(static_cast<std::size_t>(H));
  for (I h = 0; h < H; ++h)
    dts[h] = dt.dtype() == nb::dtype<float>() ? static_cast<const float*>(dt.data())[h] : static_cast<const double*>(dt.data())[h];
  m.set_dt(dts);
  m.validate(where);
  return m;
}

nb::object diag_kernel(nb::handle A, nb::handle B, nb::handle C, nb::handle dt, I L, const std::string& method,
                       double alpha, nb::handle out) {
  bool single = false;
  const ssm::DiagonalSSM m = diag_model("diag_kernel", A, B, C, dt, single);
  const ssm::Method how = ssm::parse_method(method);
  if (!out.is_none()) {  // the GPU path: K into a float32 CUDA array (H, L)
    Call c("diag_kernel", out, "out");
    if (!c.cuda()) c.value_error("out", "must be a CUDA array (it selects the GPU path)");
    c.real<float>(c.ref(), "out");
    c.shape(c.ref(), "out", {m.H, L});
    c.contiguous(c.ref(), "out");
    nb::ndarray<> w;
    if (!nb::try_cast(out, w, false)) c.value_error("out", "must be writable");
    DeviceGuard guard(c);
    nb::gil_scoped_release unlock;
    ssm::diag_kernel(m, how, L, static_cast<float*>(w.data()), ssm::Device::cuda, 1.0, alpha);
    return nb::borrow(out);
  }
  const std::vector<std::size_t> shape{std::size_t(m.H), std::size_t(L)};
  if (single) {
    std::vector<float> K;
    {
      nb::gil_scoped_release unlock;
      K = ssm::diag_kernel<float>(m, how, L, 1.0, alpha);
    }
    return numpy_copy(K.data(), shape);
  }
  std::vector<double> K;
  {
    nb::gil_scoped_release unlock;
    K = ssm::diag_kernel<double>(m, how, L, 1.0, alpha);
  }
  return numpy_copy(K.data(), shape);
}

template <class T>
nb::object lti_t(const Call& c, const Eigen::MatrixXd& A, const Eigen::MatrixXd& B, const Eigen::MatrixXd& C,
                 const Eigen::MatrixXd& D, double dt, const std::string& method, const std::string& convention,
                 nb::handle x0_o) {
  const Arr& u = c.ref();
  c.ndim(u, "u", 2);
  c.contiguous(u, "u");
  if (c.cuda()) c.value_error("u", "must be a host array (the dense filter is a CPU streaming path)");
  ssm::Discretization how;
  how.method = ssm::parse_method(method);
  how.convention = ssm::parse_convention(convention);
  ssm::DenseFilter<T> f(ssm::ContinuousSystem{A, B, C, D}, how);
  const I L = u.shape(0), M = u.shape(1), P = f.outputs(), N = f.states();
  if (M != f.inputs()) c.value_error("u", "must be (length, " + std::to_string(f.inputs()) + ") for a B of " + std::to_string(f.inputs()) + " columns, got " + Call::describe_shape(u));
  std::vector<T> x0(static_cast<std::size_t>(N), T(0));
  if (!x0_o.is_none()) {
    Arr x = c.get(x0_o, "x0");
    c.real<T>(x, "x0");
    c.shape(x, "x0", {N});
    std::copy_n(static_cast<const T*>(x.data()), N, x0.begin());
  }
  auto [y_obj, y] = c.empty<T>({std::size_t(L), std::size_t(P)});
  std::vector<T> x(static_cast<std::size_t>(N));
  {
    nb::gil_scoped_release unlock;
    const int block = 1024;
    f.prepare_dt(dt, block);
    f.set_initial_state(x0);
    const T* in = static_cast<const T*>(u.data());
    for (I t = 0; t < L; t += block) {
      const int n = int(std::min<I>(block, L - t));
      f.process_mono(in + t * M, y + t * P, n);
    }
    const auto s = f.channel_state();
    std::copy(s.begin(), s.end(), x.begin());
  }
  return nb::make_tuple(y_obj, numpy_copy(x.data(), {std::size_t(N)}));
}

nb::object lti_filter(const Eigen::MatrixXd& A, const Eigen::MatrixXd& B, const Eigen::MatrixXd& C,
                      const Eigen::MatrixXd& D, nb::handle u, double dt, const std::string& method,
                      const std::string& convention, nb::handle x0) {
  Call c("lti_filter", u, "u");
  if (c.ref().dtype() == nb::dtype<float>()) return lti_t<float>(c, A, B, C, D, dt, method, convention, x0);
  if (c.ref().dtype() == nb::dtype<double>()) return lti_t<double>(c, A, B, C, D, dt, method, convention, x0);
  c.type_error("u", "must be float32 or float64, got " + Call::describe_dtype(c.ref()));
}

}  // namespace

void bind_foundation(nb::module_& m) {
  using namespace nb::literals;
  m.def("hippo", &hippo, "measure"_a, "N"_a,
        R"doc(HiPPO transition matrices (A (N, N), B (N,)) of a measure, float64, in the S4 reference's
conventions: legs, legt (halved), lagt, fout (rank-one correction subtracted; even N).
The continuous system is x'(t) = A x(t) + B u(t).)doc");
  m.def("discretize", &discretize, "A"_a, "B"_a, "C"_a, "D"_a, "dt"_a, "method"_a = "zoh", "convention"_a = "ssm",
        "alpha"_a = 0.5,
        R"doc(Discretizes x' = A x + B u, y = C x + D u at step dt; returns (Ad, Bd, Cd, Dd), float64.

method: zoh, foh, bilinear, euler, backward_diff, gbt (alpha in [0, 1]).
convention 'control' (scipy.signal.cont2discrete): x[k+1] = Ad x[k] + Bd u[k], y[k] = Cd x[k] + Dd u[k];
convention 'ssm' (S4/Mamba): x_k = Ad x_{k-1} + Bd u_k, y_k = C x_k + D u_k (Cd = C, Dd = D; no foh).
Shapes: A (N, N), B (N, M), C (P, N), D (P, M).)doc");
  m.def("hippo_kernel", &hippo_kernel, "measure"_a, "N"_a, "C"_a, "dt"_a, "L"_a, "method"_a = "bilinear",
        "algorithm"_a = "dplr",
        R"doc(Convolution kernel K[l] = C Ad^l Bd (l < L) of the HiPPO system of `measure` and N states
discretized at dt (ssm convention, zoh or bilinear); C (N,). algorithm: dense (matrix powers)
or dplr (normal-plus-low-rank + Cauchy). Returns K (L,), float64.)doc");
  m.def("diag_kernel", &diag_kernel, "A"_a, "B"_a, "C"_a, "dt"_a, "L"_a, "method"_a = "zoh", "alpha"_a = 0.5,
        nb::kw_only(), "out"_a = nb::none(),
        R"doc(Kernel of a diagonal (S4D) model, the Vandermonde product

    K[h, l] = 2 Re( sum_n C[h, n] Bd[h, n] Ad[h, n]^l ),  l < L
    zoh: Ad = exp(dt A), Bd = (Ad - 1)/A B;  bilinear (gbt): Ad = (1 + dt A/2)/(1 - dt A/2), Bd = dt B/(1 - dt A/2)

A, B, C (H, N2) complex64 or complex128 host arrays, dt (H,). Returns K (H, L) as a NumPy array
(float32 for complex64 parameters, else float64), or, given ``out`` (a float32 CUDA array (H, L)),
computes K on the GPU into it and returns it.)doc");
  m.def("lti_filter", &lti_filter, "A"_a, "B"_a, "C"_a, "D"_a, "u"_a, "dt"_a, "method"_a = "zoh",
        "convention"_a = "ssm", "x0"_a = nb::none(),
        R"doc(Streams u (L, M) through the dense system (A, B, C, D) discretized at dt (DenseFilter, the
real-time recurrence): returns (y (L, P), x (N,)) with x the state after the last sample
(control convention: x[L]). x0 (N,) is the initial state (default zero). float32 or float64
(the dtype of u).)doc");
}

}  // namespace ssmpy
