#pragma once
// Reading and writing the signals the ssmkit program filters: audio files (WAV/FLAC, any
// channel count), NumPy .npy arrays and safetensors tensors. In memory a signal is planar
// float32 (channel c at data[c * frames .. (c+1) * frames)).
//
// Array layouts (Layout, `--layout`):
//   time-last  (default): shape (L) is one channel; (C, L) is C channels; (B, C, L) is B*C
//              channels, row-major (channel b*C + c is row (b, c)).
//   time-first (PyTorch's sequence layout): (L) is one channel; (L, C) is C channels;
//              (B, L, C) is B*C channels (channel b*C + c is feature c of sequence b).
// Outputs are written back in the input's layout (the channel axis resized when the model
// maps d_input to d_output channels).
// A safetensors input holds the signal in its only tensor, or in the first of "u", "x",
// "signal", "audio" that is present; its `sample_rate` metadata, when present, is the rate.
#include <cstdint>
#include <string>
#include <vector>

namespace ssm::cli {

enum class SignalKind { audio, npy, safetensors };
enum class Layout { time_last, time_first };

/// "time-last" / "time-first"; throws ssm::Error naming --layout otherwise.
Layout parse_layout(const std::string& name);

struct Signal {
  std::string path;
  SignalKind kind = SignalKind::audio;
  int channels = 0;
  std::int64_t frames = 0;
  double rate = 0;              // Hz
  bool rate_from_file = false;  // audio files and safetensors with sample_rate metadata
  std::vector<std::int64_t> shape;  // array inputs: the original shape
  Layout layout = Layout::time_last;  // array inputs: how shape maps to channels and time
  std::string tensor;               // safetensors input: the tensor read
  std::vector<float> data;          // planar, channels * frames
};

/// The kind implied by the extension (.wav/.flac, .npy, .safetensors; case-insensitive).
/// Throws ssm::Error naming `what` and the path for any other extension.
SignalKind kind_from_path(const std::string& path, const char* what);

/// Reads a signal; arrays without a rate of their own get `default_rate`, and are read in
/// `layout`. Throws ssm::Error (naming the file) for missing/corrupt files, unsupported
/// layouts, empty or non-finite data.
Signal read_signal(const std::string& path, double default_rate, Layout layout = Layout::time_last);

/// The signal an output of `channels` channels per input of `in.channels` has: same frames,
/// rate, kind and layout; an array's channel axis scaled by channels / in.channels. `group`:
/// the consecutive channels of one model stream (d_input), which must not cross a batch row.
/// Throws ssm::Error naming IN when the array's channel axis cannot be split or scaled so.
Signal output_like(const Signal& in, int channels, int group = 1);

/// Output encoding of audio files (`--encoding`): automatic is float32 for .wav, pcm24 for .flac.
enum class Encoding { automatic, pcm16, pcm24, float32 };
/// "auto" | "pcm16" | "pcm24" | "float"; throws ssm::Error naming --encoding otherwise.
Encoding parse_encoding(const std::string& name);
/// Checks before any computing that `path` can be written with `encoding` (an audio encoding
/// only for .wav/.flac, no float in FLAC) and at `rate` (WAV/FLAC store whole Hz).
void check_output(const std::string& path, Encoding encoding, double rate);
/// Whether `encoding` written to `path` stores integers (needs samples in [-1, 1]).
bool is_pcm(const std::string& path, Encoding encoding);

/// Writes `data` (planar, like `like`) to `path` in the format its extension names, atomically.
/// Audio outputs are written with `encoding`; arrays keep the layout of `like`.
void write_signal(const std::string& path, const Signal& like, const std::vector<float>& data,
                  Encoding encoding = Encoding::automatic);

}  // namespace ssm::cli
