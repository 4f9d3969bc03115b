#include "ssm/layers/bst_model.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <type_traits>

#include "layers/config_json.hpp"
#include "layers/nn_ops.hpp"
#include "ssm/core/denormals.hpp"
#include "ssm/core/device_buffer.hpp"
#include "ssm/core/error.hpp"
#include "ssm/layers/bst_layer_cuda.hpp"
#include "ssm/layers/model_file.hpp"

namespace ssm {

using layers_detail::linear_gemm;

// ---- config ---------------------------------------------------------------------------------

void BSTModelConfig::validate(const char* where) const {
  require(d_input >= 1, where, "d_input", "must be >= 1, got ", d_input);
  require(d_output >= 1, where, "d_output", "must be >= 1, got ", d_output);
  require(n_layers >= 1, where, "n_layers", "must be >= 1, got ", n_layers);
  require(sample_rate >= 0 && std::isfinite(sample_rate), where, "sample_rate",
          "must be finite and >= 0 (0: not given), got ", sample_rate);
  layer.validate(where);
}

BSTModelConfig BSTModelConfig::from_json(const std::string& text) {
  layers_detail::ConfigJson j(text, "BSTModelConfig");
  BSTModelConfig c;
  c.layer.d_model = j.integer("d_model");
  c.n_layers = j.integer("n_layers");
  const int N = j.integer("d_state");
  if (N < 2 || N % 2 != 0) j.bad("d_state", "must be even and >= 2 (N real states = 2 N2 complex modes), got " + std::to_string(N));
  c.layer.modes = N / 2;
  c.layer.d_ff = j.integer("d_ff");
  c.layer.block_size = j.integer("block_size");
  c.layer.context = j.integer("context");
  c.layer.n_heads = j.integer("n_heads");
  c.layer.norm_eps = j.number("norm_eps", 1e-5);
  c.d_input = j.integer("d_input", 1);
  c.d_output = j.integer("d_output", 1);
  c.sample_rate = j.number("sample_rate", 0.0);
  j.finish();
  c.validate("BSTModelConfig");
  return c;
}

std::string BSTModelConfig::to_json() const {
  nlohmann::ordered_json j;
  j["d_model"] = layer.d_model;
  j["n_layers"] = n_layers;
  j["d_state"] = 2 * layer.modes;
  j["d_ff"] = layer.d_ff;
  j["block_size"] = layer.block_size;
  j["context"] = layer.context;
  j["n_heads"] = layer.n_heads;
  j["d_input"] = d_input;
  j["d_output"] = d_output;
  j["norm_eps"] = layer.norm_eps;
  if (sample_rate > 0) j["sample_rate"] = sample_rate;
  return j.dump();
}

template <class T>
BSTModelParams<T> random_bst_model(const BSTModelConfig& c, std::uint64_t seed) {
  c.validate("random_bst_model");
  std::mt19937_64 rng(seed);
  auto uniform = [&](std::size_t n, double b) {
    std::uniform_real_distribution<double> dist(-b, b);
    std::vector<T> v(n);
    for (auto& x : v) x = static_cast<T>(dist(rng));
    return v;
  };
  const std::size_t d = c.layer.d_model;
  const double bi = 1 / std::sqrt(double(c.d_input)), bd = 1 / std::sqrt(double(d));
  BSTModelParams<T> p;
  p.encoder_weight = uniform(d * c.d_input, bi);
  p.encoder_bias = uniform(d, bi);
  for (int i = 0; i < c.n_layers; ++i) p.layers.push_back(random_bst_layer<T>(c.layer, seed * 1000 + 17 + i));
  p.decoder_weight = uniform(std::size_t(c.d_output) * d, bd);
  p.decoder_bias = uniform(std::size_t(c.d_output), bd);
  return p;
}

// ---- model ----------------------------------------------------------------------------------

template <class T>
struct BSTModel<T>::Gpu {
  std::vector<CudaBSTLayer> layers;
};

namespace {
template <class T>
void check_vec(const std::vector<T>& v, std::size_t n, const char* name) {
  if (v.size() != n)
    throw Error(std::string("BSTModel: parameter '") + name + "' must have " + std::to_string(n) + " elements, got " +
                std::to_string(v.size()));
  for (const T& x : v)
    if (!std::isfinite(static_cast<double>(x))) throw Error(std::string("BSTModel: parameter '") + name + "' must be finite");
}
}  // namespace

template <class T>
BSTModel<T>::BSTModel(const BSTModelConfig& c, BSTModelParams<T> p) : cfg_(c), p_(std::move(p)) {
  c.validate("BSTModel");
  const std::size_t d = c.layer.d_model;
  check_vec(p_.encoder_weight, d * c.d_input, "encoder.weight");
  check_vec(p_.encoder_bias, d, "encoder.bias");
  check_vec(p_.decoder_weight, d * c.d_output, "decoder.weight");
  check_vec(p_.decoder_bias, std::size_t(c.d_output), "decoder.bias");
  if (p_.layers.size() != std::size_t(c.n_layers))
    throw Error("BSTModel: parameters must hold n_layers = " + std::to_string(c.n_layers) + " layers, got " +
                std::to_string(p_.layers.size()));
  for (std::size_t i = 0; i < p_.layers.size(); ++i) {
    try {
      layers_.emplace_back(c.layer, std::move(p_.layers[i]));
    } catch (const Error& e) {
      throw Error("BSTModel: layers." + std::to_string(i) + ": " + e.what());
    }
  }
  p_.layers.clear();
}

template <class T>
BSTModel<T>::~BSTModel() = default;
template <class T>
BSTModel<T>::BSTModel(const BSTModel& o) : cfg_(o.cfg_), p_(o.p_), layers_(o.layers_) {}
template <class T>
BSTModel<T>::BSTModel(BSTModel&& o) noexcept
    : cfg_(o.cfg_), p_(std::move(o.p_)), layers_(std::move(o.layers_)), gpu_(std::move(o.gpu_)) {}
template <class T>
BSTModel<T>& BSTModel<T>::operator=(BSTModel o) noexcept {
  cfg_ = o.cfg_;
  p_ = std::move(o.p_);
  layers_ = std::move(o.layers_);
  gpu_ = std::move(o.gpu_);
  return *this;
}

template <class T>
BSTModel<T> BSTModel<T>::from_file(const io::SafeTensors& f) {
  const std::string arch = model_arch(f);
  if (arch != "bst")
    throw Error("BSTModel: model file '" + f.origin() + "' has ssmkit.arch \"" + arch + "\", expected \"bst\"");
  auto cit = f.metadata().find("ssmkit.config");
  if (cit == f.metadata().end())
    throw Error("BSTModel: model file '" + f.origin() + "': __metadata__ key 'ssmkit.config' is missing");
  BSTModelConfig c;
  try {
    c = BSTModelConfig::from_json(cit->second);
  } catch (const Error& e) {
    throw Error("model file '" + f.origin() + "': " + e.what());
  }
  TensorReader r(f, "BSTModel");
  const std::int64_t d = c.layer.d_model;
  BSTModelParams<T> p;
  p.encoder_weight = r.read<T>("encoder.weight", {d, c.d_input});
  p.encoder_bias = r.read<T>("encoder.bias", {d});
  for (int i = 0; i < c.n_layers; ++i) p.layers.push_back(read_bst_layer<T>(r, "layers." + std::to_string(i) + ".", c.layer));
  p.decoder_weight = r.read<T>("decoder.weight", {c.d_output, d});
  p.decoder_bias = r.read<T>("decoder.bias", {c.d_output});
  r.finish();
  return BSTModel(c, std::move(p));
}

template <class T>
BSTModel<T> BSTModel<T>::load(const std::string& path) {
  return from_file(io::SafeTensors::load(path));
}

template <class T>
void BSTModel<T>::save(const std::string& path) const {
  const io::DType dt = sizeof(T) == 4 ? io::DType::F32 : io::DType::F64;
  std::vector<io::TensorOut> out;
  auto add = [&](const std::string& name, std::vector<std::int64_t> shape, const std::vector<T>& v) {
    out.push_back({name, dt, std::move(shape), std::vector<double>(v.begin(), v.end())});
  };
  const std::int64_t d = cfg_.layer.d_model;
  add("encoder.weight", {d, cfg_.d_input}, p_.encoder_weight);
  add("encoder.bias", {d}, p_.encoder_bias);
  for (std::size_t i = 0; i < layers_.size(); ++i)
    append_bst_layer_tensors(layers_[i].params(), cfg_.layer, "layers." + std::to_string(i) + ".", out);
  add("decoder.weight", {cfg_.d_output, d}, p_.decoder_weight);
  add("decoder.bias", {cfg_.d_output}, p_.decoder_bias);
  io::save_safetensors(path, out, {{"ssmkit.arch", "bst"}, {"ssmkit.config", cfg_.to_json()}});
}

template <class T>
void BSTModel<T>::forward(const T* u, int batch, int length, T* y, Device device) const {
  constexpr const char* w = "BSTModel::forward";
  require(!layers_.empty(), w, "this", "must be a constructed model");
  require(batch >= 1, w, "batch", "must be >= 1, got ", batch);
  require(length >= 1, w, "length", "must be >= 1, got ", length);
  require(u != nullptr && y != nullptr, w, "u/y", "must not be null");
  const std::ptrdiff_t d = cfg_.layer.d_model, M = std::ptrdiff_t(batch) * length;
  std::vector<T> a(std::size_t(M * d)), b(a.size());
  linear_gemm(u, M, cfg_.d_input, p_.encoder_weight.data(), p_.encoder_bias.data(), d, a.data());
  if (device == Device::cpu) {
    for (const auto& l : layers_) {
      l.forward(a.data(), batch, length, b.data());
      std::swap(a, b);
    }
  } else {
    if constexpr (std::is_same_v<T, float>) {
      std::lock_guard<std::mutex> lock(gpu_mutex_);
      if (!gpu_) {
        auto g = std::make_unique<Gpu>();
        for (const auto& l : layers_) g->layers.emplace_back(l);
        gpu_ = std::move(g);
      }
      DeviceBuffer<float> da(a), db(a.size());
      for (const auto& l : gpu_->layers) {
        l.forward(da.data(), batch, length, db.data());
        std::swap(da, db);
      }
      da.download(a.data(), a.size());
    } else {
      fail(w, "device", "cuda runs the model in float32 only (use BSTModel<float>)");
    }
  }
  linear_gemm(a.data(), M, d, p_.decoder_weight.data(), p_.decoder_bias.data(), cfg_.d_output, y);
}

// ---- streamer -------------------------------------------------------------------------------

template <class T>
BSTModelStreamer<T>::BSTModelStreamer(const BSTModel<T>& m) : model_(m) {
  require(m.config().n_layers >= 1 && m.config().layer.d_model >= 1, "BSTModelStreamer", "model",
          "must be a constructed model");
  const auto& c = m.config();
  enc_t_ = layers_detail::transpose(m.params().encoder_weight, c.layer.d_model, c.d_input);
  dec_t_ = layers_detail::transpose(m.params().decoder_weight, c.d_output, c.layer.d_model);
}

template <class T>
void BSTModelStreamer<T>::do_prepare(const StreamSpec& spec) {
  const auto& c = model_.config();
  st_.assign(std::size_t(spec.channels), {});
  for (auto& ch : st_)
    for (int i = 0; i < c.n_layers; ++i) ch.push_back(model_.layer(i).make_state(spec.max_block));
  h_.assign(std::size_t(spec.max_block) * c.layer.d_model, T(0));
}

template <class T>
void BSTModelStreamer<T>::do_process(const T* const* in, T* const* out, int n) noexcept {
  ScopedFlushDenormals ftz;
  const auto& c = model_.config();
  const std::ptrdiff_t d = c.layer.d_model;
  for (std::size_t ch = 0; ch < st_.size(); ++ch) {
    layers_detail::linear_rows_t(in[ch], n, c.d_input, enc_t_.data(), model_.params().encoder_bias.data(), d,
                                 h_.data());
    for (int i = 0; i < c.n_layers; ++i) model_.layer(i).step(h_.data(), n, h_.data(), st_[ch][std::size_t(i)]);
    layers_detail::linear_rows_t(h_.data(), n, d, dec_t_.data(), model_.params().decoder_bias.data(), c.d_output,
                                 out[ch]);
  }
}

template <class T>
void BSTModelStreamer<T>::do_reset() noexcept {
  for (auto& ch : st_)
    for (auto& s : ch) s.reset();
}

template <class T>
std::size_t BSTModelStreamer<T>::do_state_size() const noexcept {
  std::size_t n = 0;
  for (const auto& ch : st_)
    for (const auto& s : ch) n += s.state_size();
  return n;
}

template <class T>
void BSTModelStreamer<T>::do_save_state(T* dst) const noexcept {
  for (const auto& ch : st_)
    for (const auto& s : ch) {
      s.save(std::span<T>(dst, s.state_size()));
      dst += s.state_size();
    }
}

template <class T>
void BSTModelStreamer<T>::do_load_state(const T* src) noexcept {
  for (auto& ch : st_)
    for (auto& s : ch) {
      s.load(std::span<const T>(src, s.state_size()));
      src += s.state_size();
    }
}

template class BSTModel<float>;
template class BSTModel<double>;
template class BSTModelStreamer<float>;
template class BSTModelStreamer<double>;
template BSTModelParams<float> random_bst_model<float>(const BSTModelConfig&, std::uint64_t);
template BSTModelParams<double> random_bst_model<double>(const BSTModelConfig&, std::uint64_t);

}  // namespace ssm
