#define BOOST_TEST_MODULE parser_corpus
// Replays the fuzzers' seed corpus (fuzz/corpus/<target>/) and every crash the fuzzers found
// (fuzz/regressions/<target>/) through the readers in the ordinary build, so the default test
// suite (and the ASan/UBSan job, .ci/check-sanitizers.sh) guards them without clang/libFuzzer.
// Targets: safetensors, npy, model (SafeTensors -> S4DModel / MambaModel::from_file, then a
// short forward pass) and audio (read_audio, when built with SSM_WITH_AUDIO).
//
// Rules: a file named valid_* must parse (load); bad_* must be rejected with ssm::Error; edge_*
// and regression files may do either. No file may raise any other exception type (or, under the
// sanitizers, read out of bounds / overflow).
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "ssm/core/error.hpp"
#include "ssm/io/safetensors.hpp"
#include "ssm/layers/mamba_model.hpp"
#include "ssm/layers/model_file.hpp"
#include "ssm/layers/s4d_model.hpp"
#ifdef SSM_WITH_AUDIO
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <new>

#include "ssm/io/audio/audio_file.hpp"
#endif
#include <cmath>
#if __has_include("ssm/io/npy.hpp")
#include "ssm/io/npy.hpp"
#define SSM_TEST_HAVE_NPY 1
#endif

namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

