#include <cstdio>
#include <vector>
#include <ssm/continuous/s4d_init.hpp>
#include <ssm/stream/diag_filter.hpp>

int main() {
  // 2 channels x 16 complex modes (S4D-LegS), steps drawn in [1e-3, 1e-1] at 48 kHz.
  ssm::DiagFilter<float> filter(ssm::s4d_init(ssm::S4DInit::legs, 2, 16));

  // Outside the audio thread: prepare() validates, discretizes and allocates.
  filter.prepare({/*sample_rate=*/48000.0, /*max_block=*/256});

  // Audio thread: process() any block size up to 256 (interleaved frames u[t * 2 + h]).
  std::vector<float> u(2 * 1000), whole(u.size()), split(u.size());
  for (std::size_t i = 0; i < u.size(); ++i) u[i] = (i % 37 == 0) ? 1.0f : 0.0f;
  filter.process(u.data(), whole.data(), 1000);  // (more than 256 frames is fine offline too)

  // The same signal in odd block sizes, with the state saved and restored in the middle.
  filter.reset();
  std::vector<float> re(2 * 16), im(2 * 16);
  std::size_t t = 0;
  for (std::size_t block : {1u, 255u, 64u, 3u}) {
    filter.process(&u[2 * t], &split[2 * t], block);
    t += block;
  }
  filter.get_state(re, im);                      // real-time safe: copies, no allocation
  filter.reset();                                // ... the stream is interrupted ...
  filter.set_state(re, im);                      // ... and resumed exactly
  filter.process(&u[2 * t], &split[2 * t], 1000 - t);

  float worst = 0;
  for (std::size_t i = 0; i < u.size(); ++i) worst = std::max(worst, std::abs(whole[i] - split[i]));
  std::printf("max |whole - split| = %g\n", worst);

  // A new sample rate is another prepare(): same continuous model, new discretization.
  filter.prepare({44100.0, 256});
  return worst == 0.0f ? 0 : 1;
}
