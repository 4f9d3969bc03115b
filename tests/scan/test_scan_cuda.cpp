// CUDA scan kernels against the CPU implementations (a second, independent path): the
// selective scan (real/complex A, fixed/variable grouped B/C, D, z, delta_bias, softplus, h0,
// strided inputs, lengths that do not fill a chunk, float and double), its bf16 variant, the
// selective state update and the diagonal LTI scan; every kernel on every visible GPU; work
// queued on CudaStreams (returns before running, bit-equal to the synchronous call, two streams
// at once). Exits 77 (CTest: skipped) when no GPU is present.
#define BOOST_TEST_MODULE scan_cuda
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "ssm/core/cuda_stream.hpp"
#include "ssm/core/device.hpp"
#include "ssm/core/device_buffer.hpp"
#include "ssm/core/error.hpp"
#include "ssm/scan/diag_scan.hpp"
#include "ssm/scan/selective_scan.hpp"
#include "ssm/scan/state_update.hpp"
#include "support/stream_gate.hpp"
#include "support/testing.hpp"
#include "backend/selective_scan_ext.hpp"
#include "backend/scan_cuda.hpp"

using namespace ssm;

namespace {

template <class T>
std::vector<T> rnd(std::size_t n, std::uint64_t seed, double scale = 1.0, double shift = 0.0) {
  const auto v = test::randn(n, seed);
  std::vector<T> r(n);
  for (std::size_t i = 0; i < n; ++i) r[i] = static_cast<T>(shift + scale * v[i]);
  return r;
}

/// max |a - b| / (atol + rtol |b|) over all elements; NaN counts as failure.
template <class T>
double worst(const std::vector<T>& a, const std::vector<T>& b, double atol, double rtol) {
  if (a.size() != b.size()) return INFINITY;
  double w = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double r = std::fabs(double(a[i]) - double(b[i])) / (atol + rtol * std::fabs(double(b[i])));
    if (!(r <= w)) w = r;
  }
  return w;
}

struct ScanCase {
  int batch = 2, dim = 8, dstate = 4, length = 300, groups = 1;
  bool complex_A = false, B_var = true, C_var = true, D = true, z = true, bias = true,
       softplus = true, h0 = true, transposed = false;
};

// Host data of one selective-scan problem and its run on a device.
template <class T>
struct ScanData {
  ScanCase c;
  std::vector<T> u, delta, A, B, C, D, z, bias, h0;
  explicit ScanData(const ScanCase& cs, std::uint64_t seed) : c(cs) {
    const int comps = c.complex_A ? 2 : 1;
    const std::size_t BDL = std::size_t(c.batch) * c.dim * c.length;
    u = rnd<T>(BDL, seed);
    delta = rnd<T>(BDL, seed + 1, 0.5, c.softplus ? -1.0 : 0.0);
    if (!c.softplus)
      for (auto& v : delta) v = std::fabs(v) * T(0.1);
    A = rnd<T>(std::size_t(c.dim) * c.dstate * comps, seed + 2);
    for (std::size_t i = 0; i < A.size(); i += comps) A[i] = -std::fabs(A[i]) - T(0.05);
    const std::size_t nBC = c.B_var ? std::size_t(c.batch) * c.groups * c.dstate * c.length * comps
                                    : std::size_t(c.dim) * c.dstate * comps;
    const std::size_t nC = c.C_var ? std::size_t(c.batch) * c.groups * c.dstate * c.length * comps
                                   : std::size_t(c.dim) * c.dstate * comps;
    B = rnd<T>(nBC, seed + 3);
    C = rnd<T>(nC, seed + 4);
    D = rnd<T>(c.dim, seed + 5);
    z = rnd<T>(BDL, seed + 6);
    bias = rnd<T>(c.dim, seed + 7, 0.3);
    h0 = rnd<T>(std::size_t(c.batch) * c.dim * c.dstate * comps, seed + 8);
  }

  // With `transposed`, u/delta/z/out are stored (batch, length, dim): strides (L*D, 1, D).
  std::vector<T> layout(const std::vector<T>& bdl) const {
    if (!c.transposed) return bdl;
    std::vector<T> r(bdl.size());
    for (int b = 0; b < c.batch; ++b)
      for (int d = 0; d < c.dim; ++d)
        for (int t = 0; t < c.length; ++t)
          r[(std::size_t(b) * c.length + t) * c.dim + d] = bdl[(std::size_t(b) * c.dim + d) * c.length + t];
    return r;
  }
  std::vector<T> unlayout(const std::vector<T>& x) const {
    if (!c.transposed) return x;
    std::vector<T> r(x.size());
    for (int b = 0; b < c.batch; ++b)
      for (int d = 0; d < c.dim; ++d)
        for (int t = 0; t < c.length; ++t)
          r[(std::size_t(b) * c.dim + d) * c.length + t] = x[(std::size_t(b) * c.length + t) * c.dim + d];
    return r;
  }

  SelectiveScanArgs<T> args() const {
    SelectiveScanArgs<T> a;
    a.batch = c.batch; a.dim = c.dim; a.dstate = c.dstate; a.length = c.length; a.groups = c.groups;
    a.complex_A = c.complex_A;
    a.delta_softplus = c.softplus;
    a.B_variable = c.B_var;
    a.C_variable = c.C_var;
    if (c.transposed) {
      const Strides3 s{std::ptrdiff_t(c.length) * c.dim, 1, c.dim};
      a.u_strides = a.delta_strides = a.z_strides = a.out_strides = s;
    }
    return a;
  }

