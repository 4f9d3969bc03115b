#include "ssm/layers/ss2d_block.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include "layers/nn_ops.hpp"
#include "layers/resident_weights.hpp"
#include "layers/model_io.hpp"
#include "layers/tensor_names.hpp"
#include "core/dispatch.hpp"
#include "ssm/core/device_buffer.hpp"
#include "ssm/core/error.hpp"
#include "ssm/layers/model_file.hpp"
#include "ssm/scan/cross_scan.hpp"

namespace ssm {

using layers_detail::linear_gemm;
using layers_detail::silu;

void SS2DBlockConfig::validate(const char* where) const {
  require(d_model >= 1, where, "d_model", "must be >= 1, got ", d_model);
  require(d_inner >= 1, where, "d_inner", "must be >= 1, got ", d_inner);
  require(d_state >= 1, where, "d_state", "must be >= 1, got ", d_state);
  require(d_conv >= 1 && d_conv % 2 == 1, where, "d_conv",
          "must be odd and >= 1 (a k x k conv with zero padding (k-1)/2 keeps H x W), got ", d_conv);
  require(dt_rank >= 1, where, "dt_rank", "must be >= 1, got ", dt_rank);
  require(out_norm_eps > 0 && std::isfinite(out_norm_eps), where, "out_norm_eps", "must be finite and > 0, got ",
          out_norm_eps);
}

SS2DBlockConfig infer_ss2d_block_config(const io::SafeTensors& file, const std::string& prefix) {
  constexpr const char* w = "infer_ss2d_block_config";
  TensorReader r(file, w);
  auto dims = [&](const std::string& n, std::size_t rank) { return r.shape(prefix + n, rank); };
  auto expect = [&](bool ok, const std::string& n, const std::vector<std::int64_t>& s, const std::string& what) {
    if (!ok)
      throw Error(std::string(w) + ": tensor '" + prefix + n + "' has shape " + shape_string(s) + ", expected " + what);
  };
  const auto in = dims("in_proj.weight", 2);
  const auto cw = dims("conv2d.weight", 4);
  const auto xp = dims("x_proj_weight", 3);
  const auto dp = dims("dt_projs_weight", 3);
  const auto al = dims("A_logs", 2);
  SS2DBlockConfig c;
  c.d_model = static_cast<int>(in[1]);
  expect(in[0] % 2 == 0 && in[0] >= 2, "in_proj.weight", in, "(2 d_inner, d_model)");
  c.d_inner = static_cast<int>(in[0] / 2);
  const std::int64_t di = c.d_inner;
  expect(cw[0] == di && cw[1] == 1 && cw[2] == cw[3], "conv2d.weight", cw,
         "(d_inner = " + std::to_string(di) + ", 1, k, k) (depthwise, square)");
  expect(cw[2] % 2 == 1, "conv2d.weight", cw, "an odd kernel size k (zero padding (k-1)/2)");
  c.d_conv = static_cast<int>(cw[2]);
  expect(dp[0] == 4 && dp[1] == di, "dt_projs_weight", dp, "(4, d_inner = " + std::to_string(di) + ", dt_rank)");
  c.dt_rank = static_cast<int>(dp[2]);
  expect(al[0] == 4 * di, "A_logs", al, "(4 d_inner = " + std::to_string(4 * di) + ", d_state)");
  c.d_state = static_cast<int>(al[1]);
  expect(xp[0] == 4 && xp[1] == c.dt_rank + 2 * c.d_state && xp[2] == di, "x_proj_weight", xp,
         "(4, dt_rank + 2 d_state = " + std::to_string(c.dt_rank + 2 * c.d_state) + ", d_inner = " +
             std::to_string(di) + ")");
  c.in_proj_bias = file.has(prefix + "in_proj.bias");
  c.conv_bias = file.has(prefix + "conv2d.bias");
  c.out_proj_bias = file.has(prefix + "out_proj.bias");
  c.validate(w);
  return c;
}

template <class T>
SS2DBlockParams<T> read_ss2d_block(TensorReader& r, const std::string& pre, const SS2DBlockConfig& c) {
  c.validate("read_ss2d_block");
  return layers_detail::read_tensors<T, SS2DBlockParams<T>>(
      r, [&](auto& m, auto& p) { layers_detail::ss2d_block_tensors(m, pre, c, p); });
}

template <class T>
SS2DBlockParams<T> random_ss2d_block(const SS2DBlockConfig& c, std::uint64_t seed) {
  c.validate("random_ss2d_block");
  layers_detail::UniformInit<T> uniform(seed);
  const std::size_t dm = c.d_model, di = c.d_inner, N = c.d_state, K = c.d_conv, R = c.dt_rank;
  SS2DBlockParams<T> p;
  p.in_proj_weight = uniform(2 * di * dm, 1 / std::sqrt(double(dm)));
  if (c.in_proj_bias) p.in_proj_bias = uniform(2 * di, 1 / std::sqrt(double(dm)));
  p.conv2d_weight = uniform(di * K * K, 1 / double(K));
  if (c.conv_bias) p.conv2d_bias = uniform(di, 1 / double(K));
  p.x_proj_weight = uniform(4 * (R + 2 * N) * di, 1 / std::sqrt(double(di)));
  p.dt_projs_weight = uniform(4 * di * R, 1 / std::sqrt(double(R)));
  p.dt_projs_bias = uniform.dt_bias(4 * di);
  p.A_logs = layers_detail::UniformInit<T>::a_log(4 * di, N);
  p.Ds.assign(4 * di, T(1));
  p.out_norm_weight.assign(di, T(1));
  p.out_norm_bias.assign(di, T(0));
  p.out_proj_weight = uniform(dm * di, 1 / std::sqrt(double(di)));
  if (c.out_proj_bias) p.out_proj_bias = uniform(dm, 1 / std::sqrt(double(di)));
  return p;
}


template <class T>
SS2DBlock<T>::SS2DBlock(const SS2DBlockConfig& c, SS2DBlockParams<T> p)
    : cfg_(c), p_(std::move(p)), gpu_(std::make_shared<detail::ResidentWeights<T>>()) {
  c.validate("SS2DBlock");
  const std::size_t dm = c.d_model, di = c.d_inner, N = c.d_state, K = c.d_conv, R = c.dt_rank;
  check_param(p_.in_proj_weight, 2 * di * dm, "SS2DBlock", "in_proj.weight");
  check_param(p_.in_proj_bias, 2 * di, "SS2DBlock", "in_proj.bias", true);
  check_param(p_.conv2d_weight, di * K * K, "SS2DBlock", "conv2d.weight");
  check_param(p_.conv2d_bias, di, "SS2DBlock", "conv2d.bias", true);
  check_param(p_.x_proj_weight, 4 * (R + 2 * N) * di, "SS2DBlock", "x_proj_weight");
  check_param(p_.dt_projs_weight, 4 * di * R, "SS2DBlock", "dt_projs_weight");
  check_param(p_.dt_projs_bias, 4 * di, "SS2DBlock", "dt_projs_bias");
  check_param(p_.A_logs, 4 * di * N, "SS2DBlock", "A_logs");
  check_param(p_.Ds, 4 * di, "SS2DBlock", "Ds");
  check_param(p_.out_norm_weight, di, "SS2DBlock", "out_norm.weight");
  check_param(p_.out_norm_bias, di, "SS2DBlock", "out_norm.bias");
  check_param(p_.out_proj_weight, dm * di, "SS2DBlock", "out_proj.weight");
  check_param(p_.out_proj_bias, dm, "SS2DBlock", "out_proj.bias", true);
  cfg_.in_proj_bias = !p_.in_proj_bias.empty();
  cfg_.conv_bias = !p_.conv2d_bias.empty();
  cfg_.out_proj_bias = !p_.out_proj_bias.empty();
  A_.resize(4 * di * N);
  for (std::size_t i = 0; i < A_.size(); ++i) A_[i] = -std::exp(p_.A_logs[i]);
  conv_t_.resize(K * K * di);
  for (std::size_t d = 0; d < di; ++d)
    for (std::size_t k = 0; k < K * K; ++k) conv_t_[k * di + d] = p_.conv2d_weight[d * K * K + k];
}

template <class T>
const std::vector<DeviceBuffer<T>>& SS2DBlock<T>::resident_weights() const {
  require(gpu_ != nullptr, "SS2DBlock", "this", "must be a constructed block");
  detail::require_cuda("SS2DBlock", "device");
  return gpu_->get([&] { return std::vector<std::vector<T>>{A_, p_.Ds, p_.dt_projs_bias}; });
}

template <class T>
void SS2DBlock<T>::forward(const T* x, int batch, int H, int W, T* y, Device device, SS2DPath path) const {
  constexpr const char* w = "SS2DBlock::forward";
  require(batch >= 1, w, "batch", "must be >= 1, got ", batch);
  require(H >= 1, w, "height", "must be >= 1 (H W positions), got ", H);
  require(W >= 1, w, "width", "must be >= 1 (H W positions), got ", W);
  require(x != nullptr, w, "x", "must not be null");
  require(y != nullptr, w, "y", "must not be null");
  const std::ptrdiff_t dm = cfg_.d_model, di = cfg_.d_inner, N = cfg_.d_state, K = cfg_.d_conv,
                       R = cfg_.dt_rank, L = std::ptrdiff_t(H) * W, M = std::ptrdiff_t(batch) * L,
                       XD = R + 2 * N, XD4 = 4 * XD, pad = (K - 1) / 2;
  require(y + M * dm <= x || x + M * dm <= y, w, "y", "must not overlap x");

  // in_proj: xz (M, 2 di) = [x | z]
  std::vector<T> xz(std::size_t(M * 2 * di));
  linear_gemm(x, M, dm, p_.in_proj_weight.data(), p_.in_proj_bias.empty() ? nullptr : p_.in_proj_bias.data(),
              2 * di, xz.data());

  // depthwise k x k conv (zero padding) + bias, SiLU -> xc (M, di), channels-last
  std::vector<T> xc(std::size_t(M * di));
  const T* cbias = p_.conv2d_bias.empty() ? nullptr : p_.conv2d_bias.data();
#pragma omp parallel for schedule(static) if (M * di * K * K > 65536)
  for (std::ptrdiff_t row = 0; row < M; ++row) {
    const std::ptrdiff_t b = row / L, hh = (row % L) / W, ww = row % W;
    T* o = xc.data() + row * di;
    for (std::ptrdiff_t c = 0; c < di; ++c) o[c] = cbias ? cbias[c] : T(0);
    for (std::ptrdiff_t i = 0; i < K; ++i) {
      const std::ptrdiff_t hs = hh + i - pad;
      if (hs < 0 || hs >= H) continue;
      for (std::ptrdiff_t j = 0; j < K; ++j) {
        const std::ptrdiff_t ws = ww + j - pad;
        if (ws < 0 || ws >= W) continue;
        const T* src = xz.data() + ((b * H + hs) * W + ws) * 2 * di;
        const T* wk = conv_t_.data() + (i * K + j) * di;
        for (std::ptrdiff_t c = 0; c < di; ++c) o[c] += wk[c] * src[c];
      }
    }
    for (std::ptrdiff_t c = 0; c < di; ++c) o[c] = silu(o[c]);
  }

  // x_proj of all four directions at once (the stacked (4 XD, di) weight), at every position:
  // x_dbl (M, 4 XD), direction k's [dt | B | C] in columns [k XD, (k+1) XD).
  std::vector<T> xdbl(std::size_t(M * XD4));
  linear_gemm(xc.data(), M, di, p_.x_proj_weight.data(), static_cast<const T*>(nullptr), XD4, xdbl.data());
  // delta (M, 4 di): direction k's dt_proj into columns [k di, (k+1) di)
  std::vector<T> delta(std::size_t(M * 4 * di));
  for (std::ptrdiff_t k = 0; k < 4; ++k)
    linear_gemm(xdbl.data() + k * XD, M, R, p_.dt_projs_weight.data() + k * di * R, static_cast<const T*>(nullptr),
                di, delta.data() + k * di, 4 * di, XD4);

  // the cross-scan, merged, channels-last (M, di)
  std::vector<T> ys(std::size_t(M * di));
  CrossScanArgs<T> a;
  a.batch = batch;
  a.dim = int(di);
  a.dstate = int(N);
  a.height = H;
  a.width = W;
  a.delta_softplus = true;
  a.u_strides = a.out_strides = Strides3{L * di, 1, di};
  a.delta_strides = Strides3{L * 4 * di, 1, 4 * di};
  a.B_strides = a.C_strides = Strides4{L * XD4, XD, 1, XD4};
  auto run = [&](const CrossScanArgs<T>& args) {
    if (path == SS2DPath::fused) cross_selective_scan(args, device);
    else cross_selective_scan_unfused(args, device);
  };
  if (device == Device::cpu) {
    a.u = xc.data();
    a.delta = delta.data();
    a.A = A_.data();
    a.B = xdbl.data() + R;
    a.C = xdbl.data() + R + N;
    a.D = p_.Ds.data();
    a.delta_bias = p_.dt_projs_bias.data();
    a.out = ys.data();
    run(a);
  } else {
    const auto& gw = resident_weights();  // resident A, Ds, dt_projs_bias
    DeviceBuffer<T> du(xc), dd(delta), dx(xdbl), dout(ys.size());
    a.u = du.data();
    a.delta = dd.data();
    a.A = gw[0].data();
    a.B = dx.data() + R;
    a.C = dx.data() + R + N;
    a.D = gw[1].data();
    a.delta_bias = gw[2].data();
    a.out = dout.data();
    run(a);
    dout.download(ys.data(), ys.size());
  }

  // out_norm (LayerNorm over d_inner), gate by silu(z), out_proj
  layers_detail::layer_norm(ys.data(), M, di, p_.out_norm_weight.data(), p_.out_norm_bias.data(), cfg_.out_norm_eps,
                            ys.data());
#pragma omp parallel for schedule(static) if (M * di > 65536)
  for (std::ptrdiff_t row = 0; row < M; ++row) {
    T* o = ys.data() + row * di;
    const T* z = xz.data() + row * 2 * di + di;
    for (std::ptrdiff_t c = 0; c < di; ++c) o[c] *= silu(z[c]);
  }
  linear_gemm(ys.data(), M, di, p_.out_proj_weight.data(),
              p_.out_proj_bias.empty() ? nullptr : p_.out_proj_bias.data(), dm, y);
}

template <class T>
void SS2DBlock<T>::to_device() const {
  (void)resident_weights();
}

template <class T>
int SS2DBlock<T>::resident_devices() const {
  return gpu_ ? gpu_->uploads() : 0;
}

template class SS2DBlock<float>;
template class SS2DBlock<double>;
template SS2DBlockParams<float> read_ss2d_block<float>(TensorReader&, const std::string&, const SS2DBlockConfig&);
template SS2DBlockParams<double> read_ss2d_block<double>(TensorReader&, const std::string&, const SS2DBlockConfig&);
template SS2DBlockParams<float> random_ss2d_block<float>(const SS2DBlockConfig&, std::uint64_t);
template SS2DBlockParams<double> random_ss2d_block<double>(const SS2DBlockConfig&, std::uint64_t);

}  // namespace ssm
