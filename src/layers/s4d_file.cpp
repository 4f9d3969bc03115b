// The S4D model file: config JSON keys and the PyTorch tensor names of the S4 example's
// S4Model (s4d_model.hpp), read and written in one place.
//   encoder.weight (H, d_input), encoder.bias (H)
//   s4_layers.{i}.kernel.log_dt (H), .kernel.log_A_real (H, N2), .kernel.A_imag (H, N2),
//   s4_layers.{i}.kernel.C (H, N2, 2), s4_layers.{i}.D (H),
//   s4_layers.{i}.output_linear.0.weight (2H, H, 1) (read also as output_linear.weight (2H, H)),
//   s4_layers.{i}.output_linear.0.bias (2H) (or output_linear.bias), norms.{i}.weight/.bias (H)
//   decoder.weight (d_output, H), decoder.bias (d_output)
#include <string>
#include <vector>

#include "layers/config_json.hpp"
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
  const std::string act = j.string("activation", "gelu");
  if (act == "gelu") c.activation = Activation::gelu;
  else if (act == "silu") c.activation = Activation::silu;
  else if (act == "relu") c.activation = Activation::relu;
  else if (act == "identity") c.activation = Activation::identity;
  else j.bad("activation", "must be \"gelu\", \"silu\", \"relu\" or \"identity\", got \"" + act + "\"");
  if (j.has("norm") && j.string("norm") != "layernorm") j.bad("norm", "must be \"layernorm\" (the S4 example's norm)");
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
  const std::string arch = model_arch(f);
  if (arch != "s4d")
    throw Error("S4DModel: model file '" + f.origin() + "' has ssmkit.arch \"" + arch + "\", expected \"s4d\"");
  auto cit = f.metadata().find("ssmkit.config");
  if (cit == f.metadata().end())
    throw Error("S4DModel: model file '" + f.origin() + "': __metadata__ key 'ssmkit.config' is missing");
  S4DModelConfig c;
  try {
    c = S4DModelConfig::from_json(cit->second);
  } catch (const Error& e) {
    throw Error("model file '" + f.origin() + "': " + e.what());
  }
  TensorReader r(f, "S4DModel");
  const std::int64_t H = c.d_model, N2 = c.modes();
  S4DModelParams<T> p;
  p.encoder_weight = r.read<T>("encoder.weight", {H, c.d_input});
  p.encoder_bias = r.read<T>("encoder.bias", {H});
  for (int i = 0; i < c.n_layers; ++i) {
    const std::string pre = "s4_layers." + std::to_string(i) + ".";
    const std::string nrm = "norms." + std::to_string(i) + ".";
    S4DLayerParams<T> l;
    l.log_dt = r.read<T>(pre + "kernel.log_dt", {H});
    l.log_A_real = r.read<T>(pre + "kernel.log_A_real", {H, N2});
    l.A_imag = r.read<T>(pre + "kernel.A_imag", {H, N2});
    l.C = r.read<T>(pre + "kernel.C", {H, N2, 2});
    l.D = r.read<T>(pre + "D", {H});
    l.out_weight = r.read_any<T>({pre + "output_linear.0.weight", pre + "output_linear.weight"},
                                 {{2 * H, H, 1}, {2 * H, H}});
    l.out_bias = r.read_any<T>({pre + "output_linear.0.bias", pre + "output_linear.bias"}, {{2 * H}});
    l.norm_weight = r.read<T>(nrm + "weight", {H});
    l.norm_bias = r.read<T>(nrm + "bias", {H});
    p.layers.push_back(std::move(l));
  }
  p.decoder_weight = r.read<T>("decoder.weight", {c.d_output, H});
  p.decoder_bias = r.read<T>("decoder.bias", {c.d_output});
  r.finish();
  return S4DModel(c, std::move(p));
}

template <class T>
S4DModel<T> S4DModel<T>::load(const std::string& path) {
  return from_file(io::SafeTensors::load(path));
}

template <class T>
void S4DModel<T>::save(const std::string& path) const {
  const io::DType dt = sizeof(T) == 4 ? io::DType::F32 : io::DType::F64;
  std::vector<io::TensorOut> out;
  auto add = [&](const std::string& name, std::vector<std::int64_t> shape, const std::vector<T>& v) {
    out.push_back({name, dt, std::move(shape), std::vector<double>(v.begin(), v.end())});
  };
  const std::int64_t H = cfg_.d_model, N2 = cfg_.modes();
  add("encoder.weight", {H, cfg_.d_input}, p_.encoder_weight);
  add("encoder.bias", {H}, p_.encoder_bias);
  for (std::size_t i = 0; i < p_.layers.size(); ++i) {
    const auto& l = p_.layers[i];
    const std::string pre = "s4_layers." + std::to_string(i) + ".";
    const std::string nrm = "norms." + std::to_string(i) + ".";
    add(pre + "kernel.log_dt", {H}, l.log_dt);
    add(pre + "kernel.log_A_real", {H, N2}, l.log_A_real);
    add(pre + "kernel.A_imag", {H, N2}, l.A_imag);
    add(pre + "kernel.C", {H, N2, 2}, l.C);
    add(pre + "D", {H}, l.D);
    add(pre + "output_linear.0.weight", {2 * H, H, 1}, l.out_weight);
    add(pre + "output_linear.0.bias", {2 * H}, l.out_bias);
    add(nrm + "weight", {H}, l.norm_weight);
    add(nrm + "bias", {H}, l.norm_bias);
  }
  add("decoder.weight", {cfg_.d_output, H}, p_.decoder_weight);
  add("decoder.bias", {cfg_.d_output}, p_.decoder_bias);
  io::save_safetensors(path, out, {{"ssmkit.arch", "s4d"}, {"ssmkit.config", cfg_.to_json()}});
}

template S4DModel<float> S4DModel<float>::from_file(const io::SafeTensors&);
template S4DModel<double> S4DModel<double>::from_file(const io::SafeTensors&);
template S4DModel<float> S4DModel<float>::load(const std::string&);
template S4DModel<double> S4DModel<double>::load(const std::string&);
template void S4DModel<float>::save(const std::string&) const;
template void S4DModel<double>::save(const std::string&) const;

}  // namespace ssm