  /// Runs on `dev` (float32 on CUDA: with `kernel`); returns (out in (B, D, L) order, last_state).
  std::pair<std::vector<T>, std::vector<T>> run(Device dev,
                                                detail::ScanKernel kernel = detail::ScanKernel::automatic) const {
    auto a = args();
    const std::size_t BDL = u.size();
    std::vector<T> out(BDL, T(-777)), last(h0.size(), T(-777));
    const auto ul = layout(u), dl = layout(delta), zl = layout(z);
    if (dev == Device::cpu) {
      a.u = ul.data(); a.delta = dl.data(); a.A = A.data(); a.B = B.data(); a.C = C.data();
      a.D = c.D ? D.data() : nullptr; a.z = c.z ? zl.data() : nullptr;
      a.delta_bias = c.bias ? bias.data() : nullptr; a.h0 = c.h0 ? h0.data() : nullptr;
      a.out = out.data(); a.last_state = last.data();
      selective_scan_cpu(a, ScanCpuOptions{1, 0});
      return {unlayout(out), last};
    }
    DeviceBuffer<T> du(ul), ddl(dl), dA(A), dB(B), dC(C), dD(D), dz(zl), dbias(bias), dh0(h0),
        dout(out), dlast(last);
    a.u = du.data(); a.delta = ddl.data(); a.A = dA.data(); a.B = dB.data(); a.C = dC.data();
    a.D = c.D ? dD.data() : nullptr; a.z = c.z ? dz.data() : nullptr;
    a.delta_bias = c.bias ? dbias.data() : nullptr; a.h0 = c.h0 ? dh0.data() : nullptr;
    a.out = dout.data(); a.last_state = dlast.data();
    if constexpr (std::is_same_v<T, float>) detail::selective_scan_cuda_with(a, kernel);
    else selective_scan(a, Device::cuda);
    return {unlayout(dout.to_host()), dlast.to_host()};
  }
};

/// The CUDA kernels that run case c: float32 gets the legacy kernel and every variant of the
/// fast one that applies (1, 2, 4 states a thread in one pass, and the time split into at
/// least 3 segments where the sequence has 3 chunks), each compared with the CPU; double has
/// only the legacy kernel.
template <class T>
std::vector<detail::ScanKernel> kernels_for(const ScanData<T>& data) {
  if constexpr (!std::is_same_v<T, float>) {
    return {detail::ScanKernel::automatic};
  } else {
    std::vector<detail::ScanKernel> k{detail::ScanKernel::legacy};
    auto a = data.args();
    if (data.c.z) a.z = data.u.data();  // only its presence matters (z strides checked)
    if (detail::selective_scan_fast_applies(a, 1)) k.push_back(detail::ScanKernel::fast_s1);
    if (detail::selective_scan_fast_applies(a, 2)) k.push_back(detail::ScanKernel::fast_s2);
    if (detail::selective_scan_fast_applies(a, 4)) k.push_back(detail::ScanKernel::fast_s4);
    if (detail::selective_scan_fast_applies(a)) k.push_back(detail::ScanKernel::fast_split);
    return k;
  }
}

const char* kernel_name(detail::ScanKernel k) {
  switch (k) {
    case detail::ScanKernel::legacy: return "legacy";
    case detail::ScanKernel::fast: return "fast";
    case detail::ScanKernel::fast_s1: return "fast1";
    case detail::ScanKernel::fast_s2: return "fast2";
    case detail::ScanKernel::fast_s4: return "fast4";
    case detail::ScanKernel::fast_split: return "fast-split";
    default: return "auto";
  }
}

/// Returns how many CUDA kernels were compared (1 + the fast variants that apply).
template <class T>
int check_scan(const ScanCase& c, std::uint64_t seed) {
  const ScanData<T> data(c, seed);
  const auto [out_cpu, last_cpu] = data.run(Device::cpu);
  const double tol = std::is_same_v<T, float> ? 2e-4 : 1e-10;
  const auto kernels = kernels_for(data);
  for (const auto k : kernels) {
    const auto [out_gpu, last_gpu] = data.run(Device::cuda, k);
    const double w_out = worst(out_gpu, out_cpu, tol, tol);
    const double w_last = worst(last_gpu, last_cpu, tol, tol);
    BOOST_TEST_CONTEXT("B=" << c.batch << " D=" << c.dim << " N=" << c.dstate << " L=" << c.length
                            << " G=" << c.groups << " complex=" << c.complex_A << " Bvar=" << c.B_var
                            << " Cvar=" << c.C_var << " D=" << c.D << " z=" << c.z << " bias=" << c.bias
                            << " softplus=" << c.softplus << " h0=" << c.h0
                            << " transposed=" << c.transposed
                            << " T=" << (sizeof(T) == 4 ? "f32" : "f64") << " kernel=" << kernel_name(k)) {
      BOOST_TEST(w_out <= 1.0);
      BOOST_TEST(w_last <= 1.0);
    }
  }
  return static_cast<int>(kernels.size());
}

}  // namespace

using ssm::test::RequireGpu;
BOOST_TEST_GLOBAL_FIXTURE(RequireGpu);

BOOST_AUTO_TEST_CASE(selective_scan_matches_cpu_real_and_complex) {
  std::uint64_t seed = 100;
  for (bool cplx : {false, true})
    for (int L : {1, 37, 256, 1000, 2051}) {
      ScanCase c;
      c.complex_A = cplx;
      c.length = L;
      check_scan<float>(c, seed++);
      check_scan<double>(c, seed++);
    }
}

BOOST_AUTO_TEST_CASE(selective_scan_options_groups_strides) {
  std::uint64_t seed = 200;
  for (bool cplx : {false, true}) {
    ScanCase c;
    c.complex_A = cplx;
    c.dim = 12; c.groups = 3; c.dstate = 20; c.length = 700;  // 4 channels a group; N > stage
    check_scan<float>(c, seed++);
    c.dim = 6; c.groups = 2;  // 3 channels a group: one warp a block
    check_scan<float>(c, seed++);
    c.B_var = false;  // fixed B, variable C
    check_scan<float>(c, seed++);
    c.C_var = false; c.B_var = true;
    check_scan<float>(c, seed++);
    c.B_var = c.C_var = false;
    c.D = c.z = c.bias = c.h0 = false;
    c.softplus = false;
    check_scan<float>(c, seed++);
    ScanCase t;
    t.complex_A = cplx;
    t.transposed = true;  // (batch, length, dim) layout: strided scalar path
    t.length = 333;
    check_scan<float>(t, seed++);
    check_scan<double>(t, seed++);
  }
}

