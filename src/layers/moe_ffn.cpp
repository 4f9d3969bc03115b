#include "ssm/layers/moe_ffn.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <unsupported/Eigen/SpecialFunctions>

#include "layers/gemm_rows.hpp"
#include "backend/moe_ffn_cuda.hpp"
#include "layers/model_io.hpp"
#include "layers/nn_ops.hpp"
#include "layers/tensor_names.hpp"
#include "ssm/core/error.hpp"
#include "ssm/layers/model_file.hpp"

namespace ssm {



void MoEFFNConfig::validate(const char* where) const {
  require(d_model >= 1, where, "d_model", "must be >= 1, got ", d_model);
  require(d_ff >= 1, where, "d_ff", "must be >= 1, got ", d_ff);
  require(n_experts >= 1, where, "n_experts", "must be >= 1, got ", n_experts);
  require(top_k >= 1 && top_k <= n_experts, where, "top_k", "must be in [1, n_experts = ", n_experts,
          "], got ", top_k);
}

MoEFFNConfig infer_moe_ffn_config(const io::SafeTensors& file, const std::string& prefix, int top_k,
                                  Activation activation) {
  TensorReader r(file, "infer_moe_ffn_config");
  auto dims = [&](const std::string& n) { return r.shape(prefix + n, 2); };
  const auto rw = dims("router.weight");
  const auto f1 = dims("experts.0.fc1.weight");
  MoEFFNConfig c;
  c.n_experts = static_cast<int>(rw[0]);
  c.d_model = static_cast<int>(rw[1]);
  c.d_ff = static_cast<int>(f1[0]);
  c.top_k = top_k;
  c.activation = activation;
  c.router_bias = file.has(prefix + "router.bias");
  c.fc1_bias = file.has(prefix + "experts.0.fc1.bias");
  c.fc2_bias = file.has(prefix + "experts.0.fc2.bias");
  c.validate("infer_moe_ffn_config");
  return c;
}

template <class T>
MoEFFNParams<T> read_moe_ffn(TensorReader& r, const std::string& pre, const MoEFFNConfig& c) {
  c.validate("read_moe_ffn");
  auto p = layers_detail::read_tensors<T, MoEFFNParams<T>>(
      r, [&](auto& m, auto& p) { layers_detail::moe_ffn_tensors(m, pre, c, p); });
  for (int e = 0; e < c.n_experts; ++e) {  // every expert has the biases expert 0 has, no more
    const std::string q = pre + "experts." + std::to_string(e) + ".";
    if (!c.fc1_bias && r.has(q + "fc1.bias"))
      throw Error("read_moe_ffn: tensor '" + q + "fc1.bias' is present but expert 0 has no fc1.bias");
    if (!c.fc2_bias && r.has(q + "fc2.bias"))
      throw Error("read_moe_ffn: tensor '" + q + "fc2.bias' is present but expert 0 has no fc2.bias");
  }
  return p;
}

template <class T>
MoEFFNParams<T> random_moe_ffn(const MoEFFNConfig& c, std::uint64_t seed) {
  c.validate("random_moe_ffn");
  layers_detail::UniformInit<T> uniform(seed);
  const std::size_t dm = c.d_model, df = c.d_ff, E = c.n_experts;
  const double bm = 1 / std::sqrt(double(dm)), bf = 1 / std::sqrt(double(df));
  MoEFFNParams<T> p;
  p.router_weight = uniform(E * dm, bm);
  if (c.router_bias) p.router_bias = uniform(E, bm);
  p.experts.resize(E);
  for (auto& x : p.experts) {
    x.fc1_weight = uniform(df * dm, bm);
    if (c.fc1_bias) x.fc1_bias = uniform(df, bm);
    x.fc2_weight = uniform(dm * df, bf);
    if (c.fc2_bias) x.fc2_bias = uniform(dm, bf);
  }
  return p;
}

template <class T>
bool MoEFFNScratch<T>::made_for(int d_model, int d_ff, int n_experts, int top_k) const noexcept {
  return logits_.size() == std::size_t(n_experts) && hidden_.size() == std::size_t(d_ff) &&
         out_.size() == std::size_t(d_model) && acc_.size() == std::size_t(d_model) &&
         gates_.size() == std::size_t(top_k) && chosen_.size() == std::size_t(top_k);
}

namespace {

template <class T>
void check_size(const std::vector<T>& v, std::size_t n, const std::string& name, bool optional) {
  if (optional && v.empty()) return;
  require(v.size() == n, "MoEFFN", name.c_str(), "must have ", n, " elements", optional ? " (or none)" : "",
          ", got ", v.size());
  for (const T& x : v) require(std::isfinite(static_cast<double>(x)), "MoEFFN", name.c_str(), "must be finite");
}

// In place over n values, with Eigen's packet math (erf and exp vectorized; the same code on
// both paths, so both see the same activations). Coefficient-wise: no temporaries, no allocation.
template <class T>
inline void activate(T* h, std::ptrdiff_t n, Activation a) noexcept {
  Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>> v(h, n);
  switch (a) {
    case Activation::gelu: v = T(0.5) * v * (T(1) + (v * T(0.70710678118654752440)).erf()); break;
    case Activation::relu: v = v.max(T(0)); break;
    case Activation::silu: v = v / (T(1) + (-v).exp()); break;
    case Activation::identity: break;
  }
}

}  // namespace

template <class T>
MoEFFN<T>::MoEFFN(const MoEFFNConfig& c, MoEFFNParams<T> p) : cfg_(c), p_(std::move(p)) {
  c.validate("MoEFFN");
  const std::size_t dm = c.d_model, df = c.d_ff, E = c.n_experts;
  check_size(p_.router_weight, E * dm, "router.weight", false);
  check_size(p_.router_bias, E, "router.bias", true);
  require(p_.experts.size() == E, "MoEFFN", "experts", "must hold n_experts = ", E, " experts, got ",
          p_.experts.size());
  cfg_.router_bias = !p_.router_bias.empty();
  cfg_.fc1_bias = !p_.experts[0].fc1_bias.empty();
  cfg_.fc2_bias = !p_.experts[0].fc2_bias.empty();
  for (std::size_t e = 0; e < E; ++e) {
    const std::string q = "experts." + std::to_string(e) + ".";
    const auto& x = p_.experts[e];
    check_size(x.fc1_weight, df * dm, q + "fc1.weight", false);
    check_size(x.fc1_bias, df, q + "fc1.bias", true);
    check_size(x.fc2_weight, dm * df, q + "fc2.weight", false);
    check_size(x.fc2_bias, dm, q + "fc2.bias", true);
    require(x.fc1_bias.empty() != cfg_.fc1_bias, "MoEFFN", (q + "fc1.bias").c_str(),
            "must be present exactly when expert 0 has one");
    require(x.fc2_bias.empty() != cfg_.fc2_bias, "MoEFFN", (q + "fc2.bias").c_str(),
            "must be present exactly when expert 0 has one");
  }
  using layers_detail::pack_bias;
  using layers_detail::pack_weight;
  router_w_ = pack_weight(p_.router_weight, E, dm);
  router_b_ = pack_bias(p_.router_bias, E);
  for (std::size_t e = 0; e < E; ++e) {
    const auto& x = p_.experts[e];
    fc1_w_.push_back(pack_weight(x.fc1_weight, df, dm));
    fc1_b_.push_back(pack_bias(x.fc1_bias, df));
    fc2_w_.push_back(pack_weight(x.fc2_weight, dm, df));
    fc2_b_.push_back(pack_bias(x.fc2_bias, dm));
  }
#ifdef SSM_WITH_CUDA
  cuda_ = detail::make_moe_ffn_cuda<T>();
#endif
}

template <class T>
void MoEFFN<T>::route(T* r, int E, int k, int* chosen, T* gates) noexcept {
  // top-k by repeated arg-max over the experts not yet chosen: the first (lowest-index) maximum
  // wins a tie, and the k come out in decreasing logit order. A NaN logit is never chosen over a
  // number; an all-NaN row still yields k distinct valid indices.
  for (int j = 0; j < k; ++j) {
    int best = -1;
    for (int e = 0; e < E; ++e) {
      bool taken = false;
      for (int i = 0; i < j; ++i) taken |= chosen[i] == e;
      if (taken) continue;
      if (best < 0 || r[e] > r[best] || (r[best] != r[best] && r[e] == r[e])) best = e;
    }
    chosen[j] = best;
  }
  const T m = r[chosen[0]];
  if (k == 1) {
    // Switch: the full softmax's probability of the chosen expert
    T sum = 0;
    for (int e = 0; e < E; ++e) sum += (r[e] = std::exp(r[e] - m));
    gates[0] = r[chosen[0]] / sum;
  } else {
    T sum = 0;
    for (int j = 0; j < k; ++j) sum += (gates[j] = std::exp(r[chosen[j]] - m));
    for (int j = 0; j < k; ++j) gates[j] /= sum;
  }
}

template <class T>
void MoEFFN<T>::forward(const T* x, std::ptrdiff_t rows, T* y, std::int64_t* expert_index, Device device) const {
  constexpr const char* w = "MoEFFN::forward";
  require(cfg_.n_experts >= 1, w, "this", "must be a constructed layer (default-constructed MoEFFN)");
  require(rows >= 1, w, "rows", "must be >= 1, got ", rows);
  require(x != nullptr, w, "x", "must not be null");
  require(y != nullptr, w, "y", "must not be null");
  const std::ptrdiff_t dm = cfg_.d_model, df = cfg_.d_ff, E = cfg_.n_experts, k = cfg_.top_k;
  require(y + rows * dm <= x || x + rows * dm <= y, w, "y", "must not overlap x");
  if (device == Device::cuda) {
#ifdef SSM_WITH_CUDA
    detail::moe_ffn_forward_cuda(*cuda_, cfg_, p_, x, rows, y, expert_index);
    return;
#else
    fail(w, "device", "is cuda, but ssmkit was built without CUDA (SSM_WITH_CUDA=OFF)");
#endif
  }
  using layers_detail::packed_linear;

  // 1. router logits, one GEMM: (rows, d_model) x (d_model, E)
  std::vector<T> logits(static_cast<std::size_t>(rows * E));
  packed_linear(x, rows, dm, router_w_.data(), router_b_.data(), E, logits.data());
  // 2. top-k and gates per token; slot s = row * k + j
  const std::ptrdiff_t S = rows * k;
  std::vector<int> chosen(static_cast<std::size_t>(S));
  std::vector<T> gates(static_cast<std::size_t>(S));
#pragma omp parallel for schedule(static) if (rows * E > 65536)
  for (std::ptrdiff_t r = 0; r < rows; ++r)
    route(logits.data() + r * E, int(E), int(k), chosen.data() + r * k, gates.data() + r * k);
  if (expert_index)
    for (std::ptrdiff_t s = 0; s < S; ++s) expert_index[s] = chosen[std::size_t(s)];

  // 3. counting sort of the slots by expert (stable: ascending slot within an expert)
  std::vector<std::ptrdiff_t> offset(std::size_t(E + 1), 0);
  for (std::ptrdiff_t s = 0; s < S; ++s) ++offset[std::size_t(chosen[std::size_t(s)] + 1)];
  for (std::ptrdiff_t e = 0; e < E; ++e) offset[std::size_t(e + 1)] += offset[std::size_t(e)];
  std::vector<std::ptrdiff_t> order(static_cast<std::size_t>(S)), pos(static_cast<std::size_t>(S));
  {
    std::vector<std::ptrdiff_t> fill(offset.begin(), offset.end() - 1);
    for (std::ptrdiff_t s = 0; s < S; ++s) {
      const std::ptrdiff_t q = fill[std::size_t(chosen[std::size_t(s)])]++;
      order[std::size_t(q)] = s;
      pos[std::size_t(s)] = q;
    }
  }

  // 4. gather, then per expert fc1 GEMM, activation, fc2 GEMM into its block of out (S, d_model)
  std::ptrdiff_t max_count = 0;
  for (std::ptrdiff_t e = 0; e < E; ++e)
    max_count = std::max(max_count, offset[std::size_t(e + 1)] - offset[std::size_t(e)]);
  std::vector<T> xg(static_cast<std::size_t>(S * dm)), hidden(std::size_t(max_count * df)), out(static_cast<std::size_t>(S * dm));
#pragma omp parallel for schedule(static) if (S * dm > 65536)
  for (std::ptrdiff_t q = 0; q < S; ++q)
    std::copy_n(x + (order[std::size_t(q)] / k) * dm, dm, xg.data() + q * dm);
  for (std::ptrdiff_t e = 0; e < E; ++e) {
    const std::ptrdiff_t o = offset[std::size_t(e)], n = offset[std::size_t(e + 1)] - o;
    if (n == 0) continue;
    const std::size_t ue = std::size_t(e);
    packed_linear(xg.data() + o * dm, n, dm, fc1_w_[ue].data(), fc1_b_[ue].data(), df, hidden.data());
#pragma omp parallel for schedule(static) if (n * df > 65536)
    for (std::ptrdiff_t i = 0; i < n; ++i) activate(hidden.data() + i * df, df, cfg_.activation);
    packed_linear(hidden.data(), n, df, fc2_w_[ue].data(), fc2_b_[ue].data(), dm, out.data() + o * dm);
  }

  // 5. combine: each token sums its k expert rows in slot order (no atomics, deterministic)
#pragma omp parallel for schedule(static) if (S * dm > 65536)
  for (std::ptrdiff_t r = 0; r < rows; ++r) {
    T* yr = y + r * dm;
    for (std::ptrdiff_t j = 0; j < k; ++j) {
      const std::ptrdiff_t s = r * k + j;
      const T g = gates[std::size_t(s)];
      const T* src = out.data() + pos[std::size_t(s)] * dm;
      if (j == 0)
        for (std::ptrdiff_t c = 0; c < dm; ++c) yr[c] = g * src[c];
      else
        for (std::ptrdiff_t c = 0; c < dm; ++c) yr[c] += g * src[c];
    }
  }
}

template <class T>
MoEFFNScratch<T> MoEFFN<T>::make_scratch() const {
  require(cfg_.n_experts >= 1, "MoEFFN::make_scratch", "this", "must be a constructed layer");
  MoEFFNScratch<T> s;
  s.logits_.assign(std::size_t(cfg_.n_experts), T(0));
  s.hidden_.assign(std::size_t(cfg_.d_ff), T(0));
  s.out_.assign(std::size_t(cfg_.d_model), T(0));
  s.acc_.assign(std::size_t(cfg_.d_model), T(0));
  s.gates_.assign(std::size_t(cfg_.top_k), T(0));
  s.chosen_.assign(std::size_t(cfg_.top_k), 0);
  return s;
}

template <class T>
void MoEFFN<T>::forward_token(const T* x, T* y, std::int64_t* expert_index, MoEFFNScratch<T>& s,
                              std::ptrdiff_t rows) const noexcept {
  const std::ptrdiff_t dm = cfg_.d_model, df = cfg_.d_ff, E = cfg_.n_experts, k = cfg_.top_k;
  using layers_detail::packed_linear_serial;
  for (std::ptrdiff_t r = 0; r < rows; ++r) {
    const T* xr = x + r * dm;
    packed_linear_serial(xr, 1, dm, router_w_.data(), router_b_.data(), E, s.logits_.data());
    route(s.logits_.data(), int(E), int(k), s.chosen_.data(), s.gates_.data());
    for (std::ptrdiff_t j = 0; j < k; ++j) {
      const std::size_t e = std::size_t(s.chosen_[std::size_t(j)]);
      packed_linear_serial(xr, 1, dm, fc1_w_[e].data(), fc1_b_[e].data(), df, s.hidden_.data());
      activate(s.hidden_.data(), df, cfg_.activation);
      packed_linear_serial(s.hidden_.data(), 1, df, fc2_w_[e].data(), fc2_b_[e].data(), dm, s.out_.data());
      const T g = s.gates_[std::size_t(j)];
      if (j == 0)
        for (std::ptrdiff_t c = 0; c < dm; ++c) s.acc_[std::size_t(c)] = g * s.out_[std::size_t(c)];
      else
        for (std::ptrdiff_t c = 0; c < dm; ++c) s.acc_[std::size_t(c)] += g * s.out_[std::size_t(c)];
      if (expert_index) expert_index[r * k + j] = std::int64_t(e);
    }
    std::copy_n(s.acc_.data(), dm, y + r * dm);  // after all reads of xr: x and y may alias
  }
}

template class MoEFFN<float>;
template class MoEFFN<double>;
template class MoEFFNScratch<float>;
template class MoEFFNScratch<double>;
template MoEFFNParams<float> read_moe_ffn<float>(TensorReader&, const std::string&, const MoEFFNConfig&);
template MoEFFNParams<double> read_moe_ffn<double>(TensorReader&, const std::string&, const MoEFFNConfig&);
template MoEFFNParams<float> random_moe_ffn<float>(const MoEFFNConfig&, std::uint64_t);
template MoEFFNParams<double> random_moe_ffn<double>(const MoEFFNConfig&, std::uint64_t);

}  // namespace ssm
