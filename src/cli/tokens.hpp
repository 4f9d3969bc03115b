#pragma once
// Token ids for token models (a model file or Hugging Face checkpoint with vocab_size > 0:
// MambaForCausalLM / MambaModel), as `ssmkit run` reads them (docs/cli.md, "Token models").
//
// An input is a .npy array of token ids, the layout of a tokenizer's input_ids:
//   (L)          one sequence of L tokens          -> output (L, d_output)
//   (B, L)       B sequences of L tokens            -> output (B, L, d_output)
//   (B, L, 1)    the model's own (batch, length, 1) -> output (B, L, d_output)
// Elements: any integer dtype NumPy writes (int8 .. int64, uint8 .. uint64, either byte order:
// np.save of input_ids is int64), or float32 / float64 holding integers. Every id must be in
// [0, vocab_size); anything else (a fraction, NaN, a negative or too large id, another shape, an
// empty array) is an ssm::Error naming IN, the file and the position, before any compute.
#include <cstdint>
#include <string>
#include <vector>

namespace ssm::cli {

struct TokenIds {
  std::string path;
  std::int64_t batch = 1, length = 0;
  bool batched = false;   // (B, L) or (B, L, 1) in: (B, L, d_output) out; (L) in: (L, d_output)
  std::vector<float> ids; // batch x length, row-major; each an integer in [0, vocab) (exact in float)

  /// The output shape for a model of d_output values a frame.
  std::vector<std::int64_t> output_shape(int d_output) const;
};

/// Reads and checks a token-id array for a model of `vocab` tokens (vocab <= 2^24: ids exact in
/// float32).
TokenIds read_token_ids(const std::string& path, int vocab);

}  // namespace ssm::cli
