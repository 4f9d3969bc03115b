// CUDA convolution paths against the CPU ones: ssm::fftconv on Device::cuda (device pointers;
// cuFFT, cached kernel spectra, fused skip) vs the direct O(L Lk) sum, vs its host convenience
// fftconv_cuda_from_host and vs the unfused cuFFT path; strided and in-place device views; host
// pointers and non-finite device data refused naming the argument; the slab loop (small
// workspace); every visible GPU (spectra and plans per device); one FFT object queued on two
// streams; and diag_kernel(..., Device::cuda) (device output) vs the CPU diag_kernel.
// Exits 77 (CTest: skipped) when no GPU is present.
#define BOOST_TEST_MODULE conv_cuda
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "ssm/conv/diag_kernel.hpp"
#include "ssm/conv/fftconv.hpp"
#include "ssm/core/cuda_stream.hpp"
#include "ssm/core/device.hpp"
#include "ssm/core/device_buffer.hpp"
#include "ssm/core/error.hpp"
#include "support/testing.hpp"
#include "backend/fftconv_device.hpp"

using namespace ssm;

namespace {

/// max |a - b| relative to max |b| (FFT round-off scales with the signal, not per element).
double rel_err(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return INFINITY;
  double m = 0, e = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    m = std::fmax(m, std::fabs(double(b[i])));
    const double d = std::fabs(double(a[i]) - double(b[i]));
    if (!(d <= e)) e = d;
  }
  return e / (m > 0 ? m : 1.0);
}

}  // namespace

using ssm::test::RequireGpu;
BOOST_TEST_GLOBAL_FIXTURE(RequireGpu);

BOOST_AUTO_TEST_CASE(fftconv_cuda_matches_direct_sum) {
  struct Shape { std::ptrdiff_t B, H, L, Lk; bool D; };
  std::uint64_t seed = 1;
  for (const Shape s : {Shape{1, 1, 1, 1, true}, Shape{2, 3, 100, 17, true}, Shape{1, 4, 1000, 3000, true},
                        Shape{3, 2, 777, 777, false}, Shape{2, 5, 4096, 50, true}}) {
    const auto u = test::randn_f(std::size_t(s.B * s.H * s.L), seed++);
    const auto k = test::randn_f(std::size_t(s.H * s.Lk), seed++);
    const auto D = test::randn_f(std::size_t(s.H), seed++);
    std::vector<float> y_ref(u.size());
    direct_conv<float>(View3<const float>(u.data(), s.B, s.H, s.L), k.data(), s.Lk,
                       s.D ? D.data() : nullptr, View3<float>(y_ref.data(), s.B, s.H, s.L));
    DeviceBuffer<float> du(u), dk(k), dD(D), dy(std::vector<float>(u.size(), -777.f));
    fftconv<float>(View3<const float>(du.data(), s.B, s.H, s.L), dk.data(), s.Lk, s.D ? dD.data() : nullptr,
                   View3<float>(dy.data(), s.B, s.H, s.L), Device::cuda);
    const auto y = dy.to_host();
    BOOST_TEST_CONTEXT("B=" << s.B << " H=" << s.H << " L=" << s.L << " Lk=" << s.Lk) {
      BOOST_TEST(rel_err(y, y_ref) < 2e-5);
      // A second call reuses the cached spectrum and must give the same bits.
      DeviceBuffer<float> dy2(u.size());
      fftconv<float>(View3<const float>(du.data(), s.B, s.H, s.L), dk.data(), s.Lk, s.D ? dD.data() : nullptr,
                     View3<float>(dy2.data(), s.B, s.H, s.L), Device::cuda);
      BOOST_TEST((dy2.to_host() == y));
      // The host convenience runs the same path: the same bits.
      std::vector<float> yh(u.size(), -777.f);
      fftconv_cuda_from_host(View3<const float>(u.data(), s.B, s.H, s.L), k.data(), s.Lk,
                             s.D ? D.data() : nullptr, View3<float>(yh.data(), s.B, s.H, s.L));
      BOOST_TEST((yh == y));
    }
  }
}

