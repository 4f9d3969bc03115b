#include "ssm/layers/mamba_model.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <type_traits>

#include "layers/config_json.hpp"
#include "layers/nn_ops.hpp"
#include "layers/mamba_stack.hpp"
#include "layers/model_io.hpp"
#include "layers/tensor_names.hpp"
#include "layers/stream_kernels.hpp"
#include "ssm/core/denormals.hpp"
#include "ssm/core/error.hpp"
#include "ssm/layers/model_file.hpp"

namespace ssm {

using layers_detail::linear_gemm;
using layers_detail::linear_rows;

// ---- config ---------------------------------------------------------------------------------

void MambaModelConfig::validate(const char* where) const {
  layers_detail::check_stack_sizes(where, d_input, d_output, n_layers);
  require(norm_eps > 0 && std::isfinite(norm_eps), where, "norm_eps", "must be finite and > 0, got ", norm_eps);
  layers_detail::check_stored_rate(where, sample_rate);
  require(vocab_size >= 0, where, "vocab_size", "must be >= 0 (0: a signal model), got ", vocab_size);
  if (vocab_size > 0) require(d_input == 1, where, "d_input", "must be 1 for a token model (one id a frame), got ", d_input);
  if (output == MambaOutput::logits) {
    require(vocab_size > 0, where, "output", "logits needs a token model (vocab_size > 0)");
    require(d_output == vocab_size, where, "d_output", "must be vocab_size = ", vocab_size, " for output logits, got ",
            d_output);
  }
  if (output == MambaOutput::hidden)
    require(d_output == block.d_model, where, "d_output", "must be d_model = ", block.d_model,
            " for output hidden, got ", d_output);
  block.validate(where);
}

namespace {

const char* to_string(MambaOutput o) {
  return o == MambaOutput::linear ? "linear" : o == MambaOutput::logits ? "logits" : "hidden";
}

}  // namespace

MambaModelConfig MambaModelConfig::from_json(const std::string& text) {
  layers_detail::ConfigJson j(text, "MambaModelConfig");
  MambaModelConfig c;
  c.block = layers_detail::mamba_block_keys(j);
  c.n_layers = j.integer("n_layers");
  c.vocab_size = j.integer("vocab_size", 0);
  c.output = j.choice<MambaOutput>(
      "output", {{"linear", MambaOutput::linear}, {"logits", MambaOutput::logits}, {"hidden", MambaOutput::hidden}},
      c.vocab_size > 0 ? MambaOutput::logits : MambaOutput::linear);
  c.tie_embeddings = j.boolean("tie_embeddings", true);
  c.d_input = j.integer("d_input", 1);
  const int d_out_default = c.output == MambaOutput::logits ? c.vocab_size
                            : c.output == MambaOutput::hidden ? c.block.d_model
                                                              : 1;
  c.d_output = j.integer("d_output", d_out_default);
  c.norm = j.choice<NormKind>("norm", {{"rmsnorm", NormKind::rmsnorm}, {"layernorm", NormKind::layernorm}},
                              NormKind::rmsnorm);
  c.norm_eps = j.number("norm_eps", 1e-5);
  c.sample_rate = j.number("sample_rate", 0.0);
  layers_detail::residual_in_fp32_key(j);
  j.finish();
  c.validate("MambaModelConfig");
  return c;
}

MambaModelConfig MambaModelConfig::from_hf_json(const std::string& text, MambaOutput output) {
  layers_detail::ConfigJson j(text, "MambaConfig", "config.json");
  if (j.has("model_type") && j.string("model_type") != "mamba")
    j.bad("model_type", "must be \"mamba\", got \"" + j.string("model_type") + "\"");
  MambaModelConfig c;
  auto& b = c.block;
  b.d_model = j.integer("hidden_size", 768);
  c.n_layers = j.integer("num_hidden_layers", 32);
  b.d_state = j.integer("state_size", 16);
  b.d_conv = j.integer("conv_kernel", 4);
  b.d_inner = j.integer("intermediate_size", int(j.number("expand", 2.0) * b.d_model));
  if (j.has("expand") && j.number("expand") * b.d_model != double(b.d_inner))
    j.bad("expand", "must equal intermediate_size / hidden_size when both are given");
  if (j.has("time_step_rank") && j.raw("time_step_rank").is_string()) {
    if (j.string("time_step_rank") != "auto") j.bad("time_step_rank", "must be an integer or \"auto\"");
    b.dt_rank = (b.d_model + 15) / 16;
  } else {
    b.dt_rank = j.integer("time_step_rank", (b.d_model + 15) / 16);
  }
  b.in_proj_bias = b.out_proj_bias = j.boolean("use_bias", false);
  b.conv_bias = j.boolean("use_conv_bias", true);
  b.hidden_act = layers_detail::mamba_activation(j);
  c.norm = NormKind::rmsnorm;
  c.norm_eps = j.number("layer_norm_epsilon", 1e-5);
  c.vocab_size = j.integer("vocab_size", 50280);
  c.tie_embeddings = j.boolean("tie_word_embeddings", true);
  c.output = output;
  c.d_input = 1;
  c.d_output = output == MambaOutput::logits ? c.vocab_size : b.d_model;
  // residual_in_fp32: the residual is kept in the compute type (float32 or float64), which is
  // what either value computes for a float32 checkpoint.
  j.boolean("residual_in_fp32", true);
  // keys of the original mamba_ssm config that the Hugging Face conversion keeps: must agree
  if (j.has("d_model") && j.integer("d_model") != b.d_model) j.bad("d_model", "must equal hidden_size");
  if (j.has("n_layer") && j.integer("n_layer") != c.n_layers) j.bad("n_layer", "must equal num_hidden_layers");
  if (j.has("d_inner") && j.integer("d_inner") != b.d_inner) j.bad("d_inner", "must equal intermediate_size");
  if (j.has("rms_norm") && !j.boolean("rms_norm"))
    j.bad("rms_norm", "must be true (transformers' Mamba computes RMSNorm only)");
  if (j.has("ssm_cfg") && !(j.raw("ssm_cfg").is_object() && j.raw("ssm_cfg").empty()))
    j.bad("ssm_cfg", "must be empty (the block's settings come from the keys of MambaConfig)");
  if (j.has("architectures")) {
    const auto& a = j.raw("architectures");
    if (!a.is_array()) j.bad("architectures", "must be a list of names");
    for (const auto& name : a)
      if (!name.is_string() || (name != "MambaForCausalLM" && name != "MambaModel"))
        j.bad("architectures", "must name MambaForCausalLM or MambaModel, got " + name.dump());
  }
  // training, initialization, generation and bookkeeping settings: nothing the forward pass reads
  j.accept({"initializer_range", "rescale_prenorm_residual", "time_step_scale", "time_step_min", "time_step_max",
            "time_step_init_scheme", "time_step_floor", "use_cache", "use_mambapy", "fused_add_norm",
            "pad_vocab_size_multiple", "pad_token_id", "bos_token_id", "eos_token_id", "torch_dtype",
            "transformers_version", "_name_or_path", "return_dict", "output_hidden_states", "output_attentions",
            "torchscript", "use_return_dict"});
  j.finish();
  c.validate("MambaConfig");
  return c;
}

std::string MambaModelConfig::to_json() const {
  nlohmann::ordered_json j;
  j["d_model"] = block.d_model;
  j["n_layers"] = n_layers;
  layers_detail::mamba_block_to_json(j, block);
  j["d_input"] = d_input;
  j["d_output"] = d_output;
  j["norm"] = norm == NormKind::rmsnorm ? "rmsnorm" : "layernorm";
  j["norm_eps"] = norm_eps;
  j["residual_in_fp32"] = true;
  j["sample_rate"] = sample_rate;
  if (vocab_size > 0) {
    j["vocab_size"] = vocab_size;
    j["tie_embeddings"] = tie_embeddings;
  }
  j["output"] = to_string(output);
  return j.dump();
}

// ---- parameters -----------------------------------------------------------------------------

template <class T>
MambaModelParams<T> random_mamba_model(const MambaModelConfig& c, std::uint64_t seed) {
  c.validate("random_mamba_model");
  layers_detail::UniformInit<T> uniform(seed);
  const std::size_t dm = c.block.d_model;
  const bool ln = c.norm == NormKind::layernorm;
  MambaModelParams<T> p;
  if (c.vocab_size > 0) p.embedding = uniform(std::size_t(c.vocab_size) * dm, 1.0);
  else uniform.linear(dm, c.d_input, p.encoder_weight, p.encoder_bias);
  for (int i = 0; i < c.n_layers; ++i) {
    p.mixers.push_back(random_mamba_block<T>(c.block, seed * 1000003 + std::uint64_t(i) + 1));
    p.norm_weight.push_back(std::vector<T>(dm, T(1)));
    p.norm_bias.push_back(ln ? std::vector<T>(dm, T(0)) : std::vector<T>{});
  }
  p.norm_f_weight.assign(dm, T(1));
  if (ln) p.norm_f_bias.assign(dm, T(0));
  if (c.output == MambaOutput::linear) uniform.linear(std::size_t(c.d_output), dm, p.decoder_weight, p.decoder_bias);
  if (c.output == MambaOutput::logits && !c.tie_embeddings)
    p.decoder_weight = uniform(std::size_t(c.vocab_size) * dm, 1 / std::sqrt(double(dm)));
  return p;
}

template <class T>
MambaModel<T>::MambaModel(const MambaModelConfig& c, MambaModelParams<T> p) : cfg_(c), p_(std::move(p)) {
  constexpr const char* w = "MambaModel";
  c.validate(w);
  layers_detail::CheckTensors<T> check(w);
  const std::vector<MambaBlockParams<T>> none;  // each block checks its own (MambaBlock)
  layers_detail::mamba_model_tensors(check, c, p_, none);
  layers_detail::check_count(w, "mixers", p_.mixers, std::size_t(c.n_layers));
  for (auto& m : p_.mixers) blocks_.emplace_back(c.block, std::move(m));
  p_.mixers.clear();
}

template <class T>
MambaModel<T> MambaModel<T>::read(TensorReader& r, const MambaModelConfig& c, const std::string& stack,
                                  const std::string& head) {
  auto p = layers_detail::read_tensors<T, MambaModelParams<T>>(r, [&](auto& m, auto& p) {
    p.mixers.resize(std::size_t(c.n_layers));
    layers_detail::mamba_model_tensors(m, c, p, p.mixers, stack, head);
  });
  const std::string lm_head = head + "lm_head.weight";
  if (c.output == MambaOutput::logits && c.tie_embeddings && r.has(lm_head)) {
    // a tied head saved anyway must be the embedding itself
    if (r.read<T>(lm_head, {c.vocab_size, c.block.d_model}) != p.embedding)
      throw Error("MambaModel: tensor '" + lm_head + "' differs from '" + stack +
                  "embeddings.weight' although the embeddings are tied (tie_embeddings / tie_word_embeddings "
                  "true)");
  }
  r.finish();
  return MambaModel(c, std::move(p));
}

template <class T>
MambaModel<T> MambaModel<T>::from_file(const io::SafeTensors& f) {
  const auto c = layers_detail::read_model_config<MambaModelConfig>(f, "mamba", "MambaModel");
  TensorReader r(f, "MambaModel");
  return read(r, c, "", "");
}

template <class T>
MambaModel<T> MambaModel<T>::from_hf_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  const fs::path d(dir);
  const std::string where = "MambaModel::from_hf_dir: '" + dir + "'";
  if (!fs::is_directory(d)) throw Error(where + " is not a directory");
  if (fs::exists(d / "model.safetensors.index.json") && !fs::exists(d / "model.safetensors"))
    throw Error(where + ": sharded checkpoints (model.safetensors.index.json) are not supported: save with "
                        "save_pretrained(..., max_shard_size=\"100GB\") to get one model.safetensors");
  std::ifstream in(d / "config.json", std::ios::binary);
  if (!in) throw Error(where + ": config.json is missing or unreadable");
  std::ostringstream text;
  text << in.rdbuf();
  const io::SafeTensors f = io::SafeTensors::load((d / "model.safetensors").string());
  // MambaForCausalLM keeps the stack under backbone.; MambaModel at the top level
  const bool causal_lm = f.has("backbone.embeddings.weight");
  MambaModelConfig c;
  try {
    c = MambaModelConfig::from_hf_json(text.str(), causal_lm ? MambaOutput::logits : MambaOutput::hidden);
  } catch (const Error& e) {
    throw Error(where + ": " + e.what());
  }
  TensorReader r(f, "MambaModel");
  return read(r, c, causal_lm ? "backbone." : "", "");
}

