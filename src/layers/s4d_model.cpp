// The S4D model (s4d_model.hpp): encoder, a stack of S4DLayer, decoder; offline forward and
// the real-time stream. The file mapping is in s4d_file.cpp and tensor_names.hpp, one layer in
// s4d_layer.cpp.
#include "ssm/layers/s4d_model.hpp"

#include <algorithm>
#include <cmath>

#include "layers/model_io.hpp"
#include "layers/nn_ops.hpp"
#include "layers/tensor_names.hpp"
#include "layers/s4d_kernel.hpp"
#include "ssm/core/denormals.hpp"
#include "ssm/core/error.hpp"

namespace ssm {

using layers_detail::linear_gemm;
using layers_detail::linear_rows;

// ---- config ---------------------------------------------------------------------------------

void S4DModelConfig::validate(const char* where) const {
  layers_detail::check_stack_sizes(where, d_input, d_output, n_layers);
  layer().validate(where);
}

// ---- parameters -----------------------------------------------------------------------------

template <class T>
S4DModelParams<T> random_s4d_model(const S4DModelConfig& c, std::uint64_t seed) {
  c.validate("random_s4d_model");
  layers_detail::UniformInit<T> draw(seed);
  const std::size_t H = c.d_model, N2 = c.modes();
  S4DModelParams<T> p;
  draw.linear(H, c.d_input, p.encoder_weight, p.encoder_bias);
  for (int i = 0; i < c.n_layers; ++i) {
    S4DLayerParams<T> l;
    layers_detail::random_s4d_kernel(l, H, N2, draw);
    draw.linear(2 * H, H, l.out_weight, l.out_bias);  // the 1x1 conv's default init, fan-in H
    l.norm_weight.assign(H, T(1));
    l.norm_bias.assign(H, T(0));
    p.layers.push_back(std::move(l));
  }
  draw.linear(c.d_output, H, p.decoder_weight, p.decoder_bias);
  return p;
}

template <class T>
S4DModel<T>::S4DModel(const S4DModelConfig& c, S4DModelParams<T> p) : cfg_(c), p_(std::move(p)) {
  constexpr const char* w = "S4DModel";
  c.validate(w);
  layers_detail::CheckTensors<T> check(w);
  const std::vector<S4DLayerParams<T>> none;  // each layer checks its own (S4DLayer)
  layers_detail::s4d_model_tensors(check, c, c.d_input, c.d_output, p_, none);
  layers_detail::check_count(w, "layers", p_.layers, std::size_t(c.n_layers));
  for (std::size_t i = 0; i < p_.layers.size(); ++i) layers_.emplace_back(c.layer(), p_.layers[i], int(i));
}

// ---- compute --------------------------------------------------------------------------------

template <class T>
void S4DModel<T>::forward(const T* u, int batch, int length, T* y, Mode mode, double sample_rate,
                          Device device) const {
  constexpr const char* w = "S4DModel::forward";
  layers_detail::check_sequence_call(w, constructed(), batch, length, u, y);
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
void S4DModel<T>::prepare_stream(const StreamSpec& spec) {
  for (auto& l : layers_) l.prepare(cfg_.sample_rate / spec.sample_rate, spec.max_block);
  const std::size_t need = std::size_t(spec.max_block) * cfg_.d_model;
  if (x_.size() < need) x_.assign(need, T(0));
}

template <class T>
void S4DModel<T>::reset() noexcept {
  for (auto& l : layers_) l.reset();
}

template <class T>
void S4DModel<T>::process_block(const T* in, T* out, int n) noexcept {
  ScopedFlushDenormals ftz;
  const std::ptrdiff_t H = cfg_.d_model;
  linear_rows(in, n, cfg_.d_input, p_.encoder_weight.data(), p_.encoder_bias.data(), H, x_.data());
  for (auto& l : layers_) l.process(x_.data(), n);
  linear_rows(x_.data(), n, H, p_.decoder_weight.data(), p_.decoder_bias.data(), cfg_.d_output, out);
}

template <class T>
std::size_t S4DModel<T>::state_size() const noexcept {
  if (!this->prepared()) return 0;
  std::size_t n = 0;
  for (const auto& l : layers_) n += l.state_size();
  return n;
}

template <class T>
void S4DModel<T>::save_state(T* dst) const noexcept {
  if (!this->prepared()) return;
  for (const auto& l : layers_) dst = l.save_state(dst);
}

template <class T>
void S4DModel<T>::load_state(const T* src) noexcept {
  if (!this->prepared()) return;
  for (auto& l : layers_) src = l.load_state(src);
}

template class S4DModel<float>;
template class S4DModel<double>;
template S4DModelParams<float> random_s4d_model<float>(const S4DModelConfig&, std::uint64_t);
template S4DModelParams<double> random_s4d_model<double>(const S4DModelConfig&, std::uint64_t);

}  // namespace ssm
