#define BOOST_TEST_MODULE atomic_file
#include <boost/test/unit_test.hpp>

#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "ssm/core/error.hpp"
#include "ssm/io/atomic_file.hpp"
#include "ssm/io/safetensors.hpp"
#include "support/testing.hpp"

using namespace ssm::io;
namespace fs = std::filesystem;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// Names in `dir` other than `keep`.
std::vector<std::string> others(const std::string& dir, const std::string& keep) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename() != keep) out.push_back(e.path().filename().string());
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(writes_and_replaces_leaving_no_temporary) {
  const std::string dir = ssm::test::temp_dir() + "/atomic_write";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string p = dir + "/out.bin";
  write_file_atomic(p, std::vector<std::uint8_t>{1, 2, 3});
  BOOST_TEST(slurp(p) == std::string("\x01\x02\x03", 3));
  const std::string big(300000, 'x');
  write_file_atomic(p, big.data(), big.size());
  BOOST_TEST(slurp(p) == big);
  write_file_atomic(p, nullptr, 0);
  BOOST_TEST(fs::file_size(p) == 0u);
  BOOST_TEST(others(dir, "out.bin").empty());
}

BOOST_AUTO_TEST_CASE(failure_names_the_path_and_keeps_the_old_file) {
  const std::string dir = ssm::test::temp_dir() + "/atomic_fail";
  fs::remove_all(dir);
  fs::create_directories(dir);
  // No such directory: the error names the destination.
  try {
    write_file_atomic(dir + "/missing/out.bin", "abc", 3, "unit");
    BOOST_FAIL("no error");
  } catch (const ssm::Error& e) {
    const std::string what = e.what();
    BOOST_TEST(what.find("unit: '" + dir + "/missing/out.bin'") == 0u, what);
  }
  // A write that fails half-way (file size limit: EFBIG): the old file stays, no temporary.
  const std::string p = dir + "/keep.bin";
  write_file_atomic(p, "old", 3);
  rlimit old_lim{};
  BOOST_TEST_REQUIRE(getrlimit(RLIMIT_FSIZE, &old_lim) == 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit lim = old_lim;
  lim.rlim_cur = 4096;
  BOOST_TEST_REQUIRE(setrlimit(RLIMIT_FSIZE, &lim) == 0);
  const std::string big(100000, 'y');
  bool threw = false;
  try {
    write_file_atomic(p, big.data(), big.size(), "unit");
  } catch (const ssm::Error& e) {
    threw = true;
    BOOST_TEST(std::string(e.what()).find(p) != std::string::npos, e.what());
  }
  setrlimit(RLIMIT_FSIZE, &old_lim);
  std::signal(SIGXFSZ, old_handler);
  BOOST_TEST(threw);
  BOOST_TEST(slurp(p) == "old");
  BOOST_TEST(others(dir, "keep.bin").empty());
}

BOOST_AUTO_TEST_CASE(atomic_file_temporary_is_unique_hidden_and_removed) {
  const std::string dir = ssm::test::temp_dir() + "/atomic_file";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string p = dir + "/sound.wav";
  {
    AtomicFile a(p), b(p);
    BOOST_TEST(a.temp_path() != b.temp_path());
    for (const AtomicFile* f : {&a, &b}) {
      const fs::path t(f->temp_path());
      BOOST_TEST(t.parent_path() == fs::path(dir));  // same directory: rename is atomic
      BOOST_TEST(t.filename().string().front() == '.');
      BOOST_TEST(t.extension() == ".wav");           // writers that pick the format by name
      BOOST_TEST(fs::exists(t));                      // reserved
    }
    std::ofstream(a.temp_path()) << "from a";
    a.commit();
    BOOST_TEST(slurp(p) == "from a");
    BOOST_CHECK_THROW(a.commit(), ssm::Error);       // once
    AtomicFile c = std::move(b);                      // moved: one owner of the temporary
    BOOST_TEST(b.temp_path().empty());
    BOOST_TEST(fs::exists(c.temp_path()));
  }  // b's temporary (now c's) is removed without a commit
  BOOST_TEST(others(dir, "sound.wav").empty());
  BOOST_TEST(slurp(p) == "from a");
}

// The writer of safetensors used a fixed `<path>.tmp`: a stale one (here a directory of that
// name) made every save fail. The unique temporary does not care.
BOOST_AUTO_TEST_CASE(safetensors_save_ignores_a_stale_fixed_tmp) {
  const std::string dir = ssm::test::temp_dir() + "/atomic_st";
  fs::remove_all(dir);
  fs::create_directories(dir + "/m.safetensors.tmp");
  TensorOut t{"w", DType::F32, {2}, {1.0, 2.0}};
  save_safetensors(dir + "/m.safetensors", {t}, {{"k", "v"}});
  BOOST_TEST(SafeTensors::load(dir + "/m.safetensors").to_double("w") == (std::vector<double>{1.0, 2.0}));
  BOOST_TEST(others(dir, "m.safetensors") == std::vector<std::string>{"m.safetensors.tmp"});
}
