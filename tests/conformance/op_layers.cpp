// Conformance handler for the layers stage: mamba_block (paths "scan" and "step").
//   scan: MambaBlock::forward over the whole sequence from zero states (with a state object,
//         so that the final conv_state and ssm_state are produced), on the CPU or with the
//         selective scan on CUDA.
//   step: the L tokens one at a time through MambaBlock::step from zero states.
#include <algorithm>

#include "conformance/conformance.hpp"
#include "ssm/core/error.hpp"
#include "ssm/layers/mamba_block.hpp"
#include "ssm/layers/model_file.hpp"

namespace ssm::conformance {
namespace {

template <class T>
Outputs run_mamba(const io::SafeTensors& st, const Run& r) {
  const MambaBlockConfig cfg = infer_mamba_block_config(st);
  if (cfg.d_conv != st.meta_int("d_conv") || cfg.d_state != st.meta_int("d_state"))
    throw Error("mamba_block case: meta d_conv/d_state disagree with the tensor shapes");
  TensorReader reader(st, "mamba_block case");
  MambaBlock<T> block(cfg, read_mamba_block<T>(reader, "", cfg));
  const auto xs = shape(st, "x");
  if (xs.size() != 3 || xs[2] != cfg.d_model) throw Error("mamba_block case: x must be (Bt, L, d_model)");
  const int batch = static_cast<int>(xs[0]), L = static_cast<int>(xs[1]);
  const auto x = cast<T>(st.to_double("x"));
  std::vector<T> y(x.size());
  auto state = block.make_state(batch);
  if (r.path == "scan") {
    block.forward(x.data(), batch, L, y.data(), &state, r.device);
  } else {
    const std::size_t dm = static_cast<std::size_t>(cfg.d_model);
    std::vector<T> xt(batch * dm), yt(batch * dm);
    for (int t = 0; t < L; ++t) {
      for (int b = 0; b < batch; ++b)
        std::copy_n(x.data() + (std::size_t(b) * L + t) * dm, dm, xt.data() + b * dm);
      block.step(xt.data(), yt.data(), state, r.device);
      for (int b = 0; b < batch; ++b)
        std::copy_n(yt.data() + b * dm, dm, y.data() + (std::size_t(b) * L + t) * dm);
    }
  }
  Outputs o;
  o["y"] = out_real(y);
  o["conv_state"] = out_real(state.conv());
  o["ssm_state"] = out_real(state.ssm());
  return o;
}

OpHandler mamba_handler() {
  OpHandler h;
  h.paths = {"scan", "step"};
  h.has_f64 = true;
  h.has_cuda = true;
  h.cuda_f64 = true;
  h.run = [](const io::SafeTensors& st, const Run& r) {
    return r.precision == Precision::f32 ? run_mamba<float>(st, r) : run_mamba<double>(st, r);
  };
  return h;
}

}  // namespace

SSM_CONFORMANCE_OP("mamba_block", mamba_handler());

}  // namespace ssm::conformance
