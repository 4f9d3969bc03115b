// The "moe_mamba" model family: MoEMambaModel behind Model<T> / Streamer<T>, registered by name.
// The streamer shares the (immutable) model and holds one MoEMambaStreamState a channel.
#include <memory>

#include "layers/families.hpp"
#include "layers/stream_forward.hpp"
#include "ssm/core/error.hpp"
#include "ssm/layers/moe_mamba_model.hpp"

namespace ssm {
namespace {

template <class T>
class MoEMambaStreamer final : public Streamer<T> {
public:
  explicit MoEMambaStreamer(std::shared_ptr<const MoEMambaModel<T>> m) : m_(std::move(m)) {}
  int input_width() const noexcept override { return m_->config().d_input; }
  int output_width() const noexcept override { return m_->config().d_output; }

protected:
  void do_prepare(const StreamSpec& spec) override {
    ch_.clear();
    for (int c = 0; c < spec.channels; ++c) ch_.push_back(m_->make_stream_state(spec.max_block));
  }
  void do_process(const T* const* in, T* const* out, int n) noexcept override {
    for (std::size_t c = 0; c < ch_.size(); ++c) m_->process(in[c], out[c], n, ch_[c]);
  }
  void do_reset() noexcept override {
    for (auto& s : ch_) s.reset();
  }
  std::size_t do_state_size() const noexcept override {
    std::size_t n = 0;
    for (const auto& s : ch_) n += s.size();
    return n;
  }
  void do_save_state(T* dst) const noexcept override {
    for (const auto& s : ch_) {
      s.save(dst);
      dst += s.size();
    }
  }
  void do_load_state(const T* src) noexcept override {
    for (auto& s : ch_) {
      s.load(src);
      src += s.size();
    }
  }

private:
  std::shared_ptr<const MoEMambaModel<T>> m_;
  std::vector<MoEMambaStreamState<T>> ch_;
};

template <class T>
class MoEMambaFamilyModel final : public Model<T> {
public:
  explicit MoEMambaFamilyModel(MoEMambaModel<T> m) : m_(std::make_shared<const MoEMambaModel<T>>(std::move(m))) {
    const MoEMambaModelConfig& c = m_->config();
    const auto& b = c.layer.mixer;
    const auto& e = c.layer.moe;
    info_.arch = "moe_mamba";
    info_.description = "stack of MoE-Mamba layers (Mamba block + mixture-of-experts FFN) with encoder/decoder maps";
    info_.config_json = c.to_json();
    info_.d_input = c.d_input;
    info_.d_output = c.d_output;
    info_.causal = true;
    info_.modes = {Mode::scan, Mode::stream};
    const std::int64_t states = std::int64_t(c.n_layers) * b.d_inner * (b.d_state + b.d_conv);
    info_.details = {
        {"sizes", "d_input " + std::to_string(c.d_input) + ", d_model " + std::to_string(b.d_model) + ", d_inner " +
                      std::to_string(b.d_inner) + ", n_layers " + std::to_string(c.n_layers) + ", d_state " +
                      std::to_string(b.d_state) + ", d_conv " + std::to_string(b.d_conv) + ", d_output " +
                      std::to_string(c.d_output)},
        {"experts", std::to_string(e.n_experts) + " experts of d_ff " + std::to_string(e.d_ff) + ", top_k " +
                        std::to_string(e.top_k) + ", " + to_string(e.activation)},
        {"state size", std::to_string(states) + " values per stream (ssm_state + conv_state)"},
        {"latency", "0 samples (one step per sample)"}};
  }
  const ModelInfo& info() const noexcept override { return info_; }
  std::vector<std::int64_t> output_shape(const std::vector<std::int64_t>& s) const override {
    check_sequence_input(s, info_.d_input, "moe_mamba model");
    return {s[0], s[1], info_.d_output};
  }
  void forward(const T* in, const std::vector<std::int64_t>& s, T* out, Mode mode, Device device,
               double sample_rate) const override {
    output_shape(s);
    if (mode == Mode::scan) {
      m_->forward(in, static_cast<int>(s[0]), static_cast<int>(s[1]), out, device);
    } else if (mode == Mode::stream) {
      require(device == Device::cpu, "moe_mamba model", "device", "stream mode runs on the CPU");
      MoEMambaStreamer<T> st(m_);
      detail::forward_by_streaming<T>(st, in, s[0], s[1], out, sample_rate > 0 ? sample_rate : 48000.0);
    } else {
      fail("moe_mamba model", "mode", "must be scan or stream (MoE-Mamba is not LTI: no conv mode), got ",
           to_string(mode));
    }
  }
  std::unique_ptr<Streamer<T>> make_streamer() const override { return std::make_unique<MoEMambaStreamer<T>>(m_); }

private:
  std::shared_ptr<const MoEMambaModel<T>> m_;
  ModelInfo info_;
};

}  // namespace

ModelFamily detail::moe_mamba_family() {
  ModelFamily f;
  f.arch = "moe_mamba";
  f.summary = "stack of MoE-Mamba layers (Mamba block + mixture-of-experts FFN) with encoder/decoder maps";
  f.load_f32 = [](const io::SafeTensors& file) -> std::unique_ptr<Model<float>> {
    return std::make_unique<MoEMambaFamilyModel<float>>(MoEMambaModel<float>::from_file(file));
  };
  f.load_f64 = [](const io::SafeTensors& file) -> std::unique_ptr<Model<double>> {
    return std::make_unique<MoEMambaFamilyModel<double>>(MoEMambaModel<double>::from_file(file));
  };
  return f;
}

}  // namespace ssm