template <class T>
MambaModel<T> MambaModel<T>::load(const std::string& path) {
  return from_file(io::SafeTensors::load(path));
}

template <class T>
void MambaModel<T>::save(const std::string& path) const {
  layers_detail::write_model_file<T>(path, "mamba", cfg_.to_json(), [&](auto& m) {
    layers_detail::mamba_model_tensors(m, cfg_, p_, layers_detail::params_of(blocks_));
  });
}

// ---- compute --------------------------------------------------------------------------------

template <class T>
void MambaModel<T>::norm(const T* x, std::ptrdiff_t rows, const std::vector<T>& w, const std::vector<T>& b,
                         T* y) const noexcept {
  const std::ptrdiff_t dm = cfg_.block.d_model;
  if (cfg_.norm == NormKind::rmsnorm) layers_detail::rms_norm(x, rows, dm, w.data(), cfg_.norm_eps, y);
  else layers_detail::layer_norm(x, rows, dm, w.data(), b.data(), cfg_.norm_eps, y);
}

namespace {
// A token id stored in T: integral and in [0, vocab); -1 otherwise.
template <class T>
std::ptrdiff_t token_id(T v, int vocab) noexcept {
  const double d = static_cast<double>(v);
  if (!(d >= 0 && d < vocab) || d != std::floor(d)) return -1;
  return static_cast<std::ptrdiff_t>(d);
}
}  // namespace

