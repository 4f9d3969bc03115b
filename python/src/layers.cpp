// Layers built from a dict of weights by the PyTorch module's parameter names (the names of
// FORMAT.md and of include/ssm/layers/*.hpp): MambaBlock, BiMambaBlock, SS2DBlock, MoEFFN,
// MoEMambaLayer, BSTLayer. The dict is read through the same TensorReader as a model file
// (shapes and dtypes checked, missing tensors named), so a layer here is the layer of a file.
// Inputs and outputs are host arrays (NumPy or CPU tensors, C-contiguous); device='cuda' runs
// the layer's GPU path with its weights resident there.
#include <algorithm>
#include <memory>
#include <variant>

#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>

#include "arrays.hpp"
#include "ssm/core/error.hpp"
#include "ssm/io/safetensors.hpp"
#include "ssm/layers/bimamba_block.hpp"
#include "ssm/layers/bst_layer.hpp"
#include "ssm/layers/mamba_block.hpp"
#include "ssm/layers/model_file.hpp"
#include "ssm/layers/moe_ffn.hpp"
#include "ssm/layers/moe_mamba.hpp"
#include "ssm/layers/ss2d_block.hpp"

namespace ssmpy {
namespace {

using I = std::int64_t;
using Sz = std::vector<std::size_t>;


// The dict as an in-memory safetensors image: every value a float32/float64 host array, kept
// in its dtype (TensorReader converts to the layer's precision as a model file's loader does).
ssm::io::SafeTensors weights_file(const char* where, nb::dict weights) {
  std::vector<ssm::io::TensorOut> ts;
  for (auto [k, v] : weights) {
    if (!nb::isinstance<nb::str>(k)) throw nb::type_error((std::string(where) + ": argument 'weights' must map str names to arrays").c_str());
    const std::string name = nb::cast<std::string>(k);
    const std::string arg = "weights['" + name + "']";
    Call c(where, v, arg.c_str());
    if (c.cuda()) c.value_error(arg.c_str(), "must be a host array (weights are copied into the layer)");
    const Arr& a = c.ref();
    c.contiguous(a, arg.c_str());
    ssm::io::TensorOut t;
    t.name = name;
    for (std::size_t i = 0; i < a.ndim(); ++i) t.shape.push_back(I(a.shape(i)));
    const std::size_t n = a.size();
    t.values.resize(n);
    if (a.dtype() == nb::dtype<float>()) {
      t.dtype = ssm::io::DType::F32;
      std::copy_n(static_cast<const float*>(a.data()), n, t.values.begin());
    } else if (a.dtype() == nb::dtype<double>()) {
      t.dtype = ssm::io::DType::F64;
      std::copy_n(static_cast<const double*>(a.data()), n, t.values.begin());
    } else {
      c.type_error(arg.c_str(), "must be float32 or float64, got " + Call::describe_dtype(a));
    }
    ts.push_back(std::move(t));
  }
  return ssm::io::SafeTensors::parse(ssm::io::serialize_safetensors(ts, {}), std::string(where) + " weights");
}

bool parse_f64(const char* where, const std::string& dtype) {
  if (dtype == "float32") return false;
  if (dtype == "float64") return true;
  throw nb::value_error((std::string(where) + ": argument 'dtype' must be 'float32' or 'float64', got '" + dtype + "'").c_str());
}

ssm::Device parse_dev(const std::string& d) { return ssm::parse_device(d); }

// x: a C-contiguous host array of T with `rank` dimensions whose last is `last`.
template <class T>
Arr input(const Call& c, std::size_t rank, I last) {
  const Arr& x = c.ref();
  if (c.cuda()) c.value_error("x", "must be a host array (layers take host data; device='cuda' runs them on the GPU)");
  c.real<T>(x, "x");
  c.ndim(x, "x", rank);
  if (I(x.shape(rank - 1)) != last)
    c.value_error("x", "must have a last dimension of " + std::to_string(last) + ", got shape " + Call::describe_shape(x));
  c.contiguous(x, "x");
  return x;
}

Sz shape_of(const Arr& a) {
  Sz s;
  for (std::size_t i = 0; i < a.ndim(); ++i) s.push_back(a.shape(i));
  return s;
}

template <class T>
const char* dtype_of() { return sizeof(T) == 4 ? "float32" : "float64"; }

// ---- MambaBlock ----------------------------------------------------------------------------

struct PyMambaBlock {
  std::variant<std::unique_ptr<ssm::MambaBlock<float>>, std::unique_ptr<ssm::MambaBlock<double>>> block;
  ssm::MambaBlockConfig cfg;