namespace {

Bytes read_all(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

std::vector<fs::path> files_in(const std::string& sub) {
  std::vector<fs::path> out;
  const fs::path dir = fs::path(SSM_SOURCE_DIR) / "fuzz" / sub;
  if (!fs::is_directory(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

enum class Outcome { parsed, rejected, other_exception };

// Runs `parse` on every file of `dir`; checks the naming rules above.
template <class Parse>
void replay(const std::string& dir, Parse parse, std::size_t min_files, bool names_file = true) {
  const auto files = files_in(dir);
  BOOST_TEST_MESSAGE(dir << ": " << files.size() << " files");
  BOOST_TEST(files.size() >= min_files);
  for (const auto& p : files) {
    const Bytes bytes = read_all(p);
    Outcome got;
    std::string why;
    try {
      parse(bytes, p.string());
      got = Outcome::parsed;
    } catch (const ssm::Error& e) {
      got = Outcome::rejected;
      why = e.what();
    } catch (const std::exception& e) {
      got = Outcome::other_exception;
      why = e.what();
    }
    const std::string name = p.filename().string();
    BOOST_TEST_CONTEXT(name << " -> " << why) {
      BOOST_TEST((got != Outcome::other_exception));
      if (name.rfind("valid_", 0) == 0 || name.rfind("conformance_", 0) == 0) BOOST_TEST((got == Outcome::parsed));
      if (name.rfind("bad_", 0) == 0) BOOST_TEST((got == Outcome::rejected));
      if (got == Outcome::rejected && names_file) BOOST_TEST(why.find(p.string()) != std::string::npos);
    }
  }
}

void parse_safetensors(const Bytes& b, const std::string& origin) {
  const auto st = ssm::io::SafeTensors::parse(b, origin);
  for (const auto& n : st.names()) {
    const auto& ti = st.info(n);
    BOOST_TEST(ti.end - ti.begin == static_cast<std::size_t>(ti.numel()) * ssm::io::dtype_size(ti.dtype));
    BOOST_TEST(st.to_double(n).size() == static_cast<std::size_t>(ti.numel()));
  }
}

#ifdef SSM_TEST_HAVE_NPY
void parse_npy(const Bytes& b, const std::string& origin) {
  const auto h = ssm::io::parse_npy_header(b.data(), b.size(), b.size(), origin);
  const auto a = ssm::io::parse_npy<double>(b, origin);
  BOOST_TEST(a.data.size() == static_cast<std::size_t>(h.numel()));
  (void)ssm::io::parse_npy<float>(b, origin);
}
#endif

// The model path as fuzz/fuzz_model.cpp drives it: parse, load by ssmkit.arch, run 7 frames
// offline (every S4D mode) and streamed. A valid model's output must be finite.
template <class Model>
void check_finite_stream(Model& m, int d_input, int d_output, bool expect_finite) {
  m.prepare({48000.0, 4});
  const std::vector<float> u(static_cast<std::size_t>(7 * d_input), 0.5f);
  std::vector<float> y(static_cast<std::size_t>(7 * d_output));
  m.process_mono(u.data(), y.data(), 4);
  m.process_mono(u.data() + 4 * d_input, y.data() + 4 * d_output, 3);
  if (expect_finite)
    for (float v : y) BOOST_TEST(std::isfinite(v));
}

void load_model(const Bytes& b, const std::string& origin) {
  const bool valid = fs::path(origin).filename().string().rfind("valid_", 0) == 0;
  const auto st = ssm::io::SafeTensors::parse(b, origin);
  if (ssm::model_arch(st) == "mamba") {
    auto m = ssm::MambaModel<float>::from_file(st);
    const auto& c = m.config();
    const std::vector<float> u(static_cast<std::size_t>(2 * 7 * c.d_input), 0.25f);
    std::vector<float> y(static_cast<std::size_t>(2 * 7 * c.d_output));
    m.forward(u.data(), 2, 7, y.data());
    if (valid)
      for (float v : y) BOOST_TEST(std::isfinite(v));
    check_finite_stream(m, c.d_input, c.d_output, valid);
  } else {
    auto m = ssm::S4DModel<float>::from_file(st);  // rejects any arch other than "s4d"
    const auto& c = m.config();
    const std::vector<float> u(static_cast<std::size_t>(2 * 7 * c.d_input), 0.25f);
    std::vector<float> y(static_cast<std::size_t>(2 * 7 * c.d_output));
    for (auto mode : {ssm::Mode::stream, ssm::Mode::conv, ssm::Mode::scan}) {
      m.forward(u.data(), 2, 7, y.data(), mode);
      if (valid)
        for (float v : y) BOOST_TEST(std::isfinite(v));
    }
    check_finite_stream(m, c.d_input, c.d_output, valid);
  }
}

#ifdef SSM_WITH_AUDIO
void read_audio_file(const Bytes&, const std::string& path) {
  const auto a = ssm::io::read_audio(path);
  BOOST_TEST(a.samples.size() == static_cast<std::size_t>(a.channels) * static_cast<std::size_t>(a.frames));
  const auto i = ssm::io::audio_info(path);
  BOOST_TEST((i.channels == a.channels && i.frames == a.frames && i.sample_rate == a.sample_rate));
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAsan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAsan = true;
#else
constexpr bool kAsan = false;
#endif
#else
constexpr bool kAsan = false;
#endif

// read_audio(path) in a child process whose address space is limited to its current size plus
// 1 GiB, so that a reader allocating what a corrupt header claims (many GiB for a tiny file)
// fails with std::bad_alloc there instead of exhausting the machine. Returns the child's verdict:
// 0 read or rejected with ssm::Error, 2 std::bad_alloc, 3 another exception, else a crash.
int read_audio_bounded(const std::string& path) {
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    rlimit rl{};
    long pages = 0;
    if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
      if (std::fscanf(f, "%ld", &pages) != 1) pages = 0;
      std::fclose(f);
    }
    rl.rlim_cur = rl.rlim_max = static_cast<rlim_t>(pages) * static_cast<rlim_t>(sysconf(_SC_PAGESIZE)) + (rlim_t{1} << 30);
    setrlimit(RLIMIT_AS, &rl);
    int code = 0;
    try {
      (void)ssm::io::read_audio(path);
    } catch (const ssm::Error&) {
    } catch (const std::bad_alloc&) {
      code = 2;
    } catch (...) {
      code = 3;
    }
    _exit(code);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
#endif

}  // namespace

BOOST_AUTO_TEST_CASE(model_seed_corpus) { replay("corpus/model", load_model, 30, false); }
BOOST_AUTO_TEST_CASE(model_fuzz_regressions) { replay("regressions/model", load_model, 1, false); }

#ifdef SSM_WITH_AUDIO
BOOST_AUTO_TEST_CASE(audio_seed_corpus) { replay("corpus/audio", read_audio_file, 15); }

// Found by fuzz_audio (fuzz/regressions/audio/flac_header_huge_frame_count_oom.flac, 67 bytes):
// a FLAC STREAMINFO block claiming ~3.4e9 frames makes read_audio() allocate the whole output
// (13.6 GB) from the header before decoding a single frame; the file then holds none. The reader
// must not allocate beyond what it has decoded (or a bound derived from the file), and reject
// the short read with ssm::Error. Each regression input is read in a child process with a
// bounded address space (1 GiB above its current size); skipped under ASan (which reserves
// terabytes of shadow address space, so no RLIMIT_AS can apply).
BOOST_AUTO_TEST_CASE(audio_fuzz_regressions) {
  const auto files = files_in("regressions/audio");
  BOOST_TEST(files.size() >= 1u);
  if (kAsan) {
    BOOST_TEST_MESSAGE("ASan build: audio regressions run in the plain build only");
    return;
  }
  for (const auto& p : files) {
    const int verdict = read_audio_bounded(p.string());
    BOOST_TEST(verdict == 0, p.filename().string() << ": child verdict " << verdict
                                                   << " (2: std::bad_alloc, i.e. the reader allocated what the"
                                                      " header claims; 3: another exception; > 128: a signal)");
  }
}
#endif

BOOST_AUTO_TEST_CASE(safetensors_seed_corpus) { replay("corpus/safetensors", parse_safetensors, 20); }
BOOST_AUTO_TEST_CASE(safetensors_fuzz_regressions) { replay("regressions/safetensors", parse_safetensors, 0); }

#ifdef SSM_TEST_HAVE_NPY
BOOST_AUTO_TEST_CASE(npy_seed_corpus) { replay("corpus/npy", parse_npy, 20); }
BOOST_AUTO_TEST_CASE(npy_fuzz_regressions) { replay("regressions/npy", parse_npy, 1); }

// Found by fuzz_npy (fuzz/regressions/npy/numel_signed_overflow.npy): a shape with huge
// dimensions followed by a zero is a valid empty array, but NpyHeader::numel() multiplied the
// dimensions left to right in int64 and overflowed (undefined behaviour, reported by UBSan)
// before reaching the zero. numel() must be 0 and computing it must not overflow; the plain
// build cannot see the overflow (the wrapped product times 0 is 0), the sanitizer job does.
BOOST_AUTO_TEST_CASE(npy_numel_with_zero_after_huge_dimensions) {
  ssm::io::NpyHeader h;
  h.shape = {std::int64_t{1} << 62, std::int64_t{1} << 62, 0};
  BOOST_TEST(h.numel() == 0);
  h.shape = {0, std::numeric_limits<std::int64_t>::max()};
  BOOST_TEST(h.numel() == 0);
}
#endif
