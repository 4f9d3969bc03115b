#pragma once
// The activations of the layers, one vocabulary for every family (the S4D model's GLU input,
// the MoE experts' hidden layer, ...), with PyTorch's definitions (FORMAT.md):
//   gelu(x) = x Phi(x) (exact erf form), silu(x) = x sigmoid(x), relu(x) = max(x, 0),
//   identity(x) = x.
#include <string>

namespace ssm {

enum class Activation { gelu, silu, relu, identity };

/// "gelu" | "silu" | "relu" | "identity"; throws ssm::Error("<where>: argument '<arg>' ...")
/// otherwise.
Activation parse_activation(const std::string& name, const char* where, const char* arg = "activation");
const char* to_string(Activation a) noexcept;

}  // namespace ssm
