#include "ssm/layers/moe_mamba_model.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include "layers/config_json.hpp"
#include "layers/nn_ops.hpp"
#include "layers/mamba_stack.hpp"
#include "layers/model_io.hpp"
#include "layers/tensor_names.hpp"
#include "ssm/core/denormals.hpp"
#include "ssm/core/error.hpp"
#include "ssm/layers/mamba_model.hpp"
#include "ssm/layers/model_file.hpp"

namespace ssm {

using layers_detail::linear_gemm;
using layers_detail::linear_rows_t;

// ---- config ---------------------------------------------------------------------------------

void MoEMambaModelConfig::validate(const char* where) const {
  layers_detail::check_stack_sizes(where, d_input, d_output, n_layers);
  layers_detail::check_stored_rate(where, sample_rate);
  layer.validate(where);
}

MoEMambaModelConfig MoEMambaModelConfig::from_json(const std::string& text) {
  // the block keys are MambaModel's (same names, same defaults); the MoE keys follow
  layers_detail::ConfigJson j(text, "MoEMambaModelConfig");
  MoEMambaModelConfig c;
  c.layer.mixer = layers_detail::mamba_block_keys(j);
  c.n_layers = j.integer("n_layers");
  c.d_input = j.integer("d_input", 1);
  c.d_output = j.integer("d_output", 1);
  j.fixed_string("norm", "rmsnorm", "(MoE-Mamba layers use RMSNorm)");
  c.layer.norm_eps = j.number("norm_eps", 1e-5);
  c.sample_rate = j.number("sample_rate", 0.0);
  layers_detail::residual_in_fp32_key(j);
  MoEFFNConfig& e = c.layer.moe;
  e.d_model = c.layer.mixer.d_model;
  e.n_experts = j.integer("n_experts");
  e.d_ff = j.integer("d_ff");
  e.top_k = j.integer("top_k", 1);
  e.activation = j.activation("activation", Activation::gelu);
  e.router_bias = j.boolean("router_bias", false);
  e.fc1_bias = e.fc2_bias = j.boolean("ffn_bias", true);
  j.finish();
  c.validate("MoEMambaModelConfig");
  return c;
}

std::string MoEMambaModelConfig::to_json() const {
  nlohmann::ordered_json j;
  const auto& b = layer.mixer;
  const auto& e = layer.moe;
  j["d_model"] = b.d_model;
  j["n_layers"] = n_layers;
  layers_detail::mamba_block_to_json(j, b);
  j["n_experts"] = e.n_experts;
  j["d_ff"] = e.d_ff;
  j["top_k"] = e.top_k;
  j["activation"] = to_string(e.activation);
  j["router_bias"] = e.router_bias;
  j["ffn_bias"] = e.fc1_bias;
  j["d_input"] = d_input;
  j["d_output"] = d_output;
  j["norm"] = "rmsnorm";
  j["norm_eps"] = layer.norm_eps;
  j["sample_rate"] = sample_rate;
  return j.dump();
}

// ---- parameters -----------------------------------------------------------------------------

template <class T>
MoEMambaModelParams<T> random_moe_mamba_model(const MoEMambaModelConfig& c, std::uint64_t seed) {
  c.validate("random_moe_mamba_model");
  layers_detail::UniformInit<T> uniform(seed);
  const std::size_t dm = c.layer.mixer.d_model;
  MoEMambaModelParams<T> p;
  uniform.linear(dm, c.d_input, p.encoder_weight, p.encoder_bias);
  for (int i = 0; i < c.n_layers; ++i)
    p.layers.push_back(random_moe_mamba_layer<T>(c.layer, seed * 1000003 + std::uint64_t(i) + 1));
  p.norm_f_weight.assign(dm, T(1));
  uniform.linear(std::size_t(c.d_output), dm, p.decoder_weight, p.decoder_bias);
  return p;
}

template <class T>
MoEMambaModel<T>::MoEMambaModel(const MoEMambaModelConfig& c, MoEMambaModelParams<T> p) : cfg_(c) {
  constexpr const char* w = "MoEMambaModel";
  c.validate(w);
  const std::size_t dm = c.layer.mixer.d_model;
  layers_detail::CheckTensors<T> check(w);
  const std::vector<MoEMambaLayerParams<T>> none;  // each layer checks its own (MoEMambaLayer)
  layers_detail::moe_mamba_model_tensors(check, c, p, none);
  layers_detail::check_count(w, "layers", p.layers, std::size_t(c.n_layers));
  layers_detail::emplace_layers(w, layers_, p.layers, [&](MoEMambaLayerParams<T>&& l, int) {
    return MoEMambaLayer<T>(c.layer, std::move(l));
  });
  cfg_.layer = layers_[0].config();
  enc_w_ = std::move(p.encoder_weight);
  enc_b_ = std::move(p.encoder_bias);
  norm_f_ = std::move(p.norm_f_weight);
  dec_w_ = std::move(p.decoder_weight);
  dec_b_ = std::move(p.decoder_bias);
  enc_t_ = layers_detail::transpose(enc_w_, std::ptrdiff_t(dm), c.d_input);
  dec_t_ = layers_detail::transpose(dec_w_, c.d_output, std::ptrdiff_t(dm));
}

template <class T>
MoEMambaModel<T> MoEMambaModel<T>::from_file(const io::SafeTensors& f) {
  auto [c, p] = layers_detail::read_model_file<T, MoEMambaModelConfig, MoEMambaModelParams<T>>(
      f, "moe_mamba", "MoEMambaModel", [](auto& m, const auto& c, auto& p) {
        p.layers.resize(std::size_t(c.n_layers));
        layers_detail::moe_mamba_model_tensors(m, c, p, p.layers);
      });
  return MoEMambaModel(c, std::move(p));
}

template <class T>
MoEMambaModel<T> MoEMambaModel<T>::load(const std::string& path) {
  return from_file(io::SafeTensors::load(path));
}

template <class T>
void MoEMambaModel<T>::save(const std::string& path) const {
  require(!layers_.empty(), "MoEMambaModel::save", "this", "must be a constructed model");
  MoEMambaModelParams<T> ends;  // the stack's own tensors as the list reads them (small: copied)
  ends.encoder_weight = enc_w_;
  ends.encoder_bias = enc_b_;
  ends.norm_f_weight = norm_f_;
  ends.decoder_weight = dec_w_;
  ends.decoder_bias = dec_b_;
  layers_detail::write_model_file<T>(path, "moe_mamba", cfg_.to_json(), [&](auto& m) {
    layers_detail::moe_mamba_model_tensors(m, cfg_, std::as_const(ends), layers_);
  });
}

// ---- compute --------------------------------------------------------------------------------

template <class T>
void MoEMambaModel<T>::forward(const T* u, int batch, int length, T* y, Device device) const {
  constexpr const char* w = "MoEMambaModel::forward";
  layers_detail::check_sequence_call(w, constructed(), batch, length, u, y);
  const std::ptrdiff_t dm = cfg_.layer.mixer.d_model, M = std::ptrdiff_t(batch) * length;
  std::vector<T> h(static_cast<std::size_t>(M * dm)), h2(h.size());
  linear_gemm(u, M, cfg_.d_input, enc_w_.data(), enc_b_.data(), dm, h.data());
  for (const auto& l : layers_) {
    l.forward(h.data(), batch, length, h2.data(), nullptr, device);
    h.swap(h2);
  }
  layers_detail::rms_norm(h.data(), M, dm, norm_f_.data(), cfg_.layer.norm_eps, h2.data());
  linear_gemm(h2.data(), M, dm, dec_w_.data(), dec_b_.data(), cfg_.d_output, y);
}

template <class T>
MoEMambaStreamState<T> MoEMambaModel<T>::make_stream_state(int max_block) const {
  require(!layers_.empty(), "MoEMambaModel::make_stream_state", "this", "must be a constructed model");
  require(max_block >= 1, "MoEMambaModel::make_stream_state", "max_block", "must be >= 1, got ", max_block);
  MoEMambaStreamState<T> s;
  for (const auto& l : layers_) s.layers_.push_back(l.make_state(1, max_block));
  s.max_block_ = max_block;
  s.h_.assign(std::size_t(max_block) * std::size_t(cfg_.layer.mixer.d_model), T(0));
  s.hn_.assign(s.h_.size(), T(0));
  return s;
}

template <class T>
void MoEMambaModel<T>::process(const T* in, T* out, int n, MoEMambaStreamState<T>& s) const noexcept {
  ScopedFlushDenormals ftz;
  const std::ptrdiff_t dm = cfg_.layer.mixer.d_model, di = cfg_.d_input, dout = cfg_.d_output;
  T* h = s.h_.data();
  T* hn = s.hn_.data();
  for (int t0 = 0; t0 < n; t0 += s.max_block_) {
    const int rows = std::min(s.max_block_, n - t0);
    linear_rows_t(in + std::ptrdiff_t(t0) * di, rows, di, enc_t_.data(), enc_b_.data(), dm, h);
    for (std::size_t i = 0; i < layers_.size(); ++i) layers_[i].step_tokens(h, rows, h, s.layers_[i]);
    layers_detail::rms_norm(h, rows, dm, norm_f_.data(), cfg_.layer.norm_eps, hn);
    linear_rows_t(hn, rows, dm, dec_t_.data(), dec_b_.data(), dout, out + std::ptrdiff_t(t0) * dout);
  }
}

template <class T>
void MoEMambaModel<T>::prepare_stream(const StreamSpec& spec) {
  own_ = make_stream_state(spec.max_block);
}

template <class T>
void MoEMambaModel<T>::process_block(const T* in, T* out, int n) noexcept {
  process(in, out, n, own_);
}

template <class T>
std::size_t MoEMambaStreamState<T>::size() const noexcept {
  return layers_detail::mamba_states_size(layers_);
}

template <class T>
void MoEMambaStreamState<T>::save(T* dst) const noexcept {
  layers_detail::save_mamba_states(layers_, dst);
}

template <class T>
void MoEMambaStreamState<T>::load(const T* src) noexcept {
  layers_detail::load_mamba_states(layers_, src);
}

template <class T>
void MoEMambaStreamState<T>::reset() noexcept {
  for (auto& l : layers_) l.reset();
}

template class MoEMambaModel<float>;
template class MoEMambaModel<double>;
template class MoEMambaStreamState<float>;
template class MoEMambaStreamState<double>;
template MoEMambaModelParams<float> random_moe_mamba_model<float>(const MoEMambaModelConfig&, std::uint64_t);
template MoEMambaModelParams<double> random_moe_mamba_model<double>(const MoEMambaModelConfig&, std::uint64_t);

}  // namespace ssm
