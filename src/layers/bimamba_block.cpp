#include "ssm/layers/bimamba_block.hpp"

#include <algorithm>
#include <cmath>

#include "backend/bimamba_cuda.hpp"
#include "layers/model_io.hpp"
#include "layers/nn_ops.hpp"
#include "layers/tensor_names.hpp"
#include "ssm/core/device_buffer.hpp"
#include "ssm/core/error.hpp"
#include "ssm/layers/model_file.hpp"
#include "ssm/scan/bidirectional_scan.hpp"

namespace ssm {

using layers_detail::linear_gemm;
using layers_detail::silu;

void BiMambaBlockConfig::validate(const char* where) const { forward_branch().validate(where); }

MambaBlockConfig BiMambaBlockConfig::forward_branch() const {
  MambaBlockConfig c;
  c.d_model = d_model;
  c.d_inner = d_inner;
  c.d_state = d_state;
  c.d_conv = d_conv;
  c.dt_rank = dt_rank;
  c.in_proj_bias = in_proj_bias;
  c.conv_bias = conv_bias;
  c.out_proj_bias = out_proj_bias;
  return c;
}

BiMambaBlockConfig BiMambaBlockConfig::with_forward_branch(const MambaBlockConfig& m, bool if_divide_out) {
  BiMambaBlockConfig c;
  c.d_model = m.d_model;
  c.d_inner = m.d_inner;
  c.d_state = m.d_state;
  c.d_conv = m.d_conv;
  c.dt_rank = m.dt_rank;
  c.in_proj_bias = m.in_proj_bias;
  c.conv_bias = m.conv_bias;
  c.out_proj_bias = m.out_proj_bias;
  c.if_divide_out = if_divide_out;
  return c;
}

BiMambaBlockConfig infer_bimamba_block_config(const io::SafeTensors& file, const std::string& prefix) {
  constexpr const char* w = "infer_bimamba_block_config";
  BiMambaBlockConfig c = BiMambaBlockConfig::with_forward_branch(infer_mamba_block_config(file, prefix));
  TensorReader r(file, w);
  const std::int64_t di = c.d_inner, N = c.d_state, K = c.d_conv, R = c.dt_rank;
  // d_inner comes from A_log; every other tensor must agree with it (and the rest).
  auto expect = [&](const std::string& name, const std::vector<std::int64_t>& shape) {
    const auto s = r.shape(prefix + name);  // throws naming the tensor when it is absent
    if (s != shape)
      throw Error(std::string(w) + ": tensor '" + prefix + name + "' has shape " + shape_string(s) +
                  ", expected " + shape_string(shape) + " (d_inner = " + std::to_string(di) +
                  " from A_log, d_state = " + std::to_string(N) + ", d_conv = " + std::to_string(K) +
                  ", dt_rank = " + std::to_string(R) + ")");
  };
  expect("in_proj.weight", {2 * di, c.d_model});
  expect("out_proj.weight", {c.d_model, di});
  expect("conv1d.weight", {di, 1, K});
  expect("x_proj.weight", {R + 2 * N, di});
  expect("dt_proj.weight", {di, R});
  expect("conv1d_b.weight", {di, 1, K});
  expect("x_proj_b.weight", {R + 2 * N, di});
  expect("dt_proj_b.weight", {di, R});
  expect("dt_proj_b.bias", {di});
  expect("A_b_log", {di, N});
  expect("D_b", {di});
  if (file.has(prefix + "conv1d_b.bias") != c.conv_bias)
    throw Error(std::string(w) + ": tensor '" + prefix + (c.conv_bias ? "conv1d_b.bias" : "conv1d.bias") +
                "' is missing: conv1d.bias and conv1d_b.bias must both be present or both absent");
  c.validate(w);
  return c;
}

template <class T>
BiMambaBlockParams<T> read_bimamba_block(TensorReader& r, const std::string& pre, const BiMambaBlockConfig& c) {
  c.validate("read_bimamba_block");
  return layers_detail::read_tensors<T, BiMambaBlockParams<T>>(
      r, [&](auto& m, auto& p) { layers_detail::bimamba_block_tensors(m, pre, c, p); });
}

template <class T>
BiMambaBlockParams<T> random_bimamba_block(const BiMambaBlockConfig& c, std::uint64_t seed) {
  c.validate("random_bimamba_block");
  BiMambaBlockParams<T> p;
  p.fwd = random_mamba_block<T>(c.forward_branch(), seed);
  MambaBlockParams<T> b = random_mamba_block<T>(c.forward_branch(), seed ^ 0x9e3779b97f4a7c15ULL);
  p.conv1d_b_weight = std::move(b.conv1d_weight);
  p.conv1d_b_bias = std::move(b.conv1d_bias);
  p.x_proj_b_weight = std::move(b.x_proj_weight);
  p.dt_proj_b_weight = std::move(b.dt_proj_weight);
  p.dt_proj_b_bias = std::move(b.dt_proj_bias);
  p.A_b_log = std::move(b.A_log);
  p.D_b = std::move(b.D);
  return p;
}

namespace {
template <class T>
void check_size(const std::vector<T>& v, std::size_t n, const char* name, bool optional) {
  if (optional && v.empty()) return;
  require(v.size() == n, "BiMambaBlock", name, "must have ", n, " elements", optional ? " (or none)" : "",
          ", got ", v.size());
  for (const T& x : v) require(std::isfinite(static_cast<double>(x)), "BiMambaBlock", name, "must be finite");
}

template <class T>
std::vector<T> conv_transposed(const std::vector<T>& w, std::size_t di, std::size_t K) {
  std::vector<T> t(K * di);
  for (std::size_t d = 0; d < di; ++d)
    for (std::size_t k = 0; k < K; ++k) t[k * di + d] = w[d * K + k];
  return t;
}
}  // namespace

template <class T>
BiMambaBlock<T>::BiMambaBlock(const BiMambaBlockConfig& c, BiMambaBlockParams<T> p) : cfg_(c), p_(std::move(p)) {
  c.validate("BiMambaBlock");
  const std::size_t di = c.d_inner, N = c.d_state, K = c.d_conv, R = c.dt_rank;
  check_size(p_.conv1d_b_weight, di * K, "conv1d_b.weight", false);
  check_size(p_.conv1d_b_bias, di, "conv1d_b.bias", true);
  check_size(p_.x_proj_b_weight, (R + 2 * N) * di, "x_proj_b.weight", false);
  check_size(p_.dt_proj_b_weight, di * R, "dt_proj_b.weight", false);
  check_size(p_.dt_proj_b_bias, di, "dt_proj_b.bias", false);
  check_size(p_.A_b_log, di * N, "A_b_log", false);
  check_size(p_.D_b, di, "D_b", false);
  require(p_.conv1d_b_bias.empty() == p_.fwd.conv1d_bias.empty(), "BiMambaBlock", "conv1d_b.bias",
          "must be given exactly when conv1d.bias is");
  // The forward branch with the shared projections (validates those tensors, naming them).
  fwd_ = MambaBlock<T>(c.forward_branch(), p_.fwd);
  cfg_.in_proj_bias = fwd_.config().in_proj_bias;
  cfg_.conv_bias = fwd_.config().conv_bias;
  cfg_.out_proj_bias = fwd_.config().out_proj_bias;
  // The backward branch as a MambaBlock of its own inner part; only forward_inner() is ever
  // called on it, so its projections are d_model = 1 placeholders (no copy of the shared ones).
  MambaBlockConfig bc = c.forward_branch();
  bc.d_model = 1;
  bc.in_proj_bias = bc.out_proj_bias = false;
  bc.conv_bias = !p_.conv1d_b_bias.empty();
  MambaBlockParams<T> bp;
  bp.in_proj_weight.assign(2 * di, T(0));
  bp.out_proj_weight.assign(di, T(0));
  bp.conv1d_weight = p_.conv1d_b_weight;
  bp.conv1d_bias = p_.conv1d_b_bias;
  bp.x_proj_weight = p_.x_proj_b_weight;
  bp.dt_proj_weight = p_.dt_proj_b_weight;
  bp.dt_proj_bias = p_.dt_proj_b_bias;
  bp.A_log = p_.A_b_log;
  bp.D = p_.D_b;
  bwd_ = MambaBlock<T>(bc, std::move(bp));

  A_f_.resize(di * N);
  A_b_.resize(di * N);
  for (std::size_t i = 0; i < di * N; ++i) {
    A_f_[i] = -std::exp(p_.fwd.A_log[i]);
    A_b_[i] = -std::exp(p_.A_b_log[i]);
  }
  conv_f_t_ = conv_transposed(p_.fwd.conv1d_weight, di, K);
  conv_b_t_ = conv_transposed(p_.conv1d_b_weight, di, K);
}

template <class T>
void BiMambaBlock<T>::forward(const T* x, int batch, int length, T* y, Device device, BiMambaPath path) const {
  constexpr const char* w = "BiMambaBlock::forward";
  require(cfg_.d_inner >= 1, w, "this", "must be a constructed block (default-constructed has no weights)");
  require(batch >= 1, w, "batch", "must be >= 1, got ", batch);
  require(length >= 1, w, "length", "must be >= 1, got ", length);
  require(x != nullptr, w, "x", "must not be null");
  require(y != nullptr, w, "y", "must not be null");
  const std::ptrdiff_t n = std::ptrdiff_t(batch) * length * cfg_.d_model;
  require(y + n <= x || x + n <= y, w, "y", "must not overlap x");
  if (path == BiMambaPath::unfused) {
    forward_unfused(x, batch, length, y, device);
  } else if (device == Device::cpu) {
    forward_fused(x, batch, length, y);
  } else {
    require(dev_ != nullptr, w, "device", "cuda needs the weights on the GPU: call to_device() first");
    DeviceBuffer<T> dx{static_cast<std::size_t>(n)}, dy{static_cast<std::size_t>(n)};
    dx.upload(x, std::size_t(n));
    detail::bimamba_forward_cuda(*dev_, dx.data(), batch, length, dy.data());
    dy.download(y, std::size_t(n));
  }
}

template <class T>
void BiMambaBlock<T>::to_device() {
  require(cfg_.d_inner >= 1, "BiMambaBlock::to_device", "this", "must be a constructed block");
  dev_ = detail::bimamba_upload(cfg_, p_, A_f_, A_b_);
}

template <class T>
void BiMambaBlock<T>::forward_device(const T* x, int batch, int length, T* y) const {
  constexpr const char* w = "BiMambaBlock::forward_device";
  require(dev_ != nullptr, w, "this", "has no weights on the GPU: call to_device() first");
  require(batch >= 1, w, "batch", "must be >= 1, got ", batch);
  require(length >= 1, w, "length", "must be >= 1, got ", length);
  require(x != nullptr, w, "x", "must not be null");
  require(y != nullptr, w, "y", "must not be null");
  detail::bimamba_forward_cuda(*dev_, x, batch, length, y);
}

template <class T>
void BiMambaBlock<T>::forward_unfused(const T* x, int batch, int length, T* y, Device device) const {
  const std::ptrdiff_t dm = cfg_.d_model, di = cfg_.d_inner, L = length, M = std::ptrdiff_t(batch) * L;
  const auto& P = p_.fwd;
  std::vector<T> xz(std::size_t(M * 2 * di)), xzr(xz.size());
  linear_gemm(x, M, dm, P.in_proj_weight.data(), P.in_proj_bias.empty() ? nullptr : P.in_proj_bias.data(), 2 * di,
              xz.data());
  for (std::ptrdiff_t b = 0; b < batch; ++b)  // flip_L(xz): an explicit reversed copy
    for (std::ptrdiff_t t = 0; t < L; ++t)
      std::copy_n(xz.data() + (b * L + t) * 2 * di, 2 * di, xzr.data() + (b * L + (L - 1 - t)) * 2 * di);
  std::vector<T> yf(std::size_t(M * di)), ybr(yf.size());
  fwd_.forward_inner(xz.data(), batch, length, yf.data(), nullptr, device);
  bwd_.forward_inner(xzr.data(), batch, length, ybr.data(), nullptr, device);
  const T scale = cfg_.if_divide_out ? T(0.5) : T(1);
  for (std::ptrdiff_t b = 0; b < batch; ++b)  // y = f + flip_L(b)
    for (std::ptrdiff_t t = 0; t < L; ++t) {
      T* o = yf.data() + (b * L + t) * di;
      const T* r = ybr.data() + (b * L + (L - 1 - t)) * di;
      for (std::ptrdiff_t c = 0; c < di; ++c) o[c] = (o[c] + r[c]) * scale;
    }
  linear_gemm(yf.data(), M, di, P.out_proj_weight.data(), P.out_proj_bias.empty() ? nullptr : P.out_proj_bias.data(),
              dm, y);
}

template <class T>
void BiMambaBlock<T>::forward_fused(const T* x, int batch, int length, T* y) const {
  const std::ptrdiff_t dm = cfg_.d_model, di = cfg_.d_inner, N = cfg_.d_state, K = cfg_.d_conv,
                       R = cfg_.dt_rank, XD = R + 2 * N, L = length, M = std::ptrdiff_t(batch) * L;
  const auto& P = p_.fwd;
  std::vector<T> xz(std::size_t(M * 2 * di));
  linear_gemm(x, M, dm, P.in_proj_weight.data(), P.in_proj_bias.empty() ? nullptr : P.in_proj_bias.data(), 2 * di,
              xz.data());

  // Both depthwise convolutions + SiLU straight from xz: causal for the forward branch,
  // anti-causal (the backward branch's causal conv seen in original time) for the other.
  std::vector<T> xcf(std::size_t(M * di)), xcb(xcf.size());
  const T* bf = P.conv1d_bias.empty() ? nullptr : P.conv1d_bias.data();
  const T* bb = p_.conv1d_b_bias.empty() ? nullptr : p_.conv1d_b_bias.data();
#pragma omp parallel for schedule(static) if (M * di * K > 65536)
  for (std::ptrdiff_t row = 0; row < M; ++row) {
    const std::ptrdiff_t b = row / L, t = row % L;
    T* of = xcf.data() + row * di;
    T* ob = xcb.data() + row * di;
    for (std::ptrdiff_t c = 0; c < di; ++c) {
      of[c] = bf ? bf[c] : T(0);
      ob[c] = bb ? bb[c] : T(0);
    }
    for (std::ptrdiff_t k = 0; k < K; ++k) {
      const std::ptrdiff_t tf = t - (K - 1) + k, tb = t + (K - 1) - k;
      if (tf >= 0) {
        const T* wk = conv_f_t_.data() + k * di;
        const T* src = xz.data() + (b * L + tf) * 2 * di;
        for (std::ptrdiff_t c = 0; c < di; ++c) of[c] += wk[c] * src[c];
      }
      if (tb < L) {
        const T* wk = conv_b_t_.data() + k * di;
        const T* src = xz.data() + (b * L + tb) * 2 * di;
        for (std::ptrdiff_t c = 0; c < di; ++c) ob[c] += wk[c] * src[c];
      }
    }
    for (std::ptrdiff_t c = 0; c < di; ++c) {
      of[c] = silu(of[c]);
      ob[c] = silu(ob[c]);
    }
  }

  // x_proj -> (dt, B, C); dt_proj (no bias) -> delta; B, C into (batch, 1, N, L).
  std::vector<T> xdbl(std::size_t(M * XD)), deltaf(std::size_t(M * di)), deltab(deltaf.size());
  std::vector<T> Bf(std::size_t(batch * N * L)), Cf(Bf.size()), Bb(Bf.size()), Cb(Bf.size());
  auto project = [&](const std::vector<T>& xc, const std::vector<T>& xw, const std::vector<T>& dtw,
                     std::vector<T>& delta, std::vector<T>& Bv, std::vector<T>& Cv) {
    linear_gemm(xc.data(), M, di, xw.data(), static_cast<const T*>(nullptr), XD, xdbl.data());
    linear_gemm(xdbl.data(), M, R, dtw.data(), static_cast<const T*>(nullptr), di, delta.data(), -1, XD);
    for (std::ptrdiff_t b = 0; b < batch; ++b)
      for (std::ptrdiff_t t = 0; t < L; ++t) {
        const T* r = xdbl.data() + (b * L + t) * XD + R;
        for (std::ptrdiff_t n = 0; n < N; ++n) {
          Bv[std::size_t((b * N + n) * L + t)] = r[n];
          Cv[std::size_t((b * N + n) * L + t)] = r[N + n];
        }
      }
  };
  project(xcf, P.x_proj_weight, P.dt_proj_weight, deltaf, Bf, Cf);
  project(xcb, p_.x_proj_b_weight, p_.dt_proj_b_weight, deltab, Bb, Cb);

  // One bidirectional scan over (batch, d_inner, L) views of the time-major arrays.
  std::vector<T> ys(std::size_t(M * di));
  BidirectionalScanArgs<T> a;
  a.batch = batch;
  a.dim = int(di);
  a.dstate = int(N);
  a.length = length;
  a.groups = 1;
  a.delta_softplus = true;
  a.out_scale = cfg_.if_divide_out ? T(0.5) : T(1);
  const Strides3 tm{L * di, 1, di};
  for (auto& d : a.dir) d.u_strides = d.delta_strides = tm;
  a.out_strides = tm;
  a.z_strides = Strides3{L * 2 * di, 1, 2 * di};
  a.dir[0].u = xcf.data();
  a.dir[0].delta = deltaf.data();
  a.dir[0].A = A_f_.data();
  a.dir[0].B = Bf.data();
  a.dir[0].C = Cf.data();
  a.dir[0].D = P.D.data();
  a.dir[0].delta_bias = P.dt_proj_bias.data();
  a.dir[1].u = xcb.data();
  a.dir[1].delta = deltab.data();
  a.dir[1].A = A_b_.data();
  a.dir[1].B = Bb.data();
  a.dir[1].C = Cb.data();
  a.dir[1].D = p_.D_b.data();
  a.dir[1].delta_bias = p_.dt_proj_b_bias.data();
  a.z = xz.data() + di;
  a.out = ys.data();
  bidirectional_selective_scan(a, Device::cpu);
  linear_gemm(ys.data(), M, di, P.out_proj_weight.data(), P.out_proj_bias.empty() ? nullptr : P.out_proj_bias.data(),
              dm, y);
}

template class BiMambaBlock<float>;
template class BiMambaBlock<double>;
template BiMambaBlockParams<float> read_bimamba_block<float>(TensorReader&, const std::string&, const BiMambaBlockConfig&);
template BiMambaBlockParams<double> read_bimamba_block<double>(TensorReader&, const std::string&, const BiMambaBlockConfig&);
template BiMambaBlockParams<float> random_bimamba_block<float>(const BiMambaBlockConfig&, std::uint64_t);
template BiMambaBlockParams<double> random_bimamba_block<double>(const BiMambaBlockConfig&, std::uint64_t);

}  // namespace ssm
