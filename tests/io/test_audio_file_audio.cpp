#define BOOST_TEST_MODULE audio_file
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "ssm/core/error.hpp"
#include "ssm/io/audio/audio_file.hpp"
#include "support/testing.hpp"

using namespace ssm::io;
namespace fs = std::filesystem;

namespace {

std::string dir() {
  static const std::string d = [] {
    const std::string p = ssm::test::temp_dir() + "/audio";
    fs::create_directories(p);
    return p;
  }();
  return d;
}

void put16(std::vector<std::uint8_t>& b, unsigned v) { b.push_back(v & 0xFF); b.push_back((v >> 8) & 0xFF); }
void put32(std::vector<std::uint8_t>& b, std::uint32_t v) { for (int k = 0; k < 4; ++k) b.push_back((v >> (8 * k)) & 0xFF); }
void put_be32(std::vector<std::uint8_t>& b, std::uint32_t v) { for (int k = 3; k >= 0; --k) b.push_back((v >> (8 * k)) & 0xFF); }

// A 16-bit PCM RIFF/WAVE image written by hand from the format description. `declared` is the
// data chunk size in the header (normally frames * channels * 2).
std::vector<std::uint8_t> wav16(int channels, int rate, const std::vector<std::int16_t>& interleaved,
                                std::int64_t declared = -1) {
  const std::uint32_t bytes = static_cast<std::uint32_t>(interleaved.size() * 2);
  const std::uint32_t dsz = declared < 0 ? bytes : static_cast<std::uint32_t>(declared);
  std::vector<std::uint8_t> b = {'R', 'I', 'F', 'F'};
  put32(b, 36 + dsz);
  for (char c : std::string("WAVEfmt ")) b.push_back(static_cast<std::uint8_t>(c));
  put32(b, 16);
  put16(b, 1);  // PCM
  put16(b, static_cast<unsigned>(channels));
  put32(b, static_cast<std::uint32_t>(rate));
  put32(b, static_cast<std::uint32_t>(rate * channels * 2));
  put16(b, static_cast<unsigned>(channels * 2));
  put16(b, 16);
  for (char c : std::string("data")) b.push_back(static_cast<std::uint8_t>(c));
  put32(b, dsz);
  for (auto s : interleaved) put16(b, static_cast<std::uint16_t>(s));
  return b;
}

void write_bytes(const std::string& path, const std::vector<std::uint8_t>& b) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

std::vector<std::uint8_t> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

AudioBuffer noise(int channels, std::int64_t frames, double rate, double amplitude, std::uint64_t seed) {
  AudioBuffer a(channels, frames, rate);
  const auto r = ssm::test::randn(a.samples.size(), seed);
  for (std::size_t i = 0; i < r.size(); ++i)
    a.samples[i] = static_cast<float>(std::clamp(amplitude * r[i], -1.0, 1.0));
  return a;
}

void expect_error(auto&& fn, const std::string& path, const std::string& needle) {
  try {
    fn();
    BOOST_ERROR("expected ssm::Error for " << path);
  } catch (const ssm::Error& e) {
    const std::string w = e.what();
    BOOST_TEST(w.find(path) != std::string::npos, w);
    BOOST_TEST(w.find(needle) != std::string::npos, "'" << w << "' lacks '" << needle << "'");
  }
}

bool no_temporaries() {
  for (const auto& e : fs::directory_iterator(dir()))
    if (e.path().filename().string().find(".tmp") != std::string::npos) return false;
  return true;
}

}  // namespace

