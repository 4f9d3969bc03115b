// The "moe_mamba" model family: MoEMambaModel behind Model<T> / Streamer<T>, registered by name.
// The streamer shares the (immutable) model and holds one MoEMambaStreamState a channel.
#include <memory>

#include "layers/families.hpp"
#include "layers/family.hpp"
#include "ssm/layers/moe_mamba_model.hpp"
#include "ssm/stream/channel_streamer.hpp"

namespace ssm {
namespace {

template <class T>
class MoEMambaStreamer final : public ChannelStreamer<T, MoEMambaStreamState<T>> {
public:
  explicit MoEMambaStreamer(std::shared_ptr<const MoEMambaModel<T>> m) : m_(std::move(m)) {}
  int input_width() const noexcept override { return m_->config().d_input; }
  int output_width() const noexcept override { return m_->config().d_output; }

protected:
  MoEMambaStreamState<T> make_channel(const StreamSpec& spec) const override {
    return m_->make_stream_state(spec.max_block);
  }
  void do_process(const T* const* in, T* const* out, int n) noexcept override {
    for (std::size_t c = 0; c < this->ch_.size(); ++c) m_->process(in[c], out[c], n, this->ch_[c]);
  }

private:
  std::shared_ptr<const MoEMambaModel<T>> m_;
};

template <class T>
class MoEMambaFamilyModel final : public detail::SequenceModel<T, std::shared_ptr<const MoEMambaModel<T>>> {
public:
  explicit MoEMambaFamilyModel(MoEMambaModel<T> m)
      : detail::SequenceModel<T, std::shared_ptr<const MoEMambaModel<T>>>(
            std::make_shared<const MoEMambaModel<T>>(std::move(m)), "moe_mamba model") {
    this->info_ = describe(this->m_->config());
  }
  std::unique_ptr<Streamer<T>> make_streamer() const override {
    return std::make_unique<MoEMambaStreamer<T>>(this->m_);
  }

private:
  static ModelInfo describe(const MoEMambaModelConfig& c) {
    const auto& e = c.layer.moe;
    auto details = detail::mamba_stack_details(c.d_input, c.d_output, c.n_layers, c.layer.mixer);
    details.insert(details.begin() + 1,
                   {"experts", std::to_string(e.n_experts) + " experts of d_ff " + std::to_string(e.d_ff) + ", top_k " +
                                   std::to_string(e.top_k) + ", " + to_string(e.activation)});
    return detail::sequence_info(
        "moe_mamba", "stack of MoE-Mamba layers (Mamba block + mixture-of-experts FFN) with encoder/decoder maps", c,
        {Mode::scan, Mode::stream}, std::move(details));
  }
  void offline(const T* in, int batch, int length, T* out, Mode mode, Device device, double) const override {
    if (mode != Mode::scan)
      this->reject(mode, device, "must be scan or stream (MoE-Mamba is not LTI: no conv mode), got ");
    this->m_->forward(in, batch, length, out, device);
  }
};

}  // namespace

ModelFamily detail::moe_mamba_family() {
  return model_family<MoEMambaFamilyModel, MoEMambaModel>(
      "moe_mamba", "stack of MoE-Mamba layers (Mamba block + mixture-of-experts FFN) with encoder/decoder maps");
}

}  // namespace ssm
