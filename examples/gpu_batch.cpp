// Offline batch inference of Mamba's selective scan on every visible GPU at once.
//
// The batch lives in pinned host memory (PinnedBuffer) and is cut into one slice a GPU. For
// each slice, its upload, its scan and the download of its output are queued on a CudaStream of
// its GPU; the calls return at once, so every GPU copies and computes at the same time while the
// CPU computes the reference. Then every stream is waited for and the outputs are checked.
//
//   example_gpu_batch [batch] [length]
// Without a GPU (or without CUDA compiled in) it says so and exits 0.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "ssm/core/cuda_stream.hpp"
#include "ssm/core/device.hpp"
#include "ssm/core/device_buffer.hpp"
#include "ssm/scan/selective_scan.hpp"

namespace {

/// One GPU's slice: its device buffers and the stream its scan is queued on.
struct Slice {
  int gpu = 0, b0 = 0, batch = 0;
  std::optional<ssm::CudaStream> stream;  // made once its GPU is current
  ssm::DeviceBuffer<float> u, delta, A, B, C, D, z, bias, out;
};

}  // namespace

int main(int argc, char** argv) {
  if (!ssm::cuda_available()) {
    std::printf("no GPU: %s; nothing to do\n", ssm::cuda_description().c_str());
    return 0;
  }
  const int batch = argc > 1 ? std::atoi(argv[1]) : 8, L = argc > 2 ? std::atoi(argv[2]) : 2048;
  const int D = 1024, N = 16;
  if (batch < 1 || L < 1) {
    std::fprintf(stderr, "usage: example_gpu_batch [batch >= 1] [length >= 1]\n");
    return 2;
  }
  // Host data, (batch, D, L) rows and Mamba's variable B/C (batch, 1, N, L).
  std::mt19937 rng(7);
  std::normal_distribution<float> nd;
  auto fill = [&](std::size_t n, float scale, float shift) {
    std::vector<float> v(n);
    for (auto& x : v) x = shift + scale * nd(rng);
    return v;
  };
  const std::size_t BDL = std::size_t(batch) * D * L, BNL = std::size_t(batch) * N * L;
  const auto u = fill(BDL, 1, 0), delta = fill(BDL, 0.5f, -1), z = fill(BDL, 1, 0);
  const auto Bv = fill(BNL, 1, 0), Cv = fill(BNL, 1, 0), Dv = fill(D, 1, 0), bias = fill(D, 0.3f, 0);
  std::vector<float> A(std::size_t(D) * N);
  for (int d = 0; d < D; ++d)
    for (int n = 0; n < N; ++n) A[std::size_t(d) * N + n] = -float(n + 1);  // S4D-real init

  auto args_for = [&](int b, const float* pu, const float* pdelta, const float* pA, const float* pB,
                      const float* pC, const float* pD, const float* pz, const float* pbias, float* pout) {
    ssm::SelectiveScanProblem<float> a;  // (b, D, L) contiguous views, input-dependent B and C
    a.dstate = N;
    a.delta_softplus = true;
    a.u = {pu, b, D, L}; a.delta = {pdelta, b, D, L}; a.z = {pz, b, D, L}; a.out = {pout, b, D, L};
    a.A = pA; a.B = pB; a.C = pC; a.D = pD; a.delta_bias = pbias;
    return a;
  };

  // The streamed tensors in pinned memory: asynchronous copies need it.
  auto pin = [](const std::vector<float>& v) {
    ssm::PinnedBuffer<float> p(v.size());
    std::copy(v.begin(), v.end(), p.begin());
    return p;
  };
  const auto h_u = pin(u), h_delta = pin(delta), h_z = pin(z), h_B = pin(Bv), h_C = pin(Cv);
  ssm::PinnedBuffer<float> h_y(BDL);

  // Queue one slice a GPU; nothing waits until every GPU has its work.
  const int gpus = std::min(ssm::cuda_device_count(), batch), first = ssm::cuda_current_device();
  std::vector<Slice> slices(static_cast<std::size_t>(gpus));
  for (int g = 0, b0 = 0; g < gpus; ++g) {
    Slice& s = slices[static_cast<std::size_t>(g)];
    s.gpu = g;
    s.b0 = b0;
    s.batch = batch / gpus + (g < batch % gpus ? 1 : 0);
    b0 += s.batch;
    ssm::cuda_set_device(g);  // buffers and the stream belong to this GPU
    s.stream.emplace();
    const std::size_t row = std::size_t(D) * L, bc = std::size_t(N) * L, n = std::size_t(s.batch);
    s.A = ssm::DeviceBuffer<float>(A);  // the small parameters: plain synchronous uploads
    s.D = ssm::DeviceBuffer<float>(Dv);
    s.bias = ssm::DeviceBuffer<float>(bias);
    s.u = ssm::DeviceBuffer<float>(n * row);
    s.delta = ssm::DeviceBuffer<float>(n * row);
    s.z = ssm::DeviceBuffer<float>(n * row);
    s.B = ssm::DeviceBuffer<float>(n * bc);
    s.C = ssm::DeviceBuffer<float>(n * bc);
    s.out = ssm::DeviceBuffer<float>(n * row);
    // Queued, in stream order: the slice's inputs, its scan, its output. Each call returns at once.
    s.u.upload_async(h_u.data() + s.b0 * row, n * row, 0, *s.stream);
    s.delta.upload_async(h_delta.data() + s.b0 * row, n * row, 0, *s.stream);
    s.z.upload_async(h_z.data() + s.b0 * row, n * row, 0, *s.stream);
    s.B.upload_async(h_B.data() + s.b0 * bc, n * bc, 0, *s.stream);
    s.C.upload_async(h_C.data() + s.b0 * bc, n * bc, 0, *s.stream);
    ssm::selective_scan(args_for(s.batch, s.u.data(), s.delta.data(), s.A.data(), s.B.data(), s.C.data(),
                                 s.D.data(), s.z.data(), s.bias.data(), s.out.data()),
                        *s.stream);
    s.out.download_async(h_y.data() + s.b0 * row, n * row, 0, *s.stream);
  }

  ssm::cuda_set_device(first);

  // Wait for every GPU, then check each slice against the CPU.
  std::vector<float> ref(BDL);
  ssm::selective_scan(args_for(batch, u.data(), delta.data(), A.data(), Bv.data(), Cv.data(), Dv.data(), z.data(),
                               bias.data(), ref.data()),
                      ssm::Device::cpu);  // the CPU runs while the GPUs do
  double worst = 0, peak = 0;
  for (Slice& s : slices) {
    s.stream->synchronize();  // its output is now in h_y
    const std::size_t off = std::size_t(s.b0) * D * L, len = std::size_t(s.batch) * D * L;
    for (std::size_t i = off; i < off + len; ++i) {
      worst = std::max(worst, double(std::fabs(h_y[i] - ref[i])));
      peak = std::max(peak, double(std::fabs(ref[i])));
    }
    std::printf("GPU %d: batch %d..%d\n", s.gpu, s.b0, s.b0 + s.batch - 1);
  }
  std::printf("selective scan B=%d D=%d N=%d L=%d on %d GPU(s): max |GPU - CPU| = %.3g (max |y| = %.3g)\n", batch, D, N,
              L, gpus, worst, peak);
  return worst <= 1e-3 * std::max(1.0, peak) ? 0 : 1;
}
