#pragma once
// Internal: what every model family does the same way with its files and parameters (S4D,
// Mamba, MoE-Mamba, BST, Vim, VMamba and their layers), so that a family's source holds only
// what is its own: its config keys and its tensor names.
//
//   config   read_model_config: the file's ssmkit.arch and ssmkit.config (Config::from_json;
//            the keys are read through ConfigJson, config_json.hpp, which rejects unknown keys by
//            name); check_stack_sizes / check_stored_rate: the sizes every stack validates.
//   tensors  A family lists its tensors ONCE, by PyTorch name and shape, in a function template
//               template <class Map, class P> void x_tensors(Map& m, const XConfig& c, P& p)
//            calling m.tensor(name, shape, v) (and optional / flagged / any / linear, below).
//            Three maps walk that one list:
//              ReadTensors<T>   reads a model file through TensorReader (presence, shape, dtype,
//                               finiteness; TensorReader::finish() then rejects leftovers),
//              WriteTensors<T>  writes one through TensorWriter (an empty vector writes nothing),
//              CheckTensors<T>  checks parameters handed to a constructor (sizes = the product
//                               of the shape, finiteness), errors naming the tensor.
//            P is the params struct (const for writing and checking). Layers a model stacks are
//            listed by the layer's own function, under the layer's prefix.
//   init     UniformInit: the draws of untrained parameters (random_* for tests and benches).
//   layers   emplace_layers: a stack's layer objects from their params, errors prefixed with
//            "layers.{i}: ".
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "ssm/core/error.hpp"
#include "ssm/io/safetensors.hpp"
#include "ssm/layers/model_file.hpp"

