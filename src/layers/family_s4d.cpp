// The "s4d" model family: S4DModel behind Model<T> / Streamer<T>, registered by name.
#include "layers/families.hpp"
#include "layers/family.hpp"
#include "layers/shared_streamer.hpp"
#include "ssm/layers/s4d_model.hpp"

namespace ssm {
namespace {

// spec.channels streams share one copy of the weights (shared_streamer.hpp).
template <class T>
using S4DStreamer = detail::SharedWeightsStreamer<T, S4DModel<T>>;

template <class T>
class S4DFamilyModel final : public detail::SequenceModel<T, S4DModel<T>> {
public:
  explicit S4DFamilyModel(S4DModel<T> m) : detail::SequenceModel<T, S4DModel<T>>(std::move(m), "s4d model") {
    this->info_ = describe(this->m_.config());
    this->stream_rate_ = this->m_.config().sample_rate;  // the file's own rate, unless the call names one
  }
  std::unique_ptr<Streamer<T>> make_streamer() const override { return this->m_.make_streamer(); }

private:
  static ModelInfo describe(const S4DModelConfig& c) {
    const std::int64_t states = std::int64_t(c.n_layers) * c.d_model * c.d_state;
    return detail::sequence_info("s4d", "S4 example S4Model: encoder, S4D layers, GLU, LayerNorm, decoder", c,
                                 {Mode::conv, Mode::scan, Mode::stream},
                                 {{"sizes", detail::sizes({{"d_input", c.d_input},
                                                           {"d_model", c.d_model},
                                                           {"n_layers", c.n_layers},
                                                           {"d_state", c.d_state},
                                                           {"d_output", c.d_output}}) +
                                                (c.prenorm ? ", prenorm" : ", postnorm")},
                                  {"state size", std::to_string(states) + " real values per stream"},
                                  {"sample rate", std::to_string(c.sample_rate) + " Hz (other rates re-discretize)"},
                                  {"latency", "0 samples (recurrent)"}});
  }
  // Every mode (the stream mode on a GPU: S4DModel::forward says it runs on the CPU).
  void offline(const T* in, int batch, int length, T* out, Mode mode, Device device,
               double sample_rate) const override {
    this->m_.forward(in, batch, length, out, mode, sample_rate, device);
  }
};

}  // namespace

ModelFamily detail::s4d_family() {
  return model_family<S4DFamilyModel, S4DModel>("s4d",
                                                "S4 example S4Model (encoder, S4D layers, GLU, LayerNorm, decoder)");
}

template <class T>
std::unique_ptr<Streamer<T>> S4DModel<T>::make_streamer() const {
  return std::make_unique<S4DStreamer<T>>(*this, cfg_.d_input, cfg_.d_output);
}
template std::unique_ptr<Streamer<float>> S4DModel<float>::make_streamer() const;
template std::unique_ptr<Streamer<double>> S4DModel<double>::make_streamer() const;

}  // namespace ssm
