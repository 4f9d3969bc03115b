#pragma once
// Audio files (WAV and FLAC, any channel count) through libsndfile.
// Available when ssmkit is built with SSM_WITH_AUDIO (the macro is then defined by the target).
//
// In memory a signal is float32 and planar: channel c occupies
//   samples[c * frames, (c + 1) * frames)
// so one channel is a contiguous time series, the layout the filters' single-channel paths and
// the batch (channels = batch) paths take.
//
// Reading: PCM files are normalized to [-1, 1) (libsndfile's convention: an n-bit integer
// sample s maps to s / 2^(n-1)); float WAV samples are returned as stored. Every frame the
// header promises must be read; a short read (truncated file) is an error.
//
// Writing: the container follows the file extension (.wav or .flac, case-insensitive). The
// encoding defaults to 32-bit float for WAV (lossless for float32 data) and 24-bit PCM for FLAC
// (FLAC has no float encoding). PCM encodings need every sample in [-1, 1] (nothing is silently
// clipped; +1.0 maps to the largest integer); all encodings need finite samples. Files are
// written atomically (io/atomic_file.hpp: a temporary file next to `path`, fsync, rename), so an
// interrupted or failed write never leaves a partial file under the final name.
//
// Errors (missing file, unreadable/corrupt file, a container other than WAV/FLAC, invalid
// buffers, write failures) raise ssm::Error naming the file.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace ssm::io {

enum class AudioContainer { wav, flac };
/// Sample encoding on disk. For writing, `automatic` means float32 for WAV and pcm24 for FLAC;
/// `other` is only reported by audio_info() for encodings the writer does not produce
/// (8/32-bit PCM, float64, u-law, ADPCM, ...), which read_audio() still reads.
enum class AudioEncoding { automatic, pcm16, pcm24, float32, other };

const char* to_string(AudioContainer c) noexcept;
const char* to_string(AudioEncoding e) noexcept;

/// A planar float32 signal: channels x frames at sample_rate Hz.
struct AudioBuffer {
  int channels = 0;
  std::int64_t frames = 0;
  double sample_rate = 0;
  std::vector<float> samples;  // channels * frames values, channel-major (planar)

  AudioBuffer() = default;
  /// Zero-filled buffer. Throws ssm::Error for channels < 1, frames < 0 or a non-positive rate.
  AudioBuffer(int channels, std::int64_t frames, double sample_rate);

  std::span<float> channel(int c) noexcept {
    return {samples.data() + static_cast<std::size_t>(c) * static_cast<std::size_t>(frames),
            static_cast<std::size_t>(frames)};
  }
  std::span<const float> channel(int c) const noexcept {
    return {samples.data() + static_cast<std::size_t>(c) * static_cast<std::size_t>(frames),
            static_cast<std::size_t>(frames)};
  }
  double seconds() const noexcept { return sample_rate > 0 ? static_cast<double>(frames) / sample_rate : 0.0; }
};

/// What a file holds, without reading the samples.
struct AudioFileInfo {
  AudioContainer container = AudioContainer::wav;
  AudioEncoding encoding = AudioEncoding::other;  // pcm16, pcm24, float32 or other
  std::string subtype;                            // libsndfile's name of the encoding, e.g. "Signed 16 bit PCM"
  int channels = 0;
  std::int64_t frames = 0;
  double sample_rate = 0;
};

struct AudioWriteOptions {
  AudioEncoding encoding = AudioEncoding::automatic;
};

/// Container implied by the extension of `path` (.wav / .flac). Throws ssm::Error otherwise.
AudioContainer container_from_path(const std::string& path);

/// Reads a WAV or FLAC file (any channel count) into a planar float32 buffer.
AudioBuffer read_audio(const std::string& path);
/// Reads only the header.
AudioFileInfo audio_info(const std::string& path);
/// Writes `audio` atomically as WAV or FLAC (chosen by the extension of `path`).
void write_audio(const std::string& path, const AudioBuffer& audio, const AudioWriteOptions& options = {});

}  // namespace ssm::io
