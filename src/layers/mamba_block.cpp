#include "ssm/layers/mamba_block.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <type_traits>

#include "layers/nn_ops.hpp"
#include "layers/model_io.hpp"
#include "layers/tensor_names.hpp"
#include "layers/stream_kernels.hpp"
#include "core/dispatch.hpp"
#include "layers/resident_weights.hpp"
#include "ssm/core/device_buffer.hpp"
#include "ssm/core/error.hpp"
#include "ssm/layers/model_file.hpp"
#include "ssm/scan/selective_scan.hpp"
#include "ssm/scan/state_update.hpp"

namespace ssm {

namespace detail {
/// The float step's projections packed for the vector kernels (stream_kernels.hpp): in_proj,
/// x_proj and out_proj (dt_proj runs inside rt::mamba_scan_t on dt_t_).
struct MambaStepWeights {
  layers_detail::rt::PackedLinear in, xproj, out;
  // for rt::conv_silu and rt::mamba_scan_t: conv1d weight (d_conv, d_inner) and bias, dt_proj
  // weight (dt_rank, d_inner) and bias, A log2 e (d_state, d_inner), D: transposed, aligned
  AlignedVector<float> conv, conv_bias, dt, dt_bias, A2t, D;
};
}  // namespace detail

using layers_detail::linear_gemm;
using layers_detail::linear_rows_t;

using layers_detail::silu;

void MambaBlockConfig::validate(const char* where) const {
  require(d_model >= 1, where, "d_model", "must be >= 1, got ", d_model);
  require(d_inner >= 1, where, "d_inner", "must be >= 1, got ", d_inner);
  require(d_state >= 1, where, "d_state", "must be >= 1, got ", d_state);
  require(d_conv >= 1, where, "d_conv", "must be >= 1, got ", d_conv);
  require(dt_rank >= 1, where, "dt_rank", "must be >= 1, got ", dt_rank);
  require(hidden_act == Activation::silu, where, "hidden_act",
          "must be silu (the Mamba block computes no other activation), got ", to_string(hidden_act));
}

MambaBlockConfig infer_mamba_block_config(const io::SafeTensors& file, const std::string& prefix) {
  TensorReader r(file, "infer_mamba_block_config");
  auto dims = [&](const std::string& n, std::size_t rank) { return r.shape(prefix + n, rank); };
  const auto in = dims("in_proj.weight", 2);
  const auto al = dims("A_log", 2);
  const auto cw = dims("conv1d.weight", 3);
  const auto dp = dims("dt_proj.weight", 2);
  MambaBlockConfig c;
  c.d_model = static_cast<int>(in[1]);
  c.d_inner = static_cast<int>(al[0]);
  c.d_state = static_cast<int>(al[1]);
  c.d_conv = static_cast<int>(cw[2]);
  c.dt_rank = static_cast<int>(dp[1]);
  c.in_proj_bias = file.has(prefix + "in_proj.bias");
  c.conv_bias = file.has(prefix + "conv1d.bias");
  c.out_proj_bias = file.has(prefix + "out_proj.bias");
  c.validate("infer_mamba_block_config");
  return c;
}

template <class T>
MambaBlockParams<T> read_mamba_block(TensorReader& r, const std::string& pre, const MambaBlockConfig& c) {
  c.validate("read_mamba_block");
  return layers_detail::read_tensors<T, MambaBlockParams<T>>(
      r, [&](auto& m, auto& p) { layers_detail::mamba_block_tensors(m, pre, c, p); });
}

template <class T>
MambaBlockParams<T> random_mamba_block(const MambaBlockConfig& c, std::uint64_t seed) {
  c.validate("random_mamba_block");
  layers_detail::UniformInit<T> uniform(seed);
  const std::size_t dm = c.d_model, di = c.d_inner, N = c.d_state, K = c.d_conv, R = c.dt_rank;
  MambaBlockParams<T> p;
  p.in_proj_weight = uniform(2 * di * dm, 1 / std::sqrt(double(dm)));
  if (c.in_proj_bias) p.in_proj_bias = uniform(2 * di, 1 / std::sqrt(double(dm)));
  p.conv1d_weight = uniform(di * K, 1 / std::sqrt(double(K)));
  if (c.conv_bias) p.conv1d_bias = uniform(di, 1 / std::sqrt(double(K)));
  p.x_proj_weight = uniform((R + 2 * N) * di, 1 / std::sqrt(double(di)));
  p.dt_proj_weight = uniform(di * R, 1 / std::sqrt(double(R)));
  p.dt_proj_bias = uniform.dt_bias(di);
  p.A_log = layers_detail::UniformInit<T>::a_log(di, N);
  p.D.assign(di, T(1));
  p.out_proj_weight = uniform(dm * di, 1 / std::sqrt(double(di)));
  if (c.out_proj_bias) p.out_proj_bias = uniform(dm, 1 / std::sqrt(double(di)));
  return p;
}

template <class T>
void MambaBlockState<T>::reset() noexcept {
  std::fill(conv_.begin(), conv_.end(), T(0));
  std::fill(ssm_.begin(), ssm_.end(), T(0));
  std::fill(hT_.begin(), hT_.end(), T(0));
  std::fill(convT_.begin(), convT_.end(), T(0));
  transposed_current_ = false;
}

template <class T>
void MambaBlockState<T>::sync_public() const noexcept {
  if (!transposed_current_) return;
  const std::ptrdiff_t di = d_inner_, N = d_state_, K = d_conv_;
  for (std::ptrdiff_t b = 0; b < batch_; ++b) {
    const T* t = hT_.data() + b * di * N;
    T* h = ssm_.data() + b * di * N;
    for (std::ptrdiff_t c = 0; c < di; ++c)
      for (std::ptrdiff_t k = 0; k < N; ++k) h[c * N + k] = t[k * di + c];
    const T* ct = convT_.data() + b * K * di;
    T* cv = conv_.data() + b * di * K;
    for (std::ptrdiff_t c = 0; c < di; ++c)
      for (std::ptrdiff_t j = 0; j < K; ++j) cv[c * K + j] = ct[j * di + c];
  }
}


template <class T>
MambaBlock<T>::MambaBlock(const MambaBlockConfig& c, MambaBlockParams<T> p)
    : cfg_(c), p_(std::move(p)), gpu_(std::make_shared<detail::ResidentWeights<T>>()) {
  c.validate("MambaBlock");
  const std::size_t dm = c.d_model, di = c.d_inner, N = c.d_state, K = c.d_conv, R = c.dt_rank;
  check_param(p_.in_proj_weight, 2 * di * dm, "MambaBlock", "in_proj.weight");
  check_param(p_.in_proj_bias, 2 * di, "MambaBlock", "in_proj.bias", true);
  check_param(p_.conv1d_weight, di * K, "MambaBlock", "conv1d.weight");
  check_param(p_.conv1d_bias, di, "MambaBlock", "conv1d.bias", true);
  check_param(p_.x_proj_weight, (R + 2 * N) * di, "MambaBlock", "x_proj.weight");
  check_param(p_.dt_proj_weight, di * R, "MambaBlock", "dt_proj.weight");
  check_param(p_.dt_proj_bias, di, "MambaBlock", "dt_proj.bias");
  check_param(p_.A_log, di * N, "MambaBlock", "A_log");
  check_param(p_.D, di, "MambaBlock", "D");
  check_param(p_.out_proj_weight, dm * di, "MambaBlock", "out_proj.weight");
  check_param(p_.out_proj_bias, dm, "MambaBlock", "out_proj.bias", true);
  cfg_.in_proj_bias = !p_.in_proj_bias.empty();
  cfg_.conv_bias = !p_.conv1d_bias.empty();
  cfg_.out_proj_bias = !p_.out_proj_bias.empty();
  A_.resize(di * N);
  for (std::size_t i = 0; i < A_.size(); ++i) A_[i] = -std::exp(p_.A_log[i]);
  in_t_ = layers_detail::transpose(p_.in_proj_weight, 2 * di, dm);
  xproj_t_ = layers_detail::transpose(p_.x_proj_weight, R + 2 * N, di);
  dt_t_ = layers_detail::transpose(p_.dt_proj_weight, di, R);
  out_t_ = layers_detail::transpose(p_.out_proj_weight, dm, di);
  conv_t_.resize(K * di);
  for (std::size_t d = 0; d < di; ++d)
    for (std::size_t k = 0; k < K; ++k) conv_t_[k * di + d] = p_.conv1d_weight[d * K + k];
  if constexpr (std::is_same_v<T, float>) {
    namespace rt = layers_detail::rt;
    auto w = std::make_shared<detail::MambaStepWeights>();
    const std::ptrdiff_t sdm = dm, sdi = di, XD = R + 2 * N;
    w->in = rt::pack_linear(p_.in_proj_weight, p_.in_proj_bias, 2 * sdi, sdm);
    w->xproj = rt::pack_linear(p_.x_proj_weight, {}, XD, sdi);
    w->out = rt::pack_linear(p_.out_proj_weight, p_.out_proj_bias, sdm, sdi);
    w->conv.assign(conv_t_.begin(), conv_t_.end());
    w->conv_bias.assign(p_.conv1d_bias.begin(), p_.conv1d_bias.end());
    w->dt.assign(dt_t_.begin(), dt_t_.end());
    w->dt_bias.assign(p_.dt_proj_bias.begin(), p_.dt_proj_bias.end());
    w->D.assign(p_.D.begin(), p_.D.end());
    w->A2t.resize(A_.size());
    for (std::size_t d = 0; d < di; ++d)
      for (std::size_t n = 0; n < N; ++n)
        w->A2t[n * di + d] = float(double(A_[d * N + n]) * 1.44269504088896340736);  // A log2 e
    step_w_ = std::move(w);
  }
}

template <class T>
MambaBlockState<T> MambaBlock<T>::make_state(int batch, int max_tokens) const {
  require(batch >= 1, "MambaBlock::make_state", "batch", "must be >= 1, got ", batch);
  require(max_tokens >= 1, "MambaBlock::make_state", "max_tokens", "must be >= 1, got ", max_tokens);
  const std::size_t b = batch, di = cfg_.d_inner, N = cfg_.d_state, K = cfg_.d_conv, R = cfg_.dt_rank;
  const std::size_t rows = std::max<std::size_t>(b, std::size_t(max_tokens));
  MambaBlockState<T> s;
  s.batch_ = batch;
  s.max_tokens_ = max_tokens;
  s.d_inner_ = cfg_.d_inner;
  s.d_state_ = cfg_.d_state;
  s.d_conv_ = cfg_.d_conv;
  if constexpr (std::is_same_v<T, float>) {
    s.hT_.assign(b * di * N, T(0));
    s.convT_.assign(b * K * di, T(0));
  }
  s.conv_.assign(b * di * K, T(0));
  s.ssm_.assign(b * di * N, T(0));
  s.xz_.assign(rows * 2 * di, T(0));
  s.xc_.assign(rows * di, T(0));
  s.xdbl_.assign(rows * (R + 2 * N), T(0));
  s.dt_.assign(std::max<std::size_t>(rows * di, std::size_t(layers_detail::rt::scan_work_floats(di))), T(0));
  s.z_.assign(b * di, T(0));
  s.B_.assign(b * N, T(0));
  s.C_.assign(b * N, T(0));
  s.y_.assign(rows * di, T(0));
  return s;
}

template <class T>
void MambaBlock<T>::forward(const T* x, int batch, int length, T* y, MambaBlockState<T>* state,
                            Device device) const {
  constexpr const char* w = "MambaBlock::forward";
  require(batch >= 1, w, "batch", "must be >= 1, got ", batch);
  require(length >= 1, w, "length", "must be >= 1, got ", length);
  require(x != nullptr, w, "x", "must not be null");
  require(y != nullptr, w, "y", "must not be null");
  const std::ptrdiff_t dm = cfg_.d_model, di = cfg_.d_inner, N = cfg_.d_state, K = cfg_.d_conv,
                       M = std::ptrdiff_t(batch) * length;
  require(y + M * dm <= x || x + M * dm <= y, w, "y", "must not overlap x");
  if (state)
    require(state->batch() == batch && state->conv_.size() == std::size_t(batch * di * K) &&
                state->ssm_.size() == std::size_t(batch * di * N),
            w, "state", "must be made by make_state(", batch, ") of this block");

  // in_proj: xz (M, 2 di) = [x | z]
  std::vector<T> xz(std::size_t(M * 2 * di));
  linear_gemm(x, M, dm, p_.in_proj_weight.data(), p_.in_proj_bias.empty() ? nullptr : p_.in_proj_bias.data(),
              2 * di, xz.data());
  std::vector<T> ys(std::size_t(M * di));
  forward_inner(xz.data(), batch, length, ys.data(), state, device);
  linear_gemm(ys.data(), M, di, p_.out_proj_weight.data(),
              p_.out_proj_bias.empty() ? nullptr : p_.out_proj_bias.data(), dm, y);
}

template <class T>
void MambaBlock<T>::forward_inner(const T* xz, int batch, int length, T* ys_out, MambaBlockState<T>* state,
                                  Device device) const {
  constexpr const char* w = "MambaBlock::forward_inner";
  require(batch >= 1, w, "batch", "must be >= 1, got ", batch);
  require(length >= 1, w, "length", "must be >= 1, got ", length);
  require(xz != nullptr, w, "xz", "must not be null");
  require(ys_out != nullptr, w, "y", "must not be null");
  const std::ptrdiff_t di = cfg_.d_inner, N = cfg_.d_state, K = cfg_.d_conv, R = cfg_.dt_rank, XD = R + 2 * N;
  const std::ptrdiff_t L = length, M = std::ptrdiff_t(batch) * L;
  if (state)
    require(state->batch() == batch && state->conv_.size() == std::size_t(batch * di * K) &&
                state->ssm_.size() == std::size_t(batch * di * N),
            w, "state", "must be made by make_state(", batch, ") of this block");
  if (state) {  // the scan reads and writes the (batch, d_inner, d_state) layout
    state->sync_public();
    state->transposed_current_ = false;
  }

  // causal depthwise conv (left context: the conv state or zeros) + SiLU -> xc (M, di)
  std::vector<T> xc(std::size_t(M * di));
  const T* cbias = p_.conv1d_bias.empty() ? nullptr : p_.conv1d_bias.data();
#pragma omp parallel for schedule(static) if (M * di * K > 65536)
  for (std::ptrdiff_t row = 0; row < M; ++row) {
    const std::ptrdiff_t b = row / L, t = row % L;
    T* o = xc.data() + row * di;
    for (std::ptrdiff_t c = 0; c < di; ++c) o[c] = cbias ? cbias[c] : T(0);
    for (std::ptrdiff_t k = 0; k < K; ++k) {
      const std::ptrdiff_t tt = t - (K - 1) + k;
      const T* wk = conv_t_.data() + k * di;
      if (tt >= 0) {
        const T* src = xz + (b * L + tt) * 2 * di;
        for (std::ptrdiff_t c = 0; c < di; ++c) o[c] += wk[c] * src[c];
      } else if (state) {
        const T* cs = state->conv_.data() + b * di * K + (K + tt);
        for (std::ptrdiff_t c = 0; c < di; ++c) o[c] += wk[c] * cs[c * K];
      }
    }
    for (std::ptrdiff_t c = 0; c < di; ++c) o[c] = silu(o[c]);
  }
  // advance the conv state: new[j] = x[L - K + j] (or old[j + L] when that is before the sequence)
  if (state)
    for (std::ptrdiff_t b = 0; b < batch; ++b)
      for (std::ptrdiff_t c = 0; c < di; ++c) {
        T* cs = state->conv_.data() + (b * di + c) * K;
        for (std::ptrdiff_t j = 0; j < K; ++j) {
          const std::ptrdiff_t tt = L - K + j;
          cs[j] = tt >= 0 ? xz[std::size_t((b * L + tt) * 2 * di + c)] : cs[j + L];
        }
      }

  // x_proj -> (dt, B, C); dt_proj (no bias) -> delta (M, di)
  std::vector<T> xdbl(std::size_t(M * XD)), delta(std::size_t(M * di));
  linear_gemm(xc.data(), M, di, p_.x_proj_weight.data(), static_cast<const T*>(nullptr), XD, xdbl.data());
  linear_gemm(xdbl.data(), M, R, p_.dt_proj_weight.data(), static_cast<const T*>(nullptr), di, delta.data(),
              -1, XD);
  // variable B, C in mamba_ssm's (batch, groups = 1, d_state, L) layout
  std::vector<T> Bv(std::size_t(batch * N * L)), Cv(Bv.size());
  for (std::ptrdiff_t b = 0; b < batch; ++b)
    for (std::ptrdiff_t t = 0; t < L; ++t) {
      const T* r = xdbl.data() + (b * L + t) * XD + R;
      for (std::ptrdiff_t n = 0; n < N; ++n) {
        Bv[std::size_t((b * N + n) * L + t)] = r[n];
        Cv[std::size_t((b * N + n) * L + t)] = r[N + n];
      }
    }

  // selective scan over (batch, d_inner, L) views of the time-major arrays
  T* ys = ys_out;
  SelectiveScanProblem<T> a;
  a.dstate = int(N);
  a.delta_softplus = true;
  // (batch, d_inner, L) views of time-major (batch, L, d_inner) buffers; z inside xz's rows
  auto seq = [&](const T* p, std::ptrdiff_t row) { return View3<const T>(p, batch, di, L, L * row, 1, row); };
  if (device == Device::cpu) {
    a.u = seq(xc.data(), di);
    a.delta = seq(delta.data(), di);
    a.A = A_.data();
    a.B = Bv.data();
    a.C = Cv.data();
    a.D = p_.D.data();
    a.z = seq(xz + di, 2 * di);
    a.delta_bias = p_.dt_proj_bias.data();
    a.h0 = state ? state->ssm_.data() : nullptr;
    a.last_state = state ? state->ssm_.data() : nullptr;
    a.out = View3<T>(ys, batch, di, L, L * di, 1, di);
    selective_scan(a, Device::cpu);
  } else {
    const auto& w = gpu_weights();  // resident A, D, dt bias
    DeviceBuffer<T> du(xc), dd(delta), dB(Bv), dC(Cv), dz(std::size_t(M * 2 * di)), dout(std::size_t(M * di));
    dz.upload(xz, std::size_t(M * 2 * di));
    DeviceBuffer<T> dstate;
    if (state) dstate = DeviceBuffer<T>(state->ssm_);
    a.u = seq(du.data(), di);
    a.delta = seq(dd.data(), di);
    a.A = w[0].data();
    a.B = dB.data();
    a.C = dC.data();
    a.D = w[1].data();
    a.z = seq(dz.data() + di, 2 * di);
    a.delta_bias = w[2].data();
    a.h0 = state ? dstate.data() : nullptr;
    a.last_state = state ? dstate.data() : nullptr;
    a.out = View3<T>(dout.data(), batch, di, L, L * di, 1, di);
    selective_scan(a, device);
    dout.download(ys, std::size_t(M * di));
    if (state) dstate.download(state->ssm_.data(), state->ssm_.size());
  }
}

template <class T>
void MambaBlock<T>::step_front(const T* x, MambaBlockState<T>& s) const noexcept {
  const std::ptrdiff_t dm = cfg_.d_model, di = cfg_.d_inner, N = cfg_.d_state, K = cfg_.d_conv,
                       R = cfg_.dt_rank, XD = R + 2 * N;
  const T* cbias = p_.conv1d_bias.empty() ? nullptr : p_.conv1d_bias.data();
  for (std::ptrdiff_t b = 0; b < s.batch_; ++b) {
    T* xz = s.xz_.data() + b * 2 * di;
    linear_rows_t(x + b * dm, 1, dm, in_t_.data(),
                p_.in_proj_bias.empty() ? nullptr : p_.in_proj_bias.data(), 2 * di, xz);
    T* xc = s.xc_.data() + b * di;
    for (std::ptrdiff_t c = 0; c < di; ++c) {
      T* cs = s.conv_.data() + (b * di + c) * K;
      const T* wc = p_.conv1d_weight.data() + c * K;
      T acc = cbias ? cbias[c] : T(0);
      for (std::ptrdiff_t k = 0; k + 1 < K; ++k) {
        cs[k] = cs[k + 1];
        acc += cs[k] * wc[k];
      }
      cs[K - 1] = xz[c];
      acc += xz[c] * wc[K - 1];
      xc[c] = silu(acc);
      s.z_[std::size_t(b * di + c)] = xz[di + c];
    }
    T* xd = s.xdbl_.data() + b * XD;
    linear_rows_t(xc, 1, di, xproj_t_.data(), static_cast<const T*>(nullptr), XD, xd);
    linear_rows_t(xd, 1, R, dt_t_.data(), static_cast<const T*>(nullptr), di, s.dt_.data() + b * di);
    std::copy(xd + R, xd + R + N, s.B_.data() + b * N);
    std::copy(xd + R + N, xd + R + 2 * N, s.C_.data() + b * N);
  }
}

template <class T>
void MambaBlock<T>::step_back(T* y, MambaBlockState<T>& s) const noexcept {
  linear_rows_t(s.y_.data(), s.batch_, cfg_.d_inner, out_t_.data(),
              p_.out_proj_bias.empty() ? nullptr : p_.out_proj_bias.data(), cfg_.d_model, y);
}

template <class T>
void MambaBlock<T>::step_block(const T* x, int n, T* y, int b, MambaBlockState<T>& s) const noexcept {
  if constexpr (std::is_same_v<T, float>) {
    namespace rt = layers_detail::rt;
    const auto& w = *step_w_;
    const std::ptrdiff_t dm = cfg_.d_model, di = cfg_.d_inner, N = cfg_.d_state, K = cfg_.d_conv,
                         R = cfg_.dt_rank, XD = R + 2 * N;
    float* xz = s.xz_.data();
    float* xc = s.xc_.data();
    float* xd = s.xdbl_.data();
    float* ys = s.y_.data();
    if (!s.transposed_current_) {  // the state was read, written or scanned: bring the transposes up to date
      for (std::ptrdiff_t bb = 0; bb < s.batch_; ++bb) {
        const float* h = s.ssm_.data() + bb * di * N;
        float* t = s.hT_.data() + bb * di * N;
        for (std::ptrdiff_t c = 0; c < di; ++c)
          for (std::ptrdiff_t k = 0; k < N; ++k) t[k * di + c] = h[c * N + k];
        const float* cv = s.conv_.data() + bb * di * K;
        float* ct = s.convT_.data() + bb * K * di;
        for (std::ptrdiff_t c = 0; c < di; ++c)
          for (std::ptrdiff_t j = 0; j < K; ++j) ct[j * di + c] = cv[c * K + j];
      }
      s.transposed_current_ = true;
    }
    float* ct = s.convT_.data() + std::ptrdiff_t(b) * K * di;  // the last K conv inputs, oldest first
    rt::linear(w.in, x, n, dm, xz, 2 * di);
    rt::conv_silu(ct, xz, 2 * di, w.conv.data(), w.conv_bias.empty() ? nullptr : w.conv_bias.data(), K, di, n, xc);
    // the conv state becomes the last K inputs: rows n .. n + K - 1 of [state | block]
    for (std::ptrdiff_t j = 0; j < K; ++j) {
      const std::ptrdiff_t r = n + j;
      if (r < K) std::copy_n(ct + r * di, di, ct + j * di);  // forward copy: reads ahead of writes
      else std::copy_n(xz + (r - K) * 2 * di, di, ct + j * di);
    }
    rt::linear(w.xproj, xc, n, di, xd, XD);
    rt::mamba_scan_t(xd, XD, R, w.dt.data(), w.dt_bias.data(), xc, xz + di, 2 * di, w.A2t.data(), w.D.data(), di,
                     N, n, s.hT_.data() + std::ptrdiff_t(b) * di * N, ys, s.dt_.data());
    rt::linear(w.out, ys, n, di, y, dm);
  } else {
    (void)x, (void)n, (void)y, (void)b, (void)s;
  }
}

template <class T>
void MambaBlock<T>::step_tokens(const T* x, int n, T* y, MambaBlockState<T>& s) const noexcept {
  const std::ptrdiff_t dm = cfg_.d_model;
  if constexpr (std::is_same_v<T, float>) {
    if (s.batch_ == 1) {
      for (int t0 = 0; t0 < n; t0 += s.max_tokens_) {
        const int m = std::min(s.max_tokens_, n - t0);
        step_block(x + t0 * dm, m, y + t0 * dm, 0, s);
      }
      return;
    }
  }
  const std::ptrdiff_t stride = dm * s.batch_;
  for (int t = 0; t < n; ++t) step(x + t * stride, y + t * stride, s);
}

template <class T>
void MambaBlock<T>::step(const T* x, T* y, MambaBlockState<T>& s) const noexcept {
  if constexpr (std::is_same_v<T, float>) {
    for (int b = 0; b < s.batch_; ++b) step_block(x + b * cfg_.d_model, 1, y + b * cfg_.d_model, b, s);
    return;
  }
  step_front(x, s);
  SelectiveStateUpdateArgs<T> a;
  a.batch = s.batch_;
  a.dim = cfg_.d_inner;
  a.dstate = cfg_.d_state;
  a.groups = 1;
  a.dt_softplus = true;
  a.state = s.ssm_.data();
  a.x = s.xc_.data();
  a.dt = s.dt_.data();
  a.A = A_.data();
  a.B = s.B_.data();
  a.C = s.C_.data();
  a.D = p_.D.data();
  a.z = s.z_.data();
  a.dt_bias = p_.dt_proj_bias.data();
  a.out = s.y_.data();
  selective_state_update_cpu(a);
  step_back(y, s);
}

template <class T>
const std::vector<DeviceBuffer<T>>& MambaBlock<T>::gpu_weights() const {
  require(gpu_ != nullptr, "MambaBlock", "this", "must be a constructed block");
  detail::require_cuda("MambaBlock", "device");
  return gpu_->get([&] { return std::vector<std::vector<T>>{A_, p_.D, p_.dt_proj_bias}; });
}

template <class T>
void MambaBlock<T>::to_device() const {
  (void)gpu_weights();
}

template <class T>
int MambaBlock<T>::resident_devices() const {
  return gpu_ ? gpu_->uploads() : 0;
}

template <class T>
void MambaBlock<T>::step(const T* x, T* y, MambaBlockState<T>& s, Device device) const {
  require(s.batch_ >= 1 && s.ssm_.size() == std::size_t(s.batch_) * cfg_.d_inner * cfg_.d_state,
          "MambaBlock::step", "state", "must be made by make_state() of this block");
  if (device == Device::cpu) {
    step(x, y, s);
    return;
  }
  const auto& w = gpu_weights();  // resident A, D, dt bias
  s.sync_public();
  s.transposed_current_ = false;
  step_front(x, s);
  auto up = [](const AlignedVector<T>& v) {
    DeviceBuffer<T> d(v.size());
    d.upload(v.data(), v.size());
    return d;
  };
  DeviceBuffer<T> dstate(s.ssm_), dx = up(s.xc_), ddt = up(s.dt_), dB = up(s.B_), dC = up(s.C_), dz = up(s.z_),
                  dout(s.y_.size());
  SelectiveStateUpdateArgs<T> a;
  a.batch = s.batch_;
  a.dim = cfg_.d_inner;
  a.dstate = cfg_.d_state;
  a.groups = 1;
  a.dt_softplus = true;
  a.state = dstate.data();
  a.x = dx.data();
  a.dt = ddt.data();
  a.A = w[0].data();
  a.B = dB.data();
  a.C = dC.data();
  a.D = w[1].data();
  a.z = dz.data();
  a.dt_bias = w[2].data();
  a.out = dout.data();
  selective_state_update(a, device);
  dout.download(s.y_.data(), s.y_.size());
  dstate.download(s.ssm_.data(), s.ssm_.size());
  step_back(y, s);
}

template class MambaBlock<float>;
template class MambaBlock<double>;
template class MambaBlockState<float>;
template class MambaBlockState<double>;
template MambaBlockParams<float> read_mamba_block<float>(TensorReader&, const std::string&, const MambaBlockConfig&);
template MambaBlockParams<double> read_mamba_block<double>(TensorReader&, const std::string&, const MambaBlockConfig&);
template MambaBlockParams<float> random_mamba_block<float>(const MambaBlockConfig&, std::uint64_t);
template MambaBlockParams<double> random_mamba_block<double>(const MambaBlockConfig&, std::uint64_t);

}  // namespace ssm
