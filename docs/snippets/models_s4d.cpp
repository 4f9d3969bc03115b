#include <cstdio>
#include <vector>
#include <ssm/layers/s4d_model.hpp>

int main() {
  // Stand-in for a model trained in PyTorch and exported (tools/export_*.py): random weights.
  ssm::S4DModelConfig cfg;
  cfg.d_model = 16;  cfg.n_layers = 2;  cfg.d_state = 32;  cfg.sample_rate = 48000.0;
  ssm::S4DModel<float>(cfg, ssm::random_s4d_model<float>(cfg, /*seed=*/1)).save("s4d.safetensors");

  auto model = ssm::S4DModel<float>::load("s4d.safetensors");
  const int L = 4800;  // 0.1 s at 48 kHz, d_input = d_output = 1
  std::vector<float> u(L), y_conv(L), y_scan(L), y_stream(L);
  for (int t = 0; t < L; ++t) u[t] = (t % 480 == 0) ? 1.0f : 0.0f;  // 100 Hz click train

  model.forward(u.data(), /*batch=*/1, L, y_conv.data(), ssm::Mode::conv);  // offline
  model.forward(u.data(), 1, L, y_scan.data(), ssm::Mode::scan);

  auto stream = model.make_streamer();            // streaming: a Streamer<float>
  stream->prepare({48000.0, /*max_block=*/64});    // allocates; then real-time safe process
  for (int t = 0; t < L; t += 64) stream->process_mono(&u[t], &y_stream[t], std::min(64, L - t));

  double d1 = 0, d2 = 0, scale = 0;
  for (int t = 0; t < L; ++t) {
    d1 = std::max(d1, double(std::abs(y_stream[t] - y_conv[t])));
    d2 = std::max(d2, double(std::abs(y_stream[t] - y_scan[t])));
    scale = std::max(scale, double(std::abs(y_stream[t])));
  }
  std::printf("stream vs conv %.1e, stream vs scan %.1e (max |y| %.2f)\n", d1, d2, scale);
  return d1 <= 1e-3 * scale && d2 <= 1e-3 * scale ? 0 : 1;
}
