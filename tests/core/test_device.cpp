// Device selection (include/ssm/core/device.hpp): names, and the GPU index API on a machine
// with or without a GPU (without one, or without CUDA compiled in, every GPU query that needs a
// device throws ssm::Error naming the argument or the reason).
#define BOOST_TEST_MODULE device
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "ssm/conv/diag_kernel.hpp"
#include "ssm/conv/fftconv.hpp"
#include "ssm/conv/fftconv_cuda.hpp"
#include "ssm/core/cuda_stream.hpp"
#include "ssm/core/device.hpp"
#include "ssm/core/device_buffer.hpp"
#include "ssm/core/error.hpp"
#include "ssm/scan/diag_scan.hpp"
#include "ssm/scan/selective_scan.hpp"
#include "ssm/scan/state_update.hpp"

using namespace ssm;

namespace {
bool message_has(const ssm::Error& e, const char* what) {
  return std::string(e.what()).find(what) != std::string::npos;
}
}  // namespace

BOOST_AUTO_TEST_CASE(device_names_round_trip) {
  BOOST_TEST((parse_device("cpu") == Device::cpu));
  BOOST_TEST((parse_device("cuda") == Device::cuda));
  BOOST_TEST(std::string(to_string(Device::cuda)) == "cuda");
  BOOST_CHECK_EXCEPTION(parse_device("gpu"), ssm::Error, [](const ssm::Error& e) { return message_has(e, "'device'"); });
}

BOOST_AUTO_TEST_CASE(gpu_index_api_matches_what_is_visible) {
  const int n = cuda_device_count();
  BOOST_TEST(n >= 0);
  BOOST_TEST((n > 0) == cuda_available());
  if (!cuda_compiled()) BOOST_TEST(n == 0);
  // An index that names no GPU is rejected, naming the argument, whatever the machine has.
  for (const int bad : {-1, n}) {
    BOOST_CHECK_EXCEPTION(cuda_set_device(bad), ssm::Error,
                          [](const ssm::Error& e) { return message_has(e, "'index'"); });
  }
  if (n == 0) {
    BOOST_CHECK_THROW(cuda_current_device(), ssm::Error);
  } else {
    const int cur = cuda_current_device();
    BOOST_TEST((cur >= 0 && cur < n));
    cuda_set_device(n - 1);
    BOOST_TEST(cuda_current_device() == n - 1);
    cuda_set_device(cur);
    BOOST_TEST(cuda_current_device() == cur);
  }
}

BOOST_AUTO_TEST_CASE(streams_need_a_gpu_and_moved_from_streams_are_refused) {
  if (!cuda_available()) {
    // No GPU (or no CUDA): creating a stream or a GPU convolution is refused, with the reason.
    BOOST_CHECK_THROW(CudaStream{}, ssm::Error);
    const float k[2] = {1.f, 0.5f};  // never read: there is no device to run on
    BOOST_CHECK_THROW(CudaFFTConv(1, 8, k, 2, nullptr), ssm::Error);
    BOOST_CHECK_THROW(PinnedBuffer<float>(16), ssm::Error);
    BOOST_TEST(PinnedBuffer<float>(0).empty());  // nothing to allocate: fine anywhere
    return;
  }
  CudaStream s;
  BOOST_TEST(s.valid());
  BOOST_TEST(s.handle() != nullptr);
  s.synchronize();
  BOOST_TEST(s.ready());
  CudaStream t = std::move(s);
  BOOST_TEST(!s.valid());
  BOOST_CHECK_EXCEPTION(s.synchronize(), ssm::Error, [](const ssm::Error& e) { return message_has(e, "'stream'"); });
  BOOST_TEST(t.ready());
}

BOOST_AUTO_TEST_CASE(every_cuda_entry_point_names_device_when_cuda_cannot_run) {
  // One dispatch (src/core/dispatch.hpp): without CUDA compiled in, or without a usable GPU,
  // every Device::cuda entry point throws the one error naming itself and 'device' (before it
  // touches any pointer: the host arrays below are never read as device memory).
  if (cuda_available()) return;  // the GPU side is covered by the _cuda tests
  const std::string why = cuda_compiled() ? "cuda requested but no GPU is usable"
                                          : "cuda requested but ssmkit was built without CUDA";
  auto expect = [&](const char* where, auto&& f) {
    try {
      f();
      BOOST_ERROR(where << ": expected ssm::Error");
    } catch (const ssm::Error& e) {
      const std::string m = e.what();
      BOOST_TEST_CONTEXT(m) {
        BOOST_TEST(m.rfind(std::string(where) + ": argument 'device' ", 0) == 0);
        BOOST_TEST(m.find(why) != std::string::npos);
      }
    }
  };
  std::vector<float> u(8, 1.f), k(2, 0.5f), y(8), D(2, 0.f);
  expect("fftconv", [&] {
    fftconv<float>(View3<const float>(u.data(), 1, 2, 4), k.data(), 1, D.data(), View3<float>(y.data(), 1, 2, 4),
                   Device::cuda);
  });
  expect("fftconv_cuda_from_host", [&] {
    fftconv_cuda_from_host(View3<const float>(u.data(), 1, 2, 4), k.data(), 1, D.data(),
                           View3<float>(y.data(), 1, 2, 4));
  });
  DiagonalSSM model(1, 1);
  model.A.set(0, {-0.5, 1.0});
  model.B.set(0, {1.0, 0.0});
  model.C.set(0, {1.0, 0.0});
  model.set_dt(std::vector<double>{0.1});
  expect("diag_kernel", [&] { diag_kernel(model, Method::zoh, 4, y.data(), Device::cuda); });
  expect("diag_kernel_cuda_to_host", [&] { diag_kernel_cuda_to_host(model, Method::zoh, 4, y.data()); });
  // The scans: valid one-channel problems whose pointers all go to one host array `h` (never
  // read: the device is refused first). Designated initializers, one problem a line.
  std::vector<float> h(16, 0.5f);
  float* p = h.data();
  expect("selective_scan", [&] {
    selective_scan(SelectiveScanProblem<float>{.dstate = 1, .u = {p, 1, 1, 4}, .delta = {p, 1, 1, 4}, .A = p,
                                               .B = p, .C = p, .out = {p + 8, 1, 1, 4}},
                   Device::cuda);
  });
  expect("selective_state_update", [&] {
    selective_state_update(SelectiveStateUpdateArgs<float>{.batch = 1, .dim = 1, .dstate = 1, .state = p + 8, .x = p,
                                                           .dt = p, .A = p, .B = p, .C = p, .out = p + 9},
                           Device::cuda);
  });
  expect("diag_scan", [&] {
    diag_scan(DiagScanArgs<float>{.batch = 1, .channels = 1, .modes = 1, .length = 4, .A = p, .B = p, .C = p, .dt = p,
                                  .u = p, .y = p + 8},
              Device::cuda);
  });
}
