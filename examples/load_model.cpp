// Loading a model trained in PyTorch: a safetensors file whose metadata names the architecture
// (ssmkit.arch: any family in the registry, ssm::model_archs()) and its config (see
// include/ssm/layers/model_file.hpp and examples/python/ for the exporters). ssm::load_model
// opens it as an ssm::Model<float>; it is run offline and streamed block by block through its
// ssm::Streamer<float>; both give the same output. Nothing here is family-specific.
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

#include "ssm/layers/registry.hpp"
#include "ssm/layers/s4d_model.hpp"  // only to write the untrained example model

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
    // Any registered family (ssmkit.arch): the registry picks the loader.
    const auto model = ssm::load_model<float>(path);
    const ssm::ModelInfo& info = model->info();
    std::printf("%s: arch %s (%s), config %s\n", path.c_str(), info.arch.c_str(), info.description.c_str(),
                info.config_json.c_str());
    const int L = 4800, block = 64, di = info.d_input, dout = info.d_output;
    const double rate = 48000.0;  // both paths at the same rate (continuous families re-discretize)
    std::vector<float> u(static_cast<std::size_t>(L) * di), y_off(static_cast<std::size_t>(L) * dout),
        y_str(y_off.size());
    for (int t = 0; t < L; ++t)
      for (int c = 0; c < di; ++c)
        u[static_cast<std::size_t>(t) * di + c] = static_cast<float>(std::sin(2 * std::numbers::pi * 440 * t / rate + c));
    // Offline: the whole signal at once, in the model's default mode.
    model->forward(u.data(), {1, L, di}, y_off.data(), info.modes.at(0), ssm::Device::cpu, rate);
    if (!info.causal) {
      std::printf("  not causal: offline only\n");
      return 0;
    }
    // Streaming: prepare once (allocates), then real-time safe blocks.
    auto s = model->make_streamer();
    s->prepare({rate, block, 1.0, /*channels=*/1});
    for (int t = 0; t < L; t += block)
      s->process_mono(u.data() + static_cast<std::size_t>(t) * di, y_str.data() + static_cast<std::size_t>(t) * dout,
                      std::min(block, L - t));
    double diff = 0, peak = 0;
    for (std::size_t i = 0; i < y_off.size(); ++i) {
      diff = std::max(diff, static_cast<double>(std::fabs(y_off[i] - y_str[i])));
      peak = std::max(peak, static_cast<double>(std::fabs(y_off[i])));
    }
    std::printf("  %d samples at %.0f Hz: max |offline - stream| = %.3g (max |y| = %.3g)\n", L, rate, diff, peak);
    return diff <= 1e-3 * std::max(1.0, peak) ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "example_load_model: %s\n", e.what());
    return 1;
  }
}
