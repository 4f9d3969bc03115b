// Device selection (include/ssm/core/device.hpp): names, and the GPU index API on a machine
// with or without a GPU (without one, or without CUDA compiled in, every GPU query that needs a
// device throws ssm::Error naming the argument or the reason).
#define BOOST_TEST_MODULE device
#include <boost/test/unit_test.hpp>

#include <string>

#include "ssm/conv/fftconv_cuda.hpp"
#include "ssm/core/cuda_stream.hpp"
#include "ssm/core/device.hpp"
#include "ssm/core/device_buffer.hpp"
#include "ssm/core/error.hpp"

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
