#include "ssm/io/audio/audio_file.hpp"

#include <sndfile.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <filesystem>
#include <memory>

#include "ssm/core/error.hpp"
#include "ssm/io/atomic_file.hpp"

namespace ssm::io {

namespace {

[[noreturn]] void bad(const char* where, const std::string& path, const std::string& what) {
  throw Error(std::string(where) + ": '" + path + "': " + what);
}

struct SndfileCloser {
  void operator()(SNDFILE* f) const noexcept { sf_close(f); }
};
using SndfilePtr = std::unique_ptr<SNDFILE, SndfileCloser>;

// Frames converted per libsndfile call (bounded scratch memory for any file length).
constexpr sf_count_t kChunkFrames = 8192;

AudioContainer container_of_major(int major, const char* where, const std::string& path) {
  switch (major) {
    case SF_FORMAT_WAV:
    case SF_FORMAT_WAVEX:
    case SF_FORMAT_RF64: return AudioContainer::wav;
    case SF_FORMAT_FLAC: return AudioContainer::flac;
    default: break;
  }
  SF_FORMAT_INFO fi{};
  fi.format = major;
  const bool named = sf_command(nullptr, SFC_GET_FORMAT_INFO, &fi, sizeof(fi)) == 0 && fi.name;
  bad(where, path, std::string("unsupported container ") + (named ? fi.name : "(unknown)") +
                       " (expected WAV or FLAC)");
}

AudioEncoding encoding_of_subtype(int sub) noexcept {
  switch (sub) {
    case SF_FORMAT_PCM_16: return AudioEncoding::pcm16;
    case SF_FORMAT_PCM_24: return AudioEncoding::pcm24;
    case SF_FORMAT_FLOAT: return AudioEncoding::float32;
    default: return AudioEncoding::other;
  }
}

// Opens for reading; reports a missing file as such rather than as libsndfile's generic error.
SndfilePtr open_read(const std::string& path, SF_INFO& info, const char* where) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) bad(where, path, "no such file");
  if (std::filesystem::is_directory(path, ec)) bad(where, path, "is a directory, not an audio file");
  info = SF_INFO{};
  SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
  if (!f) bad(where, path, std::string("cannot read as audio: ") + sf_strerror(nullptr));
  SndfilePtr p(f);
  container_of_major(info.format & SF_FORMAT_TYPEMASK, where, path);
  if (info.channels < 1) bad(where, path, "corrupt header: channel count " + std::to_string(info.channels));
  if (info.samplerate <= 0) bad(where, path, "corrupt header: sample rate " + std::to_string(info.samplerate));
  if (info.frames < 0) bad(where, path, "corrupt header: negative frame count");
  return p;
}

// libsndfile quietly shortens a RIFF/WAVE file whose data chunk claims more bytes than the file
// holds (it logs "should be ..." and reads what is there). A truncated file must be an error, so
// walk the chunk list: a data chunk longer than the rest of the file is rejected. The sizes
// 0 and 0xFFFFFFFF mark a stream written without a known length and are accepted.
void check_riff_data_chunk(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return;  // libsndfile opened it; nothing more to check
  f.seekg(0, std::ios::end);
  const auto size = static_cast<std::uint64_t>(f.tellg());
  f.seekg(0);
  unsigned char h[12];
  if (!f.read(reinterpret_cast<char*>(h), 12) || std::memcmp(h, "RIFF", 4) != 0 || std::memcmp(h + 8, "WAVE", 4) != 0)
    return;  // RF64 and other layouts: libsndfile's own checks apply
  std::uint64_t pos = 12;
  for (int guard = 0; guard < 100000 && pos + 8 <= size; ++guard) {
    unsigned char c[8];
    f.seekg(static_cast<std::streamoff>(pos));
    if (!f.read(reinterpret_cast<char*>(c), 8)) return;
    const std::uint64_t len = std::uint64_t{c[4]} | std::uint64_t{c[5]} << 8 | std::uint64_t{c[6]} << 16 |
                              std::uint64_t{c[7]} << 24;
    if (std::memcmp(c, "data", 4) == 0) {
      if (len != 0 && len != 0xFFFFFFFFu && len > size - pos - 8)
        bad("read_audio", path, "truncated: the data chunk declares " + std::to_string(len) + " bytes, the file holds " +
                                    std::to_string(size - pos - 8));
      return;
    }
    pos += 8 + len + (len & 1);
  }
}

}  // namespace

const char* to_string(AudioContainer c) noexcept { return c == AudioContainer::wav ? "wav" : "flac"; }

const char* to_string(AudioEncoding e) noexcept {
  switch (e) {
    case AudioEncoding::automatic: return "automatic";
    case AudioEncoding::pcm16: return "pcm16";
    case AudioEncoding::pcm24: return "pcm24";
    case AudioEncoding::float32: return "float32";
    case AudioEncoding::other: return "other";
  }
  return "?";
}

