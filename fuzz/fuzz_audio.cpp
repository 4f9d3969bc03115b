// libFuzzer target: the audio-file reader (include/ssm/io/audio/audio_file.hpp) on arbitrary bytes.
//
// read_audio()/audio_info() take a path, so each input is written to a per-process file in
// /dev/shm (or $TMPDIR when /dev/shm is missing) and read from there. libsndfile itself is not
// instrumented for coverage or ASan, but a crash, hang or out-of-memory inside it still fails
// the run: the input is what matters, wherever it breaks.
//
// Contract under test: audio_info() and read_audio() either succeed with a consistent result
// or throw ssm::Error. After a successful read: channels >= 1, samples = channels x frames, all
// finite, and audio_info() reports the same channels / frames / rate. A small decoded signal is
// then written as float32 WAV by write_audio() and read back: it must reproduce every sample
// bit for bit (float32 WAV is lossless for float data).
//
// SSM_FUZZ_AUDIO_MAX_SAMPLES=<n> (environment; local exploration only, never in CI) skips
// read_audio() for files whose header promises more than n samples, so that a long run can go
// past the known open bug fuzz/regressions/audio/flac_header_huge_frame_count_oom.flac (the
// reader allocates what the header claims before decoding). docs/reliability.md.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "ssm/core/error.hpp"
#include "ssm/io/audio/audio_file.hpp"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

std::string g_in, g_out;
std::uint64_t g_max_samples = 0;  // 0: no limit (CI)

std::string scratch_dir() {
  std::error_code ec;
  if (std::filesystem::is_directory("/dev/shm", ec)) return "/dev/shm";
  const char* t = std::getenv("TMPDIR");
  return t && *t ? t : "/tmp";
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const std::string base = scratch_dir() + "/ssm-fuzz-audio-" + std::to_string(::getpid());
  g_in = base + "-in.wav";
  g_out = base + "-out.wav";
  if (const char* m = std::getenv("SSM_FUZZ_AUDIO_MAX_SAMPLES")) g_max_samples = std::strtoull(m, nullptr, 10);
  std::atexit([] {
    std::remove(g_in.c_str());
    std::remove(g_out.c_str());
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  {
    std::FILE* f = std::fopen(g_in.c_str(), "wb");
    check(f != nullptr);
    check(size == 0 || std::fwrite(data, 1, size, f) == size);
    check(std::fclose(f) == 0);
  }
  ssm::io::AudioFileInfo info;
  bool have_info = false;
  try {
    info = ssm::io::audio_info(g_in);
    have_info = true;
    check(info.channels >= 1 && info.frames >= 0 && info.sample_rate > 0);
  } catch (const ssm::Error&) {
  }
  if (g_max_samples && have_info &&
      static_cast<std::uint64_t>(info.frames) > g_max_samples / static_cast<std::uint64_t>(info.channels))
    return 0;
  try {
    const auto a = ssm::io::read_audio(g_in);
    check(have_info);  // whatever read_audio accepts, audio_info accepts
    check(a.channels == info.channels && a.frames == info.frames && a.sample_rate == info.sample_rate);
    check(a.samples.size() == static_cast<std::size_t>(a.channels) * static_cast<std::size_t>(a.frames));
    if (a.samples.size() <= 4096) {
      try {
        ssm::io::write_audio(g_out, a, {ssm::io::AudioEncoding::float32});
        const auto b = ssm::io::read_audio(g_out);
        check(b.channels == a.channels && b.frames == a.frames && b.sample_rate == a.sample_rate);
        check(a.samples.empty() ||  // memcmp on the null data() of an empty vector is undefined
              std::memcmp(a.samples.data(), b.samples.data(), a.samples.size() * sizeof(float)) == 0);
      } catch (const ssm::Error&) {
        // write_audio may refuse what libsndfile cannot store (e.g. too many channels).
      }
    }
  } catch (const ssm::Error&) {
    // Rejected with the library's error type: the expected outcome for malformed input.
  }
  return 0;
}
