// Conformance handler for bimamba_block (Vision Mamba's bidirectional block), paths:
//   fused:   BiMambaBlock::forward with the bidirectional selective scan (default path);
//   unfused: the reference recipe (explicit flips, two plain selective scans, merge).
// CPU f32/f64; on CUDA f32/f64 the fused path runs the whole block on the GPU with resident
// weights (to_device), the unfused one its two plain selective scans.
#include "conformance/conformance.hpp"
#include "ssm/core/error.hpp"
#include "ssm/layers/bimamba_block.hpp"
#include "ssm/layers/model_file.hpp"

namespace ssm::conformance {
namespace {

template <class T>
Outputs run_bimamba(const io::SafeTensors& st, const Run& r) {
  BiMambaBlockConfig cfg = infer_bimamba_block_config(st);
  if (cfg.d_conv != st.meta_int("d_conv") || cfg.d_state != st.meta_int("d_state"))
    throw Error("bimamba_block case: meta d_conv/d_state disagree with the tensor shapes");
  cfg.if_divide_out = st.meta_bool("if_divide_out");
  TensorReader reader(st, "bimamba_block case");
  BiMambaBlock<T> block(cfg, read_bimamba_block<T>(reader, "", cfg));
  if (r.device == Device::cuda && r.path == "fused") block.to_device();  // resident weights
  const auto xs = shape(st, "x");
  if (xs.size() != 3 || xs[2] != cfg.d_model) throw Error("bimamba_block case: x must be (Bt, L, d_model)");
  const int batch = static_cast<int>(xs[0]), L = static_cast<int>(xs[1]);
  const auto x = cast<T>(st.to_double("x"));
  std::vector<T> y(x.size());
  block.forward(x.data(), batch, L, y.data(), r.device,
                r.path == "unfused" ? BiMambaPath::unfused : BiMambaPath::fused);
  Outputs o;
  o["y"] = out_real(y);
  return o;
}

OpHandler bimamba_handler() {
  OpHandler h;
  h.paths = {"fused", "unfused"};
  h.has_f64 = true;
  h.has_cuda = true;
  h.cuda_f64 = true;
  h.run = [](const io::SafeTensors& st, const Run& r) {
    return r.precision == Precision::f32 ? run_bimamba<float>(st, r) : run_bimamba<double>(st, r);
  };
  return h;
}

}  // namespace

SSM_CONFORMANCE_OP("bimamba_block", bimamba_handler());

}  // namespace ssm::conformance
