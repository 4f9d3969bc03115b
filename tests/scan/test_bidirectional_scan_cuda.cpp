// CUDA bidirectional selective scan against the CPU implementation (a second, independent
// path): float and double on the shapes of the CPU test (L = 1, odd L, groups, dstate 1..16,
// with/without D, z, delta_bias, h0, time-major strides), bf16 storage against the float32
// CPU scan of the bf16-rounded inputs, and run-to-run bit equality (the atomic merge is
// deterministic). Exits 77 (CTest: skipped) when no GPU is present.
#define BOOST_TEST_MODULE scan_bidirectional_scan_cuda
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "ssm/core/device_buffer.hpp"
#include "ssm/core/error.hpp"
#include "ssm/io/safetensors.hpp"
#include "ssm/scan/bidirectional_scan.hpp"
#include "support/testing.hpp"
#include "bidirectional_problem.hpp"
#include "backend/bidirectional_scan_cuda.hpp"

using namespace ssm;
using namespace bidir_test;

using ssm::test::RequireGpu;
BOOST_TEST_GLOBAL_FIXTURE(RequireGpu);

namespace {

template <class T, class U>
double worst(const std::vector<T>& got, const std::vector<U>& want, double atol, double rtol) {
  BOOST_REQUIRE_EQUAL(got.size(), want.size());
  double w = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double e = std::fabs(double(got[i]) - double(want[i])) / (atol + rtol * std::fabs(double(want[i])));
    w = std::fmax(w, std::isnan(e) ? INFINITY : e);
  }
  return w;
}

/// Device copies of a Data<T>, with the args rewritten to device pointers.
template <class T>
struct OnDevice {
  DeviceBuffer<T> u[2], delta[2], A[2], B[2], C[2], D[2], bias[2], h0[2], last[2], z, out;
  BidirectionalScanArgs<T> args;
  OnDevice(Data<T>& d, const Problem& p) {
    args = d.args(p);
    for (int k = 0; k < 2; ++k) {
      u[k] = DeviceBuffer<T>(d.u[k]); delta[k] = DeviceBuffer<T>(d.delta[k]); A[k] = DeviceBuffer<T>(d.A[k]);
      B[k] = DeviceBuffer<T>(d.B[k]); C[k] = DeviceBuffer<T>(d.C[k]); D[k] = DeviceBuffer<T>(d.D[k]);
      bias[k] = DeviceBuffer<T>(d.bias[k]); h0[k] = DeviceBuffer<T>(d.h0[k]); last[k] = DeviceBuffer<T>(d.last[k]);
      auto& a = args.dir[k];
      a.u = u[k].data(); a.delta = delta[k].data(); a.A = A[k].data(); a.B = B[k].data(); a.C = C[k].data();
      a.D = p.has_D ? D[k].data() : nullptr;
      a.delta_bias = p.has_bias ? bias[k].data() : nullptr;
      a.h0 = p.has_h0 ? h0[k].data() : nullptr;
      a.last_state = last[k].data();
    }
    z = DeviceBuffer<T>(d.z);
    out = DeviceBuffer<T>(d.out.size());
    args.z = p.has_z ? z.data() : nullptr;
    args.out = out.data();
  }
  void fetch(Data<T>& d) {
    out.download(d.out.data(), d.out.size());
    for (int k = 0; k < 2; ++k) last[k].download(d.last[k].data(), d.last[k].size());
  }
};

