// Embedding an ssmkit filter in an existing DSP loop: prepare once (allocates), then process
// blocks from the audio callback (no allocation, locks or exceptions).
#include <cstdio>
#include <vector>

#include "ssm/continuous/hippo.hpp"
#include "ssm/stream/dense_filter.hpp"

int main() {
  // HiPPO-LegT with 16 states over a 4 ms window, read out as a low-pass "memory" (C = B / 2).
  const auto t = ssm::hippo::legt(16);
  const auto sys = ssm::hippo::system(ssm::hippo::Measure::legt, 16, t.B.transpose() / 2, 0.0, 0.002);
  ssm::DenseFilter<float> filter(sys, {ssm::Method::bilinear, ssm::Convention::ssm});
  filter.prepare({48000.0, 64});                    // sample rate, largest block

  std::vector<float> block(64), out(64);            // the host's buffers
  for (int n = 0; n < 750; ++n) {                   // 1 s of 64-frame callbacks
    for (int i = 0; i < 64; ++i) block[i] = ((n * 64 + i) / 24) % 2 ? 0.5f : -0.5f;  // 1 kHz square
    filter.process_mono(block.data(), out.data(), static_cast<int>(block.size()));  // real-time safe
  }
  std::printf("last output sample: %.4f (state size %d)\n", out.back(), filter.states());
}
