// The public selective-scan problem (include/ssm/scan/selective_scan.hpp): its validation, its
// kernel parameters (src/backend/selective_scan_params.hpp), the public entry points over them
// and the streaming wrapper.
#include <algorithm>
#include <climits>

#include "backend/selective_scan_params.hpp"
#include "ssm/core/error.hpp"
#include "ssm/scan/selective_scan.hpp"

namespace ssm {

namespace {

constexpr const char* kWhere = "selective_scan";

template <class V>
void check_view_shape(const V& v, const char* name, std::ptrdiff_t b, std::ptrdiff_t d, std::ptrdiff_t l) {
  require(v.batch == b && v.channels == d && v.length == l, kWhere, name, "must have the shape of u (", b, ", ", d,
          ", ", l, "), got (", v.batch, ", ", v.channels, ", ", v.length, ")");
}

}  // namespace

template <class T>
void SelectiveScanProblem<T>::validate() const {
  require(u.data != nullptr, kWhere, "u", "must not be null");
  require(u.batch >= 1 && u.channels >= 1 && u.length >= 1, kWhere, "u",
          "must have batch, dim, length >= 1, got (", u.batch, ", ", u.channels, ", ", u.length, ")");
  require(u.batch <= INT_MAX && u.channels <= INT_MAX && u.length <= INT_MAX, kWhere, "u",
          "must have batch, dim, length <= ", INT_MAX, ", got (", u.batch, ", ", u.channels, ", ", u.length, ")");
  require(dstate >= 1, kWhere, "dstate", "must be >= 1, got ", dstate);
  require(groups >= 1 && u.channels % groups == 0, kWhere, "groups", "must be >= 1 and divide dim = ", u.channels,
          ", got ", groups);
  require(delta.data != nullptr, kWhere, "delta", "must not be null");
  check_view_shape(delta, "delta", u.batch, u.channels, u.length);
  if (z.data != nullptr) check_view_shape(z, "z", u.batch, u.channels, u.length);
  require(A != nullptr, kWhere, "A", "must not be null");
  require(B.data != nullptr, kWhere, "B", "must not be null");
  require(C.data != nullptr, kWhere, "C", "must not be null");
  require(out.data != nullptr, kWhere, "out", "must not be null");
  check_view_shape(out, "out", u.batch, u.channels, u.length);
}

template struct SelectiveScanProblem<float>;
template struct SelectiveScanProblem<double>;

namespace {

template <class T>
SelectiveScanArgs<T> params_of(const SelectiveScanProblem<T>& p) {
  p.validate();
  SelectiveScanArgs<T> a;
  a.batch = p.batch();
  a.dim = p.dim();
  a.length = p.length();
  a.dstate = p.dstate;
  a.groups = p.groups;
  a.complex_A = p.complex;
  a.delta_softplus = p.delta_softplus;
  a.u = p.u.data;
  a.delta = p.delta.data;
  a.z = p.z.data;
  a.A = p.A;
  a.B = p.B.data;
  a.C = p.C.data;
  a.B_variable = !p.B.is_fixed;
  a.C_variable = !p.C.is_fixed;
  a.D = p.D;
  a.delta_bias = p.delta_bias;
  a.h0 = p.h0;
  a.out = p.out.data;
  a.last_state = p.last_state;
  a.u_strides = p.u.strides();
  a.delta_strides = p.delta.strides();
  if (p.z.data != nullptr) a.z_strides = p.z.strides();
  a.out_strides = p.out.strides();
  a.validate();  // strides: non-negative, outputs not broadcasting
  return a;
}

}  // namespace

SelectiveScanArgs<float> selective_scan_params(const SelectiveScanProblem<float>& p) { return params_of(p); }
SelectiveScanArgs<double> selective_scan_params(const SelectiveScanProblem<double>& p) { return params_of(p); }

void selective_scan(const SelectiveScanProblem<float>& p, Device device) { selective_scan(params_of(p), device); }
void selective_scan(const SelectiveScanProblem<double>& p, Device device) { selective_scan(params_of(p), device); }
void selective_scan(const SelectiveScanProblem<float>& p, const CudaStream& s) { selective_scan(params_of(p), s); }
void selective_scan(const SelectiveScanProblem<double>& p, const CudaStream& s) { selective_scan(params_of(p), s); }
void selective_scan_cpu(const SelectiveScanProblem<float>& p, const ScanCpuOptions& o) {
  selective_scan_cpu(params_of(p), o);
}
void selective_scan_cpu(const SelectiveScanProblem<double>& p, const ScanCpuOptions& o) {
  selective_scan_cpu(params_of(p), o);
}

// ---- streaming wrapper ----------------------------------------------------------------------

template <class T>
SelectiveScanStream<T>::SelectiveScanStream(int batch, int dim, int dstate, bool complex)
    : batch_(batch), dim_(dim), dstate_(dstate), complex_(complex) {
  constexpr const char* w = "SelectiveScanStream";
  require(batch >= 1, w, "batch", "must be >= 1, got ", batch);
  require(dim >= 1, w, "dim", "must be >= 1, got ", dim);
  require(dstate >= 1, w, "dstate", "must be >= 1, got ", dstate);
  state_.assign(static_cast<std::size_t>(batch) * dim * dstate * (complex ? 2 : 1), T(0));
}

template <class T>
void SelectiveScanStream<T>::reset() noexcept {
  std::fill(state_.begin(), state_.end(), T(0));
}

template <class T>
void SelectiveScanStream<T>::process(const SelectiveScanProblem<T>& chunk, const ScanCpuOptions& opts) {
  constexpr const char* w = "SelectiveScanStream::process";
  SelectiveScanArgs<T> a = params_of(chunk);
  require(a.batch == batch_, w, "chunk.u", "must have the stream's batch ", batch_, ", got ", a.batch);
  require(a.dim == dim_, w, "chunk.u", "must have the stream's dim ", dim_, ", got ", a.dim);
  require(a.dstate == dstate_, w, "chunk.dstate", "must equal the stream's dstate ", dstate_, ", got ", a.dstate);
  require(a.complex_A == complex_, w, "chunk.complex", "must equal the stream's complex ", complex_);
  a.h0 = state_.data();
  a.last_state = state_.data();
  selective_scan_cpu(a, opts);
}

template class SelectiveScanStream<float>;
template class SelectiveScanStream<double>;

}  // namespace ssm