  PyMambaBlock(nb::dict weights, const std::string& dtype) {
    const bool f64 = parse_f64("MambaBlock", dtype);
    const auto st = weights_file("MambaBlock", weights);
    cfg = ssm::infer_mamba_block_config(st);
    ssm::TensorReader reader(st, "MambaBlock weights");
    if (f64)
      block = std::make_unique<ssm::MambaBlock<double>>(cfg, ssm::read_mamba_block<double>(reader, "", cfg));
    else
      block = std::make_unique<ssm::MambaBlock<float>>(cfg, ssm::read_mamba_block<float>(reader, "", cfg));
  }

  nb::object forward(nb::handle x_o, bool return_state, const std::string& device) {
    return std::visit([&](auto& b) { return run(*b, x_o, return_state, parse_dev(device)); }, block);
  }

  template <class T>
  nb::object run(const ssm::MambaBlock<T>& b, nb::handle x_o, bool return_state, ssm::Device dev) {
    Call c("MambaBlock.forward", x_o, "x");
    const Arr x = input<T>(c, 3, cfg.d_model);
    const int batch = int(x.shape(0)), L = int(x.shape(1));
    auto [y_obj, y] = c.empty<T>(shape_of(x));
    auto state = b.make_state(batch);
    {
      nb::gil_scoped_release unlock;
      b.forward(static_cast<const T*>(x.data()), batch, L, y, return_state ? &state : nullptr, dev);
    }
    if (!return_state) return y_obj;
    return nb::make_tuple(y_obj, numpy_copy(state.conv().data(), {Sz::value_type(batch), Sz::value_type(cfg.d_inner), Sz::value_type(cfg.d_conv)}),
                          numpy_copy(state.ssm().data(), {Sz::value_type(batch), Sz::value_type(cfg.d_inner), Sz::value_type(cfg.d_state)}));
  }
};

// ---- BiMambaBlock --------------------------------------------------------------------------

struct PyBiMambaBlock {
  std::variant<std::unique_ptr<ssm::BiMambaBlock<float>>, std::unique_ptr<ssm::BiMambaBlock<double>>> block;
  ssm::BiMambaBlockConfig cfg;
  bool on_device = false;

  PyBiMambaBlock(nb::dict weights, bool if_divide_out, const std::string& dtype) {
    const bool f64 = parse_f64("BiMambaBlock", dtype);
    const auto st = weights_file("BiMambaBlock", weights);
    cfg = ssm::infer_bimamba_block_config(st);
    cfg.if_divide_out = if_divide_out;
    ssm::TensorReader reader(st, "BiMambaBlock weights");
    if (f64)
      block = std::make_unique<ssm::BiMambaBlock<double>>(cfg, ssm::read_bimamba_block<double>(reader, "", cfg));
    else
      block = std::make_unique<ssm::BiMambaBlock<float>>(cfg, ssm::read_bimamba_block<float>(reader, "", cfg));
  }

  nb::object forward(nb::handle x_o, const std::string& device, bool fused) {
    const ssm::Device dev = parse_dev(device);
    return std::visit(
        [&](auto& b) -> nb::object {
          using T = elem_t<decltype(b)>;
          Call c("BiMambaBlock.forward", x_o, "x");
          const Arr x = input<T>(c, 3, cfg.d_model);
          auto [y_obj, y] = c.empty<T>(shape_of(x));
          if (dev == ssm::Device::cuda && fused && !on_device) {
            b->to_device();
            on_device = true;
          }
          {
            nb::gil_scoped_release unlock;
            b->forward(static_cast<const T*>(x.data()), int(x.shape(0)), int(x.shape(1)), y, dev,
                       fused ? ssm::BiMambaPath::fused : ssm::BiMambaPath::unfused);
          }
          return y_obj;
        },
        block);
  }
};

// ---- SS2DBlock -----------------------------------------------------------------------------

struct PySS2DBlock {
  std::variant<std::unique_ptr<ssm::SS2DBlock<float>>, std::unique_ptr<ssm::SS2DBlock<double>>> block;
  ssm::SS2DBlockConfig cfg;

