// The "s4d" model family: S4DModel behind Model<T> / Streamer<T>, registered by name.
#include <memory>

#include "layers/families.hpp"
#include "layers/stream_forward.hpp"
#include "ssm/core/error.hpp"
#include "ssm/layers/s4d_model.hpp"

namespace ssm {
namespace {

template <class T>
class S4DStreamer final : public Streamer<T> {
public:
  explicit S4DStreamer(const S4DModel<T>& m) : proto_(m) {}
  int input_width() const noexcept override { return proto_.config().d_input; }
  int output_width() const noexcept override { return proto_.config().d_output; }

protected:
  void do_prepare(const StreamSpec& spec) override {
    ch_.assign(static_cast<std::size_t>(spec.channels), proto_);
    for (auto& m : ch_) m.prepare(spec);
  }
  void do_process(const T* const* in, T* const* out, int n) noexcept override {
    for (std::size_t c = 0; c < ch_.size(); ++c) ch_[c].process(in[c], out[c], n);
  }
  void do_reset() noexcept override {
    for (auto& m : ch_) m.reset();
  }
  std::size_t do_state_size() const noexcept override {
    std::size_t n = 0;
    for (const auto& m : ch_) n += m.state_size();
    return n;
  }
  void do_save_state(T* dst) const noexcept override {
    for (const auto& m : ch_) {
      m.save_state(dst);
      dst += m.state_size();
    }
  }
  void do_load_state(const T* src) noexcept override {
    for (auto& m : ch_) {
      m.load_state(src);
      src += m.state_size();
    }
  }

private:
  S4DModel<T> proto_;
  std::vector<S4DModel<T>> ch_;
};

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
      S4DStreamer<T> st(m_);
      detail::forward_by_streaming<T>(st, in, s[0], s[1], out,
                                      sample_rate > 0 ? sample_rate : m_.config().sample_rate);
    } else {
      m_.forward(in, static_cast<int>(s[0]), static_cast<int>(s[1]), out, mode, sample_rate, device);
    }
  }
  std::unique_ptr<Streamer<T>> make_streamer() const override { return std::make_unique<S4DStreamer<T>>(m_); }

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

}  // namespace ssm