template <class T>
void MambaModel<T>::encode(const T* u, std::ptrdiff_t rows, T* h) const {
  const std::ptrdiff_t dm = cfg_.block.d_model;
  if (cfg_.vocab_size == 0) {
    linear_gemm(u, rows, cfg_.d_input, p_.encoder_weight.data(), p_.encoder_bias.data(), dm, h);
    return;
  }
  for (std::ptrdiff_t r = 0; r < rows; ++r) {
    const std::ptrdiff_t id = token_id(u[r], cfg_.vocab_size);
    if (id < 0)
      fail("MambaModel::forward", "u", "must hold token ids (integers in [0, vocab_size = ", cfg_.vocab_size,
           ")), got ", static_cast<double>(u[r]), " at frame ", r);
    std::copy_n(p_.embedding.data() + id * dm, dm, h + r * dm);
  }
}

template <class T>
bool MambaModel<T>::encode_step(const T* u, T* h) const noexcept {
  const std::ptrdiff_t dm = cfg_.block.d_model;
  if (cfg_.vocab_size == 0) {
    linear_rows(u, 1, cfg_.d_input, p_.encoder_weight.data(), p_.encoder_bias.data(), dm, h);
    return true;
  }
  const std::ptrdiff_t id = token_id(*u, cfg_.vocab_size);
  if (id < 0) return false;
  std::copy_n(p_.embedding.data() + id * dm, dm, h);
  return true;
}

