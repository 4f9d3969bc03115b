#include "ssm/layers/vmamba_model.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "layers/config_json.hpp"
#include "layers/nn_ops.hpp"
#include "layers/model_io.hpp"
#include "layers/tensor_names.hpp"
#include "ssm/core/error.hpp"
#include "ssm/layers/model_file.hpp"
#include "ssm/layers/ss2d_block_cuda.hpp"

namespace ssm {

using layers_detail::linear_gemm;

void VMambaModelConfig::validate(const char* where) const {
  layers_detail::check_stack_sizes(where, d_input, d_output, n_layers);
  require(d_ff >= 0, where, "d_ff", "must be >= 0 (0: no MLP), got ", d_ff);
  require(norm_eps > 0 && std::isfinite(norm_eps), where, "norm_eps", "must be finite and > 0, got ", norm_eps);
  block.validate(where);
}

VMambaModelConfig VMambaModelConfig::from_json(const std::string& text) {
  layers_detail::ConfigJson j(text, "VMambaModelConfig");
  VMambaModelConfig c;
  c.block.d_model = j.integer("d_model");
  c.n_layers = j.integer("n_layers");
  c.block.d_state = j.integer("d_state", 16);
  c.block.d_conv = j.integer("d_conv", 3);
  c.block.d_inner = layers_detail::inner_size(j, c.block.d_model, "d_model");
  c.block.dt_rank = layers_detail::dt_rank(j, c.block.d_model);
  c.block.in_proj_bias = j.boolean("in_proj_bias", false);
  c.block.conv_bias = j.boolean("conv_bias", true);
  c.block.out_proj_bias = j.boolean("out_proj_bias", false);
  c.d_ff = j.integer("d_ff", 0);
  c.d_input = j.integer("d_input", 1);
  c.d_output = j.integer("d_output", 1);
  c.norm_eps = j.number("norm_eps", 1e-6);
  c.block.out_norm_eps = j.number("out_norm_eps", 1e-5);
  j.finish();
  c.validate("VMambaModelConfig");
  return c;
}

std::string VMambaModelConfig::to_json() const {
  nlohmann::ordered_json j;
  j["d_input"] = d_input;
  j["d_output"] = d_output;
  j["d_model"] = block.d_model;
  j["n_layers"] = n_layers;
  j["d_inner"] = block.d_inner;
  j["d_state"] = block.d_state;
  j["d_conv"] = block.d_conv;
  j["dt_rank"] = block.dt_rank;
  j["d_ff"] = d_ff;
  j["norm_eps"] = norm_eps;
  j["out_norm_eps"] = block.out_norm_eps;
  j["in_proj_bias"] = block.in_proj_bias;
  j["conv_bias"] = block.conv_bias;
  j["out_proj_bias"] = block.out_proj_bias;
  return j.dump();
}

template <class T>
VMambaModelParams<T> random_vmamba_model(const VMambaModelConfig& c, std::uint64_t seed) {
  c.validate("random_vmamba_model");
  layers_detail::UniformInit<T> uniform(seed);
  const std::size_t dm = c.block.d_model, ff = c.d_ff;
  VMambaModelParams<T> p;
  uniform.linear(dm, c.d_input, p.encoder_weight, p.encoder_bias);
  for (int i = 0; i < c.n_layers; ++i) {
    VMambaLayerParams<T> l;
    l.ln_1_weight.assign(dm, T(1));
    l.ln_1_bias.assign(dm, T(0));
    l.self_attention = random_ss2d_block<T>(c.block, seed * 1000 + std::uint64_t(i) + 1);
    if (ff > 0) {
      l.ln_2_weight.assign(dm, T(1));
      l.ln_2_bias.assign(dm, T(0));
      uniform.linear(ff, dm, l.fc1_weight, l.fc1_bias);
      uniform.linear(dm, ff, l.fc2_weight, l.fc2_bias);
    }
    p.layers.push_back(std::move(l));
  }
  p.norm_f_weight.assign(dm, T(1));
  p.norm_f_bias.assign(dm, T(0));
  uniform.linear(std::size_t(c.d_output), dm, p.decoder_weight, p.decoder_bias);
  return p;
}

template <class T>
VMambaModel<T>::VMambaModel(const VMambaModelConfig& c, VMambaModelParams<T> p) : cfg_(c), p_(std::move(p)) {
  constexpr const char* w = "VMambaModel";
  c.validate(w);
  layers_detail::CheckTensors<T> check(w);
  const std::vector<SS2DBlockParams<T>> none;  // each block checks its own (SS2DBlock)
  layers_detail::vmamba_model_tensors(check, c, p_, none);
  for (auto& l : p_.layers) {
    blocks_.emplace_back(c.block, std::move(l.self_attention));
    l.self_attention = {};
  }
}

template <class T>
VMambaModel<T>::~VMambaModel() = default;
template <class T>
VMambaModel<T>::VMambaModel(VMambaModel&&) noexcept = default;
template <class T>
VMambaModel<T>& VMambaModel<T>::operator=(VMambaModel&&) noexcept = default;

template <class T>
VMambaModel<T> VMambaModel<T>::from_file(const io::SafeTensors& f) {
  auto [c, p] = layers_detail::read_model_file<T, VMambaModelConfig, VMambaModelParams<T>>(
      f, "vmamba", "VMambaModel", [](auto& m, const auto& c, auto& p) {
        p.layers.resize(std::size_t(c.n_layers));
        auto project = [](auto& l) -> auto& { return l.self_attention; };
        layers_detail::ProjectedView<decltype(p.layers), decltype(project)> attention(p.layers, project);
        layers_detail::vmamba_model_tensors(m, c, p, attention);
      });
  return VMambaModel(c, std::move(p));
}

template <class T>
VMambaModel<T> VMambaModel<T>::load(const std::string& path) {
  return from_file(io::SafeTensors::load(path));
}

template <class T>
void VMambaModel<T>::save(const std::string& path) const {
  layers_detail::write_model_file<T>(path, "vmamba", cfg_.to_json(), [&](auto& m) {
    layers_detail::vmamba_model_tensors(m, cfg_, p_, layers_detail::params_of(blocks_));
  });
}

template <class T>
void VMambaModel<T>::forward(const T* u, int batch, int H, int W, T* y, Device device) const {
  constexpr const char* w = "VMambaModel::forward";
  require(batch >= 1, w, "batch", "must be >= 1, got ", batch);
  require(H >= 1, w, "height", "must be >= 1, got ", H);
  require(W >= 1, w, "width", "must be >= 1, got ", W);
  require(u != nullptr, w, "u", "must not be null");
  require(y != nullptr, w, "y", "must not be null");
  const std::ptrdiff_t dm = cfg_.block.d_model, ff = cfg_.d_ff, M = std::ptrdiff_t(batch) * H * W,
                       din = cfg_.d_input, dout = cfg_.d_output;
  require(y + M * dout <= u || u + M * din <= y, w, "y", "must not overlap u");
  if constexpr (std::is_same_v<T, float>) {
    if (device == Device::cuda) {
      const std::lock_guard<std::mutex> lock(*gpu_mutex_);
      if (gpu_.empty())
        for (const auto& b : blocks_) gpu_.push_back(std::make_unique<SS2DBlockCuda>(b));
    }
  }
  std::vector<T> x(std::size_t(M * dm)), xn(x.size()), t(x.size()), hid(std::size_t(M * ff));
  linear_gemm(u, M, din, p_.encoder_weight.data(), p_.encoder_bias.data(), dm, x.data());
  for (int i = 0; i < cfg_.n_layers; ++i) {
    const auto& l = p_.layers[std::size_t(i)];
    layers_detail::layer_norm(x.data(), M, dm, l.ln_1_weight.data(), l.ln_1_bias.data(), cfg_.norm_eps, xn.data());
    bool done = false;
    if constexpr (std::is_same_v<T, float>) {
      if (device == Device::cuda) {
        gpu_[std::size_t(i)]->forward(xn.data(), batch, H, W, t.data());
        done = true;
      }
    }
    if (!done) blocks_[std::size_t(i)].forward(xn.data(), batch, H, W, t.data(), device);
    for (std::size_t k = 0; k < x.size(); ++k) x[k] += t[k];
    if (ff > 0) {
      layers_detail::layer_norm(x.data(), M, dm, l.ln_2_weight.data(), l.ln_2_bias.data(), cfg_.norm_eps, xn.data());
      linear_gemm(xn.data(), M, dm, l.fc1_weight.data(), l.fc1_bias.data(), ff, hid.data());
      for (auto& v : hid) v = layers_detail::gelu(v);
      linear_gemm(hid.data(), M, ff, l.fc2_weight.data(), l.fc2_bias.data(), dm, t.data());
      for (std::size_t k = 0; k < x.size(); ++k) x[k] += t[k];
    }
  }
  layers_detail::layer_norm(x.data(), M, dm, p_.norm_f_weight.data(), p_.norm_f_bias.data(), cfg_.norm_eps, xn.data());
  linear_gemm(xn.data(), M, dm, p_.decoder_weight.data(), p_.decoder_bias.data(), dout, y);
}

template class VMambaModel<float>;
template class VMambaModel<double>;
template VMambaModelParams<float> random_vmamba_model<float>(const VMambaModelConfig&, std::uint64_t);
template VMambaModelParams<double> random_vmamba_model<double>(const VMambaModelConfig&, std::uint64_t);

}  // namespace ssm
