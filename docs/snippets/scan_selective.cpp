#include <cmath>
#include <cstdio>
#include <random>
#include <vector>
#include <ssm/scan/selective_scan.hpp>

int main() {
  // Mamba's S6 scan: batch 1, 8 channels, 4 states, 1000 steps, variable B and C.
  const int batch = 1, dim = 8, dstate = 4, L = 1000;
  std::mt19937 rng(1);
  std::normal_distribution<float> nd;
  auto randn = [&](std::size_t n) { std::vector<float> v(n); for (auto& x : v) x = nd(rng); return v; };
  std::vector<float> u = randn(dim * L), delta = randn(dim * L), z = randn(dim * L);
  std::vector<float> B = randn(dstate * L), C = randn(dstate * L), D = randn(dim);
  std::vector<float> A(dim * dstate);
  for (int d = 0; d < dim; ++d)
    for (int n = 0; n < dstate; ++n) A[d * dstate + n] = -(n + 1.0f);  // S4D-real

  ssm::SelectiveScanProblem<float> p;               // the arrays are (batch, dim, L) views
  p.dstate = dstate;
  p.delta_softplus = true;                          // dt = softplus(delta)
  p.u = {u.data(), batch, dim, L}; p.delta = {delta.data(), batch, dim, L}; p.A = A.data();
  p.B = B.data(); p.C = C.data();                   // input-dependent: (batch, groups=1, dstate, L)
  p.D = D.data(); p.z = {z.data(), batch, dim, L};  // out = (y + D u) * silu(z)
  std::vector<float> out(dim * L);
  p.out = {out.data(), batch, dim, L};
  ssm::selective_scan(p);                           // Device::cpu; Device::cuda takes device pointers

  // The same sequence in chunks of 300 steps: the stream carries the state between calls.
  ssm::SelectiveScanStream<float> stream(batch, dim, dstate, /*complex=*/false);
  std::vector<float> out2(dim * L), chunk_B, chunk_C;
  const ssm::Strides3 full{dim * L, L, 1};          // views of n steps into the full arrays
  for (int t0 = 0; t0 < L; t0 += 300) {
    const int n = std::min(300, L - t0);
    ssm::SelectiveScanProblem<float> c = p;
    c.u = {&u[t0], batch, dim, n, full}; c.delta = {&delta[t0], batch, dim, n, full};
    c.z = {&z[t0], batch, dim, n, full}; c.out = {&out2[t0], batch, dim, n, full};
    chunk_B.resize(dstate * n); chunk_C.resize(dstate * n);  // input-dependent B, C are contiguous
    for (int s = 0; s < dstate; ++s)
      for (int t = 0; t < n; ++t) {
        chunk_B[s * n + t] = B[s * L + t0 + t];
        chunk_C[s * n + t] = C[s * L + t0 + t];
      }
    c.B = chunk_B.data(); c.C = chunk_C.data();
    stream.process(c);
  }
  double worst = 0, scale = 0;
  for (int i = 0; i < dim * L; ++i) {
    worst = std::max(worst, double(std::abs(out[i] - out2[i])));
    scale = std::max(scale, double(std::abs(out[i])));
  }
  std::printf("one scan vs chunked stream: max diff %.2e (max |out| %.2f)\n", worst, scale);
  return worst <= 1e-5 * scale ? 0 : 1;
}
