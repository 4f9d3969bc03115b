#pragma once
// Reading and writing the signals the ssmkit program filters: audio files (WAV/FLAC, any
// channel count), NumPy .npy arrays and safetensors tensors. In memory a signal is planar
// float32 (channel c at data[c * frames .. (c+1) * frames)).
//
// Array layouts (time is always the last axis): shape (L) is one channel; (C, L) is C channels;
// (B, C, L) is B*C channels (flattened row-major, written back with the same shape).
// A safetensors input holds the signal in its only tensor, or in the first of "u", "x",
// "signal", "audio" that is present; its `sample_rate` metadata, when present, is the rate.
#include <cstdint>
#include <string>
#include <vector>

namespace ssm::cli {

enum class SignalKind { audio, npy, safetensors };

struct Signal {
  std::string path;
  SignalKind kind = SignalKind::audio;
  int channels = 0;
  std::int64_t frames = 0;
  double rate = 0;              // Hz
  bool rate_from_file = false;  // audio files and safetensors with sample_rate metadata
  std::vector<std::int64_t> shape;  // array inputs: the original shape
  std::string tensor;               // safetensors input: the tensor read
  std::vector<float> data;          // planar, channels * frames
};

/// The kind implied by the extension (.wav/.flac, .npy, .safetensors; case-insensitive).
/// Throws ssm::Error naming `what` and the path for any other extension.
SignalKind kind_from_path(const std::string& path, const char* what);

/// Reads a signal; arrays without a rate of their own get `default_rate`. Throws ssm::Error
/// (naming the file) for missing/corrupt files, unsupported layouts, empty or non-finite data.
Signal read_signal(const std::string& path, double default_rate);

/// Writes `data` (planar, like `like`) to `path` in the format its extension names, atomically.
/// Audio outputs are 32-bit float WAV or 24-bit FLAC; arrays keep the input's shape.
void write_signal(const std::string& path, const Signal& like, const std::vector<float>& data);

}  // namespace ssm::cli