  PySS2DBlock(nb::dict weights, const std::string& dtype) {
    const bool f64 = parse_f64("SS2DBlock", dtype);
    const auto st = weights_file("SS2DBlock", weights);
    cfg = ssm::infer_ss2d_block_config(st);
    ssm::TensorReader reader(st, "SS2DBlock weights");
    if (f64)
      block = std::make_unique<ssm::SS2DBlock<double>>(cfg, ssm::read_ss2d_block<double>(reader, "", cfg));
    else
      block = std::make_unique<ssm::SS2DBlock<float>>(cfg, ssm::read_ss2d_block<float>(reader, "", cfg));
  }

  nb::object forward(nb::handle x_o, const std::string& device, bool fused) {
    const ssm::Device dev = parse_dev(device);
    return std::visit(
        [&](auto& b) -> nb::object {
          using T = elem_t<decltype(b)>;
          Call c("SS2DBlock.forward", x_o, "x");
          const Arr x = input<T>(c, 4, cfg.d_model);
          auto [y_obj, y] = c.empty<T>(shape_of(x));
          nb::gil_scoped_release unlock;
          b->forward(static_cast<const T*>(x.data()), int(x.shape(0)), int(x.shape(1)), int(x.shape(2)), y, dev,
                     fused ? ssm::SS2DPath::fused : ssm::SS2DPath::unfused);
          return y_obj;
        },
        block);
  }
};

// ---- MoEFFN --------------------------------------------------------------------------------

struct PyMoEFFN {
  std::variant<std::unique_ptr<ssm::MoEFFN<float>>, std::unique_ptr<ssm::MoEFFN<double>>> layer;
  ssm::MoEFFNConfig cfg;

  PyMoEFFN(nb::dict weights, int top_k, const std::string& activation, const std::string& dtype) {
    const bool f64 = parse_f64("MoEFFN", dtype);
    const auto st = weights_file("MoEFFN", weights);
    cfg = ssm::infer_moe_ffn_config(st, "", top_k, ssm::parse_activation(activation, "MoEFFN", "activation"));
    ssm::TensorReader reader(st, "MoEFFN weights");
    if (f64)
      layer = std::make_unique<ssm::MoEFFN<double>>(cfg, ssm::read_moe_ffn<double>(reader, "", cfg));
    else
      layer = std::make_unique<ssm::MoEFFN<float>>(cfg, ssm::read_moe_ffn<float>(reader, "", cfg));
  }

  nb::object forward(nb::handle x_o, const std::string& device) {
    const ssm::Device dev = parse_dev(device);
    return std::visit(
        [&](auto& l) -> nb::object {
          using T = elem_t<decltype(l)>;
          Call c("MoEFFN.forward", x_o, "x");
          const Arr& x = c.ref();
          if (x.ndim() < 1) c.value_error("x", "must be (..., d_model)");
          input<T>(c, x.ndim(), cfg.d_model);
          const Sz shape = shape_of(x);
          const I rows = I(x.size()) / cfg.d_model;
          auto [y_obj, y] = c.empty<T>(shape);
          Sz ishape(shape.begin(), shape.end() - 1);
          ishape.push_back(std::size_t(cfg.top_k));
          std::vector<std::int64_t> idx(std::size_t(rows) * cfg.top_k);
          {
            nb::gil_scoped_release unlock;
            l->forward(static_cast<const T*>(x.data()), rows, y, idx.data(), dev);
          }
          return nb::make_tuple(y_obj, numpy_copy(idx.data(), ishape));
        },
        layer);
  }
};

// ---- MoEMambaLayer -------------------------------------------------------------------------

struct PyMoEMambaLayer {
  std::variant<std::unique_ptr<ssm::MoEMambaLayer<float>>, std::unique_ptr<ssm::MoEMambaLayer<double>>> layer;
  ssm::MoEMambaLayerConfig cfg;

  PyMoEMambaLayer(nb::dict weights, int top_k, const std::string& activation, double norm_eps, const std::string& dtype) {
    const bool f64 = parse_f64("MoEMambaLayer", dtype);
    const auto st = weights_file("MoEMambaLayer", weights);
    cfg = ssm::infer_moe_mamba_layer_config(st, "", top_k, ssm::parse_activation(activation, "MoEMambaLayer", "activation"), norm_eps);
    ssm::TensorReader reader(st, "MoEMambaLayer weights");
    if (f64)
      layer = std::make_unique<ssm::MoEMambaLayer<double>>(cfg, ssm::read_moe_mamba_layer<double>(reader, "", cfg));
    else
      layer = std::make_unique<ssm::MoEMambaLayer<float>>(cfg, ssm::read_moe_mamba_layer<float>(reader, "", cfg));
  }

