// Conformance handlers for the MoE ops:
//   moe_ffn          paths "grouped" (MoEFFN::forward: counting sort by expert, one GEMM pair an
//                    expert; on the CPU or CUDA) and "token" (MoEFFN::forward_token, token by
//                    token, only the chosen experts). Outputs y and expert_index (the int64
//                    indices as doubles: compared exactly, they are small integers).
//   moe_mamba_layer  paths "scan" (MoEMambaLayer::forward from zero states with a state object
//                    so that conv_state/ssm_state come out; CPU or CUDA) and "step" (token by
//                    token through MoEMambaLayer::step).
#include <algorithm>

#include "conformance/conformance.hpp"
#include "ssm/core/error.hpp"
#include "ssm/layers/model_file.hpp"
#include "ssm/layers/moe_ffn.hpp"
#include "ssm/layers/moe_mamba.hpp"

namespace ssm::conformance {
namespace {

template <class T>
Outputs run_moe_ffn(const io::SafeTensors& st, const Run& r) {
  const int top_k = static_cast<int>(st.meta_int("top_k"));
  const Activation act = parse_activation(st.meta("activation"), "moe_ffn case", "activation");
  const MoEFFNConfig cfg = infer_moe_ffn_config(st, "", top_k, act);
  TensorReader reader(st, "moe_ffn case");
  MoEFFN<T> moe(cfg, read_moe_ffn<T>(reader, "", cfg));
  const auto xs = shape(st, "x");
  if (xs.empty() || xs.back() != cfg.d_model) throw Error("moe_ffn case: x must be (..., d_model)");
  const auto x = cast<T>(st.to_double("x"));
  const std::ptrdiff_t rows = std::ptrdiff_t(x.size()) / cfg.d_model;
  std::vector<T> y(x.size());
  std::vector<std::int64_t> idx(std::size_t(rows) * top_k, -1);
  if (r.path == "grouped") {
    moe.forward(x.data(), rows, y.data(), idx.data(), r.device);
  } else {
    auto s = moe.make_scratch();
    moe.forward_token(x.data(), y.data(), idx.data(), s, rows);
  }
  Outputs o;
  o["y"] = out_real(y);
  o["expert_index"] = out_real(idx);
  return o;
}

OpHandler moe_ffn_handler() {
  OpHandler h;
  h.paths = {"grouped", "token"};
  h.has_f64 = true;
  h.has_cuda = true;
  h.cuda_f64 = true;
  h.cuda_paths = {"grouped"};
  h.run = [](const io::SafeTensors& st, const Run& r) {
    return r.precision == Precision::f32 ? run_moe_ffn<float>(st, r) : run_moe_ffn<double>(st, r);
  };
  return h;
}

template <class T>
Outputs run_moe_mamba(const io::SafeTensors& st, const Run& r) {
  const int top_k = static_cast<int>(st.meta_int("top_k"));
  const Activation act = parse_activation(st.meta("activation"), "moe_mamba_layer case", "activation");
  const MoEMambaLayerConfig cfg = infer_moe_mamba_layer_config(st, "", top_k, act, st.meta_double("norm_eps"));
  if (cfg.mixer.d_conv != st.meta_int("d_conv") || cfg.mixer.d_state != st.meta_int("d_state"))
    throw Error("moe_mamba_layer case: meta d_conv/d_state disagree with the tensor shapes");
  TensorReader reader(st, "moe_mamba_layer case");
  MoEMambaLayer<T> layer(cfg, read_moe_mamba_layer<T>(reader, "", cfg));
  const auto xs = shape(st, "x");
  const int dm = cfg.mixer.d_model;
  if (xs.size() != 3 || xs[2] != dm) throw Error("moe_mamba_layer case: x must be (Bt, L, d_model)");
  const int batch = static_cast<int>(xs[0]), L = static_cast<int>(xs[1]);
  const auto x = cast<T>(st.to_double("x"));
  std::vector<T> y(x.size());
  auto state = layer.make_state(batch);
  if (r.path == "scan") {
    layer.forward(x.data(), batch, L, y.data(), &state, r.device);
  } else {
    std::vector<T> xt(std::size_t(batch) * dm), yt(xt.size());
    for (int t = 0; t < L; ++t) {
      for (int b = 0; b < batch; ++b)
        std::copy_n(x.data() + (std::size_t(b) * L + t) * dm, dm, xt.data() + std::size_t(b) * dm);
      layer.step(xt.data(), yt.data(), state);
      for (int b = 0; b < batch; ++b)
        std::copy_n(yt.data() + std::size_t(b) * dm, dm, y.data() + (std::size_t(b) * L + t) * dm);
    }
  }
  Outputs o;
  o["y"] = out_real(y);
  o["conv_state"] = out_real(state.conv());
  o["ssm_state"] = out_real(state.ssm());
  return o;
}

OpHandler moe_mamba_handler() {
  OpHandler h;
  h.paths = {"scan", "step"};
  h.has_f64 = true;
  h.has_cuda = true;
  h.cuda_f64 = true;
  h.cuda_paths = {"scan"};
  h.run = [](const io::SafeTensors& st, const Run& r) {
    return r.precision == Precision::f32 ? run_moe_mamba<float>(st, r) : run_moe_mamba<double>(st, r);
  };
  return h;
}

}  // namespace

SSM_CONFORMANCE_OP("moe_ffn", moe_ffn_handler());
SSM_CONFORMANCE_OP("moe_mamba_layer", moe_mamba_handler());

}  // namespace ssm::conformance
