// The S4D model file (s4d_model.hpp): the config JSON keys, and reading / writing the tensors
// by the one list of their PyTorch names (tensor_names.hpp).
#include <string>
#include <vector>

#include "layers/config_json.hpp"
#include "layers/model_io.hpp"
#include "layers/tensor_names.hpp"
#include "ssm/core/error.hpp"
#include "ssm/layers/model_file.hpp"
#include "ssm/layers/s4d_model.hpp"

namespace ssm {

S4DModelConfig S4DModelConfig::from_json(const std::string& text) {
  layers_detail::ConfigJson j(text, "S4DModelConfig");
  S4DModelConfig c;
  c.d_model = j.integer("d_model");
  c.n_layers = j.integer("n_layers");
  c.d_state = j.integer("d_state");
  c.d_input = j.integer("d_input", 1);
  c.d_output = j.integer("d_output", 1);
  c.prenorm = j.boolean("prenorm", false);
  c.activation = j.activation("activation", Activation::gelu);
  j.fixed_string("norm", "layernorm", "(the S4 example's norm)");
  c.norm_eps = j.number("norm_eps", 1e-5);
  c.sample_rate = j.number("sample_rate", 48000.0);
  j.finish();
  c.validate("S4DModelConfig");
  return c;
}

std::string S4DModelConfig::to_json() const {
  nlohmann::ordered_json j;
  j["d_model"] = d_model;
  j["n_layers"] = n_layers;
  j["d_state"] = d_state;
  j["d_input"] = d_input;
  j["d_output"] = d_output;
  j["prenorm"] = prenorm;
  j["activation"] = to_string(activation);
  j["norm"] = "layernorm";
  j["norm_eps"] = norm_eps;
  j["sample_rate"] = sample_rate;
  return j.dump();
}

template <class T>
S4DModel<T> S4DModel<T>::from_file(const io::SafeTensors& f) {
  auto [c, p] = layers_detail::read_model_file<T, S4DModelConfig, S4DModelParams<T>>(
      f, "s4d", "S4DModel", [](auto& m, const auto& c, auto& p) {
        p.layers.resize(std::size_t(c.n_layers));
        layers_detail::s4d_model_tensors(m, c, c.d_input, c.d_output, p, p.layers);
      });
  return S4DModel(c, std::move(p));
}

template <class T>
S4DModel<T> S4DModel<T>::load(const std::string& path) {
  return from_file(io::SafeTensors::load(path));
}

template <class T>
void S4DModel<T>::save(const std::string& path) const {
  layers_detail::write_model_file<T>(path, "s4d", cfg_.to_json(), [&](auto& m) {
    layers_detail::s4d_model_tensors(m, cfg_, cfg_.d_input, cfg_.d_output, p_, p_.layers);
  });
}

template S4DModel<float> S4DModel<float>::from_file(const io::SafeTensors&);
template S4DModel<double> S4DModel<double>::from_file(const io::SafeTensors&);
template S4DModel<float> S4DModel<float>::load(const std::string&);
template S4DModel<double> S4DModel<double>::load(const std::string&);
template void S4DModel<float>::save(const std::string&) const;
template void S4DModel<double>::save(const std::string&) const;

}  // namespace ssm