  nb::object forward(nb::handle x_o, bool return_state, const std::string& device) {
    const ssm::Device dev = parse_dev(device);
    return std::visit(
        [&](auto& l) -> nb::object {
          using T = elem_t<decltype(l)>;
          Call c("MoEMambaLayer.forward", x_o, "x");
          const auto& m = cfg.mixer;
          const Arr x = input<T>(c, 3, m.d_model);
          const int batch = int(x.shape(0)), L = int(x.shape(1));
          auto [y_obj, y] = c.empty<T>(shape_of(x));
          auto state = l->make_state(batch);
          {
            nb::gil_scoped_release unlock;
            l->forward(static_cast<const T*>(x.data()), batch, L, y, return_state ? &state : nullptr, dev);
          }
          if (!return_state) return y_obj;
          return nb::make_tuple(y_obj, numpy_copy(state.conv().data(), {Sz::value_type(batch), Sz::value_type(m.d_inner), Sz::value_type(m.d_conv)}),
                                numpy_copy(state.ssm().data(), {Sz::value_type(batch), Sz::value_type(m.d_inner), Sz::value_type(m.d_state)}));
        },
        layer);
  }
};

// ---- BSTLayer ------------------------------------------------------------------------------

struct PyBSTLayer {
  std::variant<std::unique_ptr<ssm::BSTLayer<float>>, std::unique_ptr<ssm::BSTLayer<double>>> layer;
  ssm::BSTLayerConfig cfg;

  PyBSTLayer(nb::dict weights, int block_size, int context, int n_heads, double norm_eps, const std::string& dtype) {
    const bool f64 = parse_f64("BSTLayer", dtype);
    const auto st = weights_file("BSTLayer", weights);
    cfg = ssm::infer_bst_layer_config(st);
    cfg.block_size = block_size, cfg.context = context, cfg.n_heads = n_heads, cfg.norm_eps = norm_eps;
    ssm::TensorReader reader(st, "BSTLayer weights");
    if (f64)
      layer = std::make_unique<ssm::BSTLayer<double>>(cfg, ssm::read_bst_layer<double>(reader, "", cfg));
    else
      layer = std::make_unique<ssm::BSTLayer<float>>(cfg, ssm::read_bst_layer<float>(reader, "", cfg));
  }

