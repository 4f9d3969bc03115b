// The ops of ssmkit on arrays: scans, state update, FFT convolution, diagonal kernels and scans.
// Each binding imports its arguments without conversion (arrays.hpp), checks every one of
// them, allocates the outputs in the caller's framework, releases the GIL and calls the one
// C++ entry point of the op (CPU, or CUDA on the caller's stream). The docstrings are the
// reference of the Python API (docs/python.md points here and to the generated .pyi).
#include <algorithm>
#include <chrono>
#include <cstdint>

#include <nanobind/nanobind.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>

#include "arrays.hpp"
#include "ssm/conv/fftconv.hpp"
#include "ssm/scan/bidirectional_scan.hpp"
#include "ssm/scan/cross_scan.hpp"
#include "ssm/scan/diag_scan.hpp"
#include "ssm/scan/selective_scan.hpp"
#include "ssm/scan/state_update.hpp"

namespace ssmpy {
namespace {

using I = std::int64_t;
using Sz = std::vector<std::size_t>;

template <class T>
const T* ptr(const Arr& a) { return static_cast<const T*>(a.data()); }
template <class T>
const T* ptr(const std::optional<Arr>& a) { return a ? static_cast<const T*>(a->data()) : nullptr; }

// (batch, dim, length) strides in elements; a stride-0 (broadcast) input is allowed unless every
// axis is broadcast (the C++ ops read all-zero strides as "contiguous").
ssm::Strides3 strides3(const Call& c, const Arr& a, const char* name) {
  c.non_negative_strides(a, name);
  ssm::Strides3 s{a.stride(0), a.stride(1), a.stride(2)};
  if (s.is_default() && a.shape(0) * a.shape(1) * a.shape(2) > 1)
    c.value_error(name, "must not be broadcast along every axis");
  if (s.is_default()) s = {I(a.shape(1) * a.shape(2)), I(a.shape(2)), 1};
  return s;
}

template <class T>
std::optional<Arr> vec(const Call& c, nb::handle o, const char* name, I n) {
  auto a = c.get_optional(o, name);
  if (a) {
    c.real<T>(*a, name);
    c.shape(*a, name, {n});
    c.contiguous(*a, name);
  }
  return a;
}

template <class T>
void run_cpu_or_stream(const Call& c, nb::handle stream, auto&& on_cpu, auto&& on_stream) {
  if (!c.cuda()) {
    nb::gil_scoped_release unlock;
    on_cpu();
    return;
  }
  void* s = c.cuda_stream(stream);
  DeviceGuard guard(c);
  nb::gil_scoped_release unlock;
  on_stream(ssm::CudaStream::wrap(s));
}

// Ops without a stream overload run on the legacy default stream and return when done: wait for
// the caller's stream first so its earlier work (the inputs) is complete.
template <class F>
void run_cpu_or_device(const Call& c, nb::handle stream, F&& f) {
  if (!c.cuda()) {
    nb::gil_scoped_release unlock;
    f(ssm::Device::cpu);
    return;
  }
  void* s = c.cuda_stream(stream);
  DeviceGuard guard(c);
  nb::gil_scoped_release unlock;
  wait_for_stream(s);
  f(ssm::Device::cuda);
}

// ---- selective_scan ------------------------------------------------------------------------

struct BCInfo {
  Arr a;
  bool variable = false;
  int groups = 1;
};

template <class T>
BCInfo bc_arg(const Call& c, nb::handle o, const char* name, bool complex_A, I batch, I dim, I N, I L) {
  BCInfo r;
  r.a = c.get(o, name);
  const bool cx = c.real_or_complex<T>(r.a, name);
  if (cx != complex_A) c.type_error(name, complex_A ? "must be complex (A is complex)" : "must be real (A is real)");
  if (r.a.ndim() == 2) {
    c.shape(r.a, name, {dim, N});
  } else if (r.a.ndim() == 3) {
    r.variable = true;
    c.shape(r.a, name, {batch, N, L});
  } else if (r.a.ndim() == 4) {
    r.variable = true;
    r.groups = static_cast<int>(r.a.shape(1));
    c.shape(r.a, name, {batch, I(r.groups), N, L});
    if (r.groups < 1 || dim % r.groups != 0)
      c.value_error(name, "has " + std::to_string(r.groups) + " groups, which must divide dim = " + std::to_string(dim));
  } else {
    c.value_error(name, "must be (dim, dstate) fixed, or (batch, dstate, length) / (batch, groups, dstate, length) variable, got " +
                            Call::describe_shape(r.a));
  }
  c.contiguous(r.a, name);
  return r;
}

template <class T>
nb::object selective_scan_t(const Call& c, nb::handle delta_o, nb::handle A_o, nb::handle B_o, nb::handle C_o,
                            nb::handle D_o, nb::handle z_o, nb::handle db_o, bool softplus, bool ret_last,
                            nb::handle h0_o, nb::handle stream) {
  const Arr& u = c.ref();
  c.ndim(u, "u", 3);
  const I batch = u.shape(0), dim = u.shape(1), L = u.shape(2);
  const Arr delta = c.get(delta_o, "delta");
  c.real<T>(delta, "delta");
  c.shape(delta, "delta", {batch, dim, L});
  const Arr A = c.get(A_o, "A");
  const bool cx = c.real_or_complex<T>(A, "A");
  c.ndim(A, "A", 2);
  const I N = A.shape(1);
  c.shape(A, "A", {dim, N});
  c.contiguous(A, "A");
  const BCInfo B = bc_arg<T>(c, B_o, "B", cx, batch, dim, N, L);
  const BCInfo C = bc_arg<T>(c, C_o, "C", cx, batch, dim, N, L);
  if (B.variable && C.variable && B.groups != C.groups)
    c.value_error("C", "has " + std::to_string(C.groups) + " groups but 'B' has " + std::to_string(B.groups));
  const auto D = vec<T>(c, D_o, "D", dim);
  const auto db = vec<T>(c, db_o, "delta_bias", dim);
  const auto z = c.get_optional(z_o, "z");
  if (z) {
    c.real<T>(*z, "z");
    c.shape(*z, "z", {batch, dim, L});
  }
  const auto h0 = c.get_optional(h0_o, "h0");
  if (h0) {
    if (c.real_or_complex<T>(*h0, "h0") != cx) c.type_error("h0", cx ? "must be complex (A is complex)" : "must be real (A is real)");
    c.shape(*h0, "h0", {batch, dim, N});
    c.contiguous(*h0, "h0");
  }
  auto [out_obj, out] = c.empty<T>({Sz::value_type(batch), Sz::value_type(dim), Sz::value_type(L)});
  nb::object last_obj;
  T* last = nullptr;
  if (ret_last) std::tie(last_obj, last) = c.empty<T>({Sz::value_type(batch), Sz::value_type(dim), Sz::value_type(N)}, cx);

  auto view = [](const T* p, I b, I d, I l, const ssm::Strides3& s) {
    return ssm::View3<const T>(p, b, d, l, s.b, s.d, s.l);
  };
  ssm::SelectiveScanProblem<T> a;
  a.dstate = int(N);
  a.groups = B.variable ? B.groups : C.groups;
  a.complex = cx;
  a.delta_softplus = softplus;
  a.u = view(ptr<T>(u), batch, dim, L, strides3(c, u, "u"));
  a.delta = view(ptr<T>(delta), batch, dim, L, strides3(c, delta, "delta"));
  if (z) a.z = view(ptr<T>(z), batch, dim, L, strides3(c, *z, "z"));
  a.A = ptr<T>(A);
  a.B = ssm::SelectiveBC<T>(ptr<T>(B.a), !B.variable);
  a.C = ssm::SelectiveBC<T>(ptr<T>(C.a), !C.variable);
  a.D = ptr<T>(D), a.delta_bias = ptr<T>(db), a.h0 = ptr<T>(h0);
  a.out = ssm::View3<T>(out, batch, dim, L);
  a.last_state = last;
  run_cpu_or_stream<T>(c, stream, [&] { ssm::selective_scan(a, ssm::Device::cpu); },
                       [&](const ssm::CudaStream& s) { ssm::selective_scan(a, s); });
  if (ret_last) return nb::make_tuple(out_obj, last_obj);
  return out_obj;
}

nb::object selective_scan(nb::handle u, nb::handle delta, nb::handle A, nb::handle B, nb::handle C, nb::handle D,
                          nb::handle z, nb::handle delta_bias, bool delta_softplus, bool return_last_state,
                          nb::handle h0, nb::handle stream) {
  Call c("selective_scan", u, "u");
  if (c.ref().dtype() == nb::dtype<float>())
    return selective_scan_t<float>(c, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state, h0, stream);
  if (c.ref().dtype() == nb::dtype<double>())
    return selective_scan_t<double>(c, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state, h0, stream);
  c.type_error("u", "must be float32 or float64, got " + Call::describe_dtype(c.ref()));
}

// ---- selective_state_update ----------------------------------------------------------------

template <class T>
nb::object state_update_t(const Call& c, nb::handle x_o, nb::handle dt_o, nb::handle A_o, nb::handle B_o,
                          nb::handle C_o, nb::handle D_o, nb::handle z_o, nb::handle dtb_o, bool softplus,
                          nb::handle stream) {
  nb::ndarray<> state_w;
  if (!nb::try_cast(c.ref_object(), state_w, false)) c.value_error("state", "must be writable (it is updated in place)");
  const Arr& state = c.ref();
  const bool cx = c.real_or_complex<T>(state, "state");
  c.ndim(state, "state", 3);
  c.contiguous(state, "state");
  const I batch = state.shape(0), dim = state.shape(1), N = state.shape(2);
  auto bd = [&](nb::handle o, const char* name, bool required) {
    auto a = required ? std::optional<Arr>(c.get(o, name)) : c.get_optional(o, name);
    if (a) {
      c.real<T>(*a, name);
      c.shape(*a, name, {batch, dim});
      c.contiguous(*a, name);
    }
    return a;
  };
  const auto x = bd(x_o, "x", true), dt = bd(dt_o, "dt", true), z = bd(z_o, "z", false);
  const Arr A = c.get(A_o, "A");
  if (c.real_or_complex<T>(A, "A") != cx) c.type_error("A", cx ? "must be complex (state is complex)" : "must be real (state is real)");
  c.shape(A, "A", {dim, N});
  c.contiguous(A, "A");
  int groups = 1;
  auto bcs = [&](nb::handle o, const char* name) {
    Arr a = c.get(o, name);
    if (c.real_or_complex<T>(a, name) != cx) c.type_error(name, cx ? "must be complex (A is complex)" : "must be real (A is real)");
    if (a.ndim() == 2) {
      c.shape(a, name, {batch, N});
    } else {
      c.ndim(a, name, 3);
      const I g = a.shape(1);
      c.shape(a, name, {batch, g, N});
      if (g < 1 || dim % g) c.value_error(name, "has " + std::to_string(g) + " groups, which must divide dim = " + std::to_string(dim));
      if (groups != 1 && g != groups) c.value_error(name, "has another number of groups than 'B'");
      groups = int(g);
    }
    c.contiguous(a, name);
    return a;
  };
  const Arr B = bcs(B_o, "B"), C = bcs(C_o, "C");
  const auto D = vec<T>(c, D_o, "D", dim), dtb = vec<T>(c, dtb_o, "dt_bias", dim);
  auto [out_obj, out] = c.empty<T>({Sz::value_type(batch), Sz::value_type(dim)});
  ssm::SelectiveStateUpdateArgs<T> a;
  a.batch = int(batch), a.dim = int(dim), a.dstate = int(N), a.groups = groups;
  a.complex_A = cx, a.dt_softplus = softplus;
  a.state = static_cast<T*>(state_w.data());
  a.x = ptr<T>(*x), a.dt = ptr<T>(*dt), a.A = ptr<T>(A), a.B = ptr<T>(B), a.C = ptr<T>(C);
  a.D = ptr<T>(D), a.z = ptr<T>(z), a.dt_bias = ptr<T>(dtb), a.out = out;
  run_cpu_or_stream<T>(c, stream, [&] { ssm::selective_state_update(a, ssm::Device::cpu); },
                       [&](const ssm::CudaStream& s) { ssm::selective_state_update(a, s); });
  return out_obj;
}

nb::object selective_state_update(nb::handle state, nb::handle x, nb::handle dt, nb::handle A, nb::handle B,
                                  nb::handle C, nb::handle D, nb::handle z, nb::handle dt_bias, bool dt_softplus,
                                  nb::handle stream) {
  Call c("selective_state_update", state, "state");
  const auto d = c.ref().dtype();
  if (d == nb::dtype<float>() || d == nb::dtype<std::complex<float>>())
    return state_update_t<float>(c, x, dt, A, B, C, D, z, dt_bias, dt_softplus, stream);
  if (d == nb::dtype<double>() || d == nb::dtype<std::complex<double>>())
    return state_update_t<double>(c, x, dt, A, B, C, D, z, dt_bias, dt_softplus, stream);
  c.type_error("state", "must be float32, float64, complex64 or complex128, got " + Call::describe_dtype(c.ref()));
}

// ---- fftconv -------------------------------------------------------------------------------

template <class T>
nb::object fftconv_t(const Call& c, nb::handle k_o, nb::handle D_o, nb::handle stream) {
  const Arr& u = c.ref();
  c.ndim(u, "u", 3);
  const I batch = u.shape(0), H = u.shape(1), L = u.shape(2);
  const Arr k = c.get(k_o, "k");
  c.real<T>(k, "k");
  c.ndim(k, "k", 2);
  c.shape(k, "k", {H, I(k.shape(1))});
  c.contiguous(k, "k");
  const auto D = vec<T>(c, D_o, "D", H);
  if constexpr (!std::is_same_v<T, float>)
    if (c.cuda()) c.type_error("u", "must be float32 on the GPU (the cuFFT path is float only), got float64");
  const ssm::Strides3 s = strides3(c, u, "u");
  auto [out_obj, out] = c.empty<T>({Sz::value_type(batch), Sz::value_type(H), Sz::value_type(L)});
  const ssm::View3<const T> uv(ptr<T>(u), batch, H, L, s.b, s.d, s.l);
  const ssm::View3<T> yv(out, batch, H, L);
  run_cpu_or_device(c, stream, [&](ssm::Device dev) { ssm::fftconv<T>(uv, ptr<T>(k), I(k.shape(1)), ptr<T>(D), yv, dev); });
  return out_obj;
}

nb::object fftconv(nb::handle u, nb::handle k, nb::handle D, nb::handle stream) {
  Call c("fftconv", u, "u");
  if (c.ref().dtype() == nb::dtype<float>()) return fftconv_t<float>(c, k, D, stream);
  if (c.ref().dtype() == nb::dtype<double>()) return fftconv_t<double>(c, k, D, stream);
  c.type_error("u", "must be float32 or float64, got " + Call::describe_dtype(c.ref()));
}

// ---- diag_scan -----------------------------------------------------------------------------

template <class T>
nb::object diag_scan_t(const Call& c, nb::handle A_o, nb::handle B_o, nb::handle C_o, nb::handle dt_o,
                       nb::handle D_o, const std::string& method, double alpha, nb::handle h0_o, bool ret_last,
                       nb::handle stream) {
  const Arr& u = c.ref();
  c.ndim(u, "u", 3);
  const I batch = u.shape(0), H = u.shape(1), L = u.shape(2);
  const Arr A = c.get(A_o, "A");
  if (!c.real_or_complex<T>(A, "A")) c.type_error("A", std::string("must be complex (") + Call::dtype_name<T>(true) + "), got " + Call::describe_dtype(A));
  c.ndim(A, "A", 2);
  const I N2 = A.shape(1);
  auto cplx = [&](nb::handle o, const char* name) {
    Arr a = c.get(o, name);
    if (!c.real_or_complex<T>(a, name)) c.type_error(name, std::string("must be complex (") + Call::dtype_name<T>(true) + ")");
    c.shape(a, name, {H, N2});
    c.contiguous(a, name);
    return a;
  };
  const Arr Aa = cplx(A_o, "A"), Ba = cplx(B_o, "B"), Ca = cplx(C_o, "C");
  const auto dt = vec<T>(c, dt_o, "dt", H);
  if (!dt) c.type_error("dt", "is required (got None)");
  const auto D = vec<T>(c, D_o, "D", H);
  const auto h0 = c.get_optional(h0_o, "h0");
  if (h0) {
    if (!c.real_or_complex<T>(*h0, "h0")) c.type_error("h0", "must be complex");
    c.shape(*h0, "h0", {batch, H, N2});
    c.contiguous(*h0, "h0");
  }
  auto [out_obj, out] = c.empty<T>({Sz::value_type(batch), Sz::value_type(H), Sz::value_type(L)});
  nb::object last_obj;
  T* last = nullptr;
  if (ret_last) std::tie(last_obj, last) = c.empty<T>({Sz::value_type(batch), Sz::value_type(H), Sz::value_type(N2)}, true);
  ssm::DiagScanArgs<T> a;
  a.batch = int(batch), a.channels = int(H), a.modes = int(N2), a.length = int(L);
  a.method = ssm::parse_method(method);
  a.alpha = alpha;
  a.A = ptr<T>(Aa), a.B = ptr<T>(Ba), a.C = ptr<T>(Ca), a.D = ptr<T>(D), a.dt = ptr<T>(dt);
  a.u = ptr<T>(u), a.h0 = ptr<T>(h0), a.y = out, a.last_state = last;
  a.u_strides = strides3(c, u, "u");
  run_cpu_or_stream<T>(c, stream, [&] { ssm::diag_scan(a, ssm::Device::cpu); },
                       [&](const ssm::CudaStream& s) { ssm::diag_scan(a, s); });
  if (ret_last) return nb::make_tuple(out_obj, last_obj);
  return out_obj;
}

nb::object diag_scan(nb::handle u, nb::handle A, nb::handle B, nb::handle C, nb::handle dt, nb::handle D,
                     const std::string& method, double alpha, nb::handle h0, bool return_last_state, nb::handle stream) {
  Call c("diag_scan", u, "u");
  if (c.ref().dtype() == nb::dtype<float>()) return diag_scan_t<float>(c, A, B, C, dt, D, method, alpha, h0, return_last_state, stream);
  if (c.ref().dtype() == nb::dtype<double>()) return diag_scan_t<double>(c, A, B, C, dt, D, method, alpha, h0, return_last_state, stream);
  c.type_error("u", "must be float32 or float64, got " + Call::describe_dtype(c.ref()));
}

// ---- bidirectional selective scan ----------------------------------------------------------

template <class T>
nb::object bidirectional_t(const Call& c, nb::handle* in, nb::handle z_o, bool softplus, double out_scale,
                           bool ret_last, nb::handle stream) {
  // in: u, delta, A, B, C, D, delta_bias, h0 of the forward direction, then of the backward one.
  static const char* names[2][8] = {{"u", "delta", "A", "B", "C", "D", "delta_bias", "h0"},
                                    {"u_b", "delta_b", "A_b", "B_b", "C_b", "D_b", "delta_bias_b", "h0_b"}};
  const Arr& u0 = c.ref();
  c.ndim(u0, "u", 3);
  const I batch = u0.shape(0), dim = u0.shape(1), L = u0.shape(2);
  const Arr A0 = c.get(in[2], "A");
  c.real<T>(A0, "A");
  c.ndim(A0, "A", 2);
  const I N = A0.shape(1);
  ssm::BidirectionalScanArgs<T> a;
  a.batch = int(batch), a.dim = int(dim), a.dstate = int(N), a.length = int(L);
  a.delta_softplus = softplus;
  a.out_scale = T(out_scale);
  std::vector<Arr> keep;
  std::vector<std::optional<Arr>> keep_opt;
  int groups = -1;
  std::vector<nb::object> lasts;
  for (int k = 0; k < 2; ++k) {
    nb::handle* d = in + 8 * k;
    auto& dir = a.dir[k];
    const Arr u = c.get(d[0], names[k][0]);
    c.real<T>(u, names[k][0]);
    c.shape(u, names[k][0], {batch, dim, L});
    const Arr delta = c.get(d[1], names[k][1]);
    c.real<T>(delta, names[k][1]);
    c.shape(delta, names[k][1], {batch, dim, L});
    const Arr A = c.get(d[2], names[k][2]);
    c.real<T>(A, names[k][2]);
    c.shape(A, names[k][2], {dim, N});
    c.contiguous(A, names[k][2]);
    const BCInfo B = bc_arg<T>(c, d[3], names[k][3], false, batch, dim, N, L);
    const BCInfo C = bc_arg<T>(c, d[4], names[k][4], false, batch, dim, N, L);
    for (const BCInfo* x : {&B, &C}) {
      const char* nm = x == &B ? names[k][3] : names[k][4];
      if (!x->variable) c.value_error(nm, "must be variable, (batch, dstate, length) or (batch, groups, dstate, length)");
      if (groups >= 0 && x->groups != groups) c.value_error(nm, "must have the same number of groups as 'B'");
      groups = x->groups;
    }
    const auto D = vec<T>(c, d[5], names[k][5], dim), db = vec<T>(c, d[6], names[k][6], dim);
    const auto h0 = c.get_optional(d[7], names[k][7]);
    if (h0) {
      c.real<T>(*h0, names[k][7]);
      c.shape(*h0, names[k][7], {batch, dim, N});
      c.contiguous(*h0, names[k][7]);
    }
    dir.u = ptr<T>(u), dir.delta = ptr<T>(delta), dir.A = ptr<T>(A), dir.B = ptr<T>(B.a), dir.C = ptr<T>(C.a);
    dir.D = ptr<T>(D), dir.delta_bias = ptr<T>(db), dir.h0 = ptr<T>(h0);
    dir.u_strides = strides3(c, u, names[k][0]);
    dir.delta_strides = strides3(c, delta, names[k][1]);
    if (ret_last) {
      auto [o, p] = c.empty<T>({Sz::value_type(batch), Sz::value_type(dim), Sz::value_type(N)});
      lasts.push_back(o);
      dir.last_state = p;
    }
    keep.insert(keep.end(), {u, delta, A, B.a, C.a});
    keep_opt.insert(keep_opt.end(), {D, db, h0});
  }
  a.groups = groups;
  const auto z = c.get_optional(z_o, "z");
  if (z) {
    c.real<T>(*z, "z");
    c.shape(*z, "z", {batch, dim, L});
    a.z = ptr<T>(z);
    a.z_strides = strides3(c, *z, "z");
  }
  auto [out_obj, out] = c.empty<T>({Sz::value_type(batch), Sz::value_type(dim), Sz::value_type(L)});
  a.out = out;
  run_cpu_or_device(c, stream, [&](ssm::Device dev) { ssm::bidirectional_selective_scan(a, dev); });
  if (ret_last) return nb::make_tuple(out_obj, lasts[0], lasts[1]);
  return out_obj;
}

nb::object bidirectional_selective_scan(nb::handle u, nb::handle delta, nb::handle A, nb::handle B, nb::handle C,
                                        nb::handle u_b, nb::handle delta_b, nb::handle A_b, nb::handle B_b,
                                        nb::handle C_b, nb::handle D, nb::handle D_b, nb::handle z,
                                        nb::handle delta_bias, nb::handle delta_bias_b, bool delta_softplus,
                                        double out_scale, bool return_last_state, nb::handle h0, nb::handle h0_b,
                                        nb::handle stream) {
  Call c("bidirectional_selective_scan", u, "u");
  nb::handle in[16] = {u, delta, A, B, C, D, delta_bias, h0, u_b, delta_b, A_b, B_b, C_b, D_b, delta_bias_b, h0_b};
  if (c.ref().dtype() == nb::dtype<float>()) return bidirectional_t<float>(c, in, z, delta_softplus, out_scale, return_last_state, stream);
  if (c.ref().dtype() == nb::dtype<double>()) return bidirectional_t<double>(c, in, z, delta_softplus, out_scale, return_last_state, stream);
  c.type_error("u", "must be float32 or float64, got " + Call::describe_dtype(c.ref()));
}

// ---- 2D cross-scan -------------------------------------------------------------------------

// (batch, channels, H, W) -> Strides3 over the spatial index p = h W + w (needs stride_h = W stride_w).
ssm::Strides3 spatial3(const Call& c, const Arr& a, const char* name) {
  c.non_negative_strides(a, name);
  const I H = a.shape(2), W = a.shape(3);
  if (H > 1 && a.stride(2) != W * a.stride(3))
    c.value_error(name, "must have its (H, W) axes as one flat axis of positions (stride of H = W * stride of W), e.g. NCHW contiguous or a permuted NHWC tensor");
  ssm::Strides3 s{a.stride(0), a.stride(1), a.stride(3)};
  if (s.is_default() && a.shape(0) * a.shape(1) * H * W > 1) c.value_error(name, "must not be broadcast along every axis");
  if (s.is_default()) s = {I(a.shape(1) * H * W), H * W, 1};
  return s;
}

template <class T>
nb::object cross_t(const Call& c, nb::handle delta_o, nb::handle A_o, nb::handle B_o, nb::handle C_o, nb::handle D_o,
                   nb::handle db_o, bool softplus, bool ret_last, nb::handle h0_o, nb::handle stream) {
  const Arr& u = c.ref();
  c.ndim(u, "u", 4);
  const I batch = u.shape(0), dim = u.shape(1), H = u.shape(2), W = u.shape(3);
  const Arr delta = c.get(delta_o, "delta");
  c.real<T>(delta, "delta");
  c.shape(delta, "delta", {batch, 4 * dim, H, W});
  const Arr A = c.get(A_o, "A");
  c.real<T>(A, "A");
  c.ndim(A, "A", 2);
  const I N = A.shape(1);
  c.shape(A, "A", {4 * dim, N});
  c.contiguous(A, "A");
  auto bc = [&](nb::handle o, const char* name, ssm::Strides4& s) {
    Arr a = c.get(o, name);
    c.real<T>(a, name);
    c.shape(a, name, {batch, 4, N, H, W});
    c.non_negative_strides(a, name);
    if (H > 1 && a.stride(3) != W * a.stride(4))
      c.value_error(name, "must have its (H, W) axes as one flat axis of positions (stride of H = W * stride of W)");
    s = {a.stride(0), a.stride(1), a.stride(2), a.stride(4)};
    if (s.is_default()) s = s.resolved(4, N, H * W);
    return a;
  };
  ssm::CrossScanArgs<T> a;
  const Arr B = bc(B_o, "B", a.B_strides), C = bc(C_o, "C", a.C_strides);
  const auto D = vec<T>(c, D_o, "D", 4 * dim), db = vec<T>(c, db_o, "delta_bias", 4 * dim);
  const auto h0 = c.get_optional(h0_o, "h0");
  if (h0) {
    c.real<T>(*h0, "h0");
    c.shape(*h0, "h0", {batch, 4 * dim, N});
    c.contiguous(*h0, "h0");
  }
  auto [out_obj, out] = c.empty<T>({Sz::value_type(batch), Sz::value_type(dim), Sz::value_type(H), Sz::value_type(W)});
  nb::object last_obj;
  T* last = nullptr;
  if (ret_last) std::tie(last_obj, last) = c.empty<T>({Sz::value_type(batch), Sz::value_type(4 * dim), Sz::value_type(N)});
  a.batch = int(batch), a.dim = int(dim), a.dstate = int(N), a.height = int(H), a.width = int(W);
  a.delta_softplus = softplus;
  a.u = ptr<T>(u), a.delta = ptr<T>(delta), a.A = ptr<T>(A), a.B = ptr<T>(B), a.C = ptr<T>(C);
  a.D = ptr<T>(D), a.delta_bias = ptr<T>(db), a.h0 = ptr<T>(h0), a.out = out, a.last_state = last;
  a.u_strides = spatial3(c, u, "u");
  a.delta_strides = spatial3(c, delta, "delta");
  run_cpu_or_device(c, stream, [&](ssm::Device dev) { ssm::cross_selective_scan(a, dev); });
  if (ret_last) return nb::make_tuple(out_obj, last_obj);
  return out_obj;
}

nb::object cross_selective_scan(nb::handle u, nb::handle delta, nb::handle A, nb::handle B, nb::handle C, nb::handle D,
                                nb::handle delta_bias, bool delta_softplus, bool return_last_state, nb::handle h0,
                                nb::handle stream) {
  Call c("cross_selective_scan", u, "u");
  if (c.ref().dtype() == nb::dtype<float>()) return cross_t<float>(c, delta, A, B, C, D, delta_bias, delta_softplus, return_last_state, h0, stream);
  if (c.ref().dtype() == nb::dtype<double>()) return cross_t<double>(c, delta, A, B, C, D, delta_bias, delta_softplus, return_last_state, h0, stream);
  c.type_error("u", "must be float32 or float64, got " + Call::describe_dtype(c.ref()));
}

// The bare C++ call of a float32 selective scan (arguments prepared once, output preallocated),
// timed over `iterations` calls on the calling thread: the baseline of the binding's per-call
// overhead (bench/python/bench_binding.py).
double time_selective_scan_cpp(nb::handle u_o, nb::handle delta_o, nb::handle A_o, nb::handle B_o, nb::handle C_o,
                               int iterations) {
  Call c("_time_selective_scan_cpp", u_o, "u");
  c.real<float>(c.ref(), "u");
  c.contiguous(c.ref(), "u");
  const Arr delta = c.get(delta_o, "delta"), A = c.get(A_o, "A"), B = c.get(B_o, "B"), C = c.get(C_o, "C");
  for (const Arr* a : {&delta, &A, &B, &C}) c.contiguous(*a, "input");
  const Arr& u = c.ref();
  std::vector<float> out(u.size());
  ssm::SelectiveScanProblem<float> a;
  a.dstate = int(A.shape(1));
  a.u = ssm::View3<const float>(ptr<float>(u), I(u.shape(0)), I(u.shape(1)), I(u.shape(2)));
  a.delta = ssm::View3<const float>(ptr<float>(delta), I(u.shape(0)), I(u.shape(1)), I(u.shape(2)));
  a.A = ptr<float>(A), a.B = ptr<float>(B), a.C = ptr<float>(C);
  a.out = ssm::View3<float>(out.data(), I(u.shape(0)), I(u.shape(1)), I(u.shape(2)));
  nb::gil_scoped_release unlock;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < iterations; ++i) ssm::selective_scan(a, ssm::Device::cpu);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / std::max(1, iterations);
}

}  // namespace