BOOST_AUTO_TEST_CASE(reads_a_hand_made_wav_exactly) {
  // 3 channels, sample (c, f) = 1000 c + f - 1500: checks the planar layout and 1/32768 scaling.
  const int C = 3, F = 700;
  std::vector<std::int16_t> inter(C * F);
  for (int f = 0; f < F; ++f)
    for (int c = 0; c < C; ++c) inter[f * C + c] = static_cast<std::int16_t>(1000 * c + f - 1500);
  const std::string p = dir() + "/hand.wav";
  write_bytes(p, wav16(C, 22050, inter));

  const auto a = read_audio(p);
  BOOST_TEST(a.channels == C);
  BOOST_TEST(a.frames == F);
  BOOST_TEST(a.sample_rate == 22050.0);
  for (int c = 0; c < C; ++c)
    for (int f = 0; f < F; ++f)
      BOOST_REQUIRE(a.channel(c)[static_cast<std::size_t>(f)] == static_cast<float>(1000 * c + f - 1500) / 32768.0f);

  const auto info = audio_info(p);
  BOOST_TEST((info.container == AudioContainer::wav));
  BOOST_TEST((info.encoding == AudioEncoding::pcm16));
  BOOST_TEST(info.channels == C);
  BOOST_TEST(info.frames == F);
  BOOST_TEST(!info.subtype.empty());
}

BOOST_AUTO_TEST_CASE(float_wav_round_trip_is_exact) {
  for (int channels : {1, 2, 6}) {
    const auto a = noise(channels, 20011, 48000, 3.0, 100 + static_cast<std::uint64_t>(channels));  // > 1: fine for float
    auto big = a;
    big.samples[5] = 7.5f;  // float WAV stores values outside [-1, 1] unchanged
    const std::string p = dir() + "/f" + std::to_string(channels) + ".WAV";
    write_audio(p, big);
    const auto b = read_audio(p);
    BOOST_TEST(b.channels == channels);
    BOOST_TEST(b.frames == 20011);
    BOOST_TEST(b.sample_rate == 48000.0);
    BOOST_TEST(b.samples == big.samples, boost::test_tools::per_element());
    BOOST_TEST((audio_info(p).encoding == AudioEncoding::float32));
  }
  BOOST_TEST(no_temporaries());
}

BOOST_AUTO_TEST_CASE(pcm_round_trips_within_quantization) {
  struct Case { const char* ext; AudioEncoding enc; int bits; };
  for (const Case& k : {Case{".flac", AudioEncoding::automatic, 24}, Case{".flac", AudioEncoding::pcm16, 16},
                        Case{".wav", AudioEncoding::pcm16, 16}, Case{".wav", AudioEncoding::pcm24, 24}}) {
    auto a = noise(2, 9001, 44100, 0.3, 7);
    a.samples[0] = 1.0f;  // the extremes are representable
    a.samples[1] = -1.0f;
    const std::string p = dir() + "/q" + std::to_string(k.bits) + k.ext;
    write_audio(p, a, {k.enc});
    const auto b = read_audio(p);
    BOOST_TEST(b.channels == 2);
    BOOST_TEST(b.frames == 9001);
    BOOST_TEST(b.sample_rate == 44100.0);
    // libsndfile writes round(x * (2^(n-1) - 1)) and reads s / 2^(n-1): error <= 1.5 / 2^(n-1).
    const double lsb = std::ldexp(1.0, -(k.bits - 1));
    BOOST_TEST(ssm::test::max_abs_diff(a.samples, b.samples) <= 1.5 * lsb, k.ext << " " << k.bits);
    const auto info = audio_info(p);
    BOOST_TEST((info.container == (std::string(k.ext) == ".flac" ? AudioContainer::flac : AudioContainer::wav)));
    BOOST_TEST((info.encoding == (k.bits == 16 ? AudioEncoding::pcm16 : AudioEncoding::pcm24)));
  }
}

BOOST_AUTO_TEST_CASE(empty_and_many_channel_files) {
  const AudioBuffer empty(4, 0, 8000);
  write_audio(dir() + "/empty.wav", empty);
  const auto e = read_audio(dir() + "/empty.wav");
  BOOST_TEST(e.channels == 4);
  BOOST_TEST(e.frames == 0);
  const auto many = noise(8, 1000, 96000, 0.5, 9);
  write_audio(dir() + "/many.flac", many);
  const auto m = read_audio(dir() + "/many.flac");
  BOOST_TEST(m.channels == 8);
  BOOST_TEST(ssm::test::max_abs_diff(many.samples, m.samples) <= 1.5 * std::ldexp(1.0, -23));
}

