#define BOOST_TEST_MODULE parser_corpus
// Replays the fuzzers' seed corpus (fuzz/corpus/<target>/) and every crash the fuzzers found
// (fuzz/regressions/<target>/) through the parsers in the ordinary build, so the default test
// suite (and the ASan/UBSan job, .ci/check-sanitizers.sh) guards them without clang/libFuzzer.
//
// Rules: a file named valid_* must parse; bad_* must be rejected with ssm::Error; edge_* and
// regression files may do either. No file may raise any other exception type (or, under the
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
void replay(const std::string& dir, Parse parse, std::size_t min_files) {
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
      if (got == Outcome::rejected) BOOST_TEST(why.find(p.string()) != std::string::npos);  // names the file
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

}  // namespace

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
