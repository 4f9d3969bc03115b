// The CUDA paths of the layers agree with the CPU paths: MambaBlock scan (selective scan on
// the GPU) and step (state update on the GPU), MambaModel forward, S4DModel scan (diag_scan on
// the GPU) and conv (diag_kernel + fftconv on device pointers). The weights the GPU reads stay
// resident: uploaded once per GPU (MambaBlock::resident_devices), shared by copies, and
// concurrent first calls from several threads upload once and agree bit for bit.
#define BOOST_TEST_MODULE layers_models_cuda
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <thread>
#include <vector>

#include "ssm/core/device.hpp"
#include "ssm/layers/mamba_model.hpp"
#include "ssm/layers/s4d_model.hpp"
#include "support/testing.hpp"

using namespace ssm;

namespace {
}  // namespace

using ssm::test::RequireGpu;
BOOST_TEST_GLOBAL_FIXTURE(RequireGpu);

BOOST_AUTO_TEST_CASE(mamba_cuda_equals_cpu) {
  MambaModelConfig c;
  c.n_layers = 2;
  c.block.d_model = 64;
  c.block.d_inner = 128;
  c.block.d_state = 16;
  c.block.dt_rank = 4;
  MambaModel<float> m(c, random_mamba_model<float>(c, 1));
  const int batch = 3, L = 500;
  const auto r = test::randn(std::size_t(batch) * L, 2);
  const std::vector<float> u(r.begin(), r.end());
  std::vector<float> yc(u.size()), yg(u.size());
  m.forward(u.data(), batch, L, yc.data(), Device::cpu);
  m.forward(u.data(), batch, L, yg.data(), Device::cuda);
  BOOST_TEST(test::max_rel_diff(yg, yc) < 1e-4);

  const auto& blk = m.block(0);
  std::vector<float> x(std::size_t(batch) * 64), y1(x.size()), y2(x.size());
  auto s1 = blk.make_state(batch), s2 = blk.make_state(batch);
  for (int t = 0; t < 20; ++t) {
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = float(std::sin(0.3 * double(i + 7 * t)));
    blk.step(x.data(), y1.data(), s1, Device::cpu);
    blk.step(x.data(), y2.data(), s2, Device::cuda);
  }
  BOOST_TEST(test::max_rel_diff(y2, y1) < 1e-4);
  BOOST_TEST(test::max_rel_diff(s2.ssm(), s1.ssm()) < 1e-4);
}

BOOST_AUTO_TEST_CASE(s4d_cuda_equals_cpu) {
  S4DModelConfig c;
  c.n_layers = 4;
  c.d_model = 64;
  c.d_state = 64;
  S4DModel<float> m(c, random_s4d_model<float>(c, 3));
  const int batch = 2, L = 20000;
  const auto r = test::randn(std::size_t(batch) * L, 4);
  const std::vector<float> u(r.begin(), r.end());
  std::vector<float> ys(u.size()), yn(u.size()), yc(u.size());
  m.forward(u.data(), batch, L, ys.data(), Mode::stream);
  m.forward(u.data(), batch, L, yn.data(), Mode::scan, 0, Device::cuda);
  m.forward(u.data(), batch, L, yc.data(), Mode::conv, 0, Device::cuda);
  BOOST_TEST(test::max_rel_diff(yn, ys) < 1e-3);
  BOOST_TEST(test::max_rel_diff(yc, ys) < 1e-3);
}

BOOST_AUTO_TEST_CASE(mamba_block_weights_stay_resident) {
  MambaModelConfig c;
  c.n_layers = 1;
  c.block.d_model = 32;
  c.block.d_inner = 64;
  c.block.d_state = 16;
  c.block.dt_rank = 2;
  MambaModel<float> m(c, random_mamba_model<float>(c, 5));
  const MambaBlock<float> blk = m.block(0);  // a copy: shares the (not yet made) GPU weights
  BOOST_TEST(blk.resident_devices() == 0);
  const int batch = 2, L = 64;
  const auto r = test::randn(std::size_t(batch) * L * 32, 6);
  const std::vector<float> x(r.begin(), r.end());
  std::vector<float> yc(x.size()), y0(x.size());
  blk.forward(x.data(), batch, L, yc.data(), nullptr, Device::cpu);
  // Four threads race to the first cuda forward: one uploads, all agree with each other.
  std::vector<std::vector<float>> ys(4, std::vector<float>(x.size()));
  std::vector<std::thread> th;
  for (int t = 0; t < 4; ++t)
    th.emplace_back([&, t] { blk.forward(x.data(), batch, L, ys[std::size_t(t)].data(), nullptr, Device::cuda); });
  for (auto& t : th) t.join();
  BOOST_TEST(blk.resident_devices() == 1);
  for (int t = 1; t < 4; ++t) BOOST_TEST((ys[std::size_t(t)] == ys[0]));
  BOOST_TEST(test::max_rel_diff(ys[0], yc) < 1e-4);
  // More calls (forward, step, to_device) on the same GPU upload nothing more.
  blk.forward(x.data(), batch, L, y0.data(), nullptr, Device::cuda);
  BOOST_TEST((y0 == ys[0]));
  auto st = blk.make_state(batch);
  std::vector<float> xs(std::size_t(batch) * 32, 0.25f), yst(xs.size());
  blk.step(xs.data(), yst.data(), st, Device::cuda);
  blk.to_device();
  BOOST_TEST(blk.resident_devices() == 1);
}