BOOST_AUTO_TEST_CASE(fftconv_cuda_strided_views) {
  // u and y as (B, L, H) storage viewed as (B, H, L): strides (L*H, 1, H), on the device.
  const std::ptrdiff_t B = 2, H = 3, L = 300, Lk = 64;
  const auto u_bhl = test::randn_f(std::size_t(B * H * L), 50);
  const auto k = test::randn_f(std::size_t(H * Lk), 51), D = test::randn_f(std::size_t(H), 52);
  std::vector<float> u_blh(u_bhl.size()), y_ref(u_bhl.size());
  for (std::ptrdiff_t b = 0; b < B; ++b)
    for (std::ptrdiff_t h = 0; h < H; ++h)
      for (std::ptrdiff_t t = 0; t < L; ++t) u_blh[(b * L + t) * H + h] = u_bhl[(b * H + h) * L + t];
  direct_conv<float>(View3<const float>(u_bhl.data(), B, H, L), k.data(), Lk, D.data(),
                     View3<float>(y_ref.data(), B, H, L));
  DeviceBuffer<float> du(u_blh), dk(k), dD(D), dy(u_blh.size());
  fftconv<float>(View3<const float>(du.data(), B, H, L, L * H, 1, H), dk.data(), Lk, dD.data(),
                 View3<float>(dy.data(), B, H, L, L * H, 1, H), Device::cuda);
  const auto y_blh = dy.to_host();
  std::vector<float> y(u_bhl.size());
  for (std::ptrdiff_t b = 0; b < B; ++b)
    for (std::ptrdiff_t h = 0; h < H; ++h)
      for (std::ptrdiff_t t = 0; t < L; ++t) y[(b * H + h) * L + t] = y_blh[(b * L + t) * H + h];
  BOOST_TEST(rel_err(y, y_ref) < 2e-5);
  // In place on the device (y is exactly u, strided and contiguous): the same bits.
  fftconv<float>(View3<const float>(du.data(), B, H, L, L * H, 1, H), dk.data(), Lk, dD.data(),
                 View3<float>(du.data(), B, H, L, L * H, 1, H), Device::cuda);
  BOOST_TEST((du.to_host() == y_blh));
  DeviceBuffer<float> dc(u_bhl), dyc(u_bhl.size());
  fftconv<float>(View3<const float>(dc.data(), B, H, L), dk.data(), Lk, dD.data(),
                 View3<float>(dyc.data(), B, H, L), Device::cuda);
  fftconv<float>(View3<const float>(dc.data(), B, H, L), dk.data(), Lk, dD.data(),
                 View3<float>(dc.data(), B, H, L), Device::cuda);
  BOOST_TEST((dc.to_host() == dyc.to_host()));
}

namespace {
/// Runs f, expecting ssm::Error whose message names `arg` ("argument '<arg>'") and holds `has`.
template <class F>
void expect_error(F&& f, const std::string& arg, const std::string& has) {
  try {
    f();
    BOOST_ERROR("expected ssm::Error naming '" << arg << "'");
  } catch (const ssm::Error& e) {
    const std::string m = e.what();
    BOOST_TEST_CONTEXT(m) {
      BOOST_TEST(m.find("argument '" + arg + "'") != std::string::npos);
      BOOST_TEST(m.find(has) != std::string::npos);
    }
  }
}
}  // namespace

