#pragma once
// BSTLayer: one Block-State Transformer layer, single-head-context variant (BST-SH) as ssmkit
// defines it (FORMAT.md `bst_layer`). For an input x (batch, L, d) row-major, per sequence:
//
//   xn  = LayerNorm1(x)                                     norm1.{weight,bias} (d)
//   c   = S4D(xn): per channel, c = K * xn + D xn (causal)  ssm.kernel.*, ssm.D (d)
//         K[l] = 2 Re( sum_n C_n (exp(dt A_n) - 1)/A_n exp(dt A_n l) )    (zoh, B = 1)
//         A = -exp(log_A_real) + i A_imag (d, N2),  dt = exp(log_dt) (d),  C (d, N2, 2) re/im
//   blocks [jW, jW + W) of W = block_size rows (the last one may be shorter); for block j:
//     context rows  c[p] for p in [jW - S, jW) with p >= 0 (S = context; n_ctx = min(S, jW) rows)
//     q = linear(xn_block, q_proj);  k, v = linear([c_ctx; xn_block], k_proj / v_proj)
//     n_heads heads of dh = d / n_heads columns; scores q_h k_hᵀ / sqrt(dh); softmax over the
//     keys a query may see: every context row, and the block rows at or before its own position
//   h   = x + linear(attention, out_proj)                   attn.{q,k,v,out}_proj.{weight (d,d), bias}
//   y   = h + fc2(gelu(fc1(LayerNorm2(h))))                 ffn.fc1 (d_ff, d), ffn.fc2 (d, d_ff); norm2
// gelu is the exact erf form; LayerNorm uses the biased variance and eps = norm_eps. Biases of
// the projections and of the FFN are optional (absent = zero).
//
// Masking picture for W = 4, S = 2, block j = 2 (rows 8..11; keys: context c[6], c[7], then x8..x11):
//              c6 c7 | x8 x9 x10 x11
//     q8        1  1 |  1  .  .   .
//     q9        1  1 |  1  1  .   .
//     q10       1  1 |  1  1  1   .
//     q11       1  1 |  1  1  1   1
// Block 0 has no context rows (nothing before position 0); with S > W the context reaches back
// over several blocks; S = 0 is block-local causal attention.
//
// Causality: y[t] depends on x[0..t] only (context rows of block j come from positions < jW),
// so the layer streams with no added latency: the streaming state (BSTLayerState) holds the
// S4D recurrent state, the last S context rows, the keys/values of the current block's
// context rows and of the block rows seen so far, and the position in the block.
//
// Modes:
//   forward(...)       offline, whole sequences: LayerNorm, S4D context through the conv ops
//                      (diag_kernel + fftconv), projections as Eigen GEMMs over all rows, block
//                      attention as per-block GEMMs (blocks in parallel, OpenMP), FFN GEMMs.
//   step(x, n, y, s)   streaming: n consecutive rows of one sequence, continuing from state s
//                      (S4D recurrence h_t = Ad h_{t-1} + Bd xn_t, c_t = 2 Re(C h_t) + D xn_t,
//                      the complex diagonal step of the streaming filters). Real-time safe:
//                      no allocation, lock, throw or I/O; any n (rows beyond the state's
//                      max_rows are processed in pieces); the output does not depend on how a
//                      sequence is cut into calls (bit-identical).
// Precision: T = float or double (all compute in T; discretization in double).
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ssm/continuous/diagonal.hpp"
#include "ssm/core/device.hpp"
#include "ssm/io/safetensors.hpp"
#include "ssm/stream/channel_streamer.hpp"
#include "ssm/stream/streamer.hpp"

namespace ssm {

class TensorReader;

struct BSTLayerConfig {
  int d_model = 0;     // d
  int modes = 0;       // N2: complex modes per channel of the context SSM (S4D's d_state / 2)
  int d_ff = 0;        // FFN hidden width
  int block_size = 0;  // W >= 1
  int context = 0;     // S >= 0: context rows before each block
  int n_heads = 1;     // divides d_model
  double norm_eps = 1e-5;

