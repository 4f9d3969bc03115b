#pragma once
// Internal: what every model family's file does the same way around its own layers (Mamba,
// MoE-Mamba, Vim, VMamba):
//   - the model file's arch and config (read_model_config),
//   - untrained parameters (UniformInit); parameter checks are check_param (model_file.hpp),
//   - writing tensors by name (TensorWriter; the reading side is TensorReader, model_file.hpp),
//     a Mamba block's tensors under a prefix (write_mamba_block, the pair of read_mamba_block),
//   - the linear ends of a sequence stack (encoder / decoder: `<name>.weight` (out, in),
//     `<name>.bias` (out)) and its final norm (`norm_f.weight` (+ `.bias`)),
//   - the flat streaming state of a stack of Mamba blocks (conv then ssm state, layer by layer).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "layers/config_json.hpp"
#include "layers/nn_ops.hpp"
#include "ssm/core/error.hpp"
#include "ssm/io/safetensors.hpp"
#include "ssm/layers/mamba_block.hpp"
#include "ssm/layers/model_file.hpp"

namespace ssm::layers_detail {

/// The config of a model file whose ssmkit.arch must be `arch`: Config::from_json of its
/// ssmkit.config, errors prefixed with the file's name.
template <class Config>
Config read_model_config(const io::SafeTensors& f, const char* arch, const char* where) {
  const std::string a = model_arch(f);
  if (a != arch)
    throw Error(std::string(where) + ": model file '" + f.origin() + "' has ssmkit.arch \"" + a + "\", expected \"" +
                arch + "\"");
  auto cit = f.metadata().find("ssmkit.config");
  if (cit == f.metadata().end())
    throw Error(std::string(where) + ": model file '" + f.origin() + "': __metadata__ key 'ssmkit.config' is missing");
  try {
    return Config::from_json(cit->second);
  } catch (const Error& e) {
    throw Error("model file '" + f.origin() + "': " + e.what());
  }
}

/// Uniform(-bound, bound) draws for untrained parameters, one generator per model.
template <class T>
class UniformInit {
public:
  explicit UniformInit(std::uint64_t seed) : rng_(seed) {}
  std::vector<T> operator()(std::size_t n, double bound) {
    std::uniform_real_distribution<double> d(-bound, bound);
    std::vector<T> v(n);
    for (auto& x : v) x = static_cast<T>(d(rng_));
    return v;
  }
  /// A linear map (out, in) with PyTorch's nn.Linear bound 1/sqrt(in).
  void linear(std::size_t out, std::size_t in, std::vector<T>& w, std::vector<T>& b) {
    w = (*this)(out * in, 1 / std::sqrt(double(in)));
    b = (*this)(out, 1 / std::sqrt(double(in)));
  }
  /// mamba_ssm's dt_proj.bias: dt log-uniform in [1e-3, 0.1] (floor 1e-4), stored as the
  /// inverse softplus of dt.
  std::vector<T> dt_bias(std::size_t n) {
    std::uniform_real_distribution<double> u01(0, 1);
    std::vector<T> v(n);
    for (auto& b : v) {
      const double dt = std::max(1e-4, std::exp(u01(rng_) * (std::log(0.1) - std::log(1e-3)) + std::log(1e-3)));
      b = static_cast<T>(dt + std::log(-std::expm1(-dt)));
    }
    return v;
  }
  /// The S4D-real A_log: log(n + 1) for state n, the same for each of `rows` channels.
  static std::vector<T> a_log(std::size_t rows, std::size_t N) {
    std::vector<T> v(rows * N);
    for (std::size_t d = 0; d < rows; ++d)
      for (std::size_t n = 0; n < N; ++n) v[d * N + n] = static_cast<T>(std::log(double(n + 1)));
    return v;
  }

private:
  std::mt19937_64 rng_;
};

using ssm::check_param;  // model_file.hpp

/// Collects named tensors (in T's float type) and writes them as one model file.
template <class T>
class TensorWriter {
public:
  /// Adds `name` with `shape`; an empty vector (an absent optional parameter) adds nothing.
  void add(const std::string& name, std::vector<std::int64_t> shape, const std::vector<T>& v) {
    if (!v.empty()) out_.push_back({name, dtype(), std::move(shape), std::vector<double>(v.begin(), v.end())});
  }
  void linear(const std::string& name, std::int64_t out, std::int64_t in, const std::vector<T>& w,
              const std::vector<T>& b) {
    add(name + ".weight", {out, in}, w);
    add(name + ".bias", {out}, b);
  }
  /// Writes the file atomically with ssmkit.arch and ssmkit.config.
  void save(const std::string& path, const std::string& arch, const std::string& config_json) const {
    io::save_safetensors(path, out_, {{"ssmkit.arch", arch}, {"ssmkit.config", config_json}});
  }

private:
  static io::DType dtype() noexcept { return sizeof(T) == 4 ? io::DType::F32 : io::DType::F64; }
  std::vector<io::TensorOut> out_;
};

/// `<name>.weight` (out, in) and `<name>.bias` (out).
template <class T>
void read_linear(TensorReader& r, const std::string& name, std::int64_t out, std::int64_t in, std::vector<T>& w,
                 std::vector<T>& b) {
  w = r.read<T>(name + ".weight", {out, in});
  b = r.read<T>(name + ".bias", {out});
}

template <class T>
void check_linear(const char* where, const std::string& name, std::size_t out, std::size_t in,
                  const std::vector<T>& w, const std::vector<T>& b) {
  check_param(w, out * in, where, name + ".weight");
  check_param(b, out, where, name + ".bias");
}

/// A Mamba block's tensors under `pre` (read_mamba_block's names).
template <class T>
void write_mamba_block(TensorWriter<T>& w, const std::string& pre, const MambaBlockConfig& c,
                       const MambaBlockParams<T>& m) {
  const std::int64_t dm = c.d_model, di = c.d_inner, N = c.d_state, K = c.d_conv, R = c.dt_rank;
  w.add(pre + "in_proj.weight", {2 * di, dm}, m.in_proj_weight);
  w.add(pre + "in_proj.bias", {2 * di}, m.in_proj_bias);
  w.add(pre + "conv1d.weight", {di, 1, K}, m.conv1d_weight);
  w.add(pre + "conv1d.bias", {di}, m.conv1d_bias);
  w.add(pre + "x_proj.weight", {R + 2 * N, di}, m.x_proj_weight);
  w.add(pre + "dt_proj.weight", {di, R}, m.dt_proj_weight);
  w.add(pre + "dt_proj.bias", {di}, m.dt_proj_bias);
  w.add(pre + "A_log", {di, N}, m.A_log);
  w.add(pre + "D", {di}, m.D);
  w.add(pre + "out_proj.weight", {dm, di}, m.out_proj_weight);
  w.add(pre + "out_proj.bias", {dm}, m.out_proj_bias);
}

/// The streaming state of a stack of Mamba blocks as one flat array: for each layer its conv
/// state, then its ssm state. `States` is a range of objects with conv() and ssm() spans.
template <class States>
std::size_t mamba_states_size(const States& states) noexcept {
  std::size_t n = 0;
  for (const auto& s : states) n += s.conv().size() + s.ssm().size();
  return n;
}
template <class States, class T>
void save_mamba_states(const States& states, T* dst) noexcept {
  for (const auto& s : states) {
    dst = std::copy(s.conv().begin(), s.conv().end(), dst);
    dst = std::copy(s.ssm().begin(), s.ssm().end(), dst);
  }
}
template <class States, class T>
void load_mamba_states(States& states, const T* src) noexcept {
  for (auto& s : states) {
    std::copy_n(src, s.conv().size(), s.conv().begin());
    src += s.conv().size();
    std::copy_n(src, s.ssm().size(), s.ssm().begin());
    src += s.ssm().size();
  }
}

/// The Mamba block keys of a config (MambaModel's and MoE-Mamba's names and defaults):
/// d_model (or `width_key`), d_state, d_conv, d_inner | expand, dt_rank, in_proj_bias /
/// out_proj_bias (or "bias" for both), conv_bias, hidden_act.
MambaBlockConfig mamba_block_keys(ConfigJson& j, const char* width_key = "d_model", int d_conv_default = 4);

/// "hidden_act": "silu" (default; "swish" is the same function); anything else is refused by
/// name: the Mamba block computes silu only.
Activation mamba_activation(ConfigJson& j);

}  // namespace ssm::layers_detail