BOOST_AUTO_TEST_CASE(selective_scan_fast_kernel_matches_cpu) {
  // Shapes the fast kernel takes, each run with the legacy kernel, with every
  // states-a-thread variant S whose block (128 S / N channels) divides dim/groups, and with the
  // time split; check_scan returns how many kernels ran. dim = 128 * 4 / N * 2 fits all three
  // variants (S <= N).
  std::uint64_t seed = 800;
  for (int N : {4, 8, 16, 32}) {
    const int ch1 = 128 / N;  // channels a block with S = 1
    for (int L : {1, 37, 64, 200, 1031}) {
      ScanCase c;
      c.dstate = N;
      c.dim = 8 * ch1;  // two blocks of S = 4
      c.length = L;
      BOOST_TEST(check_scan<float>(c, seed++) == 5);
    }
    ScanCase c;
    c.dstate = N;
    c.length = 301;
    c.dim = 4 * ch1; c.groups = 2;  // S = 1: two blocks a group; S = 2: one; S = 4: none
    BOOST_TEST(check_scan<float>(c, seed++) == 4);
    c.dim = 8 * ch1;  // S = 4: one block a group
    BOOST_TEST(check_scan<float>(c, seed++) == 5);
    c.B_var = false;
    BOOST_TEST(check_scan<float>(c, seed++) == 5);
    c.B_var = true; c.C_var = false;
    BOOST_TEST(check_scan<float>(c, seed++) == 5);
    c.B_var = false;
    BOOST_TEST(check_scan<float>(c, seed++) == 5);
    c.B_var = c.C_var = true;
    c.z = false;
    BOOST_TEST(check_scan<float>(c, seed++) == 5);
    c.D = false; c.h0 = false;
    BOOST_TEST(check_scan<float>(c, seed++) == 5);
    c.bias = false; c.softplus = false;
    BOOST_TEST(check_scan<float>(c, seed++) == 5);
  }
  // Not taken by the fast kernel: dim/groups not a multiple of 128/N, N = 12, complex A.
  ScanCase c;
  c.dstate = 16; c.dim = 12; c.length = 100;
  BOOST_TEST(check_scan<float>(c, seed++) == 1);
  c.dim = 16; c.dstate = 12;
  BOOST_TEST(check_scan<float>(c, seed++) == 1);
  c.dstate = 16; c.complex_A = true;
  BOOST_TEST(check_scan<float>(c, seed++) == 1);
}

BOOST_AUTO_TEST_CASE(selective_scan_fast_kernel_choice) {
  // The automatic choice: S = 4 when that still gives about three blocks an SM, the smallest
  // S (most threads) for a thin problem; forced variants name themselves.
  // (Shapes only: the pointers are not read.)
  SelectiveScanArgs<float> a;
  a.batch = 64; a.dim = 4096; a.dstate = 16; a.length = 4096;  // 8192 blocks with S = 4
  BOOST_TEST(std::string(detail::selective_scan_kernel_name(a, detail::ScanKernel::fast)) == "fast4");
  a.batch = 1; a.dim = 2 * 16 * 132;  // H100 (132 SMs): S = 2 gives 2 blocks an SM, S = 4 one
  if (cuda_description().find("132 SMs") != std::string::npos)
    BOOST_TEST(std::string(detail::selective_scan_kernel_name(a, detail::ScanKernel::fast)) == "fast2");
  a.batch = 1; a.dim = 128;  // 4 blocks with S = 4, 16 with S = 1: fewer than 3 an SM on any GPU
  // 128 chunks of 32 steps: S = 4 with the time split
  BOOST_TEST(std::string(detail::selective_scan_kernel_name(a, detail::ScanKernel::fast)) == "fast4-split");
  a.length = 64;  // 2 chunks: too short to split; the most threads in one pass
  BOOST_TEST(std::string(detail::selective_scan_kernel_name(a, detail::ScanKernel::fast)) == "fast1");
  BOOST_TEST(std::string(detail::selective_scan_kernel_name(a, detail::ScanKernel::fast_s2)) == "fast2");
  BOOST_TEST(std::string(detail::selective_scan_kernel_name(a, detail::ScanKernel::legacy)) == "legacy");
  a.dim = 24;  // 24 % 32 != 0: S = 4 (32 channels a block) does not apply
  BOOST_CHECK_THROW(detail::selective_scan_kernel_name(a, detail::ScanKernel::fast_s4), ssm::Error);
}

BOOST_AUTO_TEST_CASE(selective_scan_fast_kernel_long_sequence) {
  // L = 65536 (1024 to 2048 chunks) against the CPU, every kernel.
  ScanCase c;
  c.batch = 1; c.dstate = 16; c.dim = 32; c.length = 65536;
  BOOST_TEST(check_scan<float>(c, 900) == 5);
}

BOOST_AUTO_TEST_CASE(selective_scan_fast_kernel_rejects_unsupported) {
  ScanCase c;
  c.dstate = 16; c.dim = 12; c.length = 10;  // 12 % 8 != 0
  const ScanData<float> data(c, 1);
  BOOST_CHECK_THROW(data.run(Device::cuda, detail::ScanKernel::fast), ssm::Error);
}

BOOST_AUTO_TEST_CASE(selective_scan_long_sequence_carries_state) {
  ScanCase c;
  c.batch = 1; c.dim = 4; c.dstate = 16; c.length = 20000;
  check_scan<float>(c, 300);
}

/// bf16 storage on `kernel` against the float32 kernel on the bf16-rounded inputs.
static void check_bf16(const ScanCase& c, std::uint64_t seed, detail::ScanKernel kernel) {
  ScanData<float> data(c, seed);
  auto to_bf16 = [](float f) {
    std::uint32_t x;
    std::memcpy(&x, &f, 4);
    x += 0x7fffu + ((x >> 16) & 1u);  // round to nearest even
    return static_cast<std::uint16_t>(x >> 16);
  };
  auto from_bf16 = [](std::uint16_t h) {
    const std::uint32_t x = std::uint32_t(h) << 16;
    float f;
    std::memcpy(&f, &x, 4);
    return f;
  };
  auto round_vec = [&](std::vector<float>& v, std::vector<std::uint16_t>& bits) {
    bits.resize(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) {
      bits[i] = to_bf16(v[i]);
      v[i] = from_bf16(bits[i]);
    }
  };
  std::vector<std::uint16_t> bu, bd, bz, bB, bC;
  round_vec(data.u, bu);
  round_vec(data.delta, bd);
  round_vec(data.z, bz);
  round_vec(data.B, bB);
  round_vec(data.C, bC);
  const auto [ref_out, ref_last] = data.run(Device::cuda);  // float32 on the rounded inputs

  DeviceBuffer<std::uint16_t> du(bu), ddl(bd), dz(bz), dB(bB), dC(bC), dout(bu.size());
  DeviceBuffer<float> dA(data.A), dD(data.D), dbias(data.bias), dh0(data.h0), dlast(data.h0.size());
  auto a = data.args();
  a.A = dA.data(); a.D = dD.data(); a.delta_bias = dbias.data(); a.h0 = dh0.data();
  a.last_state = dlast.data();
  detail::SelectiveScanBf16 io{du.data(), ddl.data(), dz.data(), dB.data(), dC.data(), dout.data()};
  detail::selective_scan_cuda_bf16(a, io, /*synchronize=*/true, kernel);
  const auto bits = dout.to_host();
  std::vector<float> out(bits.size());
  for (std::size_t i = 0; i < bits.size(); ++i) out[i] = from_bf16(bits[i]);
  BOOST_TEST_CONTEXT("bf16 N=" << c.dstate << " D=" << c.dim << " G=" << c.groups << " L=" << c.length
                               << " kernel=" << kernel_name(kernel)) {
    BOOST_TEST(worst(out, ref_out, 1e-2, 8e-3) <= 1.0);  // output rounded to bf16
    BOOST_TEST(worst(dlast.to_host(), ref_last, 1e-4, 1e-4) <= 1.0);
  }
}

