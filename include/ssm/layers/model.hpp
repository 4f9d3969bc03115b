#pragma once
// Model<T>: the runtime interface of a loaded model, whatever its family. ssm::load_model()
// (registry.hpp) returns one for any model file; hosts (the CLI, examples, Python, Ray jobs)
// are written against it once.
//
// Tensor shapes (row-major, channels last):
//   sequence models (s4d, mamba, moe_mamba, bst, ...)  input (batch, length, d_input)
//                                                      -> output (batch, length, d_output)
//   grid / image models (vmamba, vim, ...)              input (batch, H, W, d_input)
//                                                      -> output_shape(input) says what comes out
// forward() runs offline over whole inputs from zero states in one of the model's modes()
// (Mode::scan for selective models; stream/conv/scan for LTI ones: all agree to the conformance
// tolerance). Pointers of forward() are host memory: a model on Device::cuda keeps its weights
// resident on the GPU and moves the activations itself (the device pointers API is that of the
// family's own class, e.g. MambaModel).
//
// Causal models also stream: make_streamer() returns a Streamer<T> (stream/streamer.hpp) that
// holds a copy of what it needs of the weights, so it outlives the model. A non-causal model
// (Vim, VMamba: bidirectional / 2D scans) throws ssm::Error from make_streamer().
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ssm/core/device.hpp"
#include "ssm/core/mode.hpp"
#include "ssm/stream/streamer.hpp"

namespace ssm {

struct ModelInfo {
  std::string arch;         // the file's ssmkit.arch, e.g. "mamba"
  std::string description;  // one line: what the stack is
  std::string config_json;  // the family's config, as ssmkit.config holds it
  int d_input = 1, d_output = 1;
  bool causal = true;       // streams (make_streamer) when true
  std::vector<Mode> modes;  // what forward() accepts; the first is the default
  std::vector<std::pair<std::string, std::string>> details;  // family-specific key/values for `ssmkit info`
};

template <class T>
class Model {
public:
  virtual ~Model() = default;

  virtual const ModelInfo& info() const noexcept = 0;

  /// The output shape for an input shape; throws ssm::Error naming 'input' when the input
  /// shape does not fit the model (rank, feature size, a grid size the model cannot take).
  virtual std::vector<std::int64_t> output_shape(const std::vector<std::int64_t>& input_shape) const = 0;

  /// Offline: in (input_shape) -> out (output_shape(input_shape)), host memory, from zero
  /// states. Throws ssm::Error for a mode not in info().modes, a device the model lacks, or a
  /// bad shape. `sample_rate` > 0 re-discretizes continuous-time families at that rate (0: the
  /// model's own rate; families with learned steps ignore it).
  virtual void forward(const T* in, const std::vector<std::int64_t>& input_shape, T* out, Mode mode,
                       Device device = Device::cpu, double sample_rate = 0) const = 0;

  /// A streamer of this model (input_width = d_input, output_width = d_output), not yet
  /// prepared. Throws ssm::Error when the model is not causal.
  virtual std::unique_ptr<Streamer<T>> make_streamer() const = 0;

  /// Convenience: forward into a new vector with the default mode.
  std::vector<T> run(const std::vector<T>& in, const std::vector<std::int64_t>& input_shape,
                     Device device = Device::cpu) const {
    std::int64_t n = 1;
    for (auto s : output_shape(input_shape)) n *= s;
    std::vector<T> out(static_cast<std::size_t>(n));
    forward(in.data(), input_shape, out.data(), info().modes.at(0), device);
    return out;
  }
};

/// Checks a (batch, length, d_input) sequence input shape (throws ssm::Error naming 'input').
void check_sequence_input(const std::vector<std::int64_t>& input_shape, int d_input, const char* where);

}  // namespace ssm
