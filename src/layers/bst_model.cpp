#include "ssm/layers/bst_model.hpp"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "layers/config_json.hpp"
#include "layers/model_io.hpp"
#include "layers/nn_ops.hpp"
#include "layers/tensor_names.hpp"
#include "ssm/core/denormals.hpp"
#include "ssm/core/device_buffer.hpp"
#include "ssm/core/error.hpp"
#include "ssm/layers/bst_layer_cuda.hpp"
#include "ssm/layers/model_file.hpp"

namespace ssm {

using layers_detail::linear_gemm;

// ---- config ---------------------------------------------------------------------------------

void BSTModelConfig::validate(const char* where) const {
  layers_detail::check_stack_sizes(where, d_input, d_output, n_layers);
  layers_detail::check_stored_rate(where, sample_rate);
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
  layers_detail::UniformInit<T> draw(seed);
  const std::size_t d = c.layer.d_model;
  BSTModelParams<T> p;
  draw.linear(d, c.d_input, p.encoder_weight, p.encoder_bias);
  for (int i = 0; i < c.n_layers; ++i) p.layers.push_back(random_bst_layer<T>(c.layer, seed * 1000 + 17 + i));
  draw.linear(c.d_output, d, p.decoder_weight, p.decoder_bias);
  return p;
}

// ---- model ----------------------------------------------------------------------------------

template <class T>
struct BSTModel<T>::Gpu {
  std::vector<CudaBSTLayer> layers;
};

template <class T>
BSTModel<T>::BSTModel(const BSTModelConfig& c, BSTModelParams<T> p) : cfg_(c), p_(std::move(p)) {
  constexpr const char* w = "BSTModel";
  c.validate(w);
  layers_detail::CheckTensors<T> check(w);
  const std::vector<BSTLayerParams<T>> none;  // each layer checks its own (BSTLayer)
  layers_detail::bst_model_tensors(check, c.layer, c.d_input, c.d_output, p_, none);
  layers_detail::check_count(w, "layers", p_.layers, std::size_t(c.n_layers));
  layers_detail::emplace_layers(w, layers_, p_.layers,
                                [&](BSTLayerParams<T>&& l, int) { return BSTLayer<T>(c.layer, std::move(l)); });
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
  auto [c, p] = layers_detail::read_model_file<T, BSTModelConfig, BSTModelParams<T>>(
      f, "bst", "BSTModel", [](auto& m, const auto& c, auto& p) {
        p.layers.resize(std::size_t(c.n_layers));
        layers_detail::bst_model_tensors(m, c.layer, c.d_input, c.d_output, p, p.layers);
      });
  return BSTModel(c, std::move(p));
}

template <class T>
BSTModel<T> BSTModel<T>::load(const std::string& path) {
  return from_file(io::SafeTensors::load(path));
}

template <class T>
void BSTModel<T>::save(const std::string& path) const {
  layers_detail::write_model_file<T>(path, "bst", cfg_.to_json(), [&](auto& m) {
    layers_detail::bst_model_tensors(m, cfg_.layer, cfg_.d_input, cfg_.d_output, p_,
                                     layers_detail::params_of(layers_));
  });
}

template <class T>
void BSTModel<T>::forward(const T* u, int batch, int length, T* y, Device device) const {
  constexpr const char* w = "BSTModel::forward";
  layers_detail::check_sequence_call(w, !layers_.empty(), batch, length, u, y);
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
  ChannelStreamer<T, std::vector<BSTLayerState<T>>>::do_prepare(spec);
  h_.assign(std::size_t(spec.max_block) * model_.config().layer.d_model, T(0));
}

template <class T>
std::vector<BSTLayerState<T>> BSTModelStreamer<T>::make_channel(const StreamSpec& spec) const {
  std::vector<BSTLayerState<T>> layers;
  for (int i = 0; i < model_.config().n_layers; ++i) layers.push_back(model_.layer(i).make_state(spec.max_block));
  return layers;
}

template <class T>
void BSTModelStreamer<T>::do_process(const T* const* in, T* const* out, int n) noexcept {
  ScopedFlushDenormals ftz;
  const auto& c = model_.config();
  const std::ptrdiff_t d = c.layer.d_model;
  auto& st = this->ch_;
  for (std::size_t ch = 0; ch < st.size(); ++ch) {
    layers_detail::linear_rows_t(in[ch], n, c.d_input, enc_t_.data(), model_.params().encoder_bias.data(), d,
                                 h_.data());
    for (int i = 0; i < c.n_layers; ++i) model_.layer(i).step(h_.data(), n, h_.data(), st[ch][std::size_t(i)]);
    layers_detail::linear_rows_t(h_.data(), n, d, dec_t_.data(), model_.params().decoder_bias.data(), c.d_output,
                                 out[ch]);
  }
}

template class BSTModel<float>;
template class BSTModel<double>;
template class BSTModelStreamer<float>;
template class BSTModelStreamer<double>;
template BSTModelParams<float> random_bst_model<float>(const BSTModelConfig&, std::uint64_t);
template BSTModelParams<double> random_bst_model<double>(const BSTModelConfig&, std::uint64_t);

}  // namespace ssm