BOOST_AUTO_TEST_CASE(selective_scan_bf16_matches_float_on_rounded_inputs) {
  ScanCase c;
  c.length = 1500;
  c.dim = 8;
  check_bf16(c, 400, detail::ScanKernel::legacy);  // N = 4, 8 channels: legacy only
  for (int N : {4, 16, 32}) {
    ScanCase f;
    f.dstate = N;
    f.dim = 2 * (4 * 128 / N);
    f.groups = 2;
    f.length = 1499;  // not a multiple of 4: scalar B/C loads, unaligned rows
    for (auto k : {detail::ScanKernel::legacy, detail::ScanKernel::fast_s1, detail::ScanKernel::fast_s2,
                   detail::ScanKernel::fast_s4, detail::ScanKernel::fast_split})
      check_bf16(f, 410 + N, k);
    f.length = 1024;  // aligned: vector loads
    for (auto k : {detail::ScanKernel::legacy, detail::ScanKernel::fast_s1, detail::ScanKernel::fast_s2,
                   detail::ScanKernel::fast_s4, detail::ScanKernel::fast_split})
      check_bf16(f, 420 + N, k);
  }
}

BOOST_AUTO_TEST_CASE(prefill_then_state_update_equals_longer_scan) {
  // Scan L samples on the GPU, then one selective_state_update step from its last_state,
  // equals the (L+1)-sample CPU scan's last output and state.
  for (bool cplx : {false, true}) {
    ScanCase c;
    c.complex_A = cplx;
    c.length = 65;
    c.groups = 2;
    ScanData<float> full(c, 500 + cplx);
    const auto [out_ref, last_ref] = full.run(Device::cpu);
    const int comps = cplx ? 2 : 1, L = c.length, Dm = c.dim, N = c.dstate, Bt = c.batch;
    // The first L-1 samples, variable B/C sliced along time.
    ScanCase p = c;
    p.length = L - 1;
    ScanData<float> pre(p, 1);
    auto slice = [&](const std::vector<float>& v, int rows, int keep) {
      std::vector<float> r;
      for (int i = 0; i < rows; ++i)
        for (int t = 0; t < keep; ++t) r.push_back(v[std::size_t(i) * L + t]);
      return r;
    };
    auto slice_c = [&](const std::vector<float>& v, int rows, int keep) {
      std::vector<float> r;
      for (int i = 0; i < rows; ++i)
        for (int t = 0; t < keep * comps; ++t) r.push_back(v[std::size_t(i) * L * comps + t]);
      return r;
    };
    pre.u = slice(full.u, Bt * Dm, L - 1);
    pre.delta = slice(full.delta, Bt * Dm, L - 1);
    pre.z = slice(full.z, Bt * Dm, L - 1);
    pre.B = slice_c(full.B, Bt * c.groups * N, L - 1);
    pre.C = slice_c(full.C, Bt * c.groups * N, L - 1);
    pre.A = full.A; pre.D = full.D; pre.bias = full.bias; pre.h0 = full.h0;
    auto [pre_out, state] = pre.run(Device::cuda);
    // Step inputs at t = L-1.
    std::vector<float> x, dt, z, B, C;
    for (int i = 0; i < Bt * Dm; ++i) {
      x.push_back(full.u[std::size_t(i) * L + L - 1]);
      dt.push_back(full.delta[std::size_t(i) * L + L - 1]);
      z.push_back(full.z[std::size_t(i) * L + L - 1]);
    }
    for (int i = 0; i < Bt * c.groups * N; ++i)
      for (int k = 0; k < comps; ++k) {
        B.push_back(full.B[(std::size_t(i) * L + L - 1) * comps + k]);
        C.push_back(full.C[(std::size_t(i) * L + L - 1) * comps + k]);
      }
    DeviceBuffer<float> ds(state), dx(x), ddt(dt), dz(z), dA(full.A), dB(B), dC(C), dD(full.D),
        dbias(full.bias), dout(x.size());
    SelectiveStateUpdateArgs<float> a;
    a.batch = Bt; a.dim = Dm; a.dstate = N; a.groups = c.groups; a.complex_A = cplx;
    a.dt_softplus = true;
    a.state = ds.data(); a.x = dx.data(); a.dt = ddt.data(); a.A = dA.data(); a.B = dB.data();
    a.C = dC.data(); a.D = dD.data(); a.z = dz.data(); a.dt_bias = dbias.data(); a.out = dout.data();
    selective_state_update(a, Device::cuda);
    std::vector<float> last_out;
    for (int i = 0; i < Bt * Dm; ++i) last_out.push_back(out_ref[std::size_t(i) * L + L - 1]);
    BOOST_TEST(worst(dout.to_host(), last_out, 2e-4, 2e-4) <= 1.0);
    BOOST_TEST(worst(ds.to_host(), last_ref, 2e-4, 2e-4) <= 1.0);
  }
}

