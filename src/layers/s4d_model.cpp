// The S4D model (s4d_model.hpp): encoder, a stack of S4DLayer, decoder; offline forward and
// the real-time stream. The file mapping is in s4d_file.cpp, one layer in s4d_layer.cpp.
#include "ssm/layers/s4d_model.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>

#include "layers/nn_ops.hpp"
#include "ssm/core/denormals.hpp"
#include "ssm/core/error.hpp"

namespace ssm {

using layers_detail::linear_gemm;
using layers_detail::linear_rows;

// ---- config ---------------------------------------------------------------------------------

void S4DModelConfig::validate(const char* where) const {
  require(d_input >= 1, where, "d_input", "must be >= 1, got ", d_input);
  require(d_output >= 1, where, "d_output", "must be >= 1, got ", d_output);
  require(d_model >= 1, where, "d_model", "must be >= 1, got ", d_model);
  require(n_layers >= 1, where, "n_layers", "must be >= 1, got ", n_layers);
  require(d_state >= 2 && d_state % 2 == 0, where, "d_state", "must be even and >= 2 (N2 = d_state/2 complex modes), got ",
          d_state);
  require(norm_eps > 0 && std::isfinite(norm_eps), where, "norm_eps", "must be finite and > 0, got ", norm_eps);
  require(sample_rate > 0 && std::isfinite(sample_rate), where, "sample_rate", "must be finite and > 0 Hz, got ",
          sample_rate);
}

// ---- parameters -----------------------------------------------------------------------------

template <class T>
S4DModelParams<T> random_s4d_model(const S4DModelConfig& c, std::uint64_t seed) {
  c.validate("random_s4d_model");
  std::mt19937_64 rng(seed);
  auto uniform = [&](std::size_t n, double lo, double hi) {
    std::uniform_real_distribution<double> d(lo, hi);
    std::vector<T> v(n);
    for (auto& x : v) x = static_cast<T>(d(rng));
    return v;
  };
  auto normal = [&](std::size_t n, double sd) {
    std::normal_distribution<double> d(0, sd);
    std::vector<T> v(n);
    for (auto& x : v) x = static_cast<T>(d(rng));
    return v;
  };
  const std::size_t H = c.d_model, N2 = c.modes();
  const double bi = 1 / std::sqrt(double(c.d_input)), bh = 1 / std::sqrt(double(H));
  S4DModelParams<T> p;
  p.encoder_weight = uniform(H * c.d_input, -bi, bi);
  p.encoder_bias = uniform(H, -bi, bi);
  for (int i = 0; i < c.n_layers; ++i) {
    S4DLayerParams<T> l;
    l.log_dt = uniform(H, std::log(1e-3), std::log(1e-1));
    l.log_A_real.assign(H * N2, static_cast<T>(std::log(0.5)));
    l.A_imag.resize(H * N2);
    for (std::size_t h = 0; h < H; ++h)
      for (std::size_t n = 0; n < N2; ++n) l.A_imag[h * N2 + n] = static_cast<T>(std::numbers::pi * double(n));
    l.C = normal(H * N2 * 2, std::sqrt(0.5));
    l.D = normal(H, 1.0);
    l.out_weight = uniform(2 * H * H, -bh, bh);
    l.out_bias = uniform(2 * H, -bh, bh);
    l.norm_weight.assign(H, T(1));
    l.norm_bias.assign(H, T(0));
    p.layers.push_back(std::move(l));
  }
  p.decoder_weight = uniform(std::size_t(c.d_output) * H, -bh, bh);
  p.decoder_bias = uniform(c.d_output, -bh, bh);
  return p;
}

template <class T>
S4DModel<T>::S4DModel(const S4DModelConfig& c, S4DModelParams<T> p) : cfg_(c), p_(std::move(p)) {
  c.validate("S4DModel");
  const std::size_t H = c.d_model;
  auto check = [](const std::vector<T>& v, std::size_t n, const char* name) {
    if (v.size() != n)
      throw Error(std::string("S4DModel: parameter '") + name + "' must have " + std::to_string(n) +
                  " elements, got " + std::to_string(v.size()));
    for (const T& x : v)
      if (!std::isfinite(static_cast<double>(x))) throw Error(std::string("S4DModel: parameter '") + name + "' must be finite");
  };
  check(p_.encoder_weight, H * c.d_input, "encoder.weight");
  check(p_.encoder_bias, H, "encoder.bias");
  check(p_.decoder_weight, H * c.d_output, "decoder.weight");
  check(p_.decoder_bias, std::size_t(c.d_output), "decoder.bias");
  if (p_.layers.size() != std::size_t(c.n_layers))
    throw Error("S4DModel: parameters must hold n_layers = " + std::to_string(c.n_layers) + " layers, got " +
                std::to_string(p_.layers.size()));
  for (std::size_t i = 0; i < p_.layers.size(); ++i) layers_.emplace_back(c.layer(), p_.layers[i], int(i));
}

// ---- compute --------------------------------------------------------------------------------

template <class T>
void S4DModel<T>::forward(const T* u, int batch, int length, T* y, Mode mode, double sample_rate,
                          Device device) const {
  constexpr const char* w = "S4DModel::forward";
  require(!layers_.empty(), w, "this", "must be a constructed model");
  require(batch >= 1, w, "batch", "must be >= 1, got ", batch);
  require(length >= 1, w, "length", "must be >= 1, got ", length);
  require(u != nullptr && y != nullptr, w, "u/y", "must not be null");
  require(sample_rate >= 0 && std::isfinite(sample_rate), w, "sample_rate",
          "must be finite and > 0 (or 0: the model's rate), got ", sample_rate);
  require(mode != Mode::stream || device == Device::cpu, w, "device", "must be cpu for the stream mode");
  const double rate = sample_rate > 0 ? sample_rate : cfg_.sample_rate;
  const double dt_scale = cfg_.sample_rate / rate;
  const std::ptrdiff_t H = cfg_.d_model, M = std::ptrdiff_t(batch) * length;
  std::vector<T> x(std::size_t(M * H));
  linear_gemm(u, M, cfg_.d_input, p_.encoder_weight.data(), p_.encoder_bias.data(), H, x.data());
  for (const auto& l : layers_) l.forward(x.data(), batch, length, mode, dt_scale, device);
  linear_gemm(x.data(), M, H, p_.decoder_weight.data(), p_.decoder_bias.data(), cfg_.d_output, y);
}

template <class T>
void S4DModel<T>::prepare(const StreamSpec& spec) {
  require(!layers_.empty(), "S4DModel::prepare", "this", "must be a constructed model");
  require(spec.max_block >= 1, "S4DModel::prepare", "spec.max_block", "must be >= 1, got ", spec.max_block);
  require(spec.channels == 1, "S4DModel::prepare", "spec.channels",
          "must be 1 (one stream; make_streamer() streams any number of channels), got ", spec.channels);
  require(spec.sample_rate > 0 && std::isfinite(spec.sample_rate), "S4DModel::prepare", "spec.sample_rate",
          "must be finite and > 0 Hz, got ", spec.sample_rate);
  prepared_ = false;
  for (auto& l : layers_) l.prepare(cfg_.sample_rate / spec.sample_rate, spec.max_block);
  const std::size_t need = std::size_t(spec.max_block) * cfg_.d_model;
  if (x_.size() < need) x_.assign(need, T(0));
  max_block_ = spec.max_block;
  prepared_ = true;
}

template <class T>
void S4DModel<T>::reset() noexcept {
  for (auto& l : layers_) l.reset();
}

template <class T>
void S4DModel<T>::process_mono(const T* in, T* out, int n) noexcept {
  if (!prepared_ || n < 0) {
    if (n > 0) std::fill(out, out + std::ptrdiff_t(n) * cfg_.d_output, T(0));
    return;
  }
  if (n > max_block_) {  // pieces of max_block: the state carries over, the output is that of one call
    for (int at = 0; at < n; at += max_block_)
      process_mono(in + std::ptrdiff_t(at) * cfg_.d_input, out + std::ptrdiff_t(at) * cfg_.d_output,
              std::min(max_block_, n - at));
    return;
  }
  ScopedFlushDenormals ftz;
  const std::ptrdiff_t H = cfg_.d_model;
  linear_rows(in, n, cfg_.d_input, p_.encoder_weight.data(), p_.encoder_bias.data(), H, x_.data());
  for (auto& l : layers_) l.process(x_.data(), n);
  linear_rows(x_.data(), n, H, p_.decoder_weight.data(), p_.decoder_bias.data(), cfg_.d_output, out);
}

template <class T>
std::size_t S4DModel<T>::state_size() const noexcept {
  if (!prepared_) return 0;
  std::size_t n = 0;
  for (const auto& l : layers_) n += l.state_size();
  return n;
}

template <class T>
void S4DModel<T>::save_state(T* dst) const noexcept {
  if (!prepared_) return;
  for (const auto& l : layers_) dst = l.save_state(dst);
}

template <class T>
void S4DModel<T>::load_state(const T* src) noexcept {
  if (!prepared_) return;
  for (auto& l : layers_) src = l.load_state(src);
}

template class S4DModel<float>;
template class S4DModel<double>;
template S4DModelParams<float> random_s4d_model<float>(const S4DModelConfig&, std::uint64_t);
template S4DModelParams<double> random_s4d_model<double>(const S4DModelConfig&, std::uint64_t);

}  // namespace ssm
