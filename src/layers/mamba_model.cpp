#include "ssm/layers/mamba_model.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include "layers/config_json.hpp"
#include "layers/nn_ops.hpp"
#include "ssm/core/denormals.hpp"
#include "ssm/core/error.hpp"
#include "ssm/layers/model_file.hpp"

namespace ssm {

using layers_detail::linear_gemm;
using layers_detail::linear_rows;

// ---- config ---------------------------------------------------------------------------------

void MambaModelConfig::validate(const char* where) const {
  require(d_input >= 1, where, "d_input", "must be >= 1, got ", d_input);
  require(d_output >= 1, where, "d_output", "must be >= 1, got ", d_output);
  require(n_layers >= 1, where, "n_layers", "must be >= 1, got ", n_layers);
  require(norm_eps > 0 && std::isfinite(norm_eps), where, "norm_eps", "must be finite and > 0, got ", norm_eps);
  require(sample_rate >= 0 && std::isfinite(sample_rate), where, "sample_rate", "must be >= 0 (0: not given), got ",
          sample_rate);
  block.validate(where);
}

MambaModelConfig MambaModelConfig::from_json(const std::string& text) {
  layers_detail::ConfigJson j(text, "MambaModelConfig");
  MambaModelConfig c;
  c.block.d_model = j.integer("d_model");
  c.n_layers = j.integer("n_layers");
  c.block.d_state = j.integer("d_state", 16);
  c.block.d_conv = j.integer("d_conv", 4);
  c.block.d_inner = layers_detail::inner_size(j, c.block.d_model, "d_model");
  c.block.dt_rank = layers_detail::dt_rank(j, c.block.d_model);
  c.block.in_proj_bias = j.boolean("in_proj_bias", j.boolean("bias", false));
  c.block.out_proj_bias = j.boolean("out_proj_bias", j.boolean("bias", false));
  c.block.conv_bias = j.boolean("conv_bias", true);
  c.d_input = j.integer("d_input", 1);
  c.d_output = j.integer("d_output", 1);
  const std::string norm = j.string("norm", "rmsnorm");
  if (norm == "rmsnorm") c.norm = NormKind::rmsnorm;
  else if (norm == "layernorm") c.norm = NormKind::layernorm;
  else j.bad("norm", "must be \"rmsnorm\" or \"layernorm\", got \"" + norm + "\"");
  c.norm_eps = j.number("norm_eps", 1e-5);
  c.sample_rate = j.number("sample_rate", 0.0);
  if (j.has("residual_in_fp32") && !j.boolean("residual_in_fp32"))
    j.bad("residual_in_fp32", "must be true (ssmkit keeps the residual in the compute type, float32 or float64)");
  c.validate("MambaModelConfig");
  return c;
}

std::string MambaModelConfig::to_json() const {
  nlohmann::ordered_json j;
  j["d_model"] = block.d_model;
  j["n_layers"] = n_layers;
  j["d_inner"] = block.d_inner;
  j["d_state"] = block.d_state;
  j["d_conv"] = block.d_conv;
  j["dt_rank"] = block.dt_rank;
  j["in_proj_bias"] = block.in_proj_bias;
  j["conv_bias"] = block.conv_bias;
  j["out_proj_bias"] = block.out_proj_bias;
  j["d_input"] = d_input;
  j["d_output"] = d_output;
  j["norm"] = norm == NormKind::rmsnorm ? "rmsnorm" : "layernorm";
  j["norm_eps"] = norm_eps;
  j["residual_in_fp32"] = true;
  j["sample_rate"] = sample_rate;
  return j.dump();
}

// ---- parameters -----------------------------------------------------------------------------

template <class T>
MambaModelParams<T> random_mamba_model(const MambaModelConfig& c, std::uint64_t seed) {
  c.validate("random_mamba_model");
  std::mt19937_64 rng(seed);
  auto uniform = [&](std::size_t n, double bound) {
    std::uniform_real_distribution<double> d(-bound, bound);
    std::vector<T> v(n);
    for (auto& x : v) x = static_cast<T>(d(rng));
    return v;
  };
  const std::size_t dm = c.block.d_model;
  const bool ln = c.norm == NormKind::layernorm;
  MambaModelParams<T> p;
  p.encoder_weight = uniform(dm * c.d_input, 1 / std::sqrt(double(c.d_input)));
  p.encoder_bias = uniform(dm, 1 / std::sqrt(double(c.d_input)));
  for (int i = 0; i < c.n_layers; ++i) {
    p.mixers.push_back(random_mamba_block<T>(c.block, seed * 1000003 + std::uint64_t(i) + 1));
    p.norm_weight.push_back(std::vector<T>(dm, T(1)));
    p.norm_bias.push_back(ln ? std::vector<T>(dm, T(0)) : std::vector<T>{});
  }
  p.norm_f_weight.assign(dm, T(1));
  if (ln) p.norm_f_bias.assign(dm, T(0));
  p.decoder_weight = uniform(std::size_t(c.d_output) * dm, 1 / std::sqrt(double(dm)));
  p.decoder_bias = uniform(c.d_output, 1 / std::sqrt(double(dm)));
  return p;
}

namespace {
template <class T>
void check_vec(const std::vector<T>& v, std::size_t n, const std::string& name) {
  if (v.size() != n)
    throw Error("MambaModel: parameter '" + name + "' must have " + std::to_string(n) + " elements, got " +
                std::to_string(v.size()));
  for (const T& x : v)
    if (!std::isfinite(static_cast<double>(x))) throw Error("MambaModel: parameter '" + name + "' must be finite");
}
}  // namespace

template <class T>
MambaModel<T>::MambaModel(const MambaModelConfig& c, MambaModelParams<T> p) : cfg_(c), p_(std::move(p)) {
  c.validate("MambaModel");
  const std::size_t dm = c.block.d_model, L = c.n_layers;
  const bool ln = c.norm == NormKind::layernorm;
  check_vec(p_.encoder_weight, dm * c.d_input, "encoder.weight");
  check_vec(p_.encoder_bias, dm, "encoder.bias");
  check_vec(p_.decoder_weight, dm * c.d_output, "decoder.weight");
  check_vec(p_.decoder_bias, std::size_t(c.d_output), "decoder.bias");
  check_vec(p_.norm_f_weight, dm, "norm_f.weight");
  check_vec(p_.norm_f_bias, ln ? dm : 0, "norm_f.bias");
  if (p_.mixers.size() != L || p_.norm_weight.size() != L || p_.norm_bias.size() != L)
    throw Error("MambaModel: parameters must hold n_layers = " + std::to_string(L) +
                " mixers, norm weights and norm biases");
  for (std::size_t i = 0; i < L; ++i) {
    const std::string pre = "layers." + std::to_string(i) + ".";
    check_vec(p_.norm_weight[i], dm, pre + "norm.weight");
    check_vec(p_.norm_bias[i], ln ? dm : 0, pre + "norm.bias");
    blocks_.emplace_back(c.block, std::move(p_.mixers[i]));
  }
  p_.mixers.clear();
}

template <class T>
MambaModel<T> MambaModel<T>::from_file(const io::SafeTensors& f) {
  const std::string arch = model_arch(f);
  if (arch != "mamba")
    throw Error("MambaModel: model file '" + f.origin() + "' has ssmkit.arch \"" + arch + "\", expected \"mamba\"");
  auto cit = f.metadata().find("ssmkit.config");
  if (cit == f.metadata().end())
    throw Error("MambaModel: model file '" + f.origin() + "': __metadata__ key 'ssmkit.config' is missing");
  MambaModelConfig c;
  try {
    c = MambaModelConfig::from_json(cit->second);
  } catch (const Error& e) {
    throw Error("model file '" + f.origin() + "': " + e.what());
  }
  TensorReader r(f, "MambaModel");
  const std::int64_t dm = c.block.d_model;
  const bool ln = c.norm == NormKind::layernorm;
  MambaModelParams<T> p;
  p.encoder_weight = r.read<T>("encoder.weight", {dm, c.d_input});
  p.encoder_bias = r.read<T>("encoder.bias", {dm});
  for (int i = 0; i < c.n_layers; ++i) {
    const std::string pre = "layers." + std::to_string(i) + ".";
    p.mixers.push_back(read_mamba_block<T>(r, pre + "mixer.", c.block));
    p.norm_weight.push_back(r.read<T>(pre + "norm.weight", {dm}));
    p.norm_bias.push_back(ln ? r.read<T>(pre + "norm.bias", {dm}) : std::vector<T>{});
  }
  p.norm_f_weight = r.read<T>("norm_f.weight", {dm});
  if (ln) p.norm_f_bias = r.read<T>("norm_f.bias", {dm});
  p.decoder_weight = r.read<T>("decoder.weight", {c.d_output, dm});
  p.decoder_bias = r.read<T>("decoder.bias", {c.d_output});
  r.finish();
  return MambaModel(c, std::move(p));
}

template <class T>
MambaModel<T> MambaModel<T>::load(const std::string& path) {
  return from_file(io::SafeTensors::load(path));
}

template <class T>
void MambaModel<T>::save(const std::string& path) const {
  const io::DType dt = sizeof(T) == 4 ? io::DType::F32 : io::DType::F64;
  std::vector<io::TensorOut> out;
  auto add = [&](const std::string& name, std::vector<std::int64_t> shape, const std::vector<T>& v) {
    out.push_back({name, dt, std::move(shape), std::vector<double>(v.begin(), v.end())});
  };
  const std::int64_t dm = cfg_.block.d_model, di = cfg_.block.d_inner, N = cfg_.block.d_state,
                     K = cfg_.block.d_conv, R = cfg_.block.dt_rank;
  add("encoder.weight", {dm, cfg_.d_input}, p_.encoder_weight);
  add("encoder.bias", {dm}, p_.encoder_bias);
  for (int i = 0; i < cfg_.n_layers; ++i) {
    const std::string pre = "layers." + std::to_string(i) + ".";
    const auto& m = blocks_[std::size_t(i)].params();
    add(pre + "mixer.in_proj.weight", {2 * di, dm}, m.in_proj_weight);
    if (!m.in_proj_bias.empty()) add(pre + "mixer.in_proj.bias", {2 * di}, m.in_proj_bias);
    add(pre + "mixer.conv1d.weight", {di, 1, K}, m.conv1d_weight);
    if (!m.conv1d_bias.empty()) add(pre + "mixer.conv1d.bias", {di}, m.conv1d_bias);
    add(pre + "mixer.x_proj.weight", {R + 2 * N, di}, m.x_proj_weight);
    add(pre + "mixer.dt_proj.weight", {di, R}, m.dt_proj_weight);
    add(pre + "mixer.dt_proj.bias", {di}, m.dt_proj_bias);
    add(pre + "mixer.A_log", {di, N}, m.A_log);
    add(pre + "mixer.D", {di}, m.D);
    add(pre + "mixer.out_proj.weight", {dm, di}, m.out_proj_weight);
    if (!m.out_proj_bias.empty()) add(pre + "mixer.out_proj.bias", {dm}, m.out_proj_bias);
    add(pre + "norm.weight", {dm}, p_.norm_weight[std::size_t(i)]);
    if (!p_.norm_bias[std::size_t(i)].empty()) add(pre + "norm.bias", {dm}, p_.norm_bias[std::size_t(i)]);
  }
  add("norm_f.weight", {dm}, p_.norm_f_weight);
  if (!p_.norm_f_bias.empty()) add("norm_f.bias", {dm}, p_.norm_f_bias);
  add("decoder.weight", {cfg_.d_output, dm}, p_.decoder_weight);
  add("decoder.bias", {cfg_.d_output}, p_.decoder_bias);
  io::save_safetensors(path, out, {{"ssmkit.arch", "mamba"}, {"ssmkit.config", cfg_.to_json()}});
}

// ---- compute --------------------------------------------------------------------------------

template <class T>
void MambaModel<T>::norm(const T* x, std::ptrdiff_t rows, const std::vector<T>& w, const std::vector<T>& b,
                         T* y) const noexcept {
  const std::ptrdiff_t dm = cfg_.block.d_model;
  if (cfg_.norm == NormKind::rmsnorm) layers_detail::rms_norm(x, rows, dm, w.data(), cfg_.norm_eps, y);
  else layers_detail::layer_norm(x, rows, dm, w.data(), b.data(), cfg_.norm_eps, y);
}

template <class T>
void MambaModel<T>::forward(const T* u, int batch, int length, T* y, Device device) const {
  constexpr const char* w = "MambaModel::forward";
  require(!blocks_.empty(), w, "this", "must be a constructed model");
  require(batch >= 1, w, "batch", "must be >= 1, got ", batch);
  require(length >= 1, w, "length", "must be >= 1, got ", length);
  require(u != nullptr && y != nullptr, w, "u/y", "must not be null");
  const std::ptrdiff_t dm = cfg_.block.d_model, M = std::ptrdiff_t(batch) * length;
  std::vector<T> h(std::size_t(M * dm)), res(h.size()), hn(h.size());
  linear_gemm(u, M, cfg_.d_input, p_.encoder_weight.data(), p_.encoder_bias.data(), dm, h.data());
  for (std::size_t i = 0; i < blocks_.size(); ++i) {
    if (i == 0) res = h;
    else for (std::size_t k = 0; k < res.size(); ++k) res[k] += h[k];
    norm(res.data(), M, p_.norm_weight[i], p_.norm_bias[i], hn.data());
    blocks_[i].forward(hn.data(), batch, length, h.data(), nullptr, device);
  }
  for (std::size_t k = 0; k < res.size(); ++k) res[k] += h[k];
  norm(res.data(), M, p_.norm_f_weight, p_.norm_f_bias, hn.data());
  linear_gemm(hn.data(), M, dm, p_.decoder_weight.data(), p_.decoder_bias.data(), cfg_.d_output, y);
}

template <class T>
void MambaModel<T>::prepare(const StreamSpec& spec) {
  require(!blocks_.empty(), "MambaModel::prepare", "this", "must be a constructed model");
  require(spec.max_block >= 1, "MambaModel::prepare", "spec.max_block", "must be >= 1, got ", spec.max_block);
  require(spec.channels == 1, "MambaModel::prepare", "spec.channels",
          "must be 1 (one stream; make_streamer() streams any number of channels), got ", spec.channels);
  require(spec.sample_rate > 0 && std::isfinite(spec.sample_rate), "MambaModel::prepare", "spec.sample_rate",
          "must be finite and > 0, got ", spec.sample_rate);
  states_.clear();
  for (const auto& b : blocks_) states_.push_back(b.make_state(1));
  const std::size_t dm = cfg_.block.d_model;
  h_.assign(dm, T(0));
  res_.assign(dm, T(0));
  hn_.assign(dm, T(0));
  max_block_ = spec.max_block;
  prepared_ = true;
}

template <class T>
void MambaModel<T>::reset() noexcept {
  for (auto& s : states_) s.reset();
}

template <class T>
void MambaModel<T>::process_mono(const T* in, T* out, int n) noexcept {
  if (!prepared_ || n > max_block_ || n < 0) {
    if (n > 0) std::fill(out, out + std::ptrdiff_t(n) * cfg_.d_output, T(0));
    return;
  }
  ScopedFlushDenormals ftz;
  const std::ptrdiff_t dm = cfg_.block.d_model, di = cfg_.d_input, dout = cfg_.d_output;
  for (int t = 0; t < n; ++t) {
    linear_rows(in + t * di, 1, di, p_.encoder_weight.data(), p_.encoder_bias.data(), dm, h_.data());
    for (std::size_t i = 0; i < blocks_.size(); ++i) {
      if (i == 0) std::copy(h_.begin(), h_.end(), res_.begin());
      else for (std::ptrdiff_t k = 0; k < dm; ++k) res_[std::size_t(k)] += h_[std::size_t(k)];
      norm(res_.data(), 1, p_.norm_weight[i], p_.norm_bias[i], hn_.data());
      blocks_[i].step(hn_.data(), h_.data(), states_[i]);
    }
    for (std::ptrdiff_t k = 0; k < dm; ++k) res_[std::size_t(k)] += h_[std::size_t(k)];
    norm(res_.data(), 1, p_.norm_f_weight, p_.norm_f_bias, hn_.data());
    linear_rows(hn_.data(), 1, dm, p_.decoder_weight.data(), p_.decoder_bias.data(), dout, out + t * dout);
  }
}

template <class T>
std::size_t MambaModel<T>::state_size() const noexcept {
  std::size_t n = 0;
  for (const auto& s : states_) n += s.conv().size() + s.ssm().size();
  return n;
}

template <class T>
void MambaModel<T>::save_state(T* dst) const noexcept {
  for (const auto& s : states_) {
    dst = std::copy(s.conv().begin(), s.conv().end(), dst);
    dst = std::copy(s.ssm().begin(), s.ssm().end(), dst);
  }
}

template <class T>
void MambaModel<T>::load_state(const T* src) noexcept {
  for (auto& s : states_) {
    std::copy_n(src, s.conv().size(), s.conv().begin());
    src += s.conv().size();
    std::copy_n(src, s.ssm().size(), s.ssm().begin());
    src += s.ssm().size();
  }
}

template class MambaModel<float>;
template class MambaModel<double>;
template MambaModelParams<float> random_mamba_model<float>(const MambaModelConfig&, std::uint64_t);
template MambaModelParams<double> random_mamba_model<double>(const MambaModelConfig&, std::uint64_t);

}  // namespace ssm