template <class T>
void MambaModel<T>::decode(const T* x, std::ptrdiff_t rows, T* y) const {
  const std::ptrdiff_t dm = cfg_.block.d_model;
  if (cfg_.output == MambaOutput::hidden) std::copy_n(x, rows * dm, y);
  else if (cfg_.output == MambaOutput::linear)
    linear_gemm(x, rows, dm, p_.decoder_weight.data(), p_.decoder_bias.data(), cfg_.d_output, y);
  else
    linear_gemm(x, rows, dm, (cfg_.tie_embeddings ? p_.embedding : p_.decoder_weight).data(),
                static_cast<const T*>(nullptr), cfg_.d_output, y);
}

template <class T>
void MambaModel<T>::decode_step(const T* x, T* y) const noexcept {
  const std::ptrdiff_t dm = cfg_.block.d_model;
  if (cfg_.output == MambaOutput::hidden) std::copy_n(x, dm, y);
  else if (cfg_.output == MambaOutput::linear)
    linear_rows(x, 1, dm, p_.decoder_weight.data(), p_.decoder_bias.data(), cfg_.d_output, y);
  else
    linear_rows(x, 1, dm, (cfg_.tie_embeddings ? p_.embedding : p_.decoder_weight).data(),
                static_cast<const T*>(nullptr), cfg_.d_output, y);
}

template <class T>
void MambaModel<T>::forward(const T* u, int batch, int length, T* y, Device device) const {
  constexpr const char* w = "MambaModel::forward";
  layers_detail::check_sequence_call(w, constructed(), batch, length, u, y);
  const std::ptrdiff_t dm = cfg_.block.d_model, M = std::ptrdiff_t(batch) * length;
  std::vector<T> h(std::size_t(M * dm)), res(h.size()), hn(h.size());
  encode(u, M, h.data());
  for (std::size_t i = 0; i < blocks_.size(); ++i) {
    if (i == 0) res = h;
    else for (std::size_t k = 0; k < res.size(); ++k) res[k] += h[k];
    norm(res.data(), M, p_.norm_weight[i], p_.norm_bias[i], hn.data());
    blocks_[i].forward(hn.data(), batch, length, h.data(), nullptr, device);
  }
  for (std::size_t k = 0; k < res.size(); ++k) res[k] += h[k];
  norm(res.data(), M, p_.norm_f_weight, p_.norm_f_bias, hn.data());
  decode(hn.data(), M, y);
}

template <class T>
void MambaModel<T>::prepare_stream(const StreamSpec& spec) {
  states_.clear();
  for (const auto& b : blocks_) states_.push_back(b.make_state(1, spec.max_block));
  const std::size_t dm = cfg_.block.d_model, rows = spec.max_block;
  h_.assign(rows * dm, T(0));
  res_.assign(rows * dm, T(0));
  hn_.assign(rows * dm, T(0));
}

