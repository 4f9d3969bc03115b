// MoE FFN on the GPU: the grouped recipe of MoEFFN::forward(Device::cuda) (cuBLAS logits, route
// and counting-sort kernels, one cuBLAS GEMM pair an expert, combine) against a per-token loop
// on the GPU measured in the same run: one thread block a token computing its router logits,
// its top-k and only its chosen experts' matrix-vector products (weights read once a token).
// Problem: 4096 tokens, 8 experts, d_model 256, d_ff 1024, GELU, biases, top_k 1 and 2, float32.
// Goal: grouped >= 5x the per-token loop. Also printed: the host-pointer call (uploads x and
// downloads y and the indices) and the agreement of the two GPU results (max relative
// difference of y, equal expert indices). Times: median of CUDA-event-timed runs.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "common/cuda_timing.hpp"
#include "backend/moe_ffn_cuda.hpp"
#include "ssm/core/device.hpp"
#include "ssm/core/device_buffer.hpp"
#include "ssm/layers/moe_ffn.hpp"

namespace {

constexpr int kTokens = 4096, kDm = 256, kDff = 1024, kExperts = 8;

__device__ inline float gelu(float v) { return 0.5f * v * (1.f + erff(v * 0.70710678118654752440f)); }

// One block a token: logits, top-k (ties: lowest index), gates, then only the chosen experts.
__global__ void per_token_kernel(const float* __restrict__ x, const float* __restrict__ rw, const float* __restrict__ rb,
                                 const float* __restrict__ w1, const float* __restrict__ b1,
                                 const float* __restrict__ w2, const float* __restrict__ b2, int dm, int df, int E,
                                 int k, float* __restrict__ y, std::int64_t* __restrict__ idx) {
  extern __shared__ float sm[];
  float* xs = sm;            // dm
  float* h = xs + dm;        // df
  float* acc = h + df;       // dm
  float* lg = acc + dm;      // E
  __shared__ int chosen[16];
  __shared__ float gates[16];
  const std::int64_t t = blockIdx.x;
  for (int i = threadIdx.x; i < dm; i += blockDim.x) {
    xs[i] = x[t * dm + i];
    acc[i] = 0.f;
  }
  __syncthreads();
  for (int e = threadIdx.x; e < E; e += blockDim.x) {
    float s = rb ? rb[e] : 0.f;
    for (int i = 0; i < dm; ++i) s += rw[std::int64_t(e) * dm + i] * xs[i];
    lg[e] = s;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int j = 0; j < k; ++j) {
      int best = -1;
      for (int e = 0; e < E; ++e) {
        bool taken = false;
        for (int i = 0; i < j; ++i) taken |= chosen[i] == e;
        if (!taken && (best < 0 || lg[e] > lg[best])) best = e;
      }
      chosen[j] = best;
      idx[t * k + j] = best;
    }
    const float m = lg[chosen[0]];
    float sum = 0.f;
    if (k == 1) {
      for (int e = 0; e < E; ++e) sum += expf(lg[e] - m);
      gates[0] = 1.f / sum;
    } else {
      for (int j = 0; j < k; ++j) sum += (gates[j] = expf(lg[chosen[j]] - m));
      for (int j = 0; j < k; ++j) gates[j] /= sum;
    }
  }
  __syncthreads();
  for (int j = 0; j < k; ++j) {
    const std::int64_t e = chosen[j];
    for (int f = threadIdx.x; f < df; f += blockDim.x) {
      const float* w = w1 + (e * df + f) * dm;
      float s = b1[e * df + f];
      for (int i = 0; i < dm; ++i) s += w[i] * xs[i];
      h[f] = gelu(s);
    }
    __syncthreads();
    for (int o = threadIdx.x; o < dm; o += blockDim.x) {
      const float* w = w2 + (e * dm + o) * df;
      float s = b2[e * dm + o];
      for (int i = 0; i < df; ++i) s += w[i] * h[i];
      acc[o] += gates[j] * s;
    }
    __syncthreads();
  }
  for (int i = threadIdx.x; i < dm; i += blockDim.x) y[t * dm + i] = acc[i];
}