BOOST_AUTO_TEST_CASE(read_errors_name_the_file) {
  const std::string missing = dir() + "/missing.wav";
  expect_error([&] { read_audio(missing); }, missing, "no such file");
  expect_error([&] { audio_info(missing); }, missing, "no such file");

  const std::string garbage = dir() + "/garbage.wav";
  write_bytes(garbage, std::vector<std::uint8_t>(1000, 0x5A));
  expect_error([&] { read_audio(garbage); }, garbage, "cannot read as audio");

  // data chunk promising 400 bytes, 40 present
  std::vector<std::int16_t> ten(20, 1000);
  const std::string trunc = dir() + "/trunc.wav";
  write_bytes(trunc, wav16(2, 48000, ten, 400));
  expect_error([&] { read_audio(trunc); }, trunc, "truncated");

  // a truncated FLAC stream
  write_audio(dir() + "/whole.flac", noise(1, 48000, 48000, 0.3, 11));
  auto flac = read_bytes(dir() + "/whole.flac");
  flac.resize(flac.size() / 2);
  const std::string tflac = dir() + "/half.flac";
  write_bytes(tflac, flac);
  expect_error([&] { read_audio(tflac); }, tflac, "truncated");

  // a valid Sun/NeXT .au file: readable by libsndfile, but not WAV or FLAC
  std::vector<std::uint8_t> au = {'.', 's', 'n', 'd'};
  put_be32(au, 24);
  put_be32(au, 8);
  put_be32(au, 3);  // 16-bit linear PCM
  put_be32(au, 8000);
  put_be32(au, 1);
  for (int i = 0; i < 8; ++i) au.push_back(0);
  const std::string aup = dir() + "/sound.au";
  write_bytes(aup, au);
  expect_error([&] { read_audio(aup); }, aup, "unsupported container");

  expect_error([&] { read_audio(dir()); }, dir(), "directory");
}

BOOST_AUTO_TEST_CASE(write_errors_leave_no_partial_file) {
  const auto a = noise(2, 100, 48000, 0.5, 12);
  const std::string kept = dir() + "/kept.wav";
  write_audio(kept, a);
  const auto before = read_bytes(kept);

  auto nan = a;
  nan.samples[150] = std::nanf("");
  expect_error([&] { write_audio(kept, nan); }, kept, "finite");
  auto loud = a;
  loud.samples[3] = 1.25f;
  expect_error([&] { write_audio(kept, loud, {AudioEncoding::pcm16}); }, kept, "within [-1, 1]");
  BOOST_CHECK_THROW(write_audio(dir() + "/x.flac", a, {AudioEncoding::float32}), ssm::Error);
  BOOST_CHECK_THROW(write_audio(dir() + "/x.mp3", a), ssm::Error);
  auto wrong = a;
  wrong.samples.pop_back();
  BOOST_CHECK_THROW(write_audio(dir() + "/x.wav", wrong), ssm::Error);
  auto odd_rate = a;
  odd_rate.sample_rate = 44100.5;
  BOOST_CHECK_THROW(write_audio(dir() + "/x.wav", odd_rate), ssm::Error);
  const std::string nodir = dir() + "/no/such/dir/out.wav";
  expect_error([&] { write_audio(nodir, a); }, nodir, "cannot create");

  BOOST_TEST(read_bytes(kept) == before);  // failed writes left the old file untouched
  BOOST_TEST(!fs::exists(dir() + "/x.wav"));
  BOOST_TEST(!fs::exists(dir() + "/x.flac"));
  BOOST_TEST(!fs::exists(nodir));
  BOOST_TEST(no_temporaries());

  BOOST_CHECK_THROW(AudioBuffer(0, 10, 48000), ssm::Error);
  BOOST_CHECK_THROW(AudioBuffer(1, -1, 48000), ssm::Error);
  BOOST_CHECK_THROW(AudioBuffer(1, 10, 0), ssm::Error);
}
