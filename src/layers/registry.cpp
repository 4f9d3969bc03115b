#include "ssm/layers/registry.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>

#include "layers/families.hpp"
#include "ssm/core/error.hpp"
#include "ssm/layers/model_file.hpp"

namespace ssm {

namespace {

std::map<std::string, ModelFamily>& table() {
  static std::map<std::string, ModelFamily> t;
  return t;
}

void add(ModelFamily f) {
  require(!f.arch.empty(), "register_model_family", "arch", "must not be empty");
  require(f.load_f32 && f.load_f64, "register_model_family", "load_f32/load_f64",
          "must both be set (family '", f.arch, "')");
  require(!table().count(f.arch), "register_model_family", "arch", "'", f.arch, "' is already registered");
  const std::string a = f.arch;
  table().emplace(a, std::move(f));
}

void ensure_builtins() {
  static std::once_flag once;
  std::call_once(once, [] {
    // One line a built-in family (families.hpp declares them).
    const std::initializer_list<ModelFamily (*)()> builtins = {
        detail::s4d_family,
        detail::mamba_family,
        detail::moe_mamba_family,
        detail::bst_family,
        detail::vmamba_family,
        detail::vim_family,
    };
    for (auto make : builtins) add(make());
  });
}

}  // namespace

void register_model_family(ModelFamily family) {
  ensure_builtins();
  add(std::move(family));
}

std::vector<std::string> model_archs() {
  ensure_builtins();
  std::vector<std::string> v;
  for (const auto& [k, f] : table()) v.push_back(k);
  return v;
}

const ModelFamily* find_model_family(const std::string& arch) {
  ensure_builtins();
  auto it = table().find(arch);
  return it == table().end() ? nullptr : &it->second;
}

template <class T>
std::unique_ptr<Model<T>> load_model(const io::SafeTensors& file, const std::string& name) {
  const std::string arch = file.meta("ssmkit.arch", "");
  if (arch.empty())
    throw Error("load_model: '" + name + "' has no 'ssmkit.arch' metadata: not an ssmkit model file");
  const ModelFamily* f = find_model_family(arch);
  if (!f) {
    std::string known;
    for (const auto& a : model_archs()) known += (known.empty() ? "" : ", ") + a;
    throw Error("load_model: '" + name + "': unknown ssmkit.arch '" + arch + "' (registered: " + known + ")");
  }
  if constexpr (std::is_same_v<T, float>) return f->load_f32(file);
  else return f->load_f64(file);
}

template <class T>
std::unique_ptr<Model<T>> load_model(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return detail::load_hf_checkpoint<T>(path);
  const auto file = io::SafeTensors::load(path);
  return load_model<T>(file, path);
}

template std::unique_ptr<Model<float>> load_model<float>(const std::string&);
template std::unique_ptr<Model<double>> load_model<double>(const std::string&);
template std::unique_ptr<Model<float>> load_model<float>(const io::SafeTensors&, const std::string&);
template std::unique_ptr<Model<double>> load_model<double>(const io::SafeTensors&, const std::string&);

void check_sequence_input(const std::vector<std::int64_t>& s, int d_input, const char* where) {
  require(s.size() == 3, where, "input", "must have shape (batch, length, d_input), got rank ", s.size());
  require(s[0] >= 1 && s[1] >= 1, where, "input", "batch and length must be >= 1, got ", shape_string(s));
  require(s[2] == d_input, where, "input", "last dimension must be d_input = ", d_input, ", got ", shape_string(s));
}

}  // namespace ssm
