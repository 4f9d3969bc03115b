#include "ssm/layers/moe_mamba.hpp"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "layers/model_io.hpp"
#include "layers/nn_ops.hpp"
#include "layers/tensor_names.hpp"
#include "layers/stream_kernels.hpp"
#include "ssm/core/error.hpp"
#include "ssm/layers/model_file.hpp"

namespace ssm {

using layers_detail::rms_norm;

void MoEMambaLayerConfig::validate(const char* where) const {
  mixer.validate(where);
  moe.validate(where);
  require(moe.d_model == mixer.d_model, where, "moe.d_model", "must equal the mixer's d_model = ",
          mixer.d_model, ", got ", moe.d_model);
  require(norm_eps > 0 && std::isfinite(norm_eps), where, "norm_eps", "must be finite and > 0, got ", norm_eps);
}

MoEMambaLayerConfig infer_moe_mamba_layer_config(const io::SafeTensors& file, const std::string& prefix,
                                                 int top_k, Activation activation, double norm_eps) {
  MoEMambaLayerConfig c;
  c.mixer = infer_mamba_block_config(file, prefix + "mixer.");
  c.moe = infer_moe_ffn_config(file, prefix + "moe.", top_k, activation);
  c.norm_eps = norm_eps;
  c.validate("infer_moe_mamba_layer_config");
  return c;
}

template <class T>
MoEMambaLayerParams<T> read_moe_mamba_layer(TensorReader& r, const std::string& pre, const MoEMambaLayerConfig& c) {
  c.validate("read_moe_mamba_layer");
  return layers_detail::read_tensors<T, MoEMambaLayerParams<T>>(
      r, [&](auto& m, auto& p) { layers_detail::moe_mamba_layer_tensors(m, pre, c, p); });
}

template <class T>
MoEMambaLayerParams<T> random_moe_mamba_layer(const MoEMambaLayerConfig& c, std::uint64_t seed) {
  c.validate("random_moe_mamba_layer");
  MoEMambaLayerParams<T> p;
  p.norm_weight.assign(std::size_t(c.mixer.d_model), T(1));
  p.moe_norm_weight.assign(std::size_t(c.mixer.d_model), T(1));
  p.mixer = random_mamba_block<T>(c.mixer, seed);
  p.moe = random_moe_ffn<T>(c.moe, seed ^ 0x9e3779b97f4a7c15ULL);
  return p;
}

namespace {
template <class T>
void check_norm(const std::vector<T>& v, std::size_t n, const char* name) {
  require(v.size() == n, "MoEMambaLayer", name, "must have d_model = ", n, " elements, got ", v.size());
  for (const T& x : v) require(std::isfinite(static_cast<double>(x)), "MoEMambaLayer", name, "must be finite");
}
}  // namespace

template <class T>
MoEMambaLayer<T>::MoEMambaLayer(const MoEMambaLayerConfig& c, MoEMambaLayerParams<T> p) : cfg_(c) {
  c.validate("MoEMambaLayer");
  check_norm(p.norm_weight, std::size_t(c.mixer.d_model), "norm.weight");
  check_norm(p.moe_norm_weight, std::size_t(c.mixer.d_model), "moe_norm.weight");
  norm_w_ = std::move(p.norm_weight);
  moe_norm_w_ = std::move(p.moe_norm_weight);
  mixer_ = MambaBlock<T>(c.mixer, std::move(p.mixer));
  moe_ = MoEFFN<T>(c.moe, std::move(p.moe));
  cfg_.mixer = mixer_.config();
  cfg_.moe = moe_.config();
}

template <class T>
MoEMambaLayerState<T> MoEMambaLayer<T>::make_state(int batch, int max_tokens) const {
  require(batch >= 1, "MoEMambaLayer::make_state", "batch", "must be >= 1, got ", batch);
  MoEMambaLayerState<T> s;
  s.mixer_ = mixer_.make_state(batch, max_tokens);
  s.moe_ = moe_.make_scratch();
  const std::size_t n = std::size_t(std::max(batch, max_tokens)) * std::size_t(cfg_.mixer.d_model);
  s.xn_.assign(n, T(0));
  s.h_.assign(n, T(0));
  s.m_.assign(n, T(0));
  return s;
}

template <class T>
void MoEMambaLayer<T>::forward(const T* x, int batch, int length, T* y, MoEMambaLayerState<T>* state,
                               Device device, std::int64_t* expert_index) const {
  constexpr const char* w = "MoEMambaLayer::forward";
  require(batch >= 1, w, "batch", "must be >= 1, got ", batch);
  require(length >= 1, w, "length", "must be >= 1, got ", length);
  require(x != nullptr, w, "x", "must not be null");
  require(y != nullptr, w, "y", "must not be null");
  const std::ptrdiff_t dm = cfg_.mixer.d_model, M = std::ptrdiff_t(batch) * length;
  require(y + M * dm <= x || x + M * dm <= y, w, "y", "must not overlap x");
  if (state)
    require(state->batch() == batch && state->xn_.size() == std::size_t(batch * dm), w, "state",
            "must be made by make_state(", batch, ") of this layer");
  std::vector<T> xn(static_cast<std::size_t>(M * dm)), m(xn.size()), h(xn.size());
  rms_norm(x, M, dm, norm_w_.data(), cfg_.norm_eps, xn.data());
  mixer_.forward(xn.data(), batch, length, m.data(), state ? &state->mixer_ : nullptr, device);
  for (std::ptrdiff_t i = 0; i < M * dm; ++i) h[std::size_t(i)] = x[i] + m[std::size_t(i)];
  rms_norm(h.data(), M, dm, moe_norm_w_.data(), cfg_.norm_eps, xn.data());
  moe_.forward(xn.data(), M, m.data(), expert_index, device);
  for (std::ptrdiff_t i = 0; i < M * dm; ++i) y[i] = h[std::size_t(i)] + m[std::size_t(i)];
}

template <class T>
void MoEMambaLayer<T>::step_norm(const T* x, std::ptrdiff_t rows, const std::vector<T>& w, T* y) const noexcept {
  // the step paths' RMSNorm: float on the vector kernel (one arithmetic for step and step_tokens)
  if constexpr (std::is_same_v<T, float>)
    layers_detail::rt::rms_norm(x, rows, cfg_.mixer.d_model, w.data(), float(cfg_.norm_eps), y);
  else
    rms_norm(x, rows, cfg_.mixer.d_model, w.data(), cfg_.norm_eps, y);
}

template <class T>
void MoEMambaLayer<T>::step(const T* x, T* y, MoEMambaLayerState<T>& s) const noexcept {
  const std::ptrdiff_t B = s.batch(), dm = cfg_.mixer.d_model, n = B * dm;
  T* xn = s.xn_.data();
  T* h = s.h_.data();
  T* m = s.m_.data();
  step_norm(x, B, norm_w_, xn);
  mixer_.step(xn, m, s.mixer_);
  for (std::ptrdiff_t i = 0; i < n; ++i) h[i] = x[i] + m[i];
  step_norm(h, B, moe_norm_w_, xn);
  moe_.forward_token(xn, m, nullptr, s.moe_, B);
  for (std::ptrdiff_t i = 0; i < n; ++i) y[i] = h[i] + m[i];
}

template <class T>
void MoEMambaLayer<T>::step_tokens(const T* x, int n, T* y, MoEMambaLayerState<T>& s) const noexcept {
  const std::ptrdiff_t dm = cfg_.mixer.d_model;
  if (s.batch() != 1) {
    const std::ptrdiff_t stride = dm * s.batch();
    for (int t = 0; t < n; ++t) step(x + t * stride, y + t * stride, s);
    return;
  }
  T* xn = s.xn_.data();
  T* h = s.h_.data();
  T* m = s.m_.data();
  const int cap = s.mixer_.max_tokens();
  for (int t0 = 0; t0 < n; t0 += cap) {
    const std::ptrdiff_t rows = std::min(cap, n - t0), k = rows * dm;
    const T* xb = x + t0 * dm;
    step_norm(xb, rows, norm_w_, xn);
    mixer_.step_tokens(xn, int(rows), m, s.mixer_);
    for (std::ptrdiff_t i = 0; i < k; ++i) h[i] = xb[i] + m[i];
    step_norm(h, rows, moe_norm_w_, xn);
    moe_.forward_token(xn, m, nullptr, s.moe_, rows);
    T* yb = y + t0 * dm;
    for (std::ptrdiff_t i = 0; i < k; ++i) yb[i] = h[i] + m[i];
  }
}

template class MoEMambaLayer<float>;
template class MoEMambaLayer<double>;
template class MoEMambaLayerState<float>;
template class MoEMambaLayerState<double>;
template MoEMambaLayerParams<float> read_moe_mamba_layer<float>(TensorReader&, const std::string&,
                                                                const MoEMambaLayerConfig&);
template MoEMambaLayerParams<double> read_moe_mamba_layer<double>(TensorReader&, const std::string&,
                                                                  const MoEMambaLayerConfig&);
template MoEMambaLayerParams<float> random_moe_mamba_layer<float>(const MoEMambaLayerConfig&, std::uint64_t);
template MoEMambaLayerParams<double> random_moe_mamba_layer<double>(const MoEMambaLayerConfig&, std::uint64_t);

}  // namespace ssm
