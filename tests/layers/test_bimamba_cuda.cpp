// BiMambaBlock on the GPU with resident weights (to_device: cuBLAS projections, conv kernels,
// the CUDA bidirectional scan) against the CPU fused path, float and double, with and without
// biases / if_divide_out, L = 1, odd and Vim-like lengths; forward_device on device pointers
// equals forward(..., Device::cuda); the unfused recipe on CUDA agrees too; forward on cuda
// without to_device() is a named error. Exits 77 (CTest: skipped) when no GPU is present.
#define BOOST_TEST_MODULE layers_bimamba_cuda
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "ssm/core/device_buffer.hpp"
#include "ssm/core/error.hpp"
#include "ssm/layers/bimamba_block.hpp"
#include "support/testing.hpp"

using namespace ssm;
using ssm::test::RequireGpu;
BOOST_TEST_GLOBAL_FIXTURE(RequireGpu);

namespace {


template <class T>
void gpu_vs_cpu() {
  const double tol = std::is_same_v<T, float> ? 5e-5 : 1e-11;
  for (bool biases : {false, true})
    for (bool divide : {false, true}) {
      BiMambaBlockConfig c;
      c.d_model = 32;
      c.d_inner = 64;
      c.d_state = 16;
      c.d_conv = 4;
      c.dt_rank = 2;
      c.in_proj_bias = c.out_proj_bias = biases;
      c.if_divide_out = divide;
      BiMambaBlock<T> block(c, random_bimamba_block<T>(c, 21 + biases + 2 * divide));
      block.to_device();
      BOOST_TEST(block.on_device());
      for (int L : {1, 5, 197}) {
        const int batch = 3;
        const auto r = test::randn(std::size_t(batch) * L * c.d_model, 50 + L);
        const std::vector<T> x(r.begin(), r.end());
        std::vector<T> yc(x.size()), yg(x.size()), yd(x.size()), yu(x.size());
        block.forward(x.data(), batch, L, yc.data(), Device::cpu);
        block.forward(x.data(), batch, L, yg.data(), Device::cuda);
        DeviceBuffer<T> dx(x), dy(x.size());
        block.forward_device(dx.data(), batch, L, dy.data());
        dy.download(yd.data(), yd.size());
        block.forward(x.data(), batch, L, yu.data(), Device::cuda, BiMambaPath::unfused);
        BOOST_TEST_CONTEXT("biases " << biases << " divide " << divide << " L " << L) {
          BOOST_TEST(test::max_rel_diff(yg, yc) <= tol);
          BOOST_TEST(yd == yg);
          BOOST_TEST(test::max_rel_diff(yu, yc) <= tol);
        }
      }
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(gpu_matches_cpu_float) { gpu_vs_cpu<float>(); }
BOOST_AUTO_TEST_CASE(gpu_matches_cpu_double) { gpu_vs_cpu<double>(); }

BOOST_AUTO_TEST_CASE(cuda_without_to_device_is_a_named_error) {
  BiMambaBlockConfig c;
  c.d_model = 8;
  c.d_inner = 16;
  c.d_state = 4;
  c.d_conv = 3;
  c.dt_rank = 1;
  BiMambaBlock<float> block(c, random_bimamba_block<float>(c, 1));
  std::vector<float> x(8 * 4), y(x.size());
  try {
    block.forward(x.data(), 1, 4, y.data(), Device::cuda);
    BOOST_ERROR("no error");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("to_device") != std::string::npos);
  }
}