void bind_ops(nb::module_& m) {
  using namespace nb::literals;
  const auto none = nb::none();
  m.def("_time_selective_scan_cpp", &time_selective_scan_cpp, "u"_a, "delta"_a, "A"_a, "B"_a, "C"_a,
        "iterations"_a, "Seconds per bare C++ selective_scan call (float32, contiguous; the bench's baseline).");
  m.def("selective_scan", &selective_scan, "u"_a, "delta"_a, "A"_a, "B"_a, "C"_a, "D"_a = none, "z"_a = none,
        "delta_bias"_a = none, "delta_softplus"_a = false, "return_last_state"_a = false, nb::kw_only(),
        "h0"_a = none, "stream"_a = none,
        nb::sig("def selective_scan(u: numpy.typing.ArrayLike, delta: numpy.typing.ArrayLike, A: numpy.typing.ArrayLike, B: numpy.typing.ArrayLike, C: numpy.typing.ArrayLike, "
                "D: numpy.typing.ArrayLike | None = None, z: numpy.typing.ArrayLike | None = None, delta_bias: numpy.typing.ArrayLike | None = None, "
                "delta_softplus: bool = False, return_last_state: bool = False, *, h0: numpy.typing.ArrayLike | None = None, "
                "stream: object = None) -> numpy.typing.ArrayLike | tuple[numpy.typing.ArrayLike, numpy.typing.ArrayLike]"),
        R"doc(Mamba's selective scan (S6), with mamba_ssm's ``selective_scan_fn`` arguments and shapes.

    dt_t  = delta_t + delta_bias;  dt_t = softplus(dt_t) if delta_softplus
    h_t   = exp(dt_t A) * h_{t-1} + dt_t B_t u_t        (h_{-1} = h0 or 0)
    y_t   = sum_n C_t[n] h_t[n]                         (complex A: 2 Re(...), no conjugation)
    out_t = (y_t + D u_t) * silu(z_t)

Shapes: u, delta, z (batch, dim, length), any strides (no copy); A (dim, dstate) real or complex;
B, C fixed (dim, dstate) or variable (batch, dstate, length) / (batch, groups, dstate, length)
with dim % groups == 0, C-contiguous; D, delta_bias (dim); h0 (batch, dim, dstate) the initial
state (ssmkit's addition, keyword-only). float32 or float64 (complex64 / complex128 for a
complex A, B, C, h0), all of one precision and on one device.
Returns out (batch, dim, length), and last_state (batch, dim, dstate) when return_last_state.
NumPy arrays run on the CPU; torch / CuPy CUDA tensors on their GPU, queued on ``stream``
(default: the framework's current stream) without waiting. Outputs have the framework and device
of ``u``. Inference only: no autograd.)doc");

  m.def("selective_state_update", &selective_state_update, "state"_a, "x"_a, "dt"_a, "A"_a, "B"_a, "C"_a,
        "D"_a = none, "z"_a = none, "dt_bias"_a = none, "dt_softplus"_a = false, nb::kw_only(), "stream"_a = none,
        nb::sig("def selective_state_update(state: numpy.typing.ArrayLike, x: numpy.typing.ArrayLike, dt: numpy.typing.ArrayLike, A: numpy.typing.ArrayLike, B: numpy.typing.ArrayLike, "
                "C: numpy.typing.ArrayLike, D: numpy.typing.ArrayLike | None = None, z: numpy.typing.ArrayLike | None = None, dt_bias: numpy.typing.ArrayLike | None = None, "
                "dt_softplus: bool = False, *, stream: object = None) -> numpy.typing.ArrayLike"),
        R"doc(One decoding step of the selective SSM (mamba_ssm's ``selective_state_update``).

    dt = dt + dt_bias;  dt = softplus(dt) if dt_softplus
    state = exp(dt A) * state + dt B x      (in place)
    out   = (sum_n C[n] state[n] + D x) * silu(z)

Shapes: state (batch, dim, dstate) writable, C-contiguous, updated in place (the layout of
selective_scan's last_state); x, dt, z (batch, dim); A (dim, dstate); B, C (batch, dstate) or
(batch, groups, dstate); D, dt_bias (dim). Returns out (batch, dim).)doc");

  m.def("fftconv", &fftconv, "u"_a, "k"_a, "D"_a = none, nb::kw_only(), "stream"_a = none,
        nb::sig("def fftconv(u: numpy.typing.ArrayLike, k: numpy.typing.ArrayLike, D: numpy.typing.ArrayLike | None = None, *, stream: object = None) -> numpy.typing.ArrayLike"),
        R"doc(Causal long convolution with skip, by FFT (FFTW on the CPU, cuFFT on the GPU):

    y[b, h, t] = sum_{j <= t, j < Lk} k[h, j] u[b, h, t - j] + D[h] u[b, h, t]

Shapes: u (batch, H, L) any strides; k (H, Lk) C-contiguous, Lk may differ from L; D (H).
Returns y (batch, H, L). GPU: float32 only; it waits for ``stream`` (default: the framework's
current stream), then runs and returns when done. (H3's fftconv_ref also applies a GELU; this
does not.))doc");

  m.def("diag_scan", &diag_scan, "u"_a, "A"_a, "B"_a, "C"_a, "dt"_a, "D"_a = none, "method"_a = "zoh",
        "alpha"_a = 0.5, "h0"_a = none, "return_last_state"_a = false, nb::kw_only(), "stream"_a = none,
        nb::sig("def diag_scan(u: numpy.typing.ArrayLike, A: numpy.typing.ArrayLike, B: numpy.typing.ArrayLike, C: numpy.typing.ArrayLike, dt: numpy.typing.ArrayLike, D: numpy.typing.ArrayLike | None = None, "
                "method: str = 'zoh', alpha: float = 0.5, h0: numpy.typing.ArrayLike | None = None, return_last_state: bool = False, "
                "*, stream: object = None) -> numpy.typing.ArrayLike | tuple[numpy.typing.ArrayLike, numpy.typing.ArrayLike]"),
        R"doc(A time-invariant complex diagonal SSM (S4D) run over time by a parallel scan:

    (Ad, Bd) = discretize_diag(A, B, dt, method):  zoh  Ad = exp(dt A), Bd = (Ad - 1)/A B
                                                   gbt  Ad = (1 + (1-alpha) dt A)/(1 - alpha dt A), Bd = dt B/(1 - alpha dt A)
    x_t = Ad x_{t-1} + Bd u_t;   y_t = 2 Re(sum_n C x_t) + D u_t

Shapes: u (batch, H, L) real, any strides; A, B, C (H, N2) complex; dt, D (H) real; h0
(batch, H, N2) complex. method: zoh | bilinear | euler | backward_diff | gbt.
Returns y (batch, H, L), and last_state (batch, H, N2) complex when return_last_state.)doc");

  m.def("bidirectional_selective_scan", &bidirectional_selective_scan, "u"_a, "delta"_a, "A"_a, "B"_a, "C"_a,
        "u_b"_a, "delta_b"_a, "A_b"_a, "B_b"_a, "C_b"_a, "D"_a = none, "D_b"_a = none, "z"_a = none,
        "delta_bias"_a = none, "delta_bias_b"_a = none, "delta_softplus"_a = false, "out_scale"_a = 1.0,
        "return_last_state"_a = false, nb::kw_only(), "h0"_a = none, "h0_b"_a = none, "stream"_a = none,
        nb::sig("def bidirectional_selective_scan(u: numpy.typing.ArrayLike, delta: numpy.typing.ArrayLike, A: numpy.typing.ArrayLike, B: numpy.typing.ArrayLike, C: numpy.typing.ArrayLike, "
                "u_b: numpy.typing.ArrayLike, delta_b: numpy.typing.ArrayLike, A_b: numpy.typing.ArrayLike, B_b: numpy.typing.ArrayLike, C_b: numpy.typing.ArrayLike, D: numpy.typing.ArrayLike | None = None, "
                "D_b: numpy.typing.ArrayLike | None = None, z: numpy.typing.ArrayLike | None = None, delta_bias: numpy.typing.ArrayLike | None = None, "
                "delta_bias_b: numpy.typing.ArrayLike | None = None, delta_softplus: bool = False, out_scale: float = 1.0, "
                "return_last_state: bool = False, *, h0: numpy.typing.ArrayLike | None = None, h0_b: numpy.typing.ArrayLike | None = None, "
                "stream: object = None) -> numpy.typing.ArrayLike | tuple[numpy.typing.ArrayLike, numpy.typing.ArrayLike, numpy.typing.ArrayLike]"),
        R"doc(Vision Mamba's bidirectional selective scan (bimamba v2), fused: one forward and one
backward selective scan over the same sequence, every input in original time order:

    h_t = exp(dt_t A) h_{t-1} + dt_t B_t u_t        t = 0 .. L-1   (forward: u, delta, A, B, C, D, ...)
    g_t = exp(db_t A_b) g_{t+1} + db_t B_b,t u_b,t  t = L-1 .. 0   (backward: the *_b arguments)
    out_t = out_scale (C_t h_t + D u_t + C_b,t g_t + D_b u_b,t) silu(z_t)

Equal to selective_scan on the flipped backward inputs, flipped back and added. Shapes as
selective_scan with variable B, C ((batch, dstate, length) or (batch, groups, dstate, length)) and
a real A. out_scale = 0.5 is Vim's if_divide_out. Returns out, and the two last states (forward
after t = L-1, backward after t = 0) when return_last_state.)doc");

  m.def("cross_selective_scan", &cross_selective_scan, "u"_a, "delta"_a, "A"_a, "B"_a, "C"_a, "D"_a = none,
        "delta_bias"_a = none, "delta_softplus"_a = true, "return_last_state"_a = false, nb::kw_only(),
        "h0"_a = none, "stream"_a = none,
        nb::sig("def cross_selective_scan(u: numpy.typing.ArrayLike, delta: numpy.typing.ArrayLike, A: numpy.typing.ArrayLike, B: numpy.typing.ArrayLike, C: numpy.typing.ArrayLike, "
                "D: numpy.typing.ArrayLike | None = None, delta_bias: numpy.typing.ArrayLike | None = None, delta_softplus: bool = True, "
                "return_last_state: bool = False, *, h0: numpy.typing.ArrayLike | None = None, stream: object = None) "
                "-> numpy.typing.ArrayLike | tuple[numpy.typing.ArrayLike, numpy.typing.ArrayLike]"),
        R"doc(VMamba's 2D cross-scan selective scan (SS2D CrossScan + selective_scan + CrossMerge) as one
op, with no flipped or transposed copies. Direction k = 0 row-major, 1 column-major, 2 and 3
their reverses; channel c of direction k is scan channel j = k dim + c and reads group k of B, C:

    h_l = exp(dt_l A[j]) h_{l-1} + dt_l B[b, k, :, p_l] u[b, c, p_l],  p_l = position of step l
    out[b, c, p] = sum_k (C[b, k, :, p] . h at p + D[j] u[b, c, p])

Shapes: u (batch, dim, H, W) and delta (batch, 4 dim, H, W), given by position (spatial order;
any strides with the H, W axes forming one axis of positions, e.g. a permuted NHWC tensor);
A (4 dim, dstate) real; B, C (batch, 4, dstate, H, W); D, delta_bias (4 dim).
Returns out (batch, dim, H, W), and last_state (batch, 4 dim, dstate).)doc");
}

}  // namespace ssmpy