BOOST_AUTO_TEST_CASE(state_update_matches_cpu_double) {
  for (bool cplx : {false, true}) {
    const int Bt = 3, Dm = 8, N = 40, G = 2, comps = cplx ? 2 : 1;
    auto state = rnd<double>(std::size_t(Bt) * Dm * N * comps, 600);
    auto x = rnd<double>(Bt * Dm, 601), dt = rnd<double>(Bt * Dm, 602), z = rnd<double>(Bt * Dm, 603);
    auto A = rnd<double>(std::size_t(Dm) * N * comps, 604);
    for (std::size_t i = 0; i < A.size(); i += comps) A[i] = -std::fabs(A[i]);
    auto B = rnd<double>(std::size_t(Bt) * G * N * comps, 605), C = rnd<double>(B.size(), 606);
    auto D = rnd<double>(Dm, 607), bias = rnd<double>(Dm, 608);
    SelectiveStateUpdateArgs<double> a;
    a.batch = Bt; a.dim = Dm; a.dstate = N; a.groups = G; a.complex_A = cplx; a.dt_softplus = true;
    std::vector<double> s_cpu = state, out_cpu(Bt * Dm);
    a.state = s_cpu.data(); a.x = x.data(); a.dt = dt.data(); a.A = A.data(); a.B = B.data();
    a.C = C.data(); a.D = D.data(); a.z = z.data(); a.dt_bias = bias.data(); a.out = out_cpu.data();
    selective_state_update(a, Device::cpu);
    DeviceBuffer<double> ds(state), dx(x), ddt(dt), dz(z), dA(A), dB(B), dC(C), dD(D), dbias(bias),
        dout(out_cpu.size());
    a.state = ds.data(); a.x = dx.data(); a.dt = ddt.data(); a.A = dA.data(); a.B = dB.data();
    a.C = dC.data(); a.D = dD.data(); a.z = dz.data(); a.dt_bias = dbias.data(); a.out = dout.data();
    selective_state_update(a, Device::cuda);
    BOOST_TEST(worst(dout.to_host(), out_cpu, 1e-12, 1e-10) <= 1.0);
    BOOST_TEST(worst(ds.to_host(), s_cpu, 1e-12, 1e-10) <= 1.0);
  }
}

BOOST_AUTO_TEST_CASE(diag_scan_matches_cpu) {
  for (Method m : {Method::zoh, Method::bilinear}) {
    const int Bt = 2, H = 6, N2 = 16, L = 3000;
    auto A = rnd<float>(std::size_t(H) * N2 * 2, 700), B = rnd<float>(A.size(), 701),
         C = rnd<float>(A.size(), 702);
    for (std::size_t i = 0; i < A.size(); i += 2) {
      A[i] = -0.5f - 0.2f * std::fabs(A[i]);
      A[i + 1] *= 3.f;
    }
    auto D = rnd<float>(H, 703), u = rnd<float>(std::size_t(Bt) * H * L, 704),
         h0 = rnd<float>(std::size_t(Bt) * H * N2 * 2, 705);
    std::vector<float> dt(H);
    for (int h = 0; h < H; ++h) dt[h] = 0.001f * float(h + 1);
    DiagScanArgs<float> a;
    a.batch = Bt; a.channels = H; a.modes = N2; a.length = L; a.method = m;
    std::vector<float> y_cpu(u.size()), last_cpu(h0.size());
    a.A = A.data(); a.B = B.data(); a.C = C.data(); a.D = D.data(); a.dt = dt.data(); a.u = u.data();
    a.h0 = h0.data(); a.y = y_cpu.data(); a.last_state = last_cpu.data();
    diag_scan(a, Device::cpu);
    DeviceBuffer<float> dA(A), dB(B), dC(C), dD(D), ddt(dt), du(u), dh0(h0), dy(u.size()),
        dlast(h0.size());
    a.A = dA.data(); a.B = dB.data(); a.C = dC.data(); a.D = dD.data(); a.dt = ddt.data();
    a.u = du.data(); a.h0 = dh0.data(); a.y = dy.data(); a.last_state = dlast.data();
    diag_scan(a, Device::cuda);
    BOOST_TEST(worst(dy.to_host(), y_cpu, 1e-3, 1e-3) <= 1.0);
    BOOST_TEST(worst(dlast.to_host(), last_cpu, 1e-3, 1e-3) <= 1.0);
    // dt <= 0 is rejected by the CUDA path too.
    std::vector<float> bad = dt;
    bad[2] = 0.f;
    DeviceBuffer<float> dbad(bad);
    a.dt = dbad.data();
    BOOST_CHECK_THROW(diag_scan(a, Device::cuda), ssm::Error);
  }
}

// Every kernel of the CUDA diag_scan (the register-resident sequential scan at 4, 8 and 16 modes a
// thread, one time chunk or several, folded (no h0) and true-state coordinates; the legacy warp
// scan) against the CPU scan on shapes that do not fill a tile, a chunk or a lane group, in both
// activation layouts, float and double.
template <class T>
void diag_scan_kernels_case(int Bt, int H, int N2, int L, bool chlast, bool with_h0, bool with_last,
                            std::uint64_t seed) {
  auto A = rnd<T>(std::size_t(H) * N2 * 2, seed), B = rnd<T>(A.size(), seed + 1),
       C = rnd<T>(A.size(), seed + 2);
  for (std::size_t i = 0; i < A.size(); i += 2) {
    A[i] = T(-0.05) - T(0.5) * std::fabs(A[i]);
    A[i + 1] *= T(3);
  }
  auto D = rnd<T>(H, seed + 3), u = rnd<T>(std::size_t(Bt) * H * L, seed + 4),
       h0 = rnd<T>(std::size_t(Bt) * H * N2 * 2, seed + 5);
  std::vector<T> dt(H);
  for (int h = 0; h < H; ++h) dt[h] = T(0.002) * T(h + 1);
  DiagScanArgs<T> a;
  a.batch = Bt; a.channels = H; a.modes = N2; a.length = L; a.method = Method::zoh;
  if (chlast) a.u_strides = a.y_strides = Strides3{std::ptrdiff_t(L) * H, 1, H};
  std::vector<T> y_cpu(u.size()), last_cpu(h0.size());
  a.A = A.data(); a.B = B.data(); a.C = C.data(); a.D = D.data(); a.dt = dt.data(); a.u = u.data();
  a.h0 = with_h0 ? h0.data() : nullptr; a.y = y_cpu.data(); a.last_state = with_last ? last_cpu.data() : nullptr;
  diag_scan(a, Device::cpu);
  DeviceBuffer<T> dA(A), dB(B), dC(C), dD(D), ddt(dt), du(u), dh0(h0), dy(u.size()), dlast(h0.size());
  a.A = dA.data(); a.B = dB.data(); a.C = dC.data(); a.D = dD.data(); a.dt = ddt.data();
  a.u = du.data(); a.h0 = with_h0 ? dh0.data() : nullptr; a.y = dy.data();
  a.last_state = with_last ? dlast.data() : nullptr;
  const double tol = std::is_same_v<T, float> ? 2e-3 : 1e-9;
  std::vector<detail::DiagScanCudaConfig> cfgs = {{0, 0, true}, {0, 0, false}};
  for (int m : {4, 8, 16})
    for (int c : {1, 3, 0}) cfgs.push_back({m, c, false});
  // The chunked-GEMM path (unit time strides only): chunks that leave a tail for the recurrence,
  // that divide L, and that are longer than L (then the recurrence alone).
  if (!chlast) {
    for (int g : {16, 64, 128}) cfgs.push_back({0, 0, false, g});
    cfgs.push_back({0, 0, false, 0, 1});  // the FP64 tensor-core kernel (chunks of 64)
  }
  for (const auto& cfg : cfgs) {
    BOOST_TEST_CONTEXT("B=" << Bt << " H=" << H << " N2=" << N2 << " L=" << L << " chlast=" << chlast
                            << " h0=" << with_h0 << " mpt=" << cfg.modes_per_thread << " chunks=" << cfg.chunks
                            << " legacy=" << cfg.legacy << " gemm_chunk=" << cfg.gemm_chunk
                            << " tensor_core=" << cfg.tensor_core) {
      dy.upload(std::vector<T>(u.size(), T(-777)));
      detail::diag_scan_cuda(a, cfg);
      BOOST_TEST(worst(dy.to_host(), y_cpu, tol, tol) <= 1.0);
      if (with_last) BOOST_TEST(worst(dlast.to_host(), last_cpu, tol, tol) <= 1.0);
    }
  }
}