BOOST_AUTO_TEST_CASE(cuda_entry_points_take_device_pointers_only) {
  // One meaning of Device::cuda: host memory given to a Device::cuda entry point is refused,
  // naming the argument (it would fault inside a kernel); non-finite device data is refused as
  // the CPU path refuses it.
  const std::ptrdiff_t B = 1, H = 2, L = 64, Lk = 8;
  const auto u = test::randn_f(std::size_t(B * H * L), 80), k = test::randn_f(std::size_t(H * Lk), 81);
  const auto D = test::randn_f(std::size_t(H), 82);
  std::vector<float> y(u.size());
  DeviceBuffer<float> du(u), dk(k), dD(D), dy(u.size());
  const View3<const float> uh(u.data(), B, H, L), ud(du.data(), B, H, L);
  const View3<float> yh(y.data(), B, H, L), yd(dy.data(), B, H, L);
  expect_error([&] { fftconv<float>(uh, dk.data(), Lk, dD.data(), yd, Device::cuda); }, "u", "device pointer");
  expect_error([&] { fftconv<float>(ud, dk.data(), Lk, dD.data(), yh, Device::cuda); }, "y", "device pointer");
  expect_error([&] { fftconv<float>(ud, k.data(), Lk, dD.data(), yd, Device::cuda); }, "k", "device pointer");
  expect_error([&] { fftconv<float>(ud, dk.data(), Lk, D.data(), yd, Device::cuda); }, "D", "device pointer");
  auto bad = u;
  bad[std::size_t(L + 5)] = NAN;  // u[0, 1, 5]
  DeviceBuffer<float> dbad(bad);
  expect_error([&] { fftconv<float>(View3<const float>(dbad.data(), B, H, L), dk.data(), Lk, dD.data(), yd, Device::cuda); },
               "u", "u[0,1,5]");
  auto kbad = k;
  kbad[3] = INFINITY;
  DeviceBuffer<float> dkbad(kbad);
  expect_error([&] { fftconv<float>(ud, dkbad.data(), Lk, dD.data(), yd, Device::cuda); }, "k", "k[0,3]");
  // The output of diag_kernel(..., Device::cuda) is device memory too.
  DiagonalSSM model(H, 4);
  for (int h = 0; h < H; ++h)
    for (int n = 0; n < 4; ++n) {
      model.A.set(model.index(h, n), {-0.5, 3.14159 * n});
      model.B.set(model.index(h, n), {1.0, 0.0});
      model.C.set(model.index(h, n), {0.5, 0.25});
    }
  model.set_dt(std::vector<double>(std::size_t(H), 1e-2));
  std::vector<float> Kh(std::size_t(H * L));
  expect_error([&] { diag_kernel(model, Method::zoh, L, Kh.data(), Device::cuda); }, "K", "device pointer");
}

BOOST_AUTO_TEST_CASE(fused_slabs_match_unfused_path) {
  // A workspace of a few rows forces the slab loop (rows not a multiple of the slab, and
  // slabs that start mid-way through the channels).
  const int B = 3, H = 5;
  const std::ptrdiff_t L = 5000, Lk = 2500;
  const auto u = test::randn_f(std::size_t(B) * H * L, 60);
  const auto k = test::randn_f(std::size_t(H) * Lk, 61), D = test::randn_f(H, 62);
  DeviceBuffer<float> du(u), dk(k), dD(D), y1(u.size()), y2(u.size());
  CudaFFTConv conv(H, L, dk.data(), Lk, dD.data(), /*workspace_bytes=*/4 * 8 * 8192);
  conv.apply(du.data(), y1.data(), B, L);
  detail::fftconv_cuda_unfused(du.data(), dk.data(), Lk, dD.data(), y2.data(), B, H, L);
  BOOST_TEST(rel_err(y1.to_host(), y2.to_host()) < 1e-5);
  // Shorter inputs through the same object (spectra built for max_length).
  const std::ptrdiff_t L2 = 1234;
  DeviceBuffer<float> du2(std::vector<float>(u.begin(), u.begin() + std::ptrdiff_t(B) * H * L2)),
      y3(std::size_t(B) * H * L2), y4(std::size_t(B) * H * L2);
  conv.apply(du2.data(), y3.data(), B, L2);
  detail::fftconv_cuda_unfused(du2.data(), dk.data(), Lk, dD.data(), y4.data(), B, H, L2);
  BOOST_TEST(rel_err(y3.to_host(), y4.to_host()) < 1e-5);
  BOOST_CHECK_THROW(conv.apply(du.data(), y1.data(), B, L + 1), ssm::Error);
}

BOOST_AUTO_TEST_CASE(fftconv_cuda_rejects_double) {
  std::vector<double> u(8, 1.0), k(2, 1.0), y(8);
  BOOST_CHECK_THROW(fftconv<double>(View3<const double>(u.data(), 1, 2, 4), k.data(), 1, nullptr,
                                    View3<double>(y.data(), 1, 2, 4), Device::cuda),
                    ssm::Error);
}

