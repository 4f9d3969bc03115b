// SS2DBlock on the GPU (SS2DBlockCuda: resident weights, cuBLAS projections, fused cross-scan)
// against the CPU SS2DBlock, float32, on shapes with H != W, H = 1, W = 1, odd sizes, with and
// without the optional biases, dstate 4 / 16 / 24 (padding states); repeated calls and calls with
// growing shapes (scratch regrown, weights not re-uploaded) give the same results; the
// SS2DBlock::forward(..., Device::cuda) path (scan on the GPU) agrees too; VMambaModel on CUDA
// (resident SS2D blocks) matches its CPU run. Exits 77 without a GPU.
#define BOOST_TEST_MODULE layers_ss2d_cuda
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <thread>
#include <tuple>
#include <vector>

#include "ssm/core/device_buffer.hpp"
#include "ssm/core/error.hpp"
#include "ssm/layers/ss2d_block.hpp"
#include "ssm/layers/ss2d_block_cuda.hpp"
#include "ssm/layers/vmamba_model.hpp"
#include "support/testing.hpp"

using namespace ssm;
using ssm::test::RequireGpu;
BOOST_TEST_GLOBAL_FIXTURE(RequireGpu);

namespace {


SS2DBlockConfig config(int dm, int di, int N, int K, int R, bool biases) {
  SS2DBlockConfig c;
  c.d_model = dm;
  c.d_inner = di;
  c.d_state = N;
  c.d_conv = K;
  c.dt_rank = R;
  c.in_proj_bias = c.out_proj_bias = c.conv_bias = biases;
  return c;
}

}  // namespace

BOOST_AUTO_TEST_CASE(cuda_block_matches_cpu) {
  for (const auto& cfg : {config(8, 16, 4, 3, 1, true), config(24, 48, 16, 3, 2, false), config(10, 20, 24, 5, 3, true)}) {
    const SS2DBlock<float> cpu(cfg, random_ss2d_block<float>(cfg, 7));
    SS2DBlockCuda gpu(cpu);
    for (auto [B, H, W] : {std::tuple{2, 5, 7}, {1, 1, 13}, {1, 9, 1}, {3, 12, 12}, {1, 14, 11}}) {
      BOOST_TEST_CONTEXT("d_model=" << cfg.d_model << " N=" << cfg.d_state << " B=" << B << " H=" << H << " W=" << W) {
        const auto xd = test::randn(std::size_t(B * H * W * cfg.d_model), 3 + H * W);
        const std::vector<float> x(xd.begin(), xd.end());
        std::vector<float> yc(x.size()), yg(x.size()), ys(x.size());
        cpu.forward(x.data(), B, H, W, yc.data());
        gpu.forward(x.data(), B, H, W, yg.data());
        BOOST_TEST(test::max_rel_diff(yg, yc) <= 2e-4);
        cpu.forward(x.data(), B, H, W, ys.data(), Device::cuda);  // scan-only GPU path
        BOOST_TEST(test::max_rel_diff(ys, yc) <= 2e-4);
        // device-pointer entry, same bits as the host entry
        DeviceBuffer<float> dx(x), dy(x.size());
        gpu.forward_device(dx.data(), B, H, W, dy.data());
        BOOST_TEST(dy.to_host() == yg);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(plain_cuda_forward_keeps_scan_weights_resident) {
  // SS2DBlock::forward(..., Device::cuda) uploads A, Ds, dt_projs_bias once per GPU (not per
  // call), shared by copies of the block; concurrent first calls upload once.
  const auto cfg = config(8, 16, 4, 3, 1, true);
  const SS2DBlock<float> blk(cfg, random_ss2d_block<float>(cfg, 3));
  const SS2DBlock<float> copy = blk;
  BOOST_TEST(blk.resident_devices() == 0);
  const int B = 2, H = 5, W = 6;
  const auto xd = test::randn(std::size_t(B * H * W * cfg.d_model), 4);
  const std::vector<float> x(xd.begin(), xd.end());
  std::vector<float> yc(x.size());
  blk.forward(x.data(), B, H, W, yc.data());
  std::vector<std::vector<float>> ys(3, std::vector<float>(x.size()));
  std::vector<std::thread> th;
  for (int t = 0; t < 3; ++t)
    th.emplace_back([&, t] { blk.forward(x.data(), B, H, W, ys[std::size_t(t)].data(), Device::cuda); });
  for (auto& t : th) t.join();
  BOOST_TEST(blk.resident_devices() == 1);
  for (int t = 1; t < 3; ++t) BOOST_TEST((ys[std::size_t(t)] == ys[0]));
  BOOST_TEST(test::max_rel_diff(ys[0], yc) <= 2e-4);
  std::vector<float> y1(x.size());
  copy.forward(x.data(), B, H, W, y1.data(), Device::cuda, SS2DPath::unfused);
  copy.to_device();
  BOOST_TEST(blk.resident_devices() == 1);  // the copy shares the uploaded weights
  BOOST_TEST(test::max_rel_diff(y1, yc) <= 2e-4);
}

BOOST_AUTO_TEST_CASE(bad_input_is_named) {
  const auto cfg = config(8, 16, 4, 3, 1, false);
  SS2DBlockCuda gpu(SS2DBlock<float>(cfg, random_ss2d_block<float>(cfg, 1)));
  std::vector<float> x(8 * 4), y(x.size());
  for (auto [B, H, W, name] : {std::tuple{1, 0, 4, "'height'"}, {1, 4, 0, "'width'"}, {0, 2, 2, "'batch'"}}) {
    try {
      gpu.forward(x.data(), B, H, W, y.data());
      BOOST_ERROR("no error for " << name);
    } catch (const Error& e) {
      BOOST_TEST(std::string(e.what()).find(name) != std::string::npos, e.what());
    }
  }
}

BOOST_AUTO_TEST_CASE(vmamba_model_on_cuda_matches_cpu) {
  VMambaModelConfig c;
  c.d_input = 2;
  c.d_output = 3;
  c.n_layers = 2;
  c.d_ff = 16;
  c.block = config(8, 16, 16, 3, 1, false);
  const VMambaModel<float> m(c, random_vmamba_model<float>(c, 4));
  const auto ud = test::randn(std::size_t(2 * 9 * 6 * c.d_input), 8);
  const std::vector<float> u(ud.begin(), ud.end());
  std::vector<float> yc(std::size_t(2 * 9 * 6 * c.d_output)), yg(yc.size()), yg2(yc.size());
  m.forward(u.data(), 2, 9, 6, yc.data());
  m.forward(u.data(), 2, 9, 6, yg.data(), Device::cuda);   // uploads the blocks once
  m.forward(u.data(), 2, 9, 6, yg2.data(), Device::cuda);  // reuses them
  BOOST_TEST(test::max_rel_diff(yg, yc) <= 2e-4);
  BOOST_TEST(yg2 == yg);
}
