// The CUDA cross-scan against the CPU (a second, independent path): the fused kernel and the
// unfused GPU recipe (gather kernels + ssm's CUDA selective scan + merge) against the CPU fused
// op, float32 and float64, both layouts, H != W, H = 1, W = 1, odd sizes, dstate from 1 to 64
// (every (P, S) instantiation, with padding states); the bf16-storage kernel against float32
// on bf16-rounded inputs; run-to-run bit-identical output (deterministic merge). Exits 77
// (CTest: skipped) without a GPU.
#define BOOST_TEST_MODULE scan_cross_scan_cuda
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

#include "ssm/core/device_buffer.hpp"
#include "ssm/io/safetensors.hpp"
#include "ssm/scan/cross_scan.hpp"
#include "scan/cross_scan_problem.hpp"
#include "support/testing.hpp"
#include "backend/cross_scan_ext.hpp"

using namespace ssm;
using ssm::test::Problem;
using ssm::test::Shape;
using ssm::test::RequireGpu;
BOOST_TEST_GLOBAL_FIXTURE(RequireGpu);

namespace {

// Device copies of a problem; args() has the same shapes/strides with device pointers.
template <class T>
struct OnDevice {
  DeviceBuffer<T> u, delta, A, bc, D, bias, h0, out, last;
  CrossScanArgs<T> a;
  explicit OnDevice(const Problem<T>& p)
      : u(p.u), delta(p.delta), A(p.A), bc(p.bc), out(p.out.size()), last(p.last.size()) {
    if (!p.D.empty()) D = DeviceBuffer<T>(p.D);
    if (!p.bias.empty()) bias = DeviceBuffer<T>(p.bias);
    if (!p.h0.empty()) h0 = DeviceBuffer<T>(p.h0);
    a = p.args;
    a.u = u.data();
    a.delta = delta.data();
    a.A = A.data();
    a.B = bc.data() + (p.args.B - p.bc.data());
    a.C = bc.data() + (p.args.C - p.bc.data());
    a.D = p.D.empty() ? nullptr : D.data();
    a.delta_bias = p.bias.empty() ? nullptr : bias.data();
    a.h0 = p.h0.empty() ? nullptr : h0.data();
    a.out = out.data();
    a.last_state = last.data();
  }
};

template <class T>
double worst(const std::vector<T>& a, const std::vector<T>& b, double atol, double rtol) {
  double w = a.size() == b.size() ? 0 : INFINITY;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    const double r = std::fabs(double(a[i]) - double(b[i])) / (atol + rtol * std::fabs(double(b[i])));
    if (!(r <= w)) w = r;
  }
  return w;
}

const std::vector<Shape> kShapes = {
    {2, 16, 16, 7, 9, true},    {1, 5, 4, 1, 70, false},  {2, 19, 8, 67, 1, true},
    {3, 8, 3, 5, 13, false, false, false, false},         {1, 33, 32, 11, 12, true},
    {1, 1, 1, 1, 1, false},     {1, 40, 64, 6, 5, true},  {2, 48, 16, 33, 31, true},
    {1, 20, 12, 3, 40, false},
};

}  // namespace

BOOST_AUTO_TEST_CASE(fused_and_unfused_cuda_match_cpu_f32) {
  std::uint64_t seed = 1;
  for (const Shape& s : kShapes) {
    BOOST_TEST_CONTEXT("B=" << s.batch << " dim=" << s.dim << " N=" << s.dstate << " H=" << s.H << " W=" << s.W
                            << " channels_last=" << s.channels_last) {
      Problem<float> cpu(s, seed++);
      cross_selective_scan(cpu.args, Device::cpu);
      OnDevice<float> fused(cpu), unfused(cpu);
      cross_selective_scan(fused.a, Device::cuda);
      cross_selective_scan_unfused(unfused.a, Device::cuda);
      BOOST_TEST(worst(fused.out.to_host(), cpu.out, 1e-4, 1e-4) <= 1.0);
      BOOST_TEST(worst(fused.last.to_host(), cpu.last, 1e-4, 1e-4) <= 1.0);
      BOOST_TEST(worst(unfused.out.to_host(), cpu.out, 1e-4, 1e-4) <= 1.0);
      BOOST_TEST(worst(unfused.last.to_host(), cpu.last, 1e-4, 1e-4) <= 1.0);
    }
  }
}

BOOST_AUTO_TEST_CASE(double_on_cuda_matches_cpu) {
  std::uint64_t seed = 50;
  for (const Shape& s : kShapes) {
    Problem<double> cpu(s, seed++);
    cross_selective_scan(cpu.args, Device::cpu);
    OnDevice<double> gpu(cpu);
    cross_selective_scan(gpu.a, Device::cuda);
    BOOST_TEST(worst(gpu.out.to_host(), cpu.out, 1e-10, 1e-10) <= 1.0);
    BOOST_TEST(worst(gpu.last.to_host(), cpu.last, 1e-10, 1e-10) <= 1.0);
  }
}

BOOST_AUTO_TEST_CASE(fused_is_bit_identical_run_to_run) {
  Problem<float> p(Shape{2, 64, 16, 20, 21, true}, 9);
  OnDevice<float> d(p);
  cross_selective_scan(d.a, Device::cuda);
  const auto first = d.out.to_host();
  for (int i = 0; i < 3; ++i) {
    cross_selective_scan(d.a, Device::cuda);
    BOOST_TEST(d.out.to_host() == first);
  }
}

BOOST_AUTO_TEST_CASE(bf16_storage_matches_f32_on_rounded_inputs) {
  for (const Shape& s : {Shape{2, 32, 16, 9, 14, true}, Shape{1, 24, 8, 5, 3, false}}) {
    Problem<float> p(s, 21);
    // round the streamed inputs to bf16 so both runs see the same values
    auto round = [](std::vector<float>& v) {
      std::vector<std::uint16_t> h(v.size());
      for (std::size_t i = 0; i < v.size(); ++i) {
        h[i] = io::float_to_bf16(v[i]);
        v[i] = io::bf16_to_float(h[i]);
      }
      return h;
    };
    const auto hu = round(p.u), hd = round(p.delta), hbc = round(p.bc);
    OnDevice<float> f32(p);
    cross_selective_scan(f32.a, Device::cuda);
    DeviceBuffer<std::uint16_t> bu(hu), bd(hd), bbc(hbc);
    DeviceBuffer<float> out(p.out.size()), ufo(p.out.size());
    detail::CrossScanBf16 io;
    io.u = bu.data();
    io.delta = bd.data();
    io.B = bbc.data() + (p.args.B - p.bc.data());
    io.C = bbc.data() + (p.args.C - p.bc.data());
    io.out = out.data();
    detail::cross_selective_scan_cuda_bf16(f32.a, io);
    BOOST_TEST(worst(out.to_host(), f32.out.to_host(), 1e-4, 1e-4) <= 1.0);
    // the unfused bf16 recipe rounds its scan output to bf16: a bf16 tolerance
    DeviceMemory ws(detail::cross_scan_unfused_workspace_bytes(f32.a, 2));
    io.out = ufo.data();
    detail::cross_selective_scan_unfused_cuda_bf16_ws(f32.a, io, ws.get());
    BOOST_TEST(worst(ufo.to_host(), f32.out.to_host(), 3e-2, 3e-2) <= 1.0);
  }
}