template <class F>
std::vector<float> concat(const ssm::MoEFFNParams<float>& p, F&& f) {
  std::vector<float> v;
  for (const auto& e : p.experts) {
    const auto& src = f(e);
    v.insert(v.end(), src.begin(), src.end());
  }
  return v;
}

}  // namespace

int main() {
  if (!ssm::cuda_available()) {
    std::printf("bench_layers_moe_cuda: SKIP: %s\n", ssm::cuda_description().c_str());
    return 0;
  }
  std::printf("device: %s\n", ssm::cuda_description().c_str());
  std::printf("MoE FFN, %d tokens, %d experts, d_model %d, d_ff %d, GELU, biases, float32\n", kTokens, kExperts, kDm,
              kDff);
  for (int k : {1, 2}) {
    ssm::MoEFFNConfig c;
    c.d_model = kDm;
    c.d_ff = kDff;
    c.n_experts = kExperts;
    c.top_k = k;
    c.activation = ssm::Activation::gelu;
    c.router_bias = c.fc1_bias = c.fc2_bias = true;
    const auto p = ssm::random_moe_ffn<float>(c, 7);
    ssm::MoEFFN<float> moe(c, p);
    std::vector<float> x(std::size_t(kTokens) * kDm);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.05f * float(i)) + 0.3f * std::cos(0.37f * float(i % 997));

    ssm::DeviceBuffer<float> dx(x), dy(x.size()), dyb(x.size());
    ssm::DeviceBuffer<std::int64_t> di(std::size_t(kTokens) * k), dib(di.size());
    ssm::DeviceBuffer<float> rw(p.router_weight), rb(p.router_bias);
    ssm::DeviceBuffer<float> w1(concat(p, [](const auto& e) -> const std::vector<float>& { return e.fc1_weight; }));
    ssm::DeviceBuffer<float> b1(concat(p, [](const auto& e) -> const std::vector<float>& { return e.fc1_bias; }));
    ssm::DeviceBuffer<float> w2(concat(p, [](const auto& e) -> const std::vector<float>& { return e.fc2_weight; }));
    ssm::DeviceBuffer<float> b2(concat(p, [](const auto& e) -> const std::vector<float>& { return e.fc2_bias; }));

    auto holder = ssm::detail::make_moe_ffn_cuda<float>();
    const double grouped = ssm::bench::median_event_ms(
        [&] { ssm::detail::moe_ffn_forward_cuda_device(*holder, c, p, dx.data(), kTokens, dy.data(), di.data()); }, 20,
        3);
    const std::size_t smem = sizeof(float) * (2 * kDm + kDff + kExperts);
    const double per_token = ssm::bench::median_event_ms(
        [&] {
          per_token_kernel<<<kTokens, 256, smem>>>(dx.data(), rw.data(), rb.data(), w1.data(), b1.data(), w2.data(),
                                                   b2.data(), kDm, kDff, kExperts, k, dyb.data(), dib.data());
          ssm::bench::check(cudaGetLastError(), "per_token_kernel");
        },
        20, 3);
    std::vector<float> y(x.size());
    const double host = ssm::bench::median_event_ms([&] { moe.forward(x.data(), kTokens, y.data(), nullptr, ssm::Device::cuda); },
                                                     10, 2);
    const auto yg = dy.to_host(), yb = dyb.to_host();
    const auto ig = di.to_host(), ib = dib.to_host();
    double num = 0, den = 0;
    for (std::size_t i = 0; i < yg.size(); ++i) {
      num = std::fmax(num, std::fabs(double(yg[i]) - double(yb[i])));
      den = std::fmax(den, std::fabs(double(yb[i])));
    }
    std::size_t idx_diff = 0;
    for (std::size_t i = 0; i < ig.size(); ++i) idx_diff += ig[i] != ib[i];
    std::printf("  top_%d: grouped %.3f ms (%.0f Mtok/s), per-token loop %.3f ms, grouped/per-token = %.2f x (goal >= 5); "
                "host-pointer call %.3f ms; |y diff| / max|y| = %.2e, expert_index differing: %zu\n",
                k, grouped, kTokens / grouped * 1e-3, per_token, per_token / grouped, host, num / den, idx_diff);
  }
  return 0;
}