AudioBuffer::AudioBuffer(int channels_, std::int64_t frames_, double sample_rate_) {
  require(channels_ >= 1, "AudioBuffer", "channels", "must be >= 1, got ", channels_);
  require(frames_ >= 0, "AudioBuffer", "frames", "must be >= 0, got ", frames_);
  require(std::isfinite(sample_rate_) && sample_rate_ > 0, "AudioBuffer", "sample_rate",
          "must be finite and > 0, got ", sample_rate_);
  channels = channels_;
  frames = frames_;
  sample_rate = sample_rate_;
  samples.assign(static_cast<std::size_t>(channels_) * static_cast<std::size_t>(frames_), 0.0f);
}

AudioContainer container_from_path(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext == ".wav") return AudioContainer::wav;
  if (ext == ".flac") return AudioContainer::flac;
  throw Error("write_audio: '" + path + "': argument 'path' must end in .wav or .flac, got '" + ext + "'");
}

AudioFileInfo audio_info(const std::string& path) {
  SF_INFO info;
  auto f = open_read(path, info, "audio_info");
  AudioFileInfo out;
  out.container = container_of_major(info.format & SF_FORMAT_TYPEMASK, "audio_info", path);
  out.encoding = encoding_of_subtype(info.format & SF_FORMAT_SUBMASK);
  SF_FORMAT_INFO fi{};
  fi.format = info.format & SF_FORMAT_SUBMASK;
  if (sf_command(nullptr, SFC_GET_FORMAT_INFO, &fi, sizeof(fi)) == 0 && fi.name) out.subtype = fi.name;
  out.channels = info.channels;
  out.frames = info.frames;
  out.sample_rate = info.samplerate;
  // The same header checks as read_audio: a WAV whose data chunk claims more than the file holds
  // is truncated, whatever libsndfile reports.
  if ((info.format & SF_FORMAT_TYPEMASK) == SF_FORMAT_WAV || (info.format & SF_FORMAT_TYPEMASK) == SF_FORMAT_WAVEX)
    check_riff_data_chunk(path);
  return out;
}

AudioBuffer read_audio(const std::string& path) {
  SF_INFO info;
  auto f = open_read(path, info, "read_audio");
  const int C = info.channels;
  const std::int64_t F = info.frames;
  // Guard the allocation against a header that promises absurd sizes.
  const std::uint64_t max_samples = std::uint64_t{1} << 40;
  if (static_cast<std::uint64_t>(F) > max_samples / static_cast<std::uint64_t>(C))
    bad("read_audio", path, "corrupt header: " + std::to_string(F) + " frames x " + std::to_string(C) +
                                " channels is too large");
  if ((info.format & SF_FORMAT_TYPEMASK) == SF_FORMAT_WAV || (info.format & SF_FORMAT_TYPEMASK) == SF_FORMAT_WAVEX)
    check_riff_data_chunk(path);
  sf_command(f.get(), SFC_SET_NORM_FLOAT, nullptr, SF_TRUE);

  // Decode into a buffer that grows with the frames actually decoded: the header's frame count
  // is only a claim (a 67-byte FLAC header can promise billions of frames), so nothing is
  // allocated for it up front; a short read is an error as soon as the data runs out.
  std::vector<float> chunk(static_cast<std::size_t>(std::min<sf_count_t>(kChunkFrames, std::max<sf_count_t>(F, 1))) *
                           static_cast<std::size_t>(C));
  std::vector<float> interleaved;
  std::int64_t done = 0;
  while (done < F) {
    const sf_count_t want = std::min<sf_count_t>(kChunkFrames, F - done);
    const sf_count_t got = sf_readf_float(f.get(), chunk.data(), want);
    if (got != want) {
      const int err = sf_error(f.get());
      bad("read_audio", path, "truncated or corrupt: read " + std::to_string(done + std::max<sf_count_t>(got, 0)) +
                                  " of " + std::to_string(F) + " frames" +
                                  (err ? std::string(" (") + sf_strerror(f.get()) + ")" : std::string()));
    }
    interleaved.insert(interleaved.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(got * C));
    done += got;
  }
  AudioBuffer out(C, F, static_cast<double>(info.samplerate));
  for (int c = 0; c < C; ++c) {
    float* dst = out.channel(c).data();
    for (std::int64_t k = 0; k < F; ++k) dst[k] = interleaved[static_cast<std::size_t>(k * C + c)];
  }
  if (sf_error(f.get()) != SF_ERR_NO_ERROR)
    bad("read_audio", path, std::string("decode error: ") + sf_strerror(f.get()));
  for (float v : out.samples)
    if (!std::isfinite(v)) bad("read_audio", path, "corrupt data: non-finite sample");
  return out;
}

