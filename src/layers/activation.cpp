#include "ssm/layers/activation.hpp"

#include "ssm/core/error.hpp"

namespace ssm {

Activation parse_activation(const std::string& name, const char* where, const char* arg) {
  if (name == "gelu") return Activation::gelu;
  if (name == "silu") return Activation::silu;
  if (name == "relu") return Activation::relu;
  if (name == "identity") return Activation::identity;
  fail(where, arg, "must be gelu, silu, relu or identity, got '", name, "'");
}

const char* to_string(Activation a) noexcept {
  switch (a) {
    case Activation::gelu: return "gelu";
    case Activation::silu: return "silu";
    case Activation::relu: return "relu";
    case Activation::identity: return "identity";
  }
  return "?";
}

}  // namespace ssm