  int head_dim() const noexcept { return n_heads > 0 ? d_model / n_heads : 0; }
  /// Throws ssm::Error(where: argument '<field>' ...) unless d_model, modes, d_ff >= 1,
  /// block_size >= 1, context >= 0, n_heads >= 1 dividing d_model, norm_eps finite > 0.
  void validate(const char* where) const;
};

/// Parameters in PyTorch's layouts (row-major). Optional biases are empty when absent.
template <class T>
struct BSTLayerParams {
  std::vector<T> norm1_weight, norm1_bias;          // (d)
  std::vector<T> log_dt;                            // (d)
  std::vector<T> log_A_real, A_imag;                // (d, N2)
  std::vector<T> C;                                 // (d, N2, 2)
  std::vector<T> D;                                 // (d)
  std::vector<T> q_weight, q_bias;                  // (d, d), (d) or empty
  std::vector<T> k_weight, k_bias;
  std::vector<T> v_weight, v_bias;
  std::vector<T> out_weight, out_bias;
  std::vector<T> norm2_weight, norm2_bias;          // (d)
  std::vector<T> fc1_weight, fc1_bias;              // (d_ff, d), (d_ff) or empty
  std::vector<T> fc2_weight, fc2_bias;              // (d, d_ff), (d) or empty
};

/// d_model, modes and d_ff from the shapes of `<prefix>ssm.kernel.log_A_real` (d, N2) and
/// `<prefix>ffn.fc1.weight` (d_ff, d); block_size, context, n_heads, norm_eps are left at
/// their defaults for the caller to set (they are options, not shapes). Throws ssm::Error
/// naming a missing tensor or a shape of the wrong rank.
BSTLayerConfig infer_bst_layer_config(const io::SafeTensors& file, const std::string& prefix = "");

/// Reads `<prefix>norm1.weight` ... validating presence, shape and dtype against cfg.
template <class T>
BSTLayerParams<T> read_bst_layer(TensorReader& reader, const std::string& prefix, const BSTLayerConfig& cfg);

/// Appends the layer's tensors (the names above under `prefix`) to a safetensors writer list.
template <class T>
void append_bst_layer_tensors(const BSTLayerParams<T>& p, const BSTLayerConfig& cfg, const std::string& prefix,
                              std::vector<io::TensorOut>& out);

/// Untrained parameters: unit LayerNorms, S4D-Lin context SSM (A = -1/2 + i pi n,
/// log_dt ~ U[log 1e-3, log 1e-1], C ~ CN(0, 1), D ~ N(0, 1)), PyTorch default (uniform
/// fan-in) linear weights and biases. For tests and benchmarks.
template <class T>
BSTLayerParams<T> random_bst_layer(const BSTLayerConfig& cfg, std::uint64_t seed);

template <class T>
class BSTLayer;

/// Streaming state of one layer for one sequence (made by BSTLayer::make_state, which
/// allocates; everything step() touches lives here). The saved state (save/load) is
/// state_size() values of T:
///   h_re, h_im (d N2)       S4D recurrent state after the last row
///   ring (S d)              the last S context rows c, oldest first
///   kc, vc (S d)            keys/values of the current block's context rows (n_ctx of them)
///   kb, vb (W d)            keys/values of the current block's rows seen so far (pos of them)
///   filled, n_ctx, pos      counters (exact small integers)
template <class T>
class BSTLayerState {
public:
  BSTLayerState() = default;
  /// Zero state: position 0 of block 0, no context (no allocation).
  void reset() noexcept;
  std::size_t state_size() const noexcept;
  /// Copies the state into out (out.size() == state_size()); false (nothing copied) otherwise.
  bool save(std::span<T> out) const noexcept;
  /// Restores a state saved by a state of the same layer shape; false (state unchanged) on a
  /// size mismatch or counters out of range.
  bool load(std::span<const T> in) noexcept;
  int max_rows() const noexcept { return max_rows_; }
  /// Rows of the current block already taken in (0 .. W-1; W once the block is complete).
  int position_in_block() const noexcept { return pos_; }

private:
  template <class>
  friend class BSTLayer;
  int d_ = 0, N2_ = 0, W_ = 0, S_ = 0, dff_ = 0, max_rows_ = 0;
  std::vector<T> h_re_, h_im_, ring_, kc_, vc_, kb_, vb_;
  int ring_next_ = 0;  // next ring slot to write (== oldest row when filled == S)
  int filled_ = 0;     // context rows held in the ring (<= S)
  int n_ctx_ = 0;      // context rows of the current block
  int pos_ = 0;        // rows of the current block taken in
  // step scratch (max_rows rows)
  std::vector<T> xn_, q_, att_, hres_, z_, ff_, p_;
};

template <class T>
class BSTLayer {
public:
  BSTLayer() = default;
  /// Validates cfg, every size and finiteness (throws ssm::Error naming the parameter).
  BSTLayer(const BSTLayerConfig& cfg, BSTLayerParams<T> params);