BOOST_AUTO_TEST_CASE(vandermonde_kernel_matches_cpu) {
  for (Method m : {Method::zoh, Method::bilinear}) {
    const int H = 5, N2 = 24;
    DiagonalSSM model(H, N2);
    const auto r = test::randn(std::size_t(H) * N2 * 6, 70);
    for (int h = 0; h < H; ++h)
      for (int n = 0; n < N2; ++n) {
        const std::size_t i = model.index(h, n), o = 6 * i;
        model.A.set(i, {-0.5, 3.14159 * n});  // S4D-Lin
        model.B.set(i, {r[o], r[o + 1]});
        model.C.set(i, {r[o + 2], r[o + 3]});
      }
    std::vector<double> dt(H);
    for (int h = 0; h < H; ++h) dt[h] = 1e-3 * std::pow(10.0, h * 0.5);
    model.set_dt(dt);
    for (std::ptrdiff_t L : {std::ptrdiff_t(1), std::ptrdiff_t(33), std::ptrdiff_t(100000)}) {
      const auto K_cpu = diag_kernel<float>(model, m, L);
      DeviceBuffer<float> Kd(K_cpu.size());
      diag_kernel(model, m, L, Kd.data(), Device::cuda);  // device output
      const auto K = Kd.to_host();
      std::vector<float> Kh(K_cpu.size());
      diag_kernel_cuda_to_host(model, m, L, Kh.data());  // host convenience, same kernel
      BOOST_TEST_CONTEXT("method " << int(m) << " L=" << L) {
        BOOST_TEST(rel_err(K, K_cpu) < 1e-5);
        BOOST_TEST((Kh == K));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(every_gpu_runs_fftconv_with_its_own_spectra_and_plans) {
  // Device::cuda runs on the current device. The same kernel on every visible GPU in turn, twice
  // around: the cached spectrum and the cuFFT plans are per device (a spectrum or plan of another
  // GPU would fault or read another device's memory). Then an CudaFFTConv made on GPU 0 and
  // applied while the last GPU is current: it runs on its own device and leaves the current one.
  const int n = cuda_device_count();
  BOOST_TEST_MESSAGE(n << " GPU(s) visible");
  BOOST_REQUIRE(n >= 1);
  const int first = cuda_current_device();
  const std::ptrdiff_t B = 2, H = 3, L = 3000, Lk = 700;
  const auto u = test::randn_f(std::size_t(B * H * L), 70);
  const auto k = test::randn_f(std::size_t(H * Lk), 71), D = test::randn_f(std::size_t(H), 72);
  std::vector<float> y_ref(u.size());
  direct_conv<float>(View3<const float>(u.data(), B, H, L), k.data(), Lk, D.data(),
                     View3<float>(y_ref.data(), B, H, L));
  for (int pass = 0; pass < 2; ++pass)
    for (int d = 0; d < n; ++d) {
      cuda_set_device(d);
      BOOST_TEST(cuda_current_device() == d);
      // Device pointers of the current GPU (memory of another GPU is refused naming it).
      DeviceBuffer<float> du(u), dk(k), dD(D), dy(std::vector<float>(u.size(), -777.f));
      fftconv<float>(View3<const float>(du.data(), B, H, L), dk.data(), Lk, dD.data(),
                     View3<float>(dy.data(), B, H, L), Device::cuda);
      BOOST_TEST_CONTEXT("GPU " << d << ", pass " << pass) { BOOST_TEST(rel_err(dy.to_host(), y_ref) < 2e-5); }
    }
  cuda_set_device(0);
  DeviceBuffer<float> du(u), dk(k), dD(D), dy(u.size());
  CudaFFTConv conv(int(H), L, dk.data(), Lk, dD.data());
  BOOST_TEST(conv.device() == 0);
  cuda_set_device(n - 1);
  conv.apply(du.data(), dy.data(), int(B), L);
  BOOST_TEST(cuda_current_device() == n - 1);
  BOOST_TEST(rel_err(dy.to_host(), y_ref) < 2e-5);
  cuda_set_device(first);
}

BOOST_AUTO_TEST_CASE(cuda_set_device_rejects_unknown_gpus) {
  const int n = cuda_device_count();
  for (const int bad : {-1, n, n + 7}) {
    try {
      cuda_set_device(bad);
      BOOST_ERROR("cuda_set_device(" << bad << ") did not throw");
    } catch (const ssm::Error& e) {
      BOOST_TEST(std::string(e.what()).find("'index'") != std::string::npos, e.what());
    }
  }
}

BOOST_AUTO_TEST_CASE(fftconv_object_queued_on_streams_matches_and_shares_its_buffer_safely) {
  // One CudaFFTConv (one transform buffer) applied to three inputs queued on two streams before
  // any is waited for, with a slab smaller than the rows (several uses of the buffer per call):
  // the calls take turns with the buffer on the GPU and each matches the synchronous apply.
  const int B = 2, H = 3;
  const std::ptrdiff_t L = 2000, Lk = 500;
  const auto k = test::randn_f(std::size_t(H) * Lk, 80), D = test::randn_f(H, 81);
  DeviceBuffer<float> dk(k), dD(D);
  CudaFFTConv conv(H, L, dk.data(), Lk, dD.data(), /*workspace_bytes=*/4 * 8 * 2048);
  std::vector<DeviceBuffer<float>> u, y;
  std::vector<std::vector<float>> ref;
  for (int i = 0; i < 3; ++i) {
    u.emplace_back(test::randn_f(std::size_t(B) * H * L, 82 + i));
    y.emplace_back(std::size_t(B) * H * L);
    DeviceBuffer<float> yr(std::size_t(B) * H * L);
    conv.apply(u.back().data(), yr.data(), B, L);
    ref.push_back(yr.to_host());
  }
  CudaStream s1, s2;
  conv.apply(u[0].data(), y[0].data(), B, L, s1);
  conv.apply(u[1].data(), y[1].data(), B, L, s2);
  conv.apply(u[2].data(), y[2].data(), B, L, s1);
  s1.synchronize();
  s2.synchronize();
  for (int i = 0; i < 3; ++i)
    BOOST_TEST_CONTEXT("input " << i) { BOOST_TEST((y[i].to_host() == ref[i])); }
  CudaStream moved(std::move(s1));
  BOOST_CHECK_THROW(conv.apply(u[0].data(), y[0].data(), B, L, s1), ssm::Error);
}

BOOST_AUTO_TEST_CASE(fft_object_takes_streams_of_its_own_gpu_only) {
  // A CudaFFTConv lives on the GPU it was made on: a stream of that GPU works whatever GPU is
  // current; a stream of another GPU (when there is one) is refused naming 'stream'.
  const int n = cuda_device_count(), first = cuda_current_device();
  const int H = 2;
  const std::ptrdiff_t L = 512, Lk = 64;
  const auto u = test::randn_f(std::size_t(H) * L, 90), k = test::randn_f(std::size_t(H) * Lk, 91);
  cuda_set_device(0);
  DeviceBuffer<float> du(u), dk(k), y1(u.size()), y2(u.size());
  CudaFFTConv conv(H, L, dk.data(), Lk, nullptr);
  conv.apply(du.data(), y1.data(), 1, L);
  CudaStream own;  // GPU 0
  cuda_set_device(n - 1);
  conv.apply(du.data(), y2.data(), 1, L, own);
  BOOST_TEST(cuda_current_device() == n - 1);
  own.synchronize();
  BOOST_TEST((y2.to_host() == y1.to_host()));
  if (n >= 2) {
    CudaStream other;  // GPU n-1
    BOOST_CHECK_EXCEPTION(conv.apply(du.data(), y2.data(), 1, L, other), ssm::Error, [](const ssm::Error& e) {
      return std::string(e.what()).find("'stream'") != std::string::npos;
    });
  } else {
    BOOST_TEST_MESSAGE("one GPU: no stream of another GPU to refuse");
  }
  cuda_set_device(first);
}
