#pragma once
// Mixture-of-experts feed-forward (the MoE layer of MoE-Mamba; FORMAT.md `moe_ffn`), with the
// parameter names
//   router.weight (E, d_model), router.bias (E)?
//   experts.{e}.fc1.weight (d_ff, d_model), experts.{e}.fc1.bias (d_ff)?
//   experts.{e}.fc2.weight (d_model, d_ff), experts.{e}.fc2.bias (d_model)?
// For each token x (a row of d_model values):
//   r        = x router.weightᵀ (+ router.bias)                          logits (E)
//   e_1..e_k = the top_k largest logits, in decreasing order; ties go to the lowest index
//   gates    top_k = 1 (Switch):   g_1 = softmax(r)[e_1]  (over all E logits)
//            top_k ≥ 2 (Mixtral):  g_j = exp(r_{e_j}) / Σ_i exp(r_{e_i})  (over the chosen k)
//   y        = Σ_j g_j · fc2_{e_j}( act( fc1_{e_j}(x) ) )                 act: gelu (erf) | relu | silu
// No capacity limit (inference): every token reaches its k experts. expert_index (rows, top_k)
// holds e_1..e_k per token.
//
// Paths (they agree to rounding; the routing, computed by the same code, agrees exactly):
//   forward()        offline, grouped: all router logits in one GEMM, the (token, slot)
//                    assignments counting-sorted by expert (stable: token order within an
//                    expert), each expert one GEMM pair over its gathered tokens, then every
//                    token combines its k expert rows in slot order. Allocates; the GEMMs
//                    (register-blocked on packed weights, ISA picked at run time:
//                    src/layers/gemm_rows.hpp) may use the OpenMP team. Device::cuda runs the same recipe on the GPU with the
//                    weights uploaded once (kernels/layers/moe_ffn.cu); throws ssm::Error
//                    without CUDA.
//   forward_token()  one token (or a few rows, token after token), computing only the chosen
//                    experts; real-time safe (no allocation, lock, throw or I/O) with scratch
//                    made by make_scratch().
// Precision: T = float or double. Rows are row-major (rows, d_model).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ssm/core/device.hpp"
#include "ssm/io/safetensors.hpp"

namespace ssm {

class TensorReader;

enum class Activation { gelu, relu, silu };
/// "gelu" | "relu" | "silu"; throws ssm::Error naming `where` and `arg` otherwise.
Activation parse_activation(const std::string& name, const char* where, const char* arg = "activation");
const char* to_string(Activation a) noexcept;

struct MoEFFNConfig {
  int d_model = 0;
  int d_ff = 0;
  int n_experts = 0;  // E
  int top_k = 1;
  Activation activation = Activation::gelu;
  bool router_bias = false;
  bool fc1_bias = false;
  bool fc2_bias = false;

  /// Throws ssm::Error(where: argument '<field>' ...) unless sizes >= 1 and 1 <= top_k <= E.
  void validate(const char* where) const;
};

template <class T>
struct MoEExpertParams {
  std::vector<T> fc1_weight;  // (d_ff, d_model)
  std::vector<T> fc1_bias;    // (d_ff) or empty
  std::vector<T> fc2_weight;  // (d_model, d_ff)
  std::vector<T> fc2_bias;    // (d_model) or empty
};

/// Parameters in PyTorch's layouts (row-major); optional biases empty when absent.
template <class T>
struct MoEFFNParams {
  std::vector<T> router_weight;  // (E, d_model)
  std::vector<T> router_bias;    // (E) or empty
  std::vector<MoEExpertParams<T>> experts;  // E
};

/// Sizes from `<prefix>router.weight` and `<prefix>experts.0.fc1.weight` (E = rows of the
/// router), bias flags from the presence of the bias tensors (of expert 0; read_moe_ffn then
/// demands the same of every expert). top_k and activation are not in the tensors: given here.
MoEFFNConfig infer_moe_ffn_config(const io::SafeTensors& file, const std::string& prefix, int top_k,
                                  Activation activation);

/// Reads the tensors of cfg under `prefix`, validating presence, shape and dtype.
template <class T>
MoEFFNParams<T> read_moe_ffn(TensorReader& reader, const std::string& prefix, const MoEFFNConfig& cfg);

/// Random parameters (uniform fan-in bounds as nn.Linear) for tests and benchmarks.
template <class T>
MoEFFNParams<T> random_moe_ffn(const MoEFFNConfig& cfg, std::uint64_t seed);

/// Scratch of forward_token() for one token at a time (router logits, top-k, one hidden row).
template <class T>
class MoEFFNScratch {
public:
  MoEFFNScratch() = default;
  bool made_for(int d_model, int d_ff, int n_experts, int top_k) const noexcept;

private:
  template <class>
  friend class MoEFFN;
  std::vector<T> logits_, hidden_, out_, acc_, gates_;
  std::vector<int> chosen_;
};

namespace detail {
template <class T>
struct MoEFFNCuda;  // device-resident weights and workspace (kernels/layers/moe_ffn.cu)
}

template <class T>
class MoEFFN {
public:
  MoEFFN() = default;
  /// Validates sizes (and finiteness) against cfg; keeps copies of the router and expert
  /// weights packed for the CPU kernels (both paths).
  MoEFFN(const MoEFFNConfig& cfg, MoEFFNParams<T> params);

  const MoEFFNConfig& config() const noexcept { return cfg_; }
  const MoEFFNParams<T>& params() const noexcept { return p_; }

  /// Offline grouped path: x (rows, d_model) -> y (rows, d_model); expert_index (rows, top_k)
  /// when not null. y must not overlap x. Device::cuda: host pointers, the work on the GPU
  /// (weights uploaded on the first CUDA call and kept).
  void forward(const T* x, std::ptrdiff_t rows, T* y, std::int64_t* expert_index = nullptr,
               Device device = Device::cpu) const;

  /// Scratch for forward_token() (allocates).
  MoEFFNScratch<T> make_scratch() const;
  /// Per-token path: `rows` tokens one after the other, only the chosen experts computed.
  /// Real-time safe. x and y may alias. expert_index (rows, top_k) may be null. The scratch
  /// must come from make_scratch() of this layer (unchecked here: check with made_for()).
  void forward_token(const T* x, T* y, std::int64_t* expert_index, MoEFFNScratch<T>& s,
                     std::ptrdiff_t rows = 1) const noexcept;

  /// Routing of one token: top_k expert indices in decreasing logit order and their gates.
  /// `logits` (E) serve as scratch (overwritten). A NaN logit is never chosen over a number.
  static void route(T* logits, int n_experts, int top_k, int* chosen, T* gates) noexcept;

private:
  MoEFFNConfig cfg_{};
  MoEFFNParams<T> p_{};
  // weights packed in tiles of 128 bytes of outputs and padded biases (src/layers/gemm_rows.hpp)
  std::vector<T> router_w_, router_b_;
  std::vector<std::vector<T>> fc1_w_, fc1_b_, fc2_w_, fc2_b_;  // E each
  // Device copies of the weights, uploaded by the first CUDA forward (under the holder's own
  // lock) and shared by copies of this layer: the weights never change after construction.
  std::shared_ptr<detail::MoEFFNCuda<T>> cuda_;
};

extern template class MoEFFN<float>;
extern template class MoEFFN<double>;
extern template class MoEFFNScratch<float>;
extern template class MoEFFNScratch<double>;

}  // namespace ssm