  nb::object forward(nb::handle x_o, const std::string& device) {
    const ssm::Device dev = parse_dev(device);
    return std::visit(
        [&](auto& l) -> nb::object {
          using T = elem_t<decltype(l)>;
          Call c("BSTLayer.forward", x_o, "x");
          const Arr x = input<T>(c, 3, cfg.d_model);
          auto [y_obj, y] = c.empty<T>(shape_of(x));
          auto [c_obj, ctx] = c.empty<T>(shape_of(x));
          {
            nb::gil_scoped_release unlock;
            l->forward(static_cast<const T*>(x.data()), int(x.shape(0)), int(x.shape(1)), y, ctx, dev);
          }
          return nb::make_tuple(y_obj, c_obj);
        },
        layer);
  }
};

}  // namespace

void bind_layers(nb::module_& m) {
  using namespace nb::literals;
  nb::class_<PyMambaBlock>(m, "MambaBlock",
                           R"doc(One Mamba block (mamba_ssm's Mamba) from its weights by mamba_ssm's names: in_proj.weight
(2 d_inner, d_model), in_proj.bias?, conv1d.weight (d_inner, 1, d_conv), conv1d.bias, x_proj.weight
(dt_rank + 2 d_state, d_inner), dt_proj.weight/bias, A_log (d_inner, d_state), D, out_proj.weight/bias?.
Sizes are inferred from the shapes. dtype: the compute precision ('float32' or 'float64').)doc")
      .def(nb::init<nb::dict, const std::string&>(), "weights"_a, "dtype"_a = "float32")
      .def("forward", &PyMambaBlock::forward, "x"_a, "return_state"_a = false, "device"_a = "cpu",
           R"doc(x (batch, length, d_model) -> y (same shape), from zero states:
in_proj, causal depthwise conv + SiLU, x_proj, dt_proj, selective scan (A = -exp(A_log), D,
delta_bias = dt_proj.bias, softplus), gate SiLU(z), out_proj. With return_state: (y, conv_state
(batch, d_inner, d_conv), ssm_state (batch, d_inner, d_state)), the states a step decoder holds.)doc");

  nb::class_<PyBiMambaBlock>(m, "BiMambaBlock",
                             R"doc(Vision Mamba's bidirectional block (Vim, bimamba v2) from its weights: the MambaBlock names
plus the backward branch conv1d_b.*, x_proj_b.weight, dt_proj_b.*, A_b_log, D_b. Not causal.)doc")
      .def(nb::init<nb::dict, bool, const std::string&>(), "weights"_a, "if_divide_out"_a = false, "dtype"_a = "float32")
      .def("forward", &PyBiMambaBlock::forward, "x"_a, "device"_a = "cpu", "fused"_a = true,
           R"doc(x (batch, length, d_model) -> y: f = inner(xz) forward, b = inner(flip(xz)) backward,
y = out_proj(f + flip(b)) (halved when if_divide_out).)doc");

  nb::class_<PySS2DBlock>(m, "SS2DBlock",
                          R"doc(VMamba's 2D selective-scan block (SS2D, forward_corev0) from its weights: in_proj.*, conv2d.*,
x_proj_weight (4, R + 2N, d_inner), dt_projs_weight, dt_projs_bias, A_logs, Ds, out_norm.*, out_proj.*.)doc")
      .def(nb::init<nb::dict, const std::string&>(), "weights"_a, "dtype"_a = "float32")
      .def("forward", &PySS2DBlock::forward, "x"_a, "device"_a = "cpu", "fused"_a = true,
           "x (batch, H, W, d_model), channels last -> y (batch, H, W, d_model).");

  nb::class_<PyMoEFFN>(m, "MoEFFN",
                       R"doc(Mixture-of-experts feed-forward (MoE-Mamba) from router.weight (E, d_model), router.bias?,
experts.{e}.fc1.weight/bias?, experts.{e}.fc2.weight/bias?. Per token: logits r = router(x); the
top_k largest choose the experts; gates softmax(r)[e] (top_k = 1) or the softmax over the chosen
k; y = sum_e gate_e fc2(act(fc1(x))). activation: gelu | relu | silu.)doc")
      .def(nb::init<nb::dict, int, const std::string&, const std::string&>(), "weights"_a, "top_k"_a = 1,
           "activation"_a = "gelu", "dtype"_a = "float32")
      .def("forward", &PyMoEFFN::forward, "x"_a, "device"_a = "cpu",
           "x (..., d_model) -> (y (..., d_model), expert_index (..., top_k) int64, in decreasing logit order).");

  nb::class_<PyMoEMambaLayer>(m, "MoEMambaLayer",
                              R"doc(One MoE-Mamba layer: h = x + MambaBlock(RMSNorm(x)) (tensors under mixer.*, norm.weight), then
y = h + MoE(RMSNorm(h)) (tensors under moe.*, moe_norm.weight).)doc")
      .def(nb::init<nb::dict, int, const std::string&, double, const std::string&>(), "weights"_a, "top_k"_a = 1,
           "activation"_a = "gelu", "norm_eps"_a = 1e-5, "dtype"_a = "float32")
      .def("forward", &PyMoEMambaLayer::forward, "x"_a, "return_state"_a = false, "device"_a = "cpu",
           "x (batch, length, d_model) -> y, or (y, conv_state, ssm_state) with return_state.");

  nb::class_<PyBSTLayer>(m, "BSTLayer",
                         R"doc(One Block-State Transformer layer (BST-SH, FORMAT.md bst_layer): LayerNorm, S4D context
c = S4D(xn), block attention over [the S context rows before the block; the block], FFN.
Weights norm1.*, norm2.*, ssm.kernel.{log_dt, log_A_real, A_imag, C}, ssm.D, attn.{q,k,v,out}_proj.*,
ffn.fc1.*, ffn.fc2.*.)doc")
      .def(nb::init<nb::dict, int, int, int, double, const std::string&>(), "weights"_a, "block_size"_a,
           "context"_a, "n_heads"_a = 1, "norm_eps"_a = 1e-5, "dtype"_a = "float32")
      .def("forward", &PyBSTLayer::forward, "x"_a, "device"_a = "cpu",
           "x (batch, length, d_model) -> (y (batch, length, d_model), context (batch, length, d_model)).");
}

}  // namespace ssmpy
