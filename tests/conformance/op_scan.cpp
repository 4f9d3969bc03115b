// Conformance handlers for the scan stage: selective_scan, selective_state_update, and the
// scan path of diag_filter (run_diag_filter_scan, registered by the diag_filter handler).
//
// Every input is rounded to the run's precision first. For Device::cuda the inputs are
// uploaded to DeviceBuffers and the outputs downloaded (the ops take device pointers).
#include "conformance/op_scan.hpp"

#include <deque>
#include <optional>

#include "ssm/core/device_buffer.hpp"
#include "ssm/core/error.hpp"
#include "ssm/scan/diag_scan.hpp"
#include "ssm/scan/selective_scan.hpp"
#include "ssm/scan/state_update.hpp"

namespace ssm::conformance {
namespace {

// Host arrays and, for Device::cuda, their device copies. Pointers handed out stay valid for
// the lifetime of the Staging object.
template <class T>
class Staging {
public:
  explicit Staging(Device d) : device_(d) {}

  /// Input tensor `name` rounded to T, or null when absent.
  const T* input(const io::SafeTensors& st, const std::string& name) {
    if (!st.has(name)) return nullptr;
    return put(cast<T>(st.to_double(name)));
  }
  const T* put(std::vector<T> v) {
    host_.push_back(std::move(v));
    if (device_ == Device::cpu) return host_.back().data();
    dev_.emplace_back(host_.back());
    return dev_.back().data();
  }
  /// Output (or in/out) array of n elements, initialised from `init` when given.
  T* output(std::size_t n, const std::vector<T>* init = nullptr) {
    host_.push_back(init ? *init : std::vector<T>(n, T(0)));
    if (device_ == Device::cpu) return host_.back().data();
    dev_.emplace_back(host_.back());
    outs_.emplace_back(&host_.back(), &dev_.back());
    return dev_.back().data();
  }
  /// Host values of an output pointer returned by output() (after download()).
  const std::vector<T>& host_of(const T* p) const {
    for (std::size_t i = 0; i < host_.size(); ++i)
      if (host_[i].data() == p) return host_[i];
    for (const auto& [h, d] : outs_)
      if (d->data() == p) return *h;
    throw Error("conformance: unknown staging pointer");
  }
  void download() {
    for (auto& [h, d] : outs_) d->download(h->data(), h->size());
  }

private:
  Device device_;
  std::deque<std::vector<T>> host_;
  std::deque<DeviceBuffer<T>> dev_;
  std::vector<std::pair<std::vector<T>*, DeviceBuffer<T>*>> outs_;
};

template <class T>
Output to_output(const std::vector<T>& v, bool complex) {
  Output o;
  o.values.assign(v.begin(), v.end());
  o.complex = complex;
  return o;
}

int dim_of(const std::vector<std::int64_t>& s, std::size_t i, const std::string& name) {
  if (i >= s.size()) throw Error("case tensor '" + name + "' has too few dimensions");
  return static_cast<int>(s[i]);
}

// ---- selective_scan -------------------------------------------------------------------------
template <class T>
Outputs run_selective_scan(const io::SafeTensors& st, const Run& r) {
  Staging<T> s(r.device);
  SelectiveScanProblem<T> a;
  const auto us = shape(st, "u");
  if (us.size() != 3) throw Error("case tensor 'u' must be (Bt, Dm, L)");
  const int batch = dim_of(us, 0, "u"), dim = dim_of(us, 1, "u"), length = dim_of(us, 2, "u");
  a.complex = is_complex(st, "A", 2);
  a.dstate = dim_of(shape(st, "A"), 1, "A");
  const std::size_t real_rank_B = shape(st, "B").size() - (a.complex ? 1 : 0);
  const std::size_t real_rank_C = shape(st, "C").size() - (a.complex ? 1 : 0);
  const bool B_variable = real_rank_B == 4, C_variable = real_rank_C == 4;
  a.groups = B_variable ? dim_of(shape(st, "B"), 1, "B") : C_variable ? dim_of(shape(st, "C"), 1, "C") : 1;
  a.delta_softplus = st.meta("delta_softplus", "false") == "true";
  a.u = {s.input(st, "u"), batch, dim, length};
  a.delta = {s.input(st, "delta"), batch, dim, length};
  a.A = s.input(st, "A");
  a.B = {s.input(st, "B"), !B_variable};
  a.C = {s.input(st, "C"), !C_variable};
  a.D = s.input(st, "D");
  if (const T* z = s.input(st, "z")) a.z = {z, batch, dim, length};
  a.delta_bias = s.input(st, "delta_bias");
  a.h0 = s.input(st, "h0");
  const std::size_t nstate = static_cast<std::size_t>(batch) * dim * a.dstate * (a.complex ? 2 : 1);
  a.out = {s.output(static_cast<std::size_t>(batch) * dim * length), batch, dim, length};
  a.last_state = s.output(nstate);
  if (r.path == "chunked" && r.device == Device::cpu) {
    // The chunked time-parallel CPU scan with a chunk length that divides nothing in particular.
    selective_scan_cpu(a, ScanCpuOptions{2, 7});
  } else {
    selective_scan(a, r.device);
  }
  s.download();
  Outputs o;
  o["out"] = to_output(s.host_of(a.out.data), false);
  o["last_state"] = to_output(s.host_of(a.last_state), a.complex);
  return o;
}

// ---- selective_state_update -----------------------------------------------------------------
template <class T>
Outputs run_state_update(const io::SafeTensors& st, const Run& r) {
  Staging<T> s(r.device);
  SelectiveStateUpdateArgs<T> a;
  a.complex_A = is_complex(st, "A", 2);
  const auto ss = shape(st, "state");
  a.batch = dim_of(ss, 0, "state");
  a.dim = dim_of(ss, 1, "state");
  a.dstate = dim_of(ss, 2, "state");
  a.groups = dim_of(shape(st, "B"), 1, "B");
  a.dt_softplus = st.meta("dt_softplus", "false") == "true";
  const std::vector<T> state0 = cast<T>(st.to_double("state"));
  a.state = s.output(state0.size(), &state0);
  a.x = s.input(st, "x");
  a.dt = s.input(st, "dt");
  a.A = s.input(st, "A");
  a.B = s.input(st, "B");
  a.C = s.input(st, "C");
  a.D = s.input(st, "D");
  a.z = s.input(st, "z");
  a.dt_bias = s.input(st, "dt_bias");
  a.out = s.output(static_cast<std::size_t>(a.batch) * a.dim);
  selective_state_update(a, r.device);
  s.download();
  Outputs o;
  o["out"] = to_output(s.host_of(a.out), false);
  o["state"] = to_output(s.host_of(a.state), a.complex_A);
  return o;
}

// ---- diag_filter (scan path) ----------------------------------------------------------------
template <class T>
Outputs run_diag(const io::SafeTensors& st, const Run& r) {
  Staging<T> s(r.device);
  DiagScanArgs<T> a;
  const auto us = shape(st, "u");
  if (us.size() != 3) throw Error("case tensor 'u' must be (Bt, H, L)");
  a.batch = dim_of(us, 0, "u");
  a.channels = dim_of(us, 1, "u");
  a.length = dim_of(us, 2, "u");
  if (!is_complex(st, "A", 2)) throw Error("case tensor 'A' must be complex (H, N2, 2)");
  a.modes = dim_of(shape(st, "A"), 1, "A");
  a.method = parse_method(st.meta("method"));
  if (a.method == Method::gbt) a.alpha = st.meta_double("alpha");
  a.A = s.input(st, "A");
  a.B = s.input(st, "B");
  a.C = s.input(st, "C");
  a.D = s.input(st, "D");
  a.dt = s.input(st, "dt");
  a.u = s.input(st, "u");
  a.y = s.output(static_cast<std::size_t>(a.batch) * a.channels * a.length);
  a.last_state = s.output(static_cast<std::size_t>(a.batch) * a.channels * a.modes * 2);
  diag_scan(a, r.device);
  s.download();
  Outputs o;
  o["y"] = to_output(s.host_of(a.y), false);
  o["h"] = to_output(s.host_of(a.last_state), true);
  return o;
}

OpHandler selective_scan_handler() {
  OpHandler h;
  h.paths = {"scan", "chunked"};
  h.has_cuda = true;
  h.run = [](const io::SafeTensors& st, const Run& r) {
    return r.precision == Precision::f32 ? run_selective_scan<float>(st, r)
                                         : run_selective_scan<double>(st, r);
  };
  return h;
}

OpHandler state_update_handler() {
  OpHandler h;
  h.paths = {"step"};
  h.has_cuda = true;
  h.run = [](const io::SafeTensors& st, const Run& r) {
    return r.precision == Precision::f32 ? run_state_update<float>(st, r)
                                         : run_state_update<double>(st, r);
  };
  return h;
}

}  // namespace

Outputs run_diag_filter_scan(const io::SafeTensors& st, const Run& r) {
  return r.precision == Precision::f32 ? run_diag<float>(st, r) : run_diag<double>(st, r);
}

SSM_CONFORMANCE_OP("selective_scan", selective_scan_handler());
SSM_CONFORMANCE_OP("selective_state_update", state_update_handler());

}  // namespace ssm::conformance
