// Loading a model trained in PyTorch: a safetensors file whose metadata names the architecture
// (ssmkit.arch = "s4d" | "mamba") and its config (see include/ssm/layers/model_file.hpp and
// tools/ for the exporters). The model is run offline and streamed block by block;
// both give the same output.
//
//   example_load_model [model.safetensors]
// Without an argument, an untrained S4D model is written to a temporary file and loaded, so
// the program runs anywhere.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numbers>
#include <string>
#include <vector>

#include "ssm/io/safetensors.hpp"
#include "ssm/layers/mamba_model.hpp"
#include "ssm/layers/model_file.hpp"
#include "ssm/layers/s4d_model.hpp"

namespace {
template <class M, class Offline>
int run(M& model, int d_in, int d_out, double rate, Offline offline) {
  const int L = 4800, block = 64;
  std::vector<float> u(static_cast<std::size_t>(L) * d_in), y_off(static_cast<std::size_t>(L) * d_out), y_str(y_off.size());
  for (int t = 0; t < L; ++t)
    for (int c = 0; c < d_in; ++c)
      u[static_cast<std::size_t>(t) * d_in + c] = static_cast<float>(std::sin(2 * std::numbers::pi * 440 * t / rate + c));
  offline(u.data(), L, y_off.data());                  // whole signal at once
  model.prepare({rate, block});                        // streaming: allocate once
  for (int t = 0; t < L; t += block)                   // ... then real-time safe blocks
    model.process(u.data() + static_cast<std::size_t>(t) * d_in, y_str.data() + static_cast<std::size_t>(t) * d_out,
                  std::min(block, L - t));
  double diff = 0, peak = 0;
  for (std::size_t i = 0; i < y_off.size(); ++i) {
    diff = std::max(diff, static_cast<double>(std::fabs(y_off[i] - y_str[i])));
    peak = std::max(peak, static_cast<double>(std::fabs(y_off[i])));
  }
  std::printf("  %d samples at %.0f Hz: max |offline - stream| = %.3g (max |y| = %.3g)\n", L, rate, diff, peak);
  return diff <= 1e-3 * std::max(1.0, peak) ? 0 : 1;
}
}  // namespace

int main(int argc, char** argv) {
  try {
    std::string path;
    if (argc > 1) {
      path = argv[1];
    } else {
      ssm::S4DModelConfig cfg;
      cfg.d_model = 16;
      cfg.n_layers = 2;
      cfg.d_state = 32;
      path = (std::filesystem::temp_directory_path() / "ssmkit_example_model.safetensors").string();
      ssm::S4DModel<float>(cfg, ssm::random_s4d_model<float>(cfg, 1)).save(path);
      std::printf("no model given: wrote an untrained S4D model to %s\n", path.c_str());
    }
    const auto file = ssm::io::SafeTensors::load(path);
    const std::string arch = ssm::model_arch(file);
    std::printf("%s: arch %s, config %s\n", path.c_str(), arch.c_str(), file.meta("ssmkit.config", "{}").c_str());
    if (arch == "s4d") {
      auto m = ssm::S4DModel<float>::from_file(file);
      const auto& c = m.config();
      return run(m, c.d_input, c.d_output, c.sample_rate, [&](const float* u, int L, float* y) {
        m.forward(u, 1, L, y, ssm::Mode::conv);
      });
    }
    if (arch == "mamba") {
      auto m = ssm::MambaModel<float>::from_file(file);
      const auto& c = m.config();
      return run(m, c.d_input, c.d_output, c.sample_rate > 0 ? c.sample_rate : 48000.0,
                 [&](const float* u, int L, float* y) { m.forward(u, 1, L, y); });
    }
    std::fprintf(stderr, "unknown arch '%s'\n", arch.c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "example_load_model: %s\n", e.what());
    return 1;
  }
}