void write_audio(const std::string& path, const AudioBuffer& audio, const AudioWriteOptions& options) {
  const char* where = "write_audio";
  const AudioContainer container = container_from_path(path);
  require(audio.channels >= 1, where, "audio.channels", "must be >= 1, got ", audio.channels);
  require(audio.frames >= 0, where, "audio.frames", "must be >= 0, got ", audio.frames);
  require(audio.samples.size() == static_cast<std::size_t>(audio.channels) * static_cast<std::size_t>(audio.frames),
          where, "audio.samples", "must hold channels x frames = ", audio.channels * audio.frames, " values, got ",
          audio.samples.size());
  require(std::isfinite(audio.sample_rate) && audio.sample_rate >= 1 && audio.sample_rate <= 2147483647.0 &&
              audio.sample_rate == std::floor(audio.sample_rate),
          where, "audio.sample_rate", "must be a positive integer number of Hz (WAV/FLAC store integers), got ",
          audio.sample_rate);

  AudioEncoding enc = options.encoding;
  if (enc == AudioEncoding::automatic)
    enc = container == AudioContainer::wav ? AudioEncoding::float32 : AudioEncoding::pcm24;
  require(enc != AudioEncoding::other, where, "options.encoding", "must be automatic, pcm16, pcm24 or float32");
  require(!(container == AudioContainer::flac && enc == AudioEncoding::float32), where, "options.encoding",
          "float32 is not available in FLAC (use pcm16 or pcm24, or a .wav path)");

  const bool pcm = enc != AudioEncoding::float32;
  for (std::size_t k = 0; k < audio.samples.size(); ++k) {
    const float v = audio.samples[k];
    const auto F = static_cast<std::size_t>(std::max<std::int64_t>(audio.frames, 1));
    if (!std::isfinite(v) || (pcm && std::fabs(v) > 1.0f))
      throw Error(std::string(where) + ": '" + path + "': argument 'audio.samples' must be " +
                  (pcm ? "finite and within [-1, 1] for PCM encodings" : "finite") + ", got " + std::to_string(v) +
                  " at channel " + std::to_string(k / F) + ", frame " + std::to_string(k % F));
  }

  SF_INFO info{};
  info.channels = audio.channels;
  info.samplerate = static_cast<int>(audio.sample_rate);
  info.format = (container == AudioContainer::wav ? (audio.channels > 2 ? SF_FORMAT_WAVEX : SF_FORMAT_WAV)
                                                  : SF_FORMAT_FLAC) |
                (enc == AudioEncoding::pcm16 ? SF_FORMAT_PCM_16 : enc == AudioEncoding::pcm24 ? SF_FORMAT_PCM_24
                                                                                               : SF_FORMAT_FLOAT);
  if (!sf_format_check(&info))
    bad(where, path, "libsndfile cannot write " + std::to_string(audio.channels) + " channels at " +
                         std::to_string(info.samplerate) + " Hz as " + to_string(container) + "/" + to_string(enc));

  AtomicFile file(path, where);  // removes the temporary unless committed
  const std::string& tmp = file.temp_path();
  {
    SNDFILE* raw = sf_open(tmp.c_str(), SFM_WRITE, &info);
    if (!raw) bad(where, path, "cannot create " + tmp + ": " + sf_strerror(nullptr));
    SndfilePtr f(raw);
    sf_command(f.get(), SFC_SET_NORM_FLOAT, nullptr, SF_TRUE);
    sf_command(f.get(), SFC_SET_CLIPPING, nullptr, SF_TRUE);  // only rounding at +-1.0 can reach it

    const int C = audio.channels;
    const std::int64_t F = audio.frames;
    std::vector<float> chunk(static_cast<std::size_t>(std::min<std::int64_t>(kChunkFrames, std::max<std::int64_t>(F, 1))) *
                             static_cast<std::size_t>(C));
    for (std::int64_t done = 0; done < F;) {
      const sf_count_t n = std::min<sf_count_t>(kChunkFrames, F - done);
      for (int c = 0; c < C; ++c) {
        const float* src = audio.channel(c).data() + done;
        float* dst = chunk.data() + c;
        for (sf_count_t k = 0; k < n; ++k) dst[k * C] = src[k];
      }
      if (sf_writef_float(f.get(), chunk.data(), n) != n) {
        const std::string err = sf_strerror(f.get());
        f.reset();
        bad(where, path, "write failed: " + err);
      }
      done += n;
    }
    sf_write_sync(f.get());
    if (sf_close(f.release()) != 0) {
      bad(where, path, "closing the temporary file failed");
    }
  }
  file.commit();
}

}  // namespace ssm::io