template <class T>
void MambaModel<T>::reset() noexcept {
  for (auto& s : states_) s.reset();
}

template <class T>
void MambaModel<T>::process_block(const T* in, T* out, int n) noexcept {
  ScopedFlushDenormals ftz;
  if (cfg_.vocab_size > 0) {
    // Token models: frame by frame (a frame that is not a token id gives NaN and keeps the state).
    const std::ptrdiff_t dm = cfg_.block.d_model, di = cfg_.d_input, dout = cfg_.d_output;
    T* h = h_.data();
    T* res = res_.data();
    T* hn = hn_.data();
    for (int t = 0; t < n; ++t) {
      if (!encode_step(in + t * di, h)) {
        std::fill_n(out + t * dout, dout, std::numeric_limits<T>::quiet_NaN());
        continue;
      }
      for (std::size_t i = 0; i < blocks_.size(); ++i) {
        if (i == 0) std::copy_n(h, dm, res);
        else for (std::ptrdiff_t k = 0; k < dm; ++k) res[k] += h[k];
        norm(res, 1, p_.norm_weight[i], p_.norm_bias[i], hn);
        blocks_[i].step_tokens(hn, 1, h, states_[i]);
      }
      for (std::ptrdiff_t k = 0; k < dm; ++k) res[k] += h[k];
      norm(res, 1, p_.norm_f_weight, p_.norm_f_bias, hn);
      decode_step(hn, out + t * dout);
    }
    return;
  }
  // Layer after layer over the whole block (layer i at frame t needs layer i - 1 up to frame t
  // only): each block's projections see the n frames at once (MambaBlock::step_tokens).
  const std::ptrdiff_t dm = cfg_.block.d_model, di = cfg_.d_input, dout = cfg_.d_output, m = n * dm;
  T* h = h_.data();
  T* res = res_.data();
  T* hn = hn_.data();
  auto stream_norm = [&](const std::vector<T>& w, const std::vector<T>& b) {
    if constexpr (std::is_same_v<T, float>) {
      if (cfg_.norm == NormKind::rmsnorm) layers_detail::rt::rms_norm(res, n, dm, w.data(), float(cfg_.norm_eps), hn);
      else layers_detail::rt::layer_norm(res, n, dm, w.data(), b.data(), float(cfg_.norm_eps), hn);
    } else {
      norm(res, n, w, b, hn);
    }
  };
  if (di == 1) {  // a mono signal: h = w u + b, the same arithmetic as the dot product of one term
    const T* w = p_.encoder_weight.data();
    const T* b = p_.encoder_bias.data();
    for (int t = 0; t < n; ++t)
      for (std::ptrdiff_t c = 0; c < dm; ++c) h[t * dm + c] = w[c] * in[t] + b[c];
  } else {
    linear_rows(in, n, di, p_.encoder_weight.data(), p_.encoder_bias.data(), dm, h);
  }
  for (std::size_t i = 0; i < blocks_.size(); ++i) {
    if (i == 0) std::copy_n(h, m, res);
    else for (std::ptrdiff_t k = 0; k < m; ++k) res[k] += h[k];
    stream_norm(p_.norm_weight[i], p_.norm_bias[i]);
    blocks_[i].step_tokens(hn, n, h, states_[i]);
  }
  for (std::ptrdiff_t k = 0; k < m; ++k) res[k] += h[k];
  stream_norm(p_.norm_f_weight, p_.norm_f_bias);
  if (cfg_.output == MambaOutput::linear)
    linear_rows(hn, n, dm, p_.decoder_weight.data(), p_.decoder_bias.data(), dout, out);
  else
    for (int t = 0; t < n; ++t) decode_step(hn + std::ptrdiff_t(t) * dm, out + std::ptrdiff_t(t) * dout);
}

template <class T>
std::size_t MambaModel<T>::state_size() const noexcept {
  return layers_detail::mamba_states_size(states_);
}

template <class T>
void MambaModel<T>::save_state(T* dst) const noexcept {
  layers_detail::save_mamba_states(states_, dst);
}

template <class T>
void MambaModel<T>::load_state(const T* src) noexcept {
  layers_detail::load_mamba_states(states_, src);
}

template class MambaModel<float>;
template class MambaModel<double>;
template MambaModelParams<float> random_mamba_model<float>(const MambaModelConfig&, std::uint64_t);
template MambaModelParams<double> random_mamba_model<double>(const MambaModelConfig&, std::uint64_t);

}  // namespace ssm
