// CudaBSTLayer (GPU, float32) agrees with BSTLayer<double> on the CPU over the edge shapes
// (L < W, W = 1, S = 0, S > W, a ragged last block, no biases), on device and host pointers,
// and BSTLayer<float>::forward(Device::cuda) goes through it; BSTModel on the GPU (layers kept
// resident, activations on the device between layers) agrees with the CPU, directly and through
// load_model.
#define BOOST_TEST_MODULE layers_bst_cuda
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "ssm/core/device_buffer.hpp"
#include "ssm/core/error.hpp"
#include "ssm/layers/bst_layer.hpp"
#include "ssm/layers/bst_layer_cuda.hpp"
#include "ssm/layers/bst_model.hpp"
#include "ssm/layers/registry.hpp"
#include "support/testing.hpp"

using namespace ssm;

namespace {
template <class T>
std::vector<T> conv(const std::vector<double>& v) { return std::vector<T>(v.begin(), v.end()); }

BSTLayerParams<float> to_float(const BSTLayerParams<double>& p) {
  BSTLayerParams<float> f;
  f.norm1_weight = conv<float>(p.norm1_weight), f.norm1_bias = conv<float>(p.norm1_bias);
  f.log_dt = conv<float>(p.log_dt), f.log_A_real = conv<float>(p.log_A_real), f.A_imag = conv<float>(p.A_imag);
  f.C = conv<float>(p.C), f.D = conv<float>(p.D);
  f.q_weight = conv<float>(p.q_weight), f.q_bias = conv<float>(p.q_bias);
  f.k_weight = conv<float>(p.k_weight), f.k_bias = conv<float>(p.k_bias);
  f.v_weight = conv<float>(p.v_weight), f.v_bias = conv<float>(p.v_bias);
  f.out_weight = conv<float>(p.out_weight), f.out_bias = conv<float>(p.out_bias);
  f.norm2_weight = conv<float>(p.norm2_weight), f.norm2_bias = conv<float>(p.norm2_bias);
  f.fc1_weight = conv<float>(p.fc1_weight), f.fc1_bias = conv<float>(p.fc1_bias);
  f.fc2_weight = conv<float>(p.fc2_weight), f.fc2_bias = conv<float>(p.fc2_bias);
  return f;
}
}  // namespace

using ssm::test::RequireGpu;
BOOST_TEST_GLOBAL_FIXTURE(RequireGpu);

BOOST_AUTO_TEST_CASE(cuda_equals_cpu_over_edge_shapes) {
  struct Shape { int W, S, heads, L, d, dff; bool bias; };
  const Shape shapes[] = {{8, 4, 2, 29, 32, 64, true},  {16, 4, 4, 5, 32, 48, true},  {1, 3, 2, 17, 16, 32, true},
                          {6, 0, 4, 20, 32, 64, false}, {4, 11, 1, 26, 16, 40, true}, {64, 64, 4, 1000, 64, 256, true},
                          {32, 96, 8, 333, 64, 128, false}};
  for (const Shape& s : shapes) {
    BOOST_TEST_CONTEXT("W=" << s.W << " S=" << s.S << " heads=" << s.heads << " L=" << s.L) {
      BSTLayerConfig c;
      c.d_model = s.d;
      c.modes = 8;
      c.d_ff = s.dff;
      c.block_size = s.W;
      c.context = s.S;
      c.n_heads = s.heads;
      auto pd = random_bst_layer<double>(c, 5 + s.L);
      if (!s.bias) pd.q_bias.clear(), pd.v_bias.clear(), pd.fc2_bias.clear();
      BSTLayer<double> ld(c, pd);
      BSTLayer<float> lf(c, to_float(pd));
      const int B = 3;
      const auto xd = test::randn(std::size_t(B) * s.L * s.d, 9);
      const auto xf = conv<float>(xd);
      std::vector<double> y(xd.size()), ctx(xd.size());
      ld.forward(xd.data(), B, s.L, y.data(), ctx.data());
      CudaBSTLayer g(lf);
      std::vector<float> yg(xd.size()), cg(xd.size());
      g.forward_host(xf.data(), B, s.L, yg.data(), cg.data());
      BOOST_TEST(test::max_rel_diff(yg, y) < 2e-5);
      BOOST_TEST(test::max_rel_diff(cg, ctx) < 2e-5);
      // device pointers, no context requested
      DeviceBuffer<float> dx(xf), dy(xf.size());
      g.forward(dx.data(), B, s.L, dy.data());
      std::vector<float> yd(xf.size());
      dy.download(yd.data(), yd.size());
      BOOST_TEST(test::max_rel_diff(yd, y) < 2e-5);
      // through BSTLayer::forward(Device::cuda)
      std::vector<float> yl(xf.size());
      lf.forward(xf.data(), B, s.L, yl.data(), nullptr, Device::cuda);
      BOOST_TEST(test::max_rel_diff(yl, y) < 2e-5);
    }
  }
}

BOOST_AUTO_TEST_CASE(cuda_errors) {
  BSTLayerConfig c;
  c.d_model = 8, c.modes = 2, c.d_ff = 8, c.block_size = 4, c.context = 2, c.n_heads = 2;
  BSTLayer<double> ld(c, random_bst_layer<double>(c, 1));
  std::vector<double> x(8 * 4), y(x.size());
  BOOST_CHECK_THROW(ld.forward(x.data(), 1, 4, y.data(), nullptr, Device::cuda), Error);  // float64 on the GPU
  BSTLayer<float> lf(c, random_bst_layer<float>(c, 1));
  CudaBSTLayer g(lf);
  std::vector<float> xf(x.size()), yf(x.size());
  BOOST_CHECK_THROW(g.forward_host(xf.data(), 1, 0, yf.data()), Error);
  BOOST_CHECK_THROW(g.forward_host(xf.data(), 0, 4, yf.data()), Error);
}

BOOST_AUTO_TEST_CASE(model_cuda_equals_cpu) {
  BSTModelConfig c;
  c.d_input = 2, c.d_output = 3, c.n_layers = 3;
  c.layer.d_model = 32, c.layer.modes = 8, c.layer.d_ff = 64, c.layer.block_size = 16, c.layer.context = 24,
  c.layer.n_heads = 4;
  BSTModel<float> m(c, random_bst_model<float>(c, 2));
  const int B = 2, L = 300;
  const auto u = test::randn_f(std::size_t(B) * L * c.d_input, 3);
  std::vector<float> ycpu(std::size_t(B) * L * c.d_output), ygpu(ycpu.size()), y2(ycpu.size());
  m.forward(u.data(), B, L, ycpu.data());
  m.forward(u.data(), B, L, ygpu.data(), Device::cuda);
  BOOST_TEST(test::max_rel_diff(ygpu, ycpu) < 5e-5);
  m.forward(u.data(), B, L, y2.data(), Device::cuda);  // the kept GPU layers again
  BOOST_TEST(test::max_rel_diff(y2, ygpu) < 1e-6);
  const std::string path = test::temp_dir() + "/bst_cuda_model.safetensors";
  m.save(path);
  auto lm = load_model<float>(path);
  std::vector<float> y3(ycpu.size());
  lm->forward(u.data(), {B, L, c.d_input}, y3.data(), Mode::conv, Device::cuda);
  BOOST_TEST(test::max_rel_diff(y3, ycpu) < 5e-5);
}