namespace ssm::layers_detail {

using Shape = std::vector<std::int64_t>;

// ---- config ---------------------------------------------------------------------------------

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

/// The sizes every stack has: d_input, d_output and n_layers >= 1 (`layers_key` names the
/// count in the family's config: "n_layers", "depth").
inline void check_stack_sizes(const char* where, int d_input, int d_output, int n_layers,
                              const char* layers_key = "n_layers") {
  require(d_input >= 1, where, "d_input", "must be >= 1, got ", d_input);
  require(d_output >= 1, where, "d_output", "must be >= 1, got ", d_output);
  require(n_layers >= 1, where, layers_key, "must be >= 1, got ", n_layers);
}

/// An informational sample rate stored with a model whose step is learned or counted in
/// samples: finite and >= 0 (0: not given).
inline void check_stored_rate(const char* where, double sample_rate) {
  require(sample_rate >= 0 && std::isfinite(sample_rate), where, "sample_rate",
          "must be finite and >= 0 (0: not given), got ", sample_rate);
}

/// The arguments of an offline forward over (batch, length) sequences u -> y.
template <class T>
void check_sequence_call(const char* where, bool constructed, int batch, int length, const T* u, const T* y) {
  require(constructed, where, "this", "must be a constructed model");
  require(batch >= 1, where, "batch", "must be >= 1, got ", batch);
  require(length >= 1, where, "length", "must be >= 1, got ", length);
  require(u != nullptr && y != nullptr, where, "u/y", "must not be null");
}

// ---- tensors --------------------------------------------------------------------------------

inline std::size_t numel(const Shape& s) noexcept {
  std::size_t n = 1;
  for (auto d : s) n *= static_cast<std::size_t>(d);
  return n;
}

/// A stack's count of layers as the config says (throws naming `name` and `key`).
template <class V>
void check_count(const char* where, const char* name, const V& v, std::size_t n, const char* key = "n_layers") {
  require(v.size() == n, where, name, "must hold ", key, " = ", n, " entries, got ", v.size());
}

/// Collects named tensors (in T's float type) and writes them as one model file.
template <class T>
class TensorWriter {
public:
  /// Adds `name` with `shape`; an empty vector (an absent optional parameter) adds nothing.
  void add(const std::string& name, Shape shape, const std::vector<T>& v) {
    if (!v.empty()) out_.push_back({name, dtype(), std::move(shape), std::vector<double>(v.begin(), v.end())});
  }
  /// Writes the file atomically with ssmkit.arch and ssmkit.config.
  void save(const std::string& path, const std::string& arch, const std::string& config_json) const {
    io::save_safetensors(path, out_, {{"ssmkit.arch", arch}, {"ssmkit.config", config_json}});
  }
  std::vector<io::TensorOut>& tensors() noexcept { return out_; }

private:
  static io::DType dtype() noexcept { return sizeof(T) == 4 ? io::DType::F32 : io::DType::F64; }
  std::vector<io::TensorOut> out_;
};

/// Whether a linear map's bias must be there (Bias::required) or may be absent (Bias::optional:
/// an empty vector is no bias).
enum class Bias { required, optional };

/// What the three maps share: linear maps in PyTorch's names, `<name>.weight` (out, in) and
/// `<name>.bias` (out).
template <class Map>
struct TensorMap {
  template <class V>
  void linear(const std::string& name, std::int64_t out, std::int64_t in, V& w, V& b, Bias bias = Bias::required) {
    auto& m = static_cast<Map&>(*this);
    m.tensor(name + ".weight", {out, in}, w);
    if (bias == Bias::required) m.tensor(name + ".bias", {out}, b);
    else m.optional(name + ".bias", {out}, b);
  }
  /// A linear map the config says is there or not (flagged, both tensors).
  template <class V>
  void linear_if(bool present, const std::string& name, std::int64_t out, std::int64_t in, V& w, V& b) {
    auto& m = static_cast<Map&>(*this);
    m.flagged(present, name + ".weight", {out, in}, w);
    m.flagged(present, name + ".bias", {out}, b);
  }
};

// Each map has: tensor(name, shape, v)            must be there with this shape
//               optional(name, shape, v)          the file says (absent: v empty)
//               flagged(present, name, shape, v)  the config says (`present`), v empty otherwise
//               any(names, shapes, v)             one parameter under alternative names / shapes
//                                                 (reading takes the first present name; writing
//                                                 and checking use the first name and shape)
//               items(name, v, n)                 a list of n per-layer entries (reading sizes
//                                                 it; checking requires n)
//               linear / linear_if                the two tensors of a linear map (TensorMap)

/// Reads the listed tensors of a model file into the params.
template <class T>
class ReadTensors : public TensorMap<ReadTensors<T>> {
public:
  explicit ReadTensors(TensorReader& r) : r_(r) {}
  void tensor(const std::string& name, const Shape& shape, std::vector<T>& v) { v = r_.read<T>(name, shape); }
  void optional(const std::string& name, const Shape& shape, std::vector<T>& v) {
    v = r_.read_optional<T>(name, shape);
  }
  /// Not `present`: nothing is read (a tensor of that name in the file is a leftover).
  void flagged(bool present, const std::string& name, const Shape& shape, std::vector<T>& v) {
    if (present) tensor(name, shape, v);
  }
  void any(const std::vector<std::string>& names, const std::vector<Shape>& shapes, std::vector<T>& v) {
    v = r_.read_any<T>(names, shapes);
  }
  template <class V>
  void items(const char*, V& v, std::size_t n, const char* = "n_layers") {
    v.resize(n);
  }
  TensorReader& reader() noexcept { return r_; }

private:
  TensorReader& r_;
};

/// Writes the listed tensors (an empty vector writes nothing).
template <class T>
class WriteTensors : public TensorMap<WriteTensors<T>> {
public:
  explicit WriteTensors(TensorWriter<T>& w) : w_(w) {}
  void tensor(const std::string& name, const Shape& shape, const std::vector<T>& v) { w_.add(name, shape, v); }
  void optional(const std::string& name, const Shape& shape, const std::vector<T>& v) { w_.add(name, shape, v); }
  void flagged(bool, const std::string& name, const Shape& shape, const std::vector<T>& v) { w_.add(name, shape, v); }
  void any(const std::vector<std::string>& names, const std::vector<Shape>& shapes, const std::vector<T>& v) {
    w_.add(names.front(), shapes.front(), v);
  }
  template <class V>
  void items(const char*, const V&, std::size_t, const char* = "n_layers") {}

private:
  TensorWriter<T>& w_;
};

/// Checks parameters handed to a constructor against the list: every vector holds the product
/// of its shape in finite values (an optional one may also be empty; a flagged one that is not
/// `present` must be empty). Throws ssm::Error("<where>: argument '<name>' must have n
/// elements[ (or none)], got m" / "... must be finite").
template <class T>
class CheckTensors : public TensorMap<CheckTensors<T>> {
public:
  explicit CheckTensors(const char* where) : where_(where) {}
  void tensor(const std::string& name, const Shape& shape, const std::vector<T>& v) {
    check_param(v, numel(shape), where_, name);
  }
  void optional(const std::string& name, const Shape& shape, const std::vector<T>& v) {
    check_param(v, numel(shape), where_, name, true);
  }
  void flagged(bool present, const std::string& name, const Shape& shape, const std::vector<T>& v) {
    check_param(v, present ? numel(shape) : 0, where_, name);
  }
  void any(const std::vector<std::string>& names, const std::vector<Shape>& shapes, const std::vector<T>& v) {
    check_param(v, numel(shapes.front()), where_, names.front());
  }
  template <class V>
  void items(const char* name, const V& v, std::size_t n, const char* key = "n_layers") {
    check_count(where_, name, v, n, key);
  }

private:
  const char* where_;
};

/// Params of type P read by a list: `list(map, params)` with a ReadTensors<T>.
template <class T, class P, class List>
P read_tensors(TensorReader& r, List&& list) {
  P p;
  ReadTensors<T> m(r);
  list(m, p);
  return p;
}

/// A model file's config and parameters: the file's arch must be `arch`, its ssmkit.config is
/// Config::from_json, its tensors are read by `list(map, config, params)` and none is left over.
template <class T, class Config, class P, class List>
std::pair<Config, P> read_model_file(const io::SafeTensors& f, const char* arch, const char* where, List&& list) {
  std::pair<Config, P> out{read_model_config<Config>(f, arch, where), P{}};
  TensorReader r(f, where);
  ReadTensors<T> m(r);
  list(m, out.first, out.second);
  r.finish();
  return out;
}

/// `list(map)` written as a model file of `arch` with `config_json`.
template <class T, class List>
void write_model_file(const std::string& path, const std::string& arch, const std::string& config_json,
                      List&& list) {
  TensorWriter<T> out;
  WriteTensors<T> m(out);
  list(m);
  out.save(path, arch, config_json);
}

/// A random-access view of `project(e)` for the elements e of a vector (size(), [i], begin/end):
/// what the tensor lists iterate when the tensors live inside layer objects. Written out rather
/// than std::views::transform, which clang 14 (the fuzz build) cannot compile against
/// libstdc++ 12's ranges.
template <class Vec, class Project>
class ProjectedView {
public:
  ProjectedView(Vec& v, Project project) : v_(&v), project_(project) {}
  std::size_t size() const noexcept { return v_->size(); }
  decltype(auto) operator[](std::size_t i) const { return project_((*v_)[i]); }
  class iterator {
  public:
    iterator(const ProjectedView* view, std::size_t i) : view_(view), i_(i) {}
    decltype(auto) operator*() const { return (*view_)[i_]; }
    iterator& operator++() noexcept {
      ++i_;
      return *this;
    }
    bool operator!=(const iterator& o) const noexcept { return i_ != o.i_; }