template <class T>
void check(const Problem& p, const std::string& name) {
  const double tol = std::is_same_v<T, float> ? 2e-4 : 1e-10;
  Data<T> cpu(p), gpu(p);
  bidirectional_selective_scan(cpu.args(p), Device::cpu);
  OnDevice<T> dev(gpu, p);
  bidirectional_selective_scan(dev.args, Device::cuda);
  dev.fetch(gpu);
  BOOST_TEST_CONTEXT(name) {
    BOOST_TEST(worst(gpu.out, cpu.out, tol, tol) <= 1.0);
    BOOST_TEST(worst(gpu.last[0], cpu.last[0], tol, tol) <= 1.0);
    BOOST_TEST(worst(gpu.last[1], cpu.last[1], tol, tol) <= 1.0);
    // the same launch again: bit-equal (deterministic merge)
    std::vector<T> first = gpu.out;
    bidirectional_selective_scan(dev.args, Device::cuda);
    dev.fetch(gpu);
    BOOST_TEST(gpu.out == first);
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(cuda_matches_cpu_float) {
  int i = 0;
  for (const auto& p : problems()) check<float>(p, "problem " + std::to_string(i++));
}

BOOST_AUTO_TEST_CASE(cuda_matches_cpu_double) {
  int i = 0;
  for (const auto& p : problems()) check<double>(p, "problem " + std::to_string(i++));
}

std::vector<Problem> fast_problems();

BOOST_AUTO_TEST_CASE(cuda_bf16_matches_cpu_on_rounded_inputs) {
  int i = 0;
  std::vector<Problem> all = problems();
  for (const auto& p : fast_problems()) all.push_back(p);  // the fast kernel's bf16 path too
  for (auto p : all) {
    // round every streamed input to bf16 (the CPU reference then sees the same values)
    auto round = [](std::vector<double>& v, std::vector<std::uint16_t>& bits) {
      bits.resize(v.size());
      for (std::size_t j = 0; j < v.size(); ++j) {
        bits[j] = io::float_to_bf16(static_cast<float>(v[j]));
        v[j] = io::bf16_to_float(bits[j]);
      }
    };
    std::vector<std::uint16_t> bu[2], bd[2], bB[2], bC[2], bz;
    for (int k = 0; k < 2; ++k) {
      round(p.u[k], bu[k]); round(p.delta[k], bd[k]); round(p.B[k], bB[k]); round(p.C[k], bC[k]);
    }
    round(p.z, bz);
    Data<float> cpu(p), gpu(p);
    bidirectional_selective_scan(cpu.args(p), Device::cpu);
    OnDevice<float> dev(gpu, p);
    DeviceBuffer<std::uint16_t> du[2], dd[2], dB[2], dC[2];
    DeviceBuffer<std::uint16_t> dz(bz), dout(bz.size());
    detail::BidirectionalScanBf16 io;
    for (int k = 0; k < 2; ++k) {
      du[k] = DeviceBuffer<std::uint16_t>(bu[k]); dd[k] = DeviceBuffer<std::uint16_t>(bd[k]);
      dB[k] = DeviceBuffer<std::uint16_t>(bB[k]); dC[k] = DeviceBuffer<std::uint16_t>(bC[k]);
      io.u[k] = du[k].data(); io.delta[k] = dd[k].data(); io.B[k] = dB[k].data(); io.C[k] = dC[k].data();
    }
    io.z = p.has_z ? dz.data() : nullptr;
    io.out = dout.data();
    detail::bidirectional_scan_cuda_bf16(dev.args, io, true);
    std::vector<std::uint16_t> bits(bz.size());
    dout.download(bits.data(), bits.size());
    std::vector<float> out(bits.size());
    for (std::size_t j = 0; j < bits.size(); ++j) out[j] = io::bf16_to_float(bits[j]);
    BOOST_TEST_CONTEXT("bf16 problem " << i++) {
      BOOST_TEST(worst(out, cpu.out, 2e-2, 1.6e-2) <= 1.0);  // output rounded to bf16 twice
    }
  }
}

/// Shapes the fast two-kernel path takes (dstate 4/8/16/32, (batch, dim, length) rows, dim / groups
/// a multiple of its channels a block): odd lengths, L = 1, a partial last tile, h0, groups.
std::vector<Problem> fast_problems() {
  std::vector<Problem> v;
  auto add = [&](int Bt, int Dm, int N, int L, int G, bool D, bool z, bool bias, bool h0, double scale) {
    Problem p;
    p.Bt = Bt; p.Dm = Dm; p.N = N; p.L = L; p.G = G;
    p.has_D = D; p.has_z = z; p.has_bias = bias; p.has_h0 = h0; p.time_major = false; p.scale = scale;
    p.fill(2000 + v.size());
    v.push_back(p);
  };
  add(2, 64, 16, 197, 1, true, true, true, false, 0.5);   // Vim-S like
  add(1, 64, 8, 130, 2, true, true, true, true, 1.0);     // groups, h0, partial tile
  add(3, 128, 4, 1, 1, true, false, false, true, 1.0);    // L = 1
  add(2, 32, 32, 65, 1, false, true, true, true, 0.5);    // dstate 32
  add(1, 256, 16, 256, 4, true, true, false, false, 1.0); // aligned rows (vector path)
  return v;
}

// Both CUDA kernels (one launch; the two-kernel path on the fast selective-scan kernel, forward
// then backward in time adding onto out) against the CPU scan, float32 and bf16 storage.
BOOST_AUTO_TEST_CASE(every_cuda_kernel_matches_cpu) {
  int i = 0, fast_runs = 0;
  for (const auto& p : fast_problems()) {
    for (auto kernel : {detail::BidirKernel::one_launch, detail::BidirKernel::fast_one_launch,
                        detail::BidirKernel::two_kernel, detail::BidirKernel::automatic}) {
      Data<float> cpu(p), gpu(p);
      bidirectional_selective_scan(cpu.args(p), Device::cpu);
      OnDevice<float> dev(gpu, p);
      detail::bidirectional_scan_cuda(dev.args, kernel, true);
      dev.fetch(gpu);
      fast_runs += kernel == detail::BidirKernel::two_kernel || kernel == detail::BidirKernel::fast_one_launch;
      BOOST_TEST_CONTEXT("fast problem " << i << " kernel " << int(kernel)) {
        BOOST_TEST(worst(gpu.out, cpu.out, 2e-4, 2e-4) <= 1.0);
        BOOST_TEST(worst(gpu.last[0], cpu.last[0], 2e-4, 2e-4) <= 1.0);
        BOOST_TEST(worst(gpu.last[1], cpu.last[1], 2e-4, 2e-4) <= 1.0);
      }
    }
    ++i;
  }
  BOOST_TEST(fast_runs == 10);
  // Where the fast path does not apply (time-major rows), asking for it is an error naming 'kernel'.
  const Problem tm = problems()[1];
  Data<float> d(tm);
  OnDevice<float> dev(d, tm);
  try {
    detail::bidirectional_scan_cuda(dev.args, detail::BidirKernel::two_kernel, true);
    BOOST_ERROR("no error");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("'kernel'") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(cuda_bad_arguments_are_named) {
  Problem p = problems()[2];
  Data<float> d(p);
  OnDevice<float> dev(d, p);
  auto a = dev.args;
  a.dir[1].C = nullptr;
  try {
    bidirectional_selective_scan(a, Device::cuda);
    BOOST_ERROR("no error");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("'dir[1].C'") != std::string::npos);
  }
  auto b = dev.args;
  b.dstate = 65;  // beyond the register arrays of the kernel
  BOOST_CHECK_THROW(bidirectional_selective_scan(b, Device::cuda), Error);
}
