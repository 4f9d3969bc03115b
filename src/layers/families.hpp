#pragma once
// Internal: the built-in model families. Each family's source defines its ModelFamily
// function; src/layers/registry.cpp registers the list below before the first lookup (a
// static archive would drop self-registering objects that nothing references).
#include "ssm/layers/registry.hpp"

namespace ssm::detail {

ModelFamily s4d_family();
ModelFamily mamba_family();
ModelFamily moe_mamba_family();
ModelFamily bst_family();
ModelFamily vmamba_family();
ModelFamily vim_family();

/// A Hugging Face checkpoint directory (config.json + model.safetensors), dispatched on
/// config.json's model_type (family_mamba.cpp: "mamba").
template <class T>
std::unique_ptr<Model<T>> load_hf_checkpoint(const std::string& dir);

}  // namespace ssm::detail
