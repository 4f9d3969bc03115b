// Conformance handlers for the foundation ops: hippo, discretize, lti_filter.
#include "conformance/conformance.hpp"
#include "ssm/continuous/hippo.hpp"
#include "ssm/discretize/discretize.hpp"
#include "ssm/stream/dense_filter.hpp"

namespace ssm::conformance {
namespace {

ContinuousSystem case_system(const io::SafeTensors& st) {
  ContinuousSystem s{matrix(st, "A"), matrix(st, "B"), matrix(st, "C"), matrix(st, "D")};
  return s;
}

Discretization case_discretization(const io::SafeTensors& st) {
  Discretization how;
  how.method = parse_method(st.meta("method"));
  how.convention = parse_convention(st.meta("convention", "ssm"));
  if (how.method == Method::gbt) how.alpha = st.meta_double("alpha");
  return how;
}

// Discretization is computed in double; the float32 run rounds the continuous system to
// float first, so that the float32 path sees float32 inputs.
ContinuousSystem round_to(const ContinuousSystem& s, Precision p) {
  if (p == Precision::f64) return s;
  return {s.A.cast<float>().cast<double>(), s.B.cast<float>().cast<double>(),
          s.C.cast<float>().cast<double>(), s.D.cast<float>().cast<double>()};
}

OpHandler hippo_handler() {
  OpHandler h;
  // The matrices are built in double; the float32 run checks them rounded to float.
  h.run = [](const io::SafeTensors& st, const Run& r) {
    const auto t = hippo::transition(hippo::parse_measure(st.meta("measure")),
                                     static_cast<int>(st.meta_int("N")));
    const bool f32 = r.precision == Precision::f32;
    Outputs o;
    o["A"] = out_matrix(f32 ? Eigen::MatrixXd(t.A.cast<float>().cast<double>()) : t.A);
    o["B"] = out_matrix(f32 ? Eigen::MatrixXd(t.B.cast<float>().cast<double>()) : Eigen::MatrixXd(t.B));
    return o;
  };
  return h;
}

OpHandler discretize_handler() {
  OpHandler h;
  h.run = [](const io::SafeTensors& st, const Run& r) {
    const auto d = discretize(round_to(case_system(st), r.precision), st.meta_double("dt"),
                              case_discretization(st));
    Outputs o;
    o["Ad"] = out_matrix(d.Ad);
    o["Bd"] = out_matrix(d.Bd);
    o["Cd"] = out_matrix(d.Cd);
    o["Dd"] = out_matrix(d.Dd);
    return o;
  };
  return h;
}

template <class T>
Outputs run_lti(const io::SafeTensors& st, const std::string& path) {
  const auto sys = case_system(st);
  DenseFilter<T> f(sys, case_discretization(st));
  const auto u = cast<T>(st.to_double("u"));
  const auto x0 = st.has("x0") ? cast<T>(st.to_double("x0")) : std::vector<T>(sys.states(), T(0));
  const auto s = shape(st, "u");
  const std::size_t L = static_cast<std::size_t>(s[0]);
  const int M = f.inputs(), P = f.outputs();
  std::vector<T> y(L * P);
  const int block = path == "sample" ? 1 : 64;
  f.prepare_dt(st.meta_double("dt"), block);
  f.set_initial_state(x0);
  if (path == "sample") {
    for (std::size_t k = 0; k < L; ++k) f.process_mono(u.data() + k * M, y.data() + k * P, 1);
  } else {
    for (std::size_t k = 0; k < L; k += block) {
      const std::size_t n = std::min<std::size_t>(block, L - k);
      f.process_mono(u.data() + k * M, y.data() + k * P, n);
    }
  }
  Outputs o;
  o["y"] = out_real(y);
  o["x"] = out_real(f.channel_state());
  return o;
}

OpHandler lti_handler() {
  OpHandler h;
  h.paths = {"sample", "block"};
  h.run = [](const io::SafeTensors& st, const Run& r) {
    return r.precision == Precision::f32 ? run_lti<float>(st, r.path) : run_lti<double>(st, r.path);
  };
  return h;
}

}  // namespace

SSM_CONFORMANCE_OP("hippo", hippo_handler());
SSM_CONFORMANCE_OP("discretize", discretize_handler());
SSM_CONFORMANCE_OP("lti_filter", lti_handler());

}  // namespace ssm::conformance
