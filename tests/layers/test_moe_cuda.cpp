// The CUDA MoE agrees with the CPU: MoEFFN grouped forward (same expert_index exactly, y to
// rounding) for Switch / top-2 / top_k = E / E = 1, with and without biases, float and double,
// over calls that grow and shrink the workspace; MoEMambaLayer scan and MoEMambaModel forward on
// Device::cuda against the CPU.
#define BOOST_TEST_MODULE layers_moe_cuda
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>

#include "ssm/core/device.hpp"
#include "ssm/layers/moe_ffn.hpp"
#include "ssm/layers/moe_mamba.hpp"
#include "ssm/layers/moe_mamba_model.hpp"
#include "support/models.hpp"
#include "support/testing.hpp"

using namespace ssm;

namespace {
template <class T>
void check_moe(int dm, int df, int E, int k, Activation a, bool bias, double tol) {
  const MoEFFNConfig c = test::moe_ffn_config(dm, df, E, k, a, bias);
  MoEFFN<T> m(c, random_moe_ffn<T>(c, std::uint64_t(E * 10 + k)));
  for (std::ptrdiff_t rows : {std::ptrdiff_t(3), std::ptrdiff_t(1000), std::ptrdiff_t(1), std::ptrdiff_t(4096)}) {
    const auto r = test::randn(std::size_t(rows) * dm, std::uint64_t(rows));
    const std::vector<T> x(r.begin(), r.end());
    std::vector<T> yc(x.size()), yg(x.size());
    std::vector<std::int64_t> ic(std::size_t(rows) * k), ig(ic.size(), -1);
    m.forward(x.data(), rows, yc.data(), ic.data(), Device::cpu);
    m.forward(x.data(), rows, yg.data(), ig.data(), Device::cuda);
    BOOST_TEST_INFO("E " << E << " k " << k << " rows " << rows << " bias " << bias);
    BOOST_TEST(test::max_rel_diff(yg, yc) < tol);
    BOOST_TEST_INFO("E " << E << " k " << k << " rows " << rows);
    BOOST_TEST((ig == ic));
  }
}
}  // namespace

using ssm::test::RequireGpu;
BOOST_TEST_GLOBAL_FIXTURE(RequireGpu);

BOOST_AUTO_TEST_CASE(moe_ffn_cuda_equals_cpu) {
  for (bool bias : {false, true}) {
    check_moe<float>(64, 128, 8, 2, Activation::gelu, bias, 1e-4);
    check_moe<float>(32, 96, 4, 1, Activation::silu, bias, 1e-4);
    check_moe<double>(32, 64, 5, 5, Activation::relu, bias, 1e-12);
    check_moe<double>(16, 40, 1, 1, Activation::gelu, bias, 1e-12);
    check_moe<double>(48, 80, 8, 3, Activation::silu, bias, 1e-12);
  }
}

BOOST_AUTO_TEST_CASE(moe_ffn_cuda_routes_ties_like_the_cpu) {
  MoEFFNConfig c;
  c.d_model = 8;
  c.d_ff = 16;
  c.n_experts = 6;
  c.top_k = 2;
  auto p = random_moe_ffn<double>(c, 2);
  std::fill(p.router_weight.begin(), p.router_weight.end(), 0.0);  // every logit ties
  MoEFFN<double> m(c, p);
  const auto x = test::randn(10 * 8, 1);
  std::vector<double> yc(x.size()), yg(x.size());
  std::vector<std::int64_t> ic(20), ig(20);
  m.forward(x.data(), 10, yc.data(), ic.data(), Device::cpu);
  m.forward(x.data(), 10, yg.data(), ig.data(), Device::cuda);
  BOOST_TEST((ig == ic));
  for (int r = 0; r < 10; ++r) {
    BOOST_TEST(ig[std::size_t(r) * 2] == 0);
    BOOST_TEST(ig[std::size_t(r) * 2 + 1] == 1);
  }
  BOOST_TEST(test::max_rel_diff(yg, yc) < 1e-12);
}

BOOST_AUTO_TEST_CASE(moe_mamba_layer_and_model_cuda_equal_cpu) {
  MoEMambaModelConfig c;
  c.d_input = 2;
  c.d_output = 2;
  c.n_layers = 2;
  c.layer.mixer.d_model = 64;
  c.layer.mixer.d_inner = 128;
  c.layer.mixer.d_state = 16;
  c.layer.mixer.dt_rank = 4;
  c.layer.moe.d_model = 64;
  c.layer.moe.d_ff = 128;
  c.layer.moe.n_experts = 4;
  c.layer.moe.top_k = 1;
  c.layer.moe.fc1_bias = c.layer.moe.fc2_bias = true;
  MoEMambaModel<float> m(c, random_moe_mamba_model<float>(c, 1));
  const int batch = 3, L = 300;
  const auto r = test::randn(std::size_t(batch) * L * 2, 2);
  const std::vector<float> u(r.begin(), r.end());
  std::vector<float> yc(u.size()), yg(u.size());
  m.forward(u.data(), batch, L, yc.data(), Device::cpu);
  m.forward(u.data(), batch, L, yg.data(), Device::cuda);
  BOOST_TEST(test::max_rel_diff(yg, yc) < 1e-3);

  const auto& layer = m.layer(0);
  const auto x = test::randn(std::size_t(batch) * L * 64, 3);
  const std::vector<double> xd(x.begin(), x.end());
  MoEMambaLayerParams<double> pd = random_moe_mamba_layer<double>(c.layer, 4);
  MoEMambaLayer<double> ld(c.layer, pd);
  std::vector<double> lc(xd.size()), lg(xd.size());
  std::vector<std::int64_t> ic(std::size_t(batch) * L), ig(ic.size());
  auto sc = ld.make_state(batch), sg = ld.make_state(batch);
  ld.forward(xd.data(), batch, L, lc.data(), &sc, Device::cpu, ic.data());
  ld.forward(xd.data(), batch, L, lg.data(), &sg, Device::cuda, ig.data());
  BOOST_TEST(test::max_rel_diff(lg, lc) < 1e-10);
  BOOST_TEST((ig == ic));
  BOOST_TEST(test::max_rel_diff(sg.ssm(), sc.ssm()) < 1e-10);
  BOOST_TEST(test::max_rel_diff(sg.conv(), sc.conv()) == 0.0);
  (void)layer;
}
