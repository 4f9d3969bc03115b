#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>
#include <ssm/continuous/s4d_init.hpp>
#include <ssm/stream/diag_filter.hpp>

int main() {
  // 2 channels x 16 complex modes (S4D-LegS), steps drawn in [1e-3, 1e-1] at 48 kHz.
  ssm::DiagFilter<float> filter(ssm::s4d_init(ssm::S4DInit::legs, 2, 16));
  ssm::Streamer<float>& s = filter;  // the one streaming contract: every streamer has it

  // Outside the audio thread: prepare() validates, discretizes and allocates.
  s.prepare({/*sample_rate=*/48000.0, /*max_block=*/256, /*time_scale=*/1.0, /*channels=*/2});
  std::vector<float> state(s.state_size());  // room for a snapshot, allocated here

  // Audio thread: planar buffers (one per channel), any block size (longer than 256: in pieces).
  const int L = 1000;
  std::vector<float> u[2], whole[2], split[2];
  for (int c = 0; c < 2; ++c) {
    u[c].assign(L, 0.0f);
    whole[c].assign(L, 0.0f);
    split[c].assign(L, 0.0f);
    for (int t = 0; t < L; t += 37 + 16 * c) u[c][t] = 1.0f;
  }
  auto run = [&](std::vector<float>* out, int t, int n) {
    const float* in[2] = {u[0].data() + t, u[1].data() + t};
    float* o[2] = {out[0].data() + t, out[1].data() + t};
    s.process(in, o, n);  // real-time safe: no allocation, lock, throw or log
  };
  for (int t = 0; t < L; t += 250) run(whole, t, 250);

  // The same signal in odd block sizes, with the state saved and restored in the middle.
  s.reset();
  int t = 0;
  for (int block : {1, 255, 64, 3}) {
    run(split, t, block);
    t += block;
  }
  s.save_state(state.data());  // real-time safe: copies, no allocation
  s.reset();                   // ... the stream is interrupted ...
  s.load_state(state.data());  // ... and resumed exactly
  for (; t < L; t += 256) run(split, t, std::min(256, L - t));

  float worst = 0;
  for (int c = 0; c < 2; ++c)
    for (int i = 0; i < L; ++i) worst = std::max(worst, std::abs(whole[c][i] - split[c][i]));
  std::printf("max |whole - split| = %g\n", worst);

  // A new sample rate is another prepare(): same continuous model, new discretization.
  s.prepare({44100.0, 256, 1.0, 2});
  return worst == 0.0f ? 0 : 1;
}
