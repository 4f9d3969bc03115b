// Conformance handler for bst_layer (paths "offline" and "stream").
//   offline: BSTLayer::forward over the whole sequences (S4D context by diag_kernel + fftconv,
//            block attention as GEMMs); on CUDA through the GPU layer.
//   stream:  each sequence through BSTLayer::step from a zero state, cut into calls of uneven
//            sizes (1, 2, 3, ... rows, crossing block boundaries), so the piece logic is covered.
// Sizes come from the tensor shapes; block_size, context, n_heads and norm_eps from metadata.
#include <algorithm>

#include "conformance/conformance.hpp"
#include "ssm/core/error.hpp"
#include "ssm/layers/bst_layer.hpp"
#include "ssm/layers/model_file.hpp"

namespace ssm::conformance {
namespace {

template <class T>
Outputs run_bst(const io::SafeTensors& st, const Run& r) {
  BSTLayerConfig cfg = infer_bst_layer_config(st);
  cfg.block_size = static_cast<int>(st.meta_int("block_size"));
  cfg.context = static_cast<int>(st.meta_int("context"));
  cfg.n_heads = static_cast<int>(st.meta_int("n_heads"));
  cfg.norm_eps = st.metadata().count("norm_eps") ? st.meta_double("norm_eps") : 1e-5;
  TensorReader reader(st, "bst_layer case");
  BSTLayer<T> layer(cfg, read_bst_layer<T>(reader, "", cfg));
  const auto xs = shape(st, "x");
  if (xs.size() != 3 || xs[2] != cfg.d_model) throw Error("bst_layer case: x must be (Bt, L, d_model)");
  const int batch = static_cast<int>(xs[0]), L = static_cast<int>(xs[1]);
  const auto x = cast<T>(st.to_double("x"));
  std::vector<T> y(x.size()), c(x.size());
  if (r.path == "offline") {
    layer.forward(x.data(), batch, L, y.data(), c.data(), r.device);
  } else {
    const std::size_t d = static_cast<std::size_t>(cfg.d_model);
    auto state = layer.make_state(std::max(1, cfg.block_size / 2 + 1));
    for (int b = 0; b < batch; ++b) {
      state.reset();
      const std::size_t off = std::size_t(b) * L * d;
      int t = 0, piece = 1;
      while (t < L) {
        const int n = std::min(piece, L - t);
        layer.step(x.data() + off + t * d, n, y.data() + off + t * d, state, c.data() + off + t * d);
        t += n;
        piece = piece % 5 + 1;
      }
    }
  }
  Outputs o;
  o["y"] = out_real(y);
  o["context"] = out_real(c);
  return o;
}

OpHandler bst_handler() {
  OpHandler h;
  h.paths = {"offline", "stream"};
  h.has_f64 = true;
  h.has_cuda = true;  // offline path through CudaBSTLayer, float32
  h.cuda_f64 = false;
  h.cuda_paths = {"offline"};
  h.run = [](const io::SafeTensors& st, const Run& r) {
    return r.precision == Precision::f32 ? run_bst<float>(st, r) : run_bst<double>(st, r);
  };
  return h;
}

}  // namespace

SSM_CONFORMANCE_OP("bst_layer", bst_handler());

}  // namespace ssm::conformance