BOOST_AUTO_TEST_CASE(diag_scan_every_kernel_matches_cpu) {
  std::uint64_t seed = 900;
  for (bool chlast : {false, true}) {
    diag_scan_kernels_case<float>(2, 5, 3, 1, chlast, false, true, seed += 10);
    diag_scan_kernels_case<float>(1, 37, 32, 1000, chlast, false, true, seed += 10);
    diag_scan_kernels_case<float>(3, 9, 17, 333, chlast, true, true, seed += 10);
    diag_scan_kernels_case<float>(2, 4, 64, 2049, chlast, false, false, seed += 10);
    diag_scan_kernels_case<float>(2, 3, 12, 700, chlast, true, true, seed += 10);  // 24 state rows: 32 padded
    diag_scan_kernels_case<double>(2, 7, 24, 517, chlast, true, true, seed += 10);
    diag_scan_kernels_case<double>(1, 3, 5, 4096, chlast, false, true, seed += 10);
    diag_scan_kernels_case<float>(2, 6, 8, 4096, chlast, true, true, seed += 10);  // no tail at 16/64/128
  }
}

BOOST_AUTO_TEST_CASE(device_buffer_checks_ranges_and_round_trips) {
  DeviceBuffer<float> b(std::vector<float>{1, 2, 3, 4});
  std::vector<float> h(2);
  b.download(h.data(), 2, 2);
  BOOST_TEST(h[0] == 3.f);
  BOOST_TEST(h[1] == 4.f);
  BOOST_CHECK_THROW(b.download(h.data(), 2, 3), ssm::Error);
  BOOST_CHECK_THROW(b.upload(h.data(), 5), ssm::Error);
  DeviceBuffer<float> moved = std::move(b);
  BOOST_TEST(moved.size() == 4u);
  BOOST_TEST(b.size() == 0u);
  // An absurd allocation is an ssm::Error, not a crash.
  BOOST_CHECK_THROW(DeviceBuffer<float>(std::size_t{1} << 46), ssm::Error);
}

BOOST_AUTO_TEST_CASE(every_gpu_runs_every_scan_kernel) {
  // Launch state is per device: the fast kernel's shared-memory attribute (dstate 4 and 8 with 4
  // states a thread need more than 48 KB a block) and the SM count behind the automatic choice.
  // Every kernel on every visible GPU in turn, twice around, against the CPU.
  const int n = cuda_device_count();
  BOOST_TEST_MESSAGE(n << " GPU(s) visible");
  BOOST_REQUIRE(n >= 1);
  const int first = cuda_current_device();
  std::uint64_t seed = 1000;
  for (int pass = 0; pass < 2; ++pass)
    for (int d = 0; d < n; ++d)
      for (const int N : {4, 8, 16}) {
        cuda_set_device(d);
        ScanCase c;
        c.batch = 2; c.dim = 128; c.dstate = N; c.length = 300;
        BOOST_TEST_CONTEXT("GPU " << d << ", pass " << pass << ", N=" << N) {
          BOOST_TEST(check_scan<float>(c, seed++) >= 4);  // legacy and fast 1, 2, 4 (and split)
          BOOST_TEST(cuda_current_device() == d);
        }
      }
  cuda_set_device(first);
}

// ---- streams ---------------------------------------------------------------------------------
using Gate = ssm::test::StreamGate;

