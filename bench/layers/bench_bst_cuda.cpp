// BST layer on the GPU (CudaBSTLayer, float32, weights resident): cost per token against
// sequence length next to full causal attention on the same data, measured in the same run.
//  * BST: d_model 64, 4 heads, d_ff 256, context SSM N2 = 32, W = S = 64; one sequence (batch 1)
//    and L = 1K, 4K, 16K, 64K, 256K; device pointers in and out.
//  * Baseline: the same layer and weights with one block of the whole sequence and no context
//    (W = L, S = 0): full causal attention, quadratic. Capped at L = 32K (its score buffer is
//    n_heads L^2 floats: 16 GiB at 32K).
// Each figure is the median of event-timed calls after one warm-up call; a call includes its
// own scratch allocation (the layer allocates per call) and the kernel spectrum of the context
// SSM for that L. Prints ns/token, full/BST, BST relative to L = 1K, and writes a CSV
// (--csv=FILE, default $OUT/ or ./bst_bench_cuda.csv) that tools/plot_bst_bench.py draws.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/cuda_timing.hpp"
#include "ssm/core/device.hpp"
#include "ssm/core/device_buffer.hpp"
#include "ssm/layers/bst_layer.hpp"
#include "ssm/layers/bst_layer_cuda.hpp"

namespace {

constexpr long long kFullCap = 32768;

ssm::BSTLayerConfig config(int W, int S) {
  ssm::BSTLayerConfig c;
  c.d_model = 64;
  c.modes = 32;
  c.d_ff = 256;
  c.n_heads = 4;
  c.block_size = W;
  c.context = S;
  return c;
}

double ns_per_token(const ssm::BSTLayer<float>& layer, int L) {
  ssm::CudaBSTLayer g(layer);
  std::vector<float> x(std::size_t(L) * 64);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.013f * float(i)) + 0.1f * std::cos(0.71f * float(i));
  ssm::DeviceBuffer<float> dx(x), dy(x.size());
  const int reps = L >= (1 << 16) ? 5 : 11;
  const double ms = ssm::bench::median_event_ms([&] { g.forward(dx.data(), 1, L, dy.data()); }, reps, 1);
  return ms * 1e6 / L;
}

}  // namespace

int main(int argc, char** argv) {
  // default: $OUT/bst_bench_cuda.csv when OUT is set (the GPU run's output folder), else ./
  std::string csv = std::getenv("OUT") ? std::string(std::getenv("OUT")) + "/bst_bench_cuda.csv" : "bst_bench_cuda.csv";
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], "--csv=", 6) == 0) csv = argv[i] + 6;
  if (!ssm::cuda_available()) {
    std::printf("SKIP: no GPU present (%s)\n", ssm::cuda_description().c_str());
    return 0;
  }
  const auto p = ssm::random_bst_layer<float>(config(64, 64), 1);
  const ssm::BSTLayer<float> bst(config(64, 64), p);
  const std::vector<int> lengths{1024, 4096, 16384, 65536, 262144};
  std::printf("BST layer on %s (float32; d 64, 4 heads, d_ff 256, N2 32, W = S = 64; batch 1)\n",
              ssm::cuda_description().c_str());
  std::printf("  %8s %14s %14s %12s %14s\n", "L", "BST ns/token", "full ns/token", "full / BST", "BST / BST(1K)");
  FILE* f = std::fopen(csv.c_str(), "w");
  if (f) std::fprintf(f, "device,L,bst_ns_per_token,full_ns_per_token\n");
  double base = NAN;
  for (int L : lengths) {
    const double b = ns_per_token(bst, L);
    if (std::isnan(base)) base = b;
    double fu = NAN;
    if (L <= kFullCap) fu = ns_per_token(ssm::BSTLayer<float>(config(L, 0), p), L);
    std::printf("  %8d %14.1f %14.1f %12.2f %14.2f\n", L, b, fu, fu / b, b / base);
    std::fflush(stdout);
    if (f) {
      if (std::isnan(fu)) std::fprintf(f, "cuda,%d,%.3f,\n", L, b);
      else std::fprintf(f, "cuda,%d,%.3f,%.3f\n", L, b, fu);
    }
  }
  // full attention beyond the BST lengths' cap: 32K (quadratic)
  const double f32k = ns_per_token(ssm::BSTLayer<float>(config(int(kFullCap), 0), p), int(kFullCap));
  std::printf("  full attention at L = %lld: %.1f ns/token (capped there: n_heads L^2 scores)\n", kFullCap, f32k);
  if (f) {
    std::fprintf(f, "cuda,%lld,,%.3f\n", kFullCap, f32k);
    std::fclose(f);
    std::printf("  wrote %s\n", csv.c_str());
  }
  return 0;
}
