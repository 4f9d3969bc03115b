#include "ssm/layers/vim_model.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "layers/config_json.hpp"
#include "layers/nn_ops.hpp"
#include "layers/mamba_stack.hpp"
#include "layers/model_io.hpp"
#include "layers/tensor_names.hpp"
#include "ssm/core/error.hpp"
#include "ssm/layers/model_file.hpp"

namespace ssm {

using layers_detail::linear_gemm;
using layers_detail::rms_norm;

// ---- config ---------------------------------------------------------------------------------

void VimModelConfig::validate(const char* where) const {
  block.validate(where);
  require(patch_size >= 1, where, "patch_size", "must be >= 1, got ", patch_size);
  require(stride >= 1, where, "stride", "must be >= 1, got ", stride);
  require(img_h >= patch_size && img_w >= patch_size, where, "img_size", "must be at least patch_size = ",
          patch_size, " on both axes, got ", img_h, " x ", img_w);
  require(in_chans >= 1, where, "in_chans", "must be >= 1, got ", in_chans);
  require(depth >= 1, where, "depth", "must be >= 1, got ", depth);
  require(num_classes >= 1, where, "num_classes", "must be >= 1, got ", num_classes);
  require(norm_eps > 0, where, "norm_eps", "must be > 0, got ", norm_eps);
}

VimModelConfig VimModelConfig::from_json(const std::string& text) {
  layers_detail::ConfigJson j(text, "VimModelConfig");
  VimModelConfig c;
  if (j.has("img_size") && j.raw("img_size").is_array()) {
    const auto& a = j.raw("img_size");
    if (a.size() != 2 || !a[0].is_number_integer() || !a[1].is_number_integer())
      j.bad("img_size", "must be an integer or [H, W]");
    c.img_h = a[0].get<int>();
    c.img_w = a[1].get<int>();
  } else {
    c.img_h = c.img_w = j.integer("img_size", 224);
  }
  c.patch_size = j.integer("patch_size", 16);
  c.stride = j.integer("stride", c.patch_size);
  c.in_chans = j.integer("in_chans", 3);
  c.depth = j.integer("depth");
  c.num_classes = j.integer("num_classes");
  c.norm_eps = j.number("norm_eps", 1e-5);
  c.cls_token = j.choice<bool>("cls_token", {{"middle", true}, {"none", false}}, true);
  const MambaBlockConfig m = layers_detail::mamba_block_keys(j, "embed_dim");  // hidden_act: silu
  c.block = BiMambaBlockConfig::with_forward_branch(m, j.boolean("if_divide_out", true));
  j.finish();
  c.validate("VimModelConfig");
  return c;
}

std::string VimModelConfig::to_json() const {
  nlohmann::ordered_json j;
  j["img_size"] = {img_h, img_w};
  j["patch_size"] = patch_size;
  j["stride"] = stride;
  j["in_chans"] = in_chans;
  j["embed_dim"] = block.d_model;
  j["depth"] = depth;
  j["d_inner"] = block.d_inner;
  j["d_state"] = block.d_state;
  j["d_conv"] = block.d_conv;
  j["dt_rank"] = block.dt_rank;
  j["if_divide_out"] = block.if_divide_out;
  j["in_proj_bias"] = block.in_proj_bias;
  j["out_proj_bias"] = block.out_proj_bias;
  j["conv_bias"] = block.conv_bias;
  j["hidden_act"] = "silu";
  j["cls_token"] = cls_token ? "middle" : "none";
  j["num_classes"] = num_classes;
  j["norm_eps"] = norm_eps;
  return j.dump();
}

// ---- parameters -----------------------------------------------------------------------------

template <class T>
VimModelParams<T> random_vim_model(const VimModelConfig& c, std::uint64_t seed) {
  c.validate("random_vim_model");
  layers_detail::UniformInit<T> uniform(seed);
  const std::size_t D = c.block.d_model, C = c.in_chans, k = c.patch_size;
  VimModelParams<T> p;
  p.patch_weight = uniform(D * C * k * k, 1 / std::sqrt(double(C * k * k)));
  p.patch_bias = uniform(D, 1 / std::sqrt(double(C * k * k)));
  if (c.cls_token) p.cls_token = uniform(D, 0.5);
  p.pos_embed = uniform(std::size_t(c.tokens()) * D, 0.1);
  for (int i = 0; i < c.depth; ++i) {
    p.mixers.push_back(random_bimamba_block<T>(c.block, seed + 101 * (i + 1)));
    p.norm_weight.push_back(uniform(D, 0.2));
    for (auto& w : p.norm_weight.back()) w += T(1);
  }
  p.norm_f_weight.assign(D, T(1));
  uniform.linear(std::size_t(c.num_classes), D, p.head_weight, p.head_bias);
  return p;
}

template <class T>
VimModel<T>::VimModel(const VimModelConfig& c, VimModelParams<T> p) : cfg_(c), p_(std::move(p)) {
  constexpr const char* w = "VimModel";
  c.validate(w);
  layers_detail::CheckTensors<T> check(w);
  const std::vector<BiMambaBlockParams<T>> none;  // each block checks its own (BiMambaBlock)
  layers_detail::vim_model_tensors(check, c, p_, none);
  layers_detail::check_count(w, "layers", p_.mixers, std::size_t(c.depth), "depth");
  for (auto& m : p_.mixers) blocks_.emplace_back(c.block, std::move(m));
  p_.mixers.clear();
}

template <class T>
VimModel<T> VimModel<T>::from_file(const io::SafeTensors& f) {
  auto [c, p] = layers_detail::read_model_file<T, VimModelConfig, VimModelParams<T>>(
      f, "vim", "VimModel", [](auto& m, const auto& c, auto& p) {
        p.mixers.resize(std::size_t(c.depth));
        layers_detail::vim_model_tensors(m, c, p, p.mixers);
      });
  return VimModel(c, std::move(p));
}

template <class T>
VimModel<T> VimModel<T>::load(const std::string& path) {
  return from_file(io::SafeTensors::load(path));
}

template <class T>
void VimModel<T>::save(const std::string& path) const {
  layers_detail::write_model_file<T>(path, "vim", cfg_.to_json(), [&](auto& m) {
    layers_detail::vim_model_tensors(m, cfg_, p_, layers_detail::params_of(blocks_));
  });
}

template <class T>
void VimModel<T>::to_device() {
  for (auto& b : blocks_) b.to_device();
}

// ---- forward --------------------------------------------------------------------------------

template <class T>
void VimModel<T>::features(const T* x, int batch, T* h, Device device) const {
  constexpr const char* w = "VimModel::forward";
  require(!blocks_.empty(), w, "this", "must be a constructed model");
  require(batch >= 1, w, "batch", "must be >= 1, got ", batch);
  require(x != nullptr && h != nullptr, w, "images", "and the output must not be null");
  require(device == Device::cpu || on_device(), w, "device", "cuda needs the weights on the GPU: call to_device() first");
  const std::ptrdiff_t D = cfg_.block.d_model, C = cfg_.in_chans, k = cfg_.patch_size, s = cfg_.stride;
  const std::ptrdiff_t H = cfg_.img_h, W = cfg_.img_w, GH = cfg_.grid_h(), GW = cfg_.grid_w(), P = GH * GW;
  const std::ptrdiff_t L = cfg_.tokens(), pos = cfg_.cls_position(), Kc = C * k * k;
  // im2col in the weight's (c, i, j) order, then one GEMM: the strided patch convolution.
  std::vector<T> cols(std::size_t(batch * P * Kc)), emb(std::size_t(batch * P * D));
  for (std::ptrdiff_t b = 0; b < batch; ++b)
    for (std::ptrdiff_t gh = 0; gh < GH; ++gh)
      for (std::ptrdiff_t gw = 0; gw < GW; ++gw) {
        T* col = cols.data() + ((b * P) + gh * GW + gw) * Kc;
        for (std::ptrdiff_t c = 0; c < C; ++c)
          for (std::ptrdiff_t i = 0; i < k; ++i)
            for (std::ptrdiff_t j = 0; j < k; ++j)
              col[(c * k + i) * k + j] = x[((b * H + gh * s + i) * W + gw * s + j) * C + c];
      }
  linear_gemm(cols.data(), batch * P, Kc, p_.patch_weight.data(), p_.patch_bias.data(), D, emb.data());
  // tokens with the middle class token, plus the position embedding
  std::vector<T> r(std::size_t(batch * L * D)), hn(r.size()), mix(r.size());
  for (std::ptrdiff_t b = 0; b < batch; ++b)
    for (std::ptrdiff_t t = 0; t < L; ++t) {
      const T* src = !cfg_.cls_token ? emb.data() + (b * P + t) * D
                     : t < pos      ? emb.data() + (b * P + t) * D
                     : t == pos     ? p_.cls_token.data()
                                    : emb.data() + (b * P + t - 1) * D;
      T* dst = r.data() + (b * L + t) * D;
      const T* pe = p_.pos_embed.data() + t * D;
      for (std::ptrdiff_t d = 0; d < D; ++d) dst[d] = src[d] + pe[d];
    }
  // pre-norm residual stack of bidirectional blocks
  for (std::size_t i = 0; i < blocks_.size(); ++i) {
    rms_norm(r.data(), batch * L, D, p_.norm_weight[i].data(), cfg_.norm_eps, hn.data());
    blocks_[i].forward(hn.data(), batch, int(L), mix.data(), device);
    for (std::size_t j = 0; j < r.size(); ++j) r[j] += mix[j];
  }
  rms_norm(r.data(), batch * L, D, p_.norm_f_weight.data(), cfg_.norm_eps, h);
}

template <class T>
void VimModel<T>::forward(const T* x, int batch, T* logits, Device device) const {
  require(logits != nullptr, "VimModel::forward", "logits", "must not be null");
  const std::ptrdiff_t D = cfg_.block.d_model, L = cfg_.tokens();
  std::vector<T> h(std::size_t(std::max(batch, 1)) * L * D), feat(std::size_t(std::max(batch, 1)) * D, T(0));
  features(x, batch, h.data(), device);
  for (std::ptrdiff_t b = 0; b < batch; ++b) {
    T* f = feat.data() + b * D;
    if (cfg_.cls_token) {
      std::copy_n(h.data() + (b * L + cfg_.cls_position()) * D, D, f);
    } else {
      for (std::ptrdiff_t t = 0; t < L; ++t)
        for (std::ptrdiff_t d = 0; d < D; ++d) f[d] += h[std::size_t((b * L + t) * D + d)];
      for (std::ptrdiff_t d = 0; d < D; ++d) f[d] /= T(L);
    }
  }
  linear_gemm(feat.data(), batch, D, p_.head_weight.data(), p_.head_bias.data(), cfg_.num_classes, logits);
}

template class VimModel<float>;
template class VimModel<double>;
template VimModelParams<float> random_vim_model<float>(const VimModelConfig&, std::uint64_t);
template VimModelParams<double> random_vim_model<double>(const VimModelConfig&, std::uint64_t);

}  // namespace ssm
