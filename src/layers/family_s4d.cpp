// The "s4d" model family: S4DModel behind Model<T> / Streamer<T>, registered by name.
#include <memory>

#include "layers/families.hpp"
#include "layers/shared_streamer.hpp"
#include "layers/stream_forward.hpp"
#include "ssm/core/error.hpp"
#include "ssm/layers/s4d_model.hpp"

namespace ssm {
namespace {

// spec.channels streams share one copy of the weights (shared_streamer.hpp).
template <class T>
using S4DStreamer = detail::SharedWeightsStreamer<T, S4DModel<T>>;

template <class T>
class S4DFamilyModel final : public Model<T> {
public:
  explicit S4DFamilyModel(S4DModel<T> m) : m_(std::move(m)) {
    const S4DModelConfig& c = m_.config();
    info_.arch = "s4d";
    info_.description = "S4 example S4Model: encoder, S4D layers, GLU, LayerNorm, decoder";
    info_.config_json = c.to_json();
    info_.d_input = c.d_input;
    info_.d_output = c.d_output;
    info_.causal = true;
    info_.modes = {Mode::conv, Mode::scan, Mode::stream};
    const std::int64_t states = std::int64_t(c.n_layers) * c.d_model * c.d_state;
    info_.details = {
        {"sizes", "d_input " + std::to_string(c.d_input) + ", d_model " + std::to_string(c.d_model) + ", n_layers " +
                      std::to_string(c.n_layers) + ", d_state " + std::to_string(c.d_state) + ", d_output " +
                      std::to_string(c.d_output) + (c.prenorm ? ", prenorm" : ", postnorm")},
        {"state size", std::to_string(states) + " real values per stream"},
        {"sample rate", std::to_string(c.sample_rate) + " Hz (other rates re-discretize)"},
        {"latency", "0 samples (recurrent)"}};
  }
  const ModelInfo& info() const noexcept override { return info_; }
  std::vector<std::int64_t> output_shape(const std::vector<std::int64_t>& s) const override {
    check_sequence_input(s, info_.d_input, "s4d model");
    return {s[0], s[1], info_.d_output};
  }
  void forward(const T* in, const std::vector<std::int64_t>& s, T* out, Mode mode, Device device,
               double sample_rate) const override {
    output_shape(s);
    if (mode == Mode::stream && device == Device::cpu) {
      S4DStreamer<T> st(m_, m_.config().d_input, m_.config().d_output);
      detail::forward_by_streaming<T>(st, in, s[0], s[1], out,
                                      sample_rate > 0 ? sample_rate : m_.config().sample_rate);
    } else {
      m_.forward(in, static_cast<int>(s[0]), static_cast<int>(s[1]), out, mode, sample_rate, device);
    }
  }
  std::unique_ptr<Streamer<T>> make_streamer() const override { return m_.make_streamer(); }

private:
  S4DModel<T> m_;
  ModelInfo info_;
};

}  // namespace

ModelFamily detail::s4d_family() {
  ModelFamily f;
  f.arch = "s4d";
  f.summary = "S4 example S4Model (encoder, S4D layers, GLU, LayerNorm, decoder)";
  f.load_f32 = [](const io::SafeTensors& file) -> std::unique_ptr<Model<float>> {
    return std::make_unique<S4DFamilyModel<float>>(S4DModel<float>::from_file(file));
  };
  f.load_f64 = [](const io::SafeTensors& file) -> std::unique_ptr<Model<double>> {
    return std::make_unique<S4DFamilyModel<double>>(S4DModel<double>::from_file(file));
  };
  return f;
}

template <class T>
std::unique_ptr<Streamer<T>> S4DModel<T>::make_streamer() const {
  return std::make_unique<S4DStreamer<T>>(*this, cfg_.d_input, cfg_.d_output);
}
template std::unique_ptr<Streamer<float>> S4DModel<float>::make_streamer() const;
template std::unique_ptr<Streamer<double>> S4DModel<double>::make_streamer() const;

}  // namespace ssm