  private:
    const ProjectedView* view_;
    std::size_t i_;
  };
  iterator begin() const { return iterator(this, 0); }
  iterator end() const { return iterator(this, size()); }

private:
  Vec* v_;
  Project project_;
};

/// A view of the params() of a vector of layer objects (for a model's tensor list when writing).
template <class Layers>
auto params_of(const Layers& layers) {
  auto project = [](const auto& l) -> const auto& { return l.params(); };
  return ProjectedView<const Layers, decltype(project)>(layers, project);
}

/// Builds a stack's layers from their params (moved from), `make(params, index)` one layer;
/// a layer's error is rethrown as "<where>: layers.{i}: <its message>".
template <class Layers, class Params, class Make>
void emplace_layers(const char* where, Layers& layers, std::vector<Params>& params, Make&& make) {
  for (std::size_t i = 0; i < params.size(); ++i) {
    try {
      layers.push_back(make(std::move(params[i]), static_cast<int>(i)));
    } catch (const Error& e) {
      throw Error(std::string(where) + ": layers." + std::to_string(i) + ": " + e.what());
    }
  }
}

// ---- untrained parameters -------------------------------------------------------------------

/// Draws for untrained parameters, one generator per model (the order of the calls is the
/// order of the draws).
template <class T>
class UniformInit {
public:
  explicit UniformInit(std::uint64_t seed) : rng_(seed) {}
  /// Uniform(-bound, bound).
  std::vector<T> operator()(std::size_t n, double bound) { return between(n, -bound, bound); }
  /// Uniform(lo, hi).
  std::vector<T> between(std::size_t n, double lo, double hi) {
    std::uniform_real_distribution<double> d(lo, hi);
    std::vector<T> v(n);
    for (auto& x : v) x = static_cast<T>(d(rng_));
    return v;
  }
  /// Normal(0, sd).
  std::vector<T> normal(std::size_t n, double sd) {
    std::normal_distribution<double> d(0, sd);
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

template <class T>
void check_linear(const char* where, const std::string& name, std::size_t out, std::size_t in,
                  const std::vector<T>& w, const std::vector<T>& b) {
  check_param(w, out * in, where, name + ".weight");
  check_param(b, out, where, name + ".bias");
}

}  // namespace ssm::layers_detail
