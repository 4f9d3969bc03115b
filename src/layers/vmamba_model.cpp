#include "ssm/layers/vmamba_model.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <random>

#include "layers/config_json.hpp"
#include "layers/nn_ops.hpp"
#include "ssm/core/error.hpp"
#include "ssm/layers/model_file.hpp"
#include "ssm/layers/ss2d_block_cuda.hpp"

namespace ssm {

using layers_detail::linear_gemm;

void VMambaModelConfig::validate(const char* where) const {
  require(d_input >= 1, where, "d_input", "must be >= 1, got ", d_input);
  require(d_output >= 1, where, "d_output", "must be >= 1, got ", d_output);
  require(n_layers >= 1, where, "n_layers", "must be >= 1, got ", n_layers);
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
  j["in_proj_bias"] = block.in_proj_bias;
  j["conv_bias"] = block.conv_bias;
  j["out_proj_bias"] = block.out_proj_bias;
  return j.dump();
}

template <class T>
VMambaModelParams<T> random_vmamba_model(const VMambaModelConfig& c, std::uint64_t seed) {
  c.validate("random_vmamba_model");
  std::mt19937_64 rng(seed);
  auto uniform = [&](std::size_t n, double bound) {
    std::uniform_real_distribution<double> d(-bound, bound);
    std::vector<T> v(n);
    for (auto& x : v) x = static_cast<T>(d(rng));
    return v;
  };
  const std::size_t dm = c.block.d_model, ff = c.d_ff;
  VMambaModelParams<T> p;
  p.encoder_weight = uniform(dm * c.d_input, 1 / std::sqrt(double(c.d_input)));
  p.encoder_bias = uniform(dm, 1 / std::sqrt(double(c.d_input)));
  for (int i = 0; i < c.n_layers; ++i) {
    VMambaLayerParams<T> l;
    l.ln_1_weight.assign(dm, T(1));
    l.ln_1_bias.assign(dm, T(0));
    l.self_attention = random_ss2d_block<T>(c.block, seed * 1000 + std::uint64_t(i) + 1);
    if (ff > 0) {
      l.ln_2_weight.assign(dm, T(1));
      l.ln_2_bias.assign(dm, T(0));
      l.fc1_weight = uniform(ff * dm, 1 / std::sqrt(double(dm)));
      l.fc1_bias = uniform(ff, 1 / std::sqrt(double(dm)));
      l.fc2_weight = uniform(dm * ff, 1 / std::sqrt(double(ff)));
      l.fc2_bias = uniform(dm, 1 / std::sqrt(double(ff)));
    }
    p.layers.push_back(std::move(l));
  }
  p.norm_f_weight.assign(dm, T(1));
  p.norm_f_bias.assign(dm, T(0));
  p.decoder_weight = uniform(std::size_t(c.d_output) * dm, 1 / std::sqrt(double(dm)));
  p.decoder_bias = uniform(std::size_t(c.d_output), 1 / std::sqrt(double(dm)));
  return p;
}

namespace {
template <class T>
void check_vec(const std::vector<T>& v, std::size_t n, const std::string& name) {
  if (v.size() != n)
    throw Error("VMambaModel: argument '" + name + "' must have " + std::to_string(n) + " elements, got " +
                std::to_string(v.size()));
  for (const T& x : v)
    if (!std::isfinite(static_cast<double>(x))) throw Error("VMambaModel: argument '" + name + "' must be finite");
}
}  // namespace

template <class T>
VMambaModel<T>::VMambaModel(const VMambaModelConfig& c, VMambaModelParams<T> p) : cfg_(c), p_(std::move(p)) {
  c.validate("VMambaModel");
  const std::size_t dm = c.block.d_model, ff = c.d_ff, L = c.n_layers;
  check_vec(p_.encoder_weight, dm * c.d_input, "encoder.weight");
  check_vec(p_.encoder_bias, dm, "encoder.bias");
  check_vec(p_.norm_f_weight, dm, "norm_f.weight");
  check_vec(p_.norm_f_bias, dm, "norm_f.bias");
  check_vec(p_.decoder_weight, std::size_t(c.d_output) * dm, "decoder.weight");
  check_vec(p_.decoder_bias, std::size_t(c.d_output), "decoder.bias");
  if (p_.layers.size() != L)
    throw Error("VMambaModel: argument 'layers' must hold n_layers = " + std::to_string(L) + " layers, got " +
                std::to_string(p_.layers.size()));
  for (std::size_t i = 0; i < L; ++i) {
    const std::string pre = "layers." + std::to_string(i) + ".";
    auto& l = p_.layers[i];
    check_vec(l.ln_1_weight, dm, pre + "ln_1.weight");
    check_vec(l.ln_1_bias, dm, pre + "ln_1.bias");
    check_vec(l.ln_2_weight, ff ? dm : 0, pre + "ln_2.weight");
    check_vec(l.ln_2_bias, ff ? dm : 0, pre + "ln_2.bias");
    check_vec(l.fc1_weight, ff * dm, pre + "mlp.fc1.weight");
    check_vec(l.fc1_bias, ff, pre + "mlp.fc1.bias");
    check_vec(l.fc2_weight, dm * ff, pre + "mlp.fc2.weight");
    check_vec(l.fc2_bias, ff ? dm : 0, pre + "mlp.fc2.bias");
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
  const std::string arch = model_arch(f);
  if (arch != "vmamba")
    throw Error("VMambaModel: model file '" + f.origin() + "' has ssmkit.arch \"" + arch + "\", expected \"vmamba\"");
  auto cit = f.metadata().find("ssmkit.config");
  if (cit == f.metadata().end())
    throw Error("VMambaModel: model file '" + f.origin() + "': __metadata__ key 'ssmkit.config' is missing");
  VMambaModelConfig c;
  try {
    c = VMambaModelConfig::from_json(cit->second);
  } catch (const Error& e) {
    throw Error("model file '" + f.origin() + "': " + e.what());
  }
  TensorReader r(f, "VMambaModel");
  const std::int64_t dm = c.block.d_model, ff = c.d_ff;
  VMambaModelParams<T> p;
  p.encoder_weight = r.read<T>("encoder.weight", {dm, c.d_input});
  p.encoder_bias = r.read<T>("encoder.bias", {dm});
  for (int i = 0; i < c.n_layers; ++i) {
    const std::string pre = "layers." + std::to_string(i) + ".";
    VMambaLayerParams<T> l;
    l.ln_1_weight = r.read<T>(pre + "ln_1.weight", {dm});
    l.ln_1_bias = r.read<T>(pre + "ln_1.bias", {dm});
    l.self_attention = read_ss2d_block<T>(r, pre + "self_attention.", c.block);
    if (ff > 0) {
      l.ln_2_weight = r.read<T>(pre + "ln_2.weight", {dm});
      l.ln_2_bias = r.read<T>(pre + "ln_2.bias", {dm});
      l.fc1_weight = r.read<T>(pre + "mlp.fc1.weight", {ff, dm});
      l.fc1_bias = r.read<T>(pre + "mlp.fc1.bias", {ff});
      l.fc2_weight = r.read<T>(pre + "mlp.fc2.weight", {dm, ff});
      l.fc2_bias = r.read<T>(pre + "mlp.fc2.bias", {dm});
    }
    p.layers.push_back(std::move(l));
  }
  p.norm_f_weight = r.read<T>("norm_f.weight", {dm});
  p.norm_f_bias = r.read<T>("norm_f.bias", {dm});
  p.decoder_weight = r.read<T>("decoder.weight", {c.d_output, dm});
  p.decoder_bias = r.read<T>("decoder.bias", {c.d_output});
  r.finish();
  return VMambaModel(c, std::move(p));
}

template <class T>
VMambaModel<T> VMambaModel<T>::load(const std::string& path) {
  return from_file(io::SafeTensors::load(path));
}

template <class T>
void VMambaModel<T>::save(const std::string& path) const {
  const io::DType dt = sizeof(T) == 4 ? io::DType::F32 : io::DType::F64;
  std::vector<io::TensorOut> out;
  auto add = [&](const std::string& name, std::vector<std::int64_t> shape, const std::vector<T>& v) {
    out.push_back({name, dt, std::move(shape), std::vector<double>(v.begin(), v.end())});
  };
  const std::int64_t dm = cfg_.block.d_model, di = cfg_.block.d_inner, N = cfg_.block.d_state,
                     K = cfg_.block.d_conv, R = cfg_.block.dt_rank, ff = cfg_.d_ff;
  add("encoder.weight", {dm, cfg_.d_input}, p_.encoder_weight);
  add("encoder.bias", {dm}, p_.encoder_bias);
  for (int i = 0; i < cfg_.n_layers; ++i) {
    const std::string pre = "layers." + std::to_string(i) + ".";
    const auto& l = p_.layers[std::size_t(i)];
    const auto& s = blocks_[std::size_t(i)].params();
    const std::string sa = pre + "self_attention.";
    add(pre + "ln_1.weight", {dm}, l.ln_1_weight);
    add(pre + "ln_1.bias", {dm}, l.ln_1_bias);
    add(sa + "in_proj.weight", {2 * di, dm}, s.in_proj_weight);
    if (!s.in_proj_bias.empty()) add(sa + "in_proj.bias", {2 * di}, s.in_proj_bias);
    add(sa + "conv2d.weight", {di, 1, K, K}, s.conv2d_weight);
    if (!s.conv2d_bias.empty()) add(sa + "conv2d.bias", {di}, s.conv2d_bias);
    add(sa + "x_proj_weight", {4, R + 2 * N, di}, s.x_proj_weight);
    add(sa + "dt_projs_weight", {4, di, R}, s.dt_projs_weight);
    add(sa + "dt_projs_bias", {4, di}, s.dt_projs_bias);
    add(sa + "A_logs", {4 * di, N}, s.A_logs);
    add(sa + "Ds", {4 * di}, s.Ds);
    add(sa + "out_norm.weight", {di}, s.out_norm_weight);
    add(sa + "out_norm.bias", {di}, s.out_norm_bias);
    add(sa + "out_proj.weight", {dm, di}, s.out_proj_weight);
    if (!s.out_proj_bias.empty()) add(sa + "out_proj.bias", {dm}, s.out_proj_bias);
    if (ff > 0) {
      add(pre + "ln_2.weight", {dm}, l.ln_2_weight);
      add(pre + "ln_2.bias", {dm}, l.ln_2_bias);
      add(pre + "mlp.fc1.weight", {ff, dm}, l.fc1_weight);
      add(pre + "mlp.fc1.bias", {ff}, l.fc1_bias);
      add(pre + "mlp.fc2.weight", {dm, ff}, l.fc2_weight);
      add(pre + "mlp.fc2.bias", {dm}, l.fc2_bias);
    }
  }
  add("norm_f.weight", {dm}, p_.norm_f_weight);
  add("norm_f.bias", {dm}, p_.norm_f_bias);
  add("decoder.weight", {cfg_.d_output, dm}, p_.decoder_weight);
  add("decoder.bias", {cfg_.d_output}, p_.decoder_bias);
  io::save_safetensors(path, out, {{"ssmkit.arch", "vmamba"}, {"ssmkit.config", cfg_.to_json()}});
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
