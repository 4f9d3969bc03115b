// Host <-> device transfers queued on streams (DeviceBuffer::upload_async / download_async with
// PinnedBuffer): they return before the copy runs, keep stream order with the ops queued between
// them, refuse pageable memory and out-of-range counts. Exits 77 (CTest: skipped) without a GPU.
#define BOOST_TEST_MODULE transfers_cuda
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "ssm/core/cuda_stream.hpp"
#include "ssm/core/device.hpp"
#include "ssm/core/device_buffer.hpp"
#include "ssm/core/error.hpp"
#include "ssm/scan/selective_scan.hpp"
#include "support/stream_gate.hpp"
#include "support/testing.hpp"

using namespace ssm;

namespace {
using Gate = ssm::test::StreamGate;

bool names(const ssm::Error& e, const char* arg) { return std::string(e.what()).find(arg) != std::string::npos; }
}  // namespace

using ssm::test::RequireGpu;
BOOST_TEST_GLOBAL_FIXTURE(RequireGpu);

BOOST_AUTO_TEST_CASE(pinned_round_trip_is_queued_and_ordered) {
  const std::size_t n = 1 << 20;
  PinnedBuffer<float> in(n), out(n);
  for (std::size_t i = 0; i < n; ++i) {
    in[i] = float(i) * 0.5f - 7.f;
    out[i] = -1.f;
  }
  DeviceBuffer<float> d(n + 16);
  CudaStream s;
  Gate gate;
  gate.queue(s);
  d.upload_async(in.data(), n, 16, s);  // to elements [16, 16 + n)
  d.download_async(out.data(), n, 16, s);
  BOOST_TEST(!s.ready());
  BOOST_TEST(out[0] == -1.f);  // nothing copied yet: the stream is held
  gate.open = true;
  s.synchronize();
  BOOST_TEST(gate.released.load());
  bool same = true;
  for (std::size_t i = 0; i < n; ++i) same = same && out[i] == in[i];
  BOOST_TEST(same);
  // Whole-buffer overloads.
  DeviceBuffer<float> e(n);
  PinnedBuffer<float> back(n);
  e.upload_async(in, s);
  e.download_async(back, s);
  s.synchronize();
  BOOST_TEST((std::vector<float>(back.begin(), back.end()) == std::vector<float>(in.begin(), in.end())));
}

BOOST_AUTO_TEST_CASE(async_transfers_refuse_pageable_memory_and_bad_ranges) {
  CudaStream s;
  DeviceBuffer<float> d(64);
  std::vector<float> pageable(64, 1.f);
  PinnedBuffer<float> pinned(128);
  BOOST_CHECK_EXCEPTION(d.upload_async(pageable.data(), 64, 0, s), ssm::Error,
                        [](const ssm::Error& e) { return names(e, "'host'") && names(e, "pinned"); });
  BOOST_CHECK_EXCEPTION(d.download_async(pageable.data(), 64, 0, s), ssm::Error,
                        [](const ssm::Error& e) { return names(e, "'host'"); });
  BOOST_CHECK_EXCEPTION(d.upload_async(pinned.data(), 65, 0, s), ssm::Error,
                        [](const ssm::Error& e) { return names(e, "'n'"); });
  BOOST_CHECK_EXCEPTION(d.upload_async(pinned, s), ssm::Error,  // 128 elements into 64
                        [](const ssm::Error& e) { return names(e, "'n'"); });
  BOOST_CHECK_EXCEPTION(d.download_async(pinned.data(), 8, 60, s), ssm::Error,
                        [](const ssm::Error& e) { return names(e, "'n'"); });
  CudaStream moved = std::move(s);
  BOOST_CHECK_EXCEPTION(d.upload_async(pinned.data(), 8, 0, s), ssm::Error,
                        [](const ssm::Error& e) { return names(e, "'stream'"); });
  d.upload_async(pinned.data(), 0, 0, moved);  // nothing to copy: fine
  moved.synchronize();
}

BOOST_AUTO_TEST_CASE(upload_scan_download_pipeline_on_one_stream) {
  // Everything queued behind a held stream; the result equals the synchronous path bit for bit.
  const int B = 2, D = 64, N = 16, L = 1000;
  const std::size_t BDL = std::size_t(B) * D * L, BNL = std::size_t(B) * N * L;
  const auto u = test::randn_f(BDL, 1), delta = test::randn_f(BDL, 2), Bv = test::randn_f(BNL, 3),
             Cv = test::randn_f(BNL, 4);
  std::vector<float> A(std::size_t(D) * N);
  for (std::size_t i = 0; i < A.size(); ++i) A[i] = -1.f - float(i % N);
  DeviceBuffer<float> dA(A), dB(Bv), dC(Cv), du(BDL), dd(BDL), dout(BDL);
  SelectiveScanProblem<float> a;
  a.dstate = N; a.delta_softplus = true;
  a.u = {du.data(), B, D, L}; a.delta = {dd.data(), B, D, L}; a.out = {dout.data(), B, D, L};
  a.A = dA.data(); a.B = dB.data(); a.C = dC.data();
  // Synchronous reference.
  du.upload(u);
  dd.upload(delta);
  selective_scan(a, Device::cuda);
  const auto ref = dout.to_host();
  dout.zero();
  // Queued.
  PinnedBuffer<float> pu(BDL), pd(BDL), pout(BDL);
  std::copy(u.begin(), u.end(), pu.begin());
  std::copy(delta.begin(), delta.end(), pd.begin());
  CudaStream s;
  Gate gate;
  gate.queue(s);
  du.upload_async(pu, s);
  dd.upload_async(pd, s);
  selective_scan(a, s);
  dout.download_async(pout, s);
  gate.open = true;
  s.synchronize();
  BOOST_TEST(gate.released.load());
  BOOST_TEST((std::vector<float>(pout.begin(), pout.end()) == ref));
}
