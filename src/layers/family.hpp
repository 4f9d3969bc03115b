#pragma once
// Internal: the registry glue of a model family, written once. A family's source
// (family_<arch>.cpp) holds only what is its own: its ModelInfo, what its stack class runs
// offline in each mode, and (when causal) its streamer; then
//   ModelFamily detail::<arch>_family() { return model_family<Adapter, Stack>(arch, summary); }
// registers loaders of both precisions (Stack<T>::from_file, wrapped in Adapter<T>).
//
//   SequenceModel<T, M>  Model<T> over a stack M of sequence models: (batch, length, d_input)
//                        -> (batch, length, d_output). Mode::stream on the CPU runs the
//                        family's own streamer over each batch row (forward_by_streaming, at the
//                        call's sample rate or the family's default); every other (mode,
//                        device) is the family's offline(), which calls reject() for what it
//                        does not run.
//   OfflineModel<T>      Model<T> of a non-causal stack (grids, bidirectional scans): the
//                        family holds its stack and writes output_shape and forward;
//                        make_streamer() throws, saying why.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "layers/stream_forward.hpp"
#include "ssm/core/error.hpp"
#include "ssm/io/safetensors.hpp"
#include "ssm/layers/mamba_block.hpp"
#include "ssm/layers/model.hpp"
#include "ssm/layers/registry.hpp"

namespace ssm::detail {

/// "d_input 1, d_model 8, n_layers 2": the `sizes` detail of `ssmkit info`.
inline std::string sizes(std::initializer_list<std::pair<const char*, std::int64_t>> items) {
  std::string s;
  for (const auto& [name, value] : items)
    s += (s.empty() ? "" : ", ") + std::string(name) + " " + std::to_string(value);
  return s;
}

/// The ModelInfo of a causal sequence model whose config has d_input, d_output and to_json().
template <class Config>
ModelInfo sequence_info(std::string arch, std::string description, const Config& c, std::vector<Mode> modes,
                        std::vector<std::pair<std::string, std::string>> details) {
  return {std::move(arch),  std::move(description), c.to_json(), c.d_input, c.d_output, true,
          std::move(modes), std::move(details)};
}

/// The details of a residual stack of Mamba blocks (MambaModel, MoEMambaModel): sizes, state
/// size, latency.
inline std::vector<std::pair<std::string, std::string>> mamba_stack_details(int d_input, int d_output, int n_layers,
                                                                            const MambaBlockConfig& b) {
  const std::int64_t states = std::int64_t(n_layers) * b.d_inner * (b.d_state + b.d_conv);
  return {{"sizes", sizes({{"d_input", d_input},
                           {"d_model", b.d_model},
                           {"d_inner", b.d_inner},
                           {"n_layers", n_layers},
                           {"d_state", b.d_state},
                           {"d_conv", b.d_conv},
                           {"d_output", d_output}})},
          {"state size", std::to_string(states) + " values per stream (ssm_state + conv_state)"},
          {"latency", "0 samples (one step per sample)"}};
}

template <class T, class M>
class SequenceModel : public Model<T> {
public:
  const ModelInfo& info() const noexcept final { return info_; }
  std::vector<std::int64_t> output_shape(const std::vector<std::int64_t>& s) const final {
    check_sequence_input(s, info_.d_input, where_);
    return {s[0], s[1], info_.d_output};
  }
  void forward(const T* in, const std::vector<std::int64_t>& s, T* out, Mode mode, Device device,
               double sample_rate) const final {
    output_shape(s);
    if (mode == Mode::stream && device == Device::cpu) {
      const auto st = this->make_streamer();
      forward_by_streaming<T>(*st, in, s[0], s[1], out, sample_rate > 0 ? sample_rate : stream_rate_);
      return;
    }
    offline(in, static_cast<int>(s[0]), static_cast<int>(s[1]), out, mode, device, sample_rate);
  }

protected:
  /// `where` names the model in messages ("mamba model"). The family's constructor then fills
  /// info_ (and stream_rate_, the sample rate of the stream mode when the call gives none).
  SequenceModel(M m, const char* where) : m_(std::move(m)), where_(where) {}
  /// Offline in `mode` on `device` (anything but the stream mode on the CPU).
  virtual void offline(const T* in, int batch, int length, T* out, Mode mode, Device device,
                       double sample_rate) const = 0;
  /// The error for a (mode, device) the family does not run: the stream mode off the CPU, or
  /// `why` (e.g. "must be scan or stream (...), got ") followed by the mode.
  [[noreturn]] void reject(Mode mode, Device device, const char* why) const {
    require(mode != Mode::stream || device == Device::cpu, where_, "device", "stream mode runs on the CPU");
    fail(where_, "mode", why, to_string(mode));
  }

  M m_;
  ModelInfo info_;
  double stream_rate_ = 48000.0;

private:
  const char* where_;
};

template <class T>
class OfflineModel : public Model<T> {
public:
  const ModelInfo& info() const noexcept final { return info_; }
  std::unique_ptr<Streamer<T>> make_streamer() const final {
    throw Error(std::string(where_) + ": argument 'mode' stream is not available: " + why_not_causal_);
  }

protected:
  /// The family's constructor then fills info_.
  OfflineModel(const char* where, const char* why_not_causal) : where_(where), why_not_causal_(why_not_causal) {}

  ModelInfo info_;
  const char* where_;

private:
  const char* why_not_causal_;
};

/// The family `arch`: loaders of Stack<float> and Stack<double> files, each wrapped in its
/// Adapter<T> (constructed from the stack).
template <template <class> class Adapter, template <class> class Stack>
ModelFamily model_family(std::string arch, std::string summary) {
  ModelFamily f;
  f.arch = std::move(arch);
  f.summary = std::move(summary);
  f.load_f32 = [](const io::SafeTensors& file) -> std::unique_ptr<Model<float>> {
    return std::make_unique<Adapter<float>>(Stack<float>::from_file(file));
  };
  f.load_f64 = [](const io::SafeTensors& file) -> std::unique_ptr<Model<double>> {
    return std::make_unique<Adapter<double>>(Stack<double>::from_file(file));
  };
  return f;
}

}  // namespace ssm::detail
