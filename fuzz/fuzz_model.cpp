// libFuzzer target: the model-file path on arbitrary bytes. The bytes are parsed as a
// safetensors image (SafeTensors::parse), then handed to both loaders,
// S4DModel<float>::from_file and MambaModel<float>::from_file (include/ssm/layers/*_model.hpp,
// model_file.hpp), whatever `ssmkit.arch` says: each must either return a model or throw
// ssm::Error (a file of the other architecture included).
//
// A model that loads must then run: a short offline forward pass (S4D: stream, conv and scan
// modes at the model's own rate and at another rate; Mamba: the selective scan) and a few
// streamed blocks through prepare/process/reset. Nothing is compared (a fuzzed model may
// legitimately overflow to Inf/NaN); the outcome under test is "no crash, no sanitizer report,
// no exception other than ssm::Error". Sizes are bounded by the input: every tensor the config
// implies must be in the file, so -max_len bounds the work per input.
#include <omp.h>

#include <cstdint>
#include <cstdlib>
#include <vector>

#include "ssm/core/error.hpp"
#include "ssm/io/safetensors.hpp"
#include "ssm/layers/mamba_model.hpp"
#include "ssm/layers/s4d_model.hpp"
#include "ssm/layers/model_file.hpp"

namespace {

constexpr int kBatch = 2;
constexpr int kLength = 7;  // odd, and more than one streamed block of 3

// Deterministic input frames: (batch, length, d_input), including a zero run.
std::vector<float> input(int d_input) {
  std::vector<float> u(static_cast<std::size_t>(kBatch) * kLength * static_cast<std::size_t>(d_input));
  for (std::size_t i = 0; i < u.size(); ++i) u[i] = (i % 5 == 4) ? 0.0f : 0.25f * static_cast<float>(i % 7) - 0.75f;
  return u;
}

template <class Model>
void stream_blocks(Model& m, int d_input, int d_output) {
  m.prepare({48000.0, 3});
  const auto u = input(d_input);
  std::vector<float> y(static_cast<std::size_t>(kLength) * static_cast<std::size_t>(d_output));
  m.process_mono(u.data(), y.data(), 3);
  m.process_mono(u.data() + 3 * d_input, y.data() + 3 * d_output, 1);
  m.process_mono(u.data() + 4 * d_input, y.data() + 4 * d_output, 3);
  m.process_mono(u.data(), y.data(), 4);  // > max_block: processed in pieces of max_block by contract
  m.reset();
  m.process_mono(u.data(), y.data(), 2);
}

void run_s4d(const ssm::io::SafeTensors& st) {
  const auto m = ssm::S4DModel<float>::from_file(st);
  const auto& c = m.config();
  const auto u = input(c.d_input);
  std::vector<float> y(static_cast<std::size_t>(kBatch) * kLength * static_cast<std::size_t>(c.d_output));
  for (auto mode : {ssm::Mode::stream, ssm::Mode::conv, ssm::Mode::scan}) {
    for (double rate : {0.0, 44100.0}) {
      try {
        m.forward(u.data(), kBatch, kLength, y.data(), mode, rate);
      } catch (const ssm::Error&) {
        // Re-discretizing a loaded model may legitimately be refused (e.g. dt overflow).
      }
    }
  }
  auto s = m;
  try {
    stream_blocks(s, c.d_input, c.d_output);
  } catch (const ssm::Error&) {
  }
}

void run_mamba(const ssm::io::SafeTensors& st) {
  auto m = ssm::MambaModel<float>::from_file(st);
  const auto& c = m.config();
  const auto u = input(c.d_input);
  std::vector<float> y(static_cast<std::size_t>(kBatch) * kLength * static_cast<std::size_t>(c.d_output));
  m.forward(u.data(), kBatch, kLength, y.data());
  stream_blocks(m, c.d_input, c.d_output);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  omp_set_num_threads(1);  // deterministic, and no pool threads for LeakSanitizer to walk
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::uint8_t> bytes(data, data + size);
  try {
    const auto st = ssm::io::SafeTensors::parse(std::move(bytes), "fuzz");
    try { (void)ssm::model_arch(st); } catch (const ssm::Error&) {}
    try { run_s4d(st); } catch (const ssm::Error&) {}
    try { run_mamba(st); } catch (const ssm::Error&) {}
  } catch (const ssm::Error&) {
    // Rejected with the library's error type: the expected outcome for malformed input.
  }
  return 0;
}
