#include "ssm/layers/moe_mamba_model.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include "layers/config_json.hpp"
#include "layers/nn_ops.hpp"
#include "ssm/core/denormals.hpp"
#include "ssm/core/error.hpp"
#include "ssm/layers/mamba_model.hpp"
#include "ssm/layers/model_file.hpp"

namespace ssm {

using layers_detail::linear_gemm;
using layers_detail::linear_rows_t;

// ---- config ---------------------------------------------------------------------------------

void MoEMambaModelConfig::validate(const char* where) const {
  require(d_input >= 1, where, "d_input", "must be >= 1, got ", d_input);
  require(d_output >= 1, where, "d_output", "must be >= 1, got ", d_output);
  require(n_layers >= 1, where, "n_layers", "must be >= 1, got ", n_layers);
  require(sample_rate >= 0 && std::isfinite(sample_rate), where, "sample_rate", "must be >= 0 (0: not given), got ",
          sample_rate);
  layer.validate(where);
}

MoEMambaModelConfig MoEMambaModelConfig::from_json(const std::string& text) {
  // the block keys are MambaModel's (same names, same defaults); the MoE keys follow
  const MambaModelConfig m = MambaModelConfig::from_json(text);
  layers_detail::ConfigJson j(text, "MoEMambaModelConfig");
  if (m.norm != NormKind::rmsnorm) j.bad("norm", "must be \"rmsnorm\" (MoE-Mamba layers use RMSNorm)");
  MoEMambaModelConfig c;
  c.d_input = m.d_input;
  c.d_output = m.d_output;
  c.n_layers = m.n_layers;
  c.sample_rate = m.sample_rate;
  c.layer.mixer = m.block;
  c.layer.norm_eps = m.norm_eps;
  MoEFFNConfig& e = c.layer.moe;
  e.d_model = m.block.d_model;
  e.n_experts = j.integer("n_experts");
  e.d_ff = j.integer("d_ff");
  e.top_k = j.integer("top_k", 1);
  e.activation = parse_activation(j.string("activation", "gelu"), "MoEMambaModelConfig", "activation");
  e.router_bias = j.boolean("router_bias", false);
  e.fc1_bias = e.fc2_bias = j.boolean("ffn_bias", true);
  c.validate("MoEMambaModelConfig");
  return c;
}

std::string MoEMambaModelConfig::to_json() const {
  nlohmann::ordered_json j;
  const auto& b = layer.mixer;
  const auto& e = layer.moe;
  j["d_model"] = b.d_model;
  j["n_layers"] = n_layers;
  j["d_inner"] = b.d_inner;
  j["d_state"] = b.d_state;
  j["d_conv"] = b.d_conv;
  j["dt_rank"] = b.dt_rank;
  j["in_proj_bias"] = b.in_proj_bias;
  j["conv_bias"] = b.conv_bias;
  j["out_proj_bias"] = b.out_proj_bias;
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
  std::mt19937_64 rng(seed);
  auto uniform = [&](std::size_t n, double bound) {
    std::uniform_real_distribution<double> d(-bound, bound);
    std::vector<T> v(n);
    for (auto& x : v) x = static_cast<T>(d(rng));
    return v;
  };
  const std::size_t dm = c.layer.mixer.d_model;
  MoEMambaModelParams<T> p;
  p.encoder_weight = uniform(dm * c.d_input, 1 / std::sqrt(double(c.d_input)));
  p.encoder_bias = uniform(dm, 1 / std::sqrt(double(c.d_input)));
  for (int i = 0; i < c.n_layers; ++i)
    p.layers.push_back(random_moe_mamba_layer<T>(c.layer, seed * 1000003 + std::uint64_t(i) + 1));
  p.norm_f_weight.assign(dm, T(1));
  p.decoder_weight = uniform(std::size_t(c.d_output) * dm, 1 / std::sqrt(double(dm)));
  p.decoder_bias = uniform(c.d_output, 1 / std::sqrt(double(dm)));
  return p;
}

namespace {
template <class T>
void check_vec(const std::vector<T>& v, std::size_t n, const std::string& name) {
  if (v.size() != n)
    throw Error("MoEMambaModel: parameter '" + name + "' must have " + std::to_string(n) + " elements, got " +
                std::to_string(v.size()));
  for (const T& x : v)
    if (!std::isfinite(static_cast<double>(x))) throw Error("MoEMambaModel: parameter '" + name + "' must be finite");
}
}  // namespace

template <class T>
MoEMambaModel<T>::MoEMambaModel(const MoEMambaModelConfig& c, MoEMambaModelParams<T> p) : cfg_(c) {
  c.validate("MoEMambaModel");
  const std::size_t dm = c.layer.mixer.d_model, L = c.n_layers;
  check_vec(p.encoder_weight, dm * c.d_input, "encoder.weight");
  check_vec(p.encoder_bias, dm, "encoder.bias");
  check_vec(p.decoder_weight, dm * c.d_output, "decoder.weight");
  check_vec(p.decoder_bias, std::size_t(c.d_output), "decoder.bias");
  check_vec(p.norm_f_weight, dm, "norm_f.weight");
  if (p.layers.size() != L)
    throw Error("MoEMambaModel: parameters must hold n_layers = " + std::to_string(L) + " layers, got " +
                std::to_string(p.layers.size()));
  for (std::size_t i = 0; i < L; ++i) {
    try {
      layers_.emplace_back(c.layer, std::move(p.layers[i]));
    } catch (const Error& e) {
      throw Error("MoEMambaModel: layers." + std::to_string(i) + ": " + e.what());
    }
  }
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
  const std::string arch = model_arch(f);
  if (arch != "moe_mamba")
    throw Error("MoEMambaModel: model file '" + f.origin() + "' has ssmkit.arch \"" + arch +
                "\", expected \"moe_mamba\"");
  auto cit = f.metadata().find("ssmkit.config");
  if (cit == f.metadata().end())
    throw Error("MoEMambaModel: model file '" + f.origin() + "': __metadata__ key 'ssmkit.config' is missing");
  MoEMambaModelConfig c;
  try {
    c = MoEMambaModelConfig::from_json(cit->second);
  } catch (const Error& e) {
    throw Error("model file '" + f.origin() + "': " + e.what());
  }
  TensorReader r(f, "MoEMambaModel");
  const std::int64_t dm = c.layer.mixer.d_model;
  MoEMambaModelParams<T> p;
  p.encoder_weight = r.read<T>("encoder.weight", {dm, c.d_input});
  p.encoder_bias = r.read<T>("encoder.bias", {dm});
  for (int i = 0; i < c.n_layers; ++i)
    p.layers.push_back(read_moe_mamba_layer<T>(r, "layers." + std::to_string(i) + ".", c.layer));
  p.norm_f_weight = r.read<T>("norm_f.weight", {dm});
  p.decoder_weight = r.read<T>("decoder.weight", {c.d_output, dm});
  p.decoder_bias = r.read<T>("decoder.bias", {c.d_output});
  r.finish();
  return MoEMambaModel(c, std::move(p));
}

template <class T>
MoEMambaModel<T> MoEMambaModel<T>::load(const std::string& path) {
  return from_file(io::SafeTensors::load(path));
}

template <class T>
void MoEMambaModel<T>::save(const std::string& path) const {
  require(!layers_.empty(), "MoEMambaModel::save", "this", "must be a constructed model");
  const io::DType dt = sizeof(T) == 4 ? io::DType::F32 : io::DType::F64;
  std::vector<io::TensorOut> out;
  auto add = [&](const std::string& name, std::vector<std::int64_t> shape, const std::vector<T>& v) {
    if (!v.empty()) out.push_back({name, dt, std::move(shape), std::vector<double>(v.begin(), v.end())});
  };
  const auto& b = cfg_.layer.mixer;
  const auto& e = cfg_.layer.moe;
  const std::int64_t dm = b.d_model, di = b.d_inner, N = b.d_state, K = b.d_conv, R = b.dt_rank, E = e.n_experts,
                     df = e.d_ff;
  add("encoder.weight", {dm, cfg_.d_input}, enc_w_);
  add("encoder.bias", {dm}, enc_b_);
  for (int i = 0; i < cfg_.n_layers; ++i) {
    const std::string pre = "layers." + std::to_string(i) + ".";
    const auto& l = layers_[std::size_t(i)];
    const auto& m = l.mixer().params();
    add(pre + "norm.weight", {dm}, l.norm_weight());
    add(pre + "mixer.in_proj.weight", {2 * di, dm}, m.in_proj_weight);
    add(pre + "mixer.in_proj.bias", {2 * di}, m.in_proj_bias);
    add(pre + "mixer.conv1d.weight", {di, 1, K}, m.conv1d_weight);
    add(pre + "mixer.conv1d.bias", {di}, m.conv1d_bias);
    add(pre + "mixer.x_proj.weight", {R + 2 * N, di}, m.x_proj_weight);
    add(pre + "mixer.dt_proj.weight", {di, R}, m.dt_proj_weight);
    add(pre + "mixer.dt_proj.bias", {di}, m.dt_proj_bias);
    add(pre + "mixer.A_log", {di, N}, m.A_log);
    add(pre + "mixer.D", {di}, m.D);
    add(pre + "mixer.out_proj.weight", {dm, di}, m.out_proj_weight);
    add(pre + "mixer.out_proj.bias", {dm}, m.out_proj_bias);
    add(pre + "moe_norm.weight", {dm}, l.moe_norm_weight());
    const auto& q = l.moe().params();
    add(pre + "moe.router.weight", {E, dm}, q.router_weight);
    add(pre + "moe.router.bias", {E}, q.router_bias);
    for (std::int64_t x = 0; x < E; ++x) {
      const std::string ep = pre + "moe.experts." + std::to_string(x) + ".";
      const auto& ex = q.experts[std::size_t(x)];
      add(ep + "fc1.weight", {df, dm}, ex.fc1_weight);
      add(ep + "fc1.bias", {df}, ex.fc1_bias);
      add(ep + "fc2.weight", {dm, df}, ex.fc2_weight);
      add(ep + "fc2.bias", {dm}, ex.fc2_bias);
    }
  }
  add("norm_f.weight", {dm}, norm_f_);
  add("decoder.weight", {cfg_.d_output, dm}, dec_w_);
  add("decoder.bias", {cfg_.d_output}, dec_b_);
  io::save_safetensors(path, out, {{"ssmkit.arch", "moe_mamba"}, {"ssmkit.config", cfg_.to_json()}});
}

// ---- compute --------------------------------------------------------------------------------

template <class T>
void MoEMambaModel<T>::forward(const T* u, int batch, int length, T* y, Device device) const {
  constexpr const char* w = "MoEMambaModel::forward";
  require(!layers_.empty(), w, "this", "must be a constructed model");
  require(batch >= 1, w, "batch", "must be >= 1, got ", batch);
  require(length >= 1, w, "length", "must be >= 1, got ", length);
  require(u != nullptr && y != nullptr, w, "u/y", "must not be null");
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
MoEMambaStreamState<T> MoEMambaModel<T>::make_stream_state() const {
  require(!layers_.empty(), "MoEMambaModel::make_stream_state", "this", "must be a constructed model");
  MoEMambaStreamState<T> s;
  for (const auto& l : layers_) s.layers_.push_back(l.make_state(1));
  s.h_.assign(std::size_t(cfg_.layer.mixer.d_model), T(0));
  s.hn_.assign(s.h_.size(), T(0));
  return s;
}

template <class T>
void MoEMambaModel<T>::process(const T* in, T* out, int n, MoEMambaStreamState<T>& s) const noexcept {
  ScopedFlushDenormals ftz;
  const std::ptrdiff_t dm = cfg_.layer.mixer.d_model, di = cfg_.d_input, dout = cfg_.d_output;
  T* h = s.h_.data();
  T* hn = s.hn_.data();
  for (int t = 0; t < n; ++t) {
    linear_rows_t(in + t * di, 1, di, enc_t_.data(), enc_b_.data(), dm, h);
    for (std::size_t i = 0; i < layers_.size(); ++i) layers_[i].step(h, h, s.layers_[i]);
    layers_detail::rms_norm(h, 1, dm, norm_f_.data(), cfg_.layer.norm_eps, hn);
    linear_rows_t(hn, 1, dm, dec_t_.data(), dec_b_.data(), dout, out + t * dout);
  }
}

template <class T>
void MoEMambaModel<T>::prepare(const StreamSpec& spec) {
  require(!layers_.empty(), "MoEMambaModel::prepare", "this", "must be a constructed model");
  spec.validate("MoEMambaModel::prepare");
  own_ = make_stream_state();
  max_block_ = spec.max_block;
  prepared_ = true;
}

template <class T>
void MoEMambaModel<T>::process_mono(const T* in, T* out, int n) noexcept {
  if (!prepared_ || n > max_block_ || n < 0) {
    if (n > 0) std::fill(out, out + std::ptrdiff_t(n) * cfg_.d_output, T(0));
    return;
  }
  process(in, out, n, own_);
}

template <class T>
std::size_t MoEMambaStreamState<T>::size() const noexcept {
  std::size_t n = 0;
  for (const auto& l : layers_) n += l.conv().size() + l.ssm().size();
  return n;
}

template <class T>
void MoEMambaStreamState<T>::save(T* dst) const noexcept {
  for (const auto& l : layers_) {
    dst = std::copy(l.conv().begin(), l.conv().end(), dst);
    dst = std::copy(l.ssm().begin(), l.ssm().end(), dst);
  }
}

template <class T>
void MoEMambaStreamState<T>::load(const T* src) noexcept {
  for (auto& l : layers_) {
    std::copy_n(src, l.conv().size(), l.conv().begin());
    src += l.conv().size();
    std::copy_n(src, l.ssm().size(), l.ssm().begin());
    src += l.ssm().size();
  }
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