  const BSTLayerConfig& config() const noexcept { return cfg_; }
  const BSTLayerParams<T>& params() const noexcept { return p_; }
  /// The context SSM as a continuous DiagonalSSM (B = 1; reference_rate unused).
  const DiagonalSSM& ssm() const noexcept { return ssm_; }

  /// Offline: x (batch, length, d) -> y (batch, length, d) from zero states; context, when not
  /// null, receives c (batch, length, d). y and context must not overlap x. Device::cuda runs
  /// the layer on the GPU (weights uploaded per call: see CudaBSTLayer for resident weights;
  /// float only); throws ssm::Error without CUDA.
  void forward(const T* x, int batch, int length, T* y, T* context = nullptr, Device device = Device::cpu) const;

  /// A zeroed streaming state taking up to max_rows rows per internal piece (allocates;
  /// max_rows >= 1).
  BSTLayerState<T> make_state(int max_rows) const;
  /// Streaming: n consecutive rows x (n, d) -> y (n, d) of the sequence that s holds, advancing
  /// s; context, when not null, receives the rows' c (n, d). x and y may alias. Real-time safe;
  /// s must come from make_state() of this layer (a state of another shape leaves y untouched).
  void step(const T* x, int n, T* y, BSTLayerState<T>& s, T* context = nullptr) const noexcept;

private:
  void step_piece(const T* x, int n, T* y, BSTLayerState<T>& s, T* context) const noexcept;
  void start_block(BSTLayerState<T>& s) const noexcept;

  BSTLayerConfig cfg_{};
  BSTLayerParams<T> p_{};
  DiagonalSSM ssm_;
  // streaming coefficients: Ad, Bd (d, N2) split, 2 C (d, N2) split
  std::vector<T> ad_re_, ad_im_, bd_re_, bd_im_, c2_re_, c2_im_;
  // real-time linear maps, weights transposed to (in, out)
  std::vector<T> qt_, kt_, vt_, ot_, fc1t_, fc2t_;
};

/// The layer as a Streamer<T> (stream/streamer.hpp): every channel of spec.channels is one
/// sequence with its own BSTLayerState (stream/channel_streamer.hpp); frames are d_model values in and out. latency() = 0
/// (see "Causality" above: the output of frame t is ready in the call that takes frame t).
/// The context SSM runs at its trained step whatever spec.sample_rate says: block_size and
/// context count samples, so the layer is a discrete-time model. Holds a copy of the layer.
template <class T>
class BSTStreamer final : public ChannelStreamer<T, BSTLayerState<T>> {
public:
  explicit BSTStreamer(BSTLayer<T> layer);
  int input_width() const noexcept override { return layer_.config().d_model; }
  int output_width() const noexcept override { return layer_.config().d_model; }
  int latency() const noexcept override { return 0; }
  const BSTLayer<T>& layer() const noexcept { return layer_; }

protected:
  BSTLayerState<T> make_channel(const StreamSpec& spec) const override;
  void do_process(const T* const* in, T* const* out, int n) noexcept override;

private:
  BSTLayer<T> layer_;
};

extern template class BSTLayer<float>;
extern template class BSTLayer<double>;
extern template class BSTLayerState<float>;
extern template class BSTLayerState<double>;
extern template class BSTStreamer<float>;
extern template class BSTStreamer<double>;

}  // namespace ssm