BOOST_AUTO_TEST_CASE(scan_queued_on_a_stream_returns_before_running_and_matches) {
  // The stream is held by a host function until after selective_scan(args, stream) has
  // returned: had the call waited for its work, the gate would time out unreleased. Every kernel
  // path: the fast kernel in one pass, with the time split (stream-ordered workspace), the legacy
  // kernel (complex A) and double.
  CudaStream stream;
  BOOST_TEST(stream.valid());
  BOOST_TEST(stream.device() == cuda_current_device());
  std::uint64_t seed = 2000;
  auto run_case = [&](ScanCase c, auto tag) {
    using T = decltype(tag);
    const ScanData<T> data(c, seed++);
    const auto [out_ref, last_ref] = data.run(Device::cuda);
    auto a = data.args();
    const auto ul = data.layout(data.u), dl = data.layout(data.delta), zl = data.layout(data.z);
    DeviceBuffer<T> du(ul), ddl(dl), dA(data.A), dB(data.B), dC(data.C), dD(data.D), dz(zl),
        dbias(data.bias), dh0(data.h0), dout(out_ref.size()), dlast(last_ref.size());
    a.u = du.data(); a.delta = ddl.data(); a.A = dA.data(); a.B = dB.data(); a.C = dC.data();
    a.D = c.D ? dD.data() : nullptr; a.z = c.z ? dz.data() : nullptr;
    a.delta_bias = c.bias ? dbias.data() : nullptr; a.h0 = c.h0 ? dh0.data() : nullptr;
    a.out = dout.data(); a.last_state = dlast.data();
    Gate gate;
    gate.queue(stream);
    selective_scan(a, stream);
    BOOST_TEST(!stream.ready());  // still held by the gate
    gate.open = true;
    stream.synchronize();
    BOOST_TEST(gate.released.load());
    BOOST_TEST(stream.ready());
    BOOST_TEST_CONTEXT("N=" << c.dstate << " L=" << c.length << " complex=" << c.complex_A
                            << " T=" << (sizeof(T) == 4 ? "f32" : "f64")) {
      BOOST_TEST((data.unlayout(dout.to_host()) == out_ref));  // same kernel, same bits
      BOOST_TEST((dlast.to_host() == last_ref));
    }
  };
  ScanCase c;
  c.batch = 2; c.dim = 64; c.dstate = 16; c.length = 500;
  run_case(c, float{});
  c.batch = 1; c.dim = 32; c.length = 4096;  // few blocks, long: the automatic choice splits time
  SelectiveScanArgs<float> shape;
  shape.batch = c.batch; shape.dim = c.dim; shape.dstate = c.dstate; shape.length = c.length;
  BOOST_TEST(std::string(detail::selective_scan_kernel_name(shape)).find("split") != std::string::npos);
  run_case(c, float{});
  c.complex_A = true; c.length = 300;
  run_case(c, float{});
  run_case(c, double{});
}

BOOST_AUTO_TEST_CASE(two_streams_run_different_scans_concurrently) {
  // Two problems queued on two streams before either is waited for; each must match its
  // synchronous run (the split workspace and the kernels' buffers are per call).
  ScanCase c1, c2;
  c1.batch = 1; c1.dim = 32; c1.dstate = 16; c1.length = 3000;
  c2.batch = 3; c2.dim = 64; c2.dstate = 8; c2.length = 700; c2.transposed = true;
  const ScanData<float> d1(c1, 2100), d2(c2, 2101);
  const auto r1 = d1.run(Device::cuda), r2 = d2.run(Device::cuda);
  CudaStream s1, s2;
  auto upload = [](const ScanData<float>& d, std::vector<DeviceBuffer<float>>& keep) {
    auto a = d.args();
    keep.emplace_back(d.layout(d.u)); a.u = keep.back().data();
    keep.emplace_back(d.layout(d.delta)); a.delta = keep.back().data();
    keep.emplace_back(d.A); a.A = keep.back().data();
    keep.emplace_back(d.B); a.B = keep.back().data();
    keep.emplace_back(d.C); a.C = keep.back().data();
    keep.emplace_back(d.D); a.D = keep.back().data();
    keep.emplace_back(d.layout(d.z)); a.z = keep.back().data();
    keep.emplace_back(d.bias); a.delta_bias = keep.back().data();
    keep.emplace_back(d.h0); a.h0 = keep.back().data();
    keep.emplace_back(d.u.size()); a.out = keep.back().data();
    keep.emplace_back(d.h0.size()); a.last_state = keep.back().data();
    return a;
  };
  std::vector<DeviceBuffer<float>> k1, k2;
  k1.reserve(16); k2.reserve(16);
  const auto a1 = upload(d1, k1), a2 = upload(d2, k2);
  selective_scan(a1, s1);
  selective_scan(a2, s2);
  s2.synchronize();
  s1.synchronize();
  BOOST_TEST((d1.unlayout(k1[9].to_host()) == r1.first));
  BOOST_TEST((k1[10].to_host() == r1.second));
  BOOST_TEST((d2.unlayout(k2[9].to_host()) == r2.first));
  BOOST_TEST((k2[10].to_host() == r2.second));
}

BOOST_AUTO_TEST_CASE(state_update_queued_on_a_stream_matches) {
  // A prefill and three decoding steps, all queued on one stream without waiting in between
  // (each step reads the state the previous one wrote: stream order), against the synchronous path.
  const int B = 2, Dm = 64, N = 16, L = 200;
  ScanCase c;
  c.batch = B; c.dim = Dm; c.dstate = N; c.length = L;
  const ScanData<float> data(c, 2200);
  const auto x = rnd<float>(std::size_t(B) * Dm * 3, 2201), dt = rnd<float>(std::size_t(B) * Dm * 3, 2202, 0.5, -1.0);
  const auto Bs = rnd<float>(std::size_t(B) * N * 3, 2203), Cs = rnd<float>(std::size_t(B) * N * 3, 2204);
  const auto zs = rnd<float>(std::size_t(B) * Dm * 3, 2205);
  auto steps = [&](const CudaStream* stream) {
    const auto [out, last] = data.run(Device::cuda);
    DeviceBuffer<float> state(last), dA(data.A), dD(data.D), dbias(data.bias), dx(x), ddt(dt), dB(Bs), dC(Cs),
        dz(zs), dout(x.size());
    for (int k = 0; k < 3; ++k) {
      SelectiveStateUpdateArgs<float> a;
      a.batch = B; a.dim = Dm; a.dstate = N; a.groups = 1; a.dt_softplus = true;
      a.state = state.data(); a.A = dA.data(); a.D = dD.data(); a.dt_bias = dbias.data();
      a.x = dx.data() + k * B * Dm; a.dt = ddt.data() + k * B * Dm; a.z = dz.data() + k * B * Dm;
      a.B = dB.data() + k * B * N; a.C = dC.data() + k * B * N; a.out = dout.data() + k * B * Dm;
      if (stream) selective_state_update(a, *stream);
      else selective_state_update(a, Device::cuda);
    }
    if (stream) stream->synchronize();
    return std::make_pair(dout.to_host(), state.to_host());
  };
  CudaStream s;
  const auto ref = steps(nullptr), got = steps(&s);
  BOOST_TEST((got.first == ref.first));
  BOOST_TEST((got.second == ref.second));
}

