// Conformance handler for ss2d_block (VMamba SS2D, forward_corev0), paths:
//   fused    SS2DBlock::forward with the fused cross-scan op (one copy of u, index maps, merged
//            output written in place) on the CPU; on CUDA in float32 the whole block on the GPU
//            (SS2DBlockCuda: resident weights, cuBLAS, fused kernel), in float64 SS2DBlock with
//            the cross-scan on the GPU;
//   unfused  the textbook recipe (direction-ordered copies, plain selective scan with G = 4,
//            cross-merge), the independent second path (on CUDA: the recipe on the GPU).
// Every size comes from the tensors' shapes; meta d_conv / d_state must agree with them.
#include <type_traits>

#include "conformance/conformance.hpp"
#include "ssm/core/error.hpp"
#include "ssm/layers/model_file.hpp"
#include "ssm/layers/ss2d_block.hpp"
#include "ssm/layers/ss2d_block_cuda.hpp"

namespace ssm::conformance {
namespace {

template <class T>
Outputs run_ss2d(const io::SafeTensors& st, const Run& r) {
  const SS2DBlockConfig cfg = infer_ss2d_block_config(st);
  if (cfg.d_conv != st.meta_int("d_conv") || cfg.d_state != st.meta_int("d_state"))
    throw Error("ss2d_block case: meta d_conv/d_state disagree with the tensor shapes");
  TensorReader reader(st, "ss2d_block case");
  const SS2DBlock<T> block(cfg, read_ss2d_block<T>(reader, "", cfg));
  const auto xs = shape(st, "x");
  if (xs.size() != 4 || xs[3] != cfg.d_model) throw Error("ss2d_block case: x must be (Bt, H, W, d_model)");
  const auto x = cast<T>(st.to_double("x"));
  std::vector<T> y(x.size());
  if constexpr (std::is_same_v<T, float>) {
    if (r.device == Device::cuda && r.path == "fused") {
      SS2DBlockCuda gpu(block);
      gpu.forward(x.data(), static_cast<int>(xs[0]), static_cast<int>(xs[1]), static_cast<int>(xs[2]), y.data());
      Outputs o;
      o["y"] = out_real(y);
      return o;
    }
  }
  block.forward(x.data(), static_cast<int>(xs[0]), static_cast<int>(xs[1]), static_cast<int>(xs[2]), y.data(),
                r.device, r.path == "unfused" ? SS2DPath::unfused : SS2DPath::fused);
  Outputs o;
  o["y"] = out_real(y);
  return o;
}

OpHandler ss2d_handler() {
  OpHandler h;
  h.paths = {"fused", "unfused"};
  h.has_f64 = true;
  h.has_cuda = true;
  h.cuda_f64 = true;  // float64 on the GPU runs the recipe on the GPU's float64 selective scan
  h.run = [](const io::SafeTensors& st, const Run& r) {
    return r.precision == Precision::f32 ? run_ss2d<float>(st, r) : run_ss2d<double>(st, r);
  };
  return h;
}

}  // namespace

SSM_CONFORMANCE_OP("ss2d_block", ss2d_handler());

}  // namespace ssm::conformance
