#pragma once
// Models by name: every model family registers itself once (arch name -> loader), and
// load_model(path) opens any model file by dispatching on its `ssmkit.arch` metadata
// (model_file.hpp describes the file format). The CLI, the examples and the Python package
// use this and nothing family-specific.
//
// Built-in families ("s4d", "mamba", and every family that lands) are registered before the
// first lookup (src/layers/registry.cpp lists them: one line a family). A program may add its
// own with register_model_family() (not thread-safe against concurrent lookups; do it at start).
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ssm/io/safetensors.hpp"
#include "ssm/layers/model.hpp"

namespace ssm {

template <class T>
using ModelLoader = std::function<std::unique_ptr<Model<T>>(const io::SafeTensors& file)>;

struct ModelFamily {
  std::string arch;     // ssmkit.arch value
  std::string summary;  // one line for `ssmkit info` / error messages
  ModelLoader<float> load_f32;
  ModelLoader<double> load_f64;
};

/// Adds a family; throws ssm::Error naming 'arch' when it is empty or already registered.
void register_model_family(ModelFamily family);
/// Registered arch names, sorted.
std::vector<std::string> model_archs();
/// The family registered for `arch`, or nullptr.
const ModelFamily* find_model_family(const std::string& arch);

/// Opens a model file of any registered family, or a Hugging Face checkpoint directory
/// (config.json + model.safetensors; model_type "mamba": MambaModel / MambaForCausalLM, see
/// docs/models.md). Throws ssm::Error naming the file when it is unreadable, has no
/// ssmkit.arch, an arch nobody registered (listing the known ones), or anything the family's
/// loader rejects.
template <class T>
std::unique_ptr<Model<T>> load_model(const std::string& path);
template <class T>
std::unique_ptr<Model<T>> load_model(const io::SafeTensors& file, const std::string& name = "model file");

}  // namespace ssm
