#pragma once
// The ssmkit subcommands. Each returns the process exit status; errors are ssm::Error
// exceptions that main() turns into one line on stderr and exit status 1.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine.hpp"

namespace ssm::cli {

/// Where the model comes from: a file, a spec, or (both empty) kDefaultFilter.
struct ModelSource {
  std::string model_file;
  std::string filter_spec;
  /// Validates early (spec syntax, file existence) so errors surface before any input is read.
  void validate() const;
  std::unique_ptr<Model> make(int channels) const;
};

struct RunOptions {
  ModelSource source;
  std::vector<std::string> inputs, outputs;
  Mode mode = Mode::stream;
  bool mode_given = false;  // --mode on the command line (else: stream, or an offline model's own mode)
  std::string device = "cpu";
  int block = 512;
  double rate = 0;  // --rate (arrays: default the model file's own rate, else 48 kHz)
  bool rate_given = false;
  std::string layout = "time-last";  // --layout of array inputs (signals.hpp)
  int threads = 0;                   // --threads: OpenMP team size (0: OpenMP's default)
  std::string encoding = "auto";     // --encoding of audio outputs
  double gain_db = 0;                // --gain in dB, applied to every output
  bool normalize = false;            // --normalize: each output's peak to -1 dBFS
  bool check = false;
  bool quiet = false;  // no summary lines (the demo prints its own)
};

/// The peak --normalize scales each output to: -1 dBFS.
inline constexpr double kNormalizePeak = 0.8912509381337456;

struct RunReport {
  std::vector<std::string> written;   // output paths
  double audio_seconds = 0;           // signal duration summed over inputs
  double compute_seconds = 0;         // wall time of the chosen mode
  double real_time_factor = 0;        // audio_seconds / compute_seconds
  std::map<std::string, double> max_diff;  // "stream vs conv" -> max |difference| (with --check)
  double max_abs_output = 0;
  std::string model;                  // describe() of the (first) model
  Mode mode = Mode::stream;           // the mode that ran (an offline or token model's own default)
  std::int64_t tokens = 0, sequences = 0;  // token models: ids processed, in how many sequences
};

/// The `run` flow: read every input, filter, (check), then write every output atomically:
/// (offline-only model files — not causal, e.g. vim, vmamba — take .npy arrays of the shape
/// the model names, (batch, H, W, C) for the vision families, and write the model's output
/// array; token models — vocab_size > 0, e.g. a Hugging Face MambaForCausalLM directory — take
/// .npy arrays of token ids (L) / (B, L) and write (L, d_output) / (B, L, d_output) logits or
/// hidden states (tokens.hpp); causal models filter signals as below)
/// all outputs go to temporary files first and are renamed only once all succeeded, so a
/// failed run leaves no output file behind.
RunReport run_job(const RunOptions& options);
int cmd_run(const RunOptions& options);
int cmd_info(const std::string& path, const ModelSource& source);
int cmd_live(const ModelSource& source, const std::string& in_dev, const std::string& out_dev, int block,
             int channels, double rate, double seconds, bool list_devices);
int cmd_demo(const std::string& out_dir, const std::string& figure, const ModelSource& source);

struct SpectrogramOptions {
  std::string input;       // WAV / FLAC
  std::string output;      // .npy (frames, bins, d_output)
  std::string figure;      // PNG, optional
  std::string model_file;  // a grid model (arch vmamba, d_input 1); empty: a random VMamba stage
  std::uint64_t seed = 1;  // of the random stage
  int size = 512, hop = 128;
  std::string device = "cpu";
};
/// The `spectrogram` flow (src/cli/spectrogram.cpp): log-magnitude STFT of IN, a 2D model over the
/// (time x frequency) grid, the result as .npy and optionally a figure.
int cmd_spectrogram(const SpectrogramOptions& options);

}  // namespace ssm::cli