BOOST_AUTO_TEST_CASE(moved_from_stream_is_rejected) {
  CudaStream s;
  CudaStream t(std::move(s));
  BOOST_TEST(!s.valid());
  BOOST_TEST(t.valid());
  ScanCase c;
  const ScanData<float> data(c, 2300);
  DeviceBuffer<float> du(data.u), ddl(data.delta), dA(data.A), dB(data.B), dC(data.C), dout(data.u.size());
  auto a = data.args();
  a.u = du.data(); a.delta = ddl.data(); a.A = dA.data(); a.B = dB.data(); a.C = dC.data(); a.out = dout.data();
  BOOST_CHECK_EXCEPTION(selective_scan(a, s), ssm::Error, [](const ssm::Error& e) {
    return std::string(e.what()).find("'stream'") != std::string::npos;
  });
  BOOST_CHECK_THROW(s.synchronize(), ssm::Error);
  selective_scan(a, t);  // the live one works
  t.synchronize();
  // A wrapped stream (here the legacy default stream) is used, not destroyed.
  CudaStream legacy = CudaStream::wrap(nullptr);
  BOOST_TEST(legacy.handle() == nullptr);
  selective_scan(a, legacy);
  legacy.synchronize();
}

BOOST_AUTO_TEST_CASE(diag_scan_on_a_stream_reads_parameters_in_stream_order_and_matches) {
  // dt is written on the stream (an async upload from pinned memory queued behind a gate) right
  // before diag_scan(args, stream): the call must wait for that work to read dt, then queue the
  // scan; the output equals the synchronous call bit for bit (double too), and a dt <= 0 that
  // arrives the same way is still rejected.
  const int Bt = 2, H = 4, N2 = 8, L = 1500;
  auto A = rnd<float>(std::size_t(H) * N2 * 2, 800), B = rnd<float>(A.size(), 801), C = rnd<float>(A.size(), 802);
  for (std::size_t i = 0; i < A.size(); i += 2) A[i] = -0.5f - 0.2f * std::fabs(A[i]);
  const auto D = rnd<float>(H, 803), u = rnd<float>(std::size_t(Bt) * H * L, 804);
  std::vector<float> dt(H);
  for (int h = 0; h < H; ++h) dt[h] = 0.002f * float(h + 1);
  DeviceBuffer<float> dA(A), dB(B), dC(C), dD(D), ddt(std::vector<float>(H, -1.f)), du(u), dy(u.size()), dy_ref(u.size());
  DiagScanArgs<float> a;
  a.batch = Bt; a.channels = H; a.modes = N2; a.length = L; a.method = Method::zoh;
  a.A = dA.data(); a.B = dB.data(); a.C = dC.data(); a.D = dD.data(); a.dt = ddt.data(); a.u = du.data();
  CudaStream s;
  PinnedBuffer<float> pdt(H);
  std::copy(dt.begin(), dt.end(), pdt.begin());
  Gate gate;
  gate.queue(s);
  ddt.upload_async(pdt, s);  // dt (-1 until then) is ready only once the gate opens
  std::thread opener([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    gate.open = true;
  });
  a.y = dy.data();
  diag_scan(a, s);  // waits for the upload: sees the real dt, not -1 (which it would reject)
  opener.join();
  BOOST_TEST(gate.released.load());
  s.synchronize();
  a.y = dy_ref.data();
  diag_scan(a, Device::cuda);
  BOOST_TEST((dy.to_host() == dy_ref.to_host()));
  // A bad dt arriving in stream order is rejected.
  pdt[1] = 0.f;
  ddt.upload_async(pdt, s);
  BOOST_CHECK_THROW(diag_scan(a, s), ssm::Error);
  // double: the same path.
  std::vector<double> Ad(A.begin(), A.end()), Bd(B.begin(), B.end()), Cd(C.begin(), C.end()), Dd(D.begin(), D.end()),
      dtd(dt.begin(), dt.end()), ud(u.begin(), u.end());
  DeviceBuffer<double> eA(Ad), eB(Bd), eC(Cd), eD(Dd), edt(dtd), eu(ud), ey(ud.size()), ey_ref(ud.size());
  DiagScanArgs<double> b;
  b.batch = Bt; b.channels = H; b.modes = N2; b.length = L; b.method = Method::bilinear;
  b.A = eA.data(); b.B = eB.data(); b.C = eC.data(); b.D = eD.data(); b.dt = edt.data(); b.u = eu.data();
  b.y = ey.data();
  diag_scan(b, s);
  s.synchronize();
  b.y = ey_ref.data();
  diag_scan(b, Device::cuda);
  BOOST_TEST((ey.to_host() == ey_ref.to_host()));
}

BOOST_AUTO_TEST_CASE(stream_of_another_gpu_runs_there_and_leaves_the_current_device) {
  // A stream made on the last GPU, used while GPU 0 is current: the scan and the state update run
  // on the stream's GPU (where their buffers are) and GPU 0 stays current. With one GPU both are
  // GPU 0 and this is the plain stream path.
  const int n = cuda_device_count(), last = n - 1, first = cuda_current_device();
  cuda_set_device(last);
  ScanCase c;
  c.batch = 2; c.dim = 64; c.dstate = 16; c.length = 600;
  const ScanData<float> data(c, 2400);
  const auto ref = data.run(Device::cuda);  // on the last GPU, synchronous
  DeviceBuffer<float> du(data.u), ddl(data.delta), dA(data.A), dB(data.B), dC(data.C), dD(data.D), dz(data.z),
      dbias(data.bias), dh0(data.h0), dout(data.u.size()), dlast(data.h0.size());
  auto a = data.args();
  a.u = du.data(); a.delta = ddl.data(); a.A = dA.data(); a.B = dB.data(); a.C = dC.data(); a.D = dD.data();
  a.z = dz.data(); a.delta_bias = dbias.data(); a.h0 = dh0.data(); a.out = dout.data(); a.last_state = dlast.data();
  CudaStream s;  // on the last GPU
  BOOST_TEST(s.device() == last);
  cuda_set_device(0);
  selective_scan(a, s);
  BOOST_TEST(cuda_current_device() == 0);
  s.synchronize();
  BOOST_TEST((dout.to_host() == ref.first));
  BOOST_TEST((dlast.to_host() == ref.second));
  BOOST_TEST_MESSAGE(n << " GPU(s): stream on GPU " << last << ", current GPU 0");
  cuda_set_device(first);
}
