#define BOOST_TEST_MODULE npy
#include <boost/test/unit_test.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "ssm/core/error.hpp"
#include "ssm/io/npy.hpp"
#include "support/testing.hpp"

using namespace ssm::io;
namespace fs = std::filesystem;

namespace {

// A .npy image assembled by hand from the format description (not by the code under test).
std::vector<std::uint8_t> image(const std::string& dict, const std::vector<std::uint8_t>& data, int major = 1) {
  std::vector<std::uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<std::uint8_t>(major), 0};
  const std::size_t prefix = major == 1 ? 10 : 12;
  std::string h = dict;
  while ((prefix + h.size() + 1) % 64) h.push_back(' ');
  h.push_back('\n');
  for (std::size_t b = 0; b < prefix - 8; ++b) out.push_back(static_cast<std::uint8_t>(h.size() >> (8 * b)));
  out.insert(out.end(), h.begin(), h.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

std::vector<std::uint8_t> le_f4(const std::vector<float>& v) {
  std::vector<std::uint8_t> out(v.size() * 4);
  std::memcpy(out.data(), v.data(), out.size());  // the test host is little-endian (checked below)
  return out;
}

std::vector<std::uint8_t> be_f8(const std::vector<double>& v) {
  std::vector<std::uint8_t> out;
  for (double d : v) {
    std::uint64_t u;
    std::memcpy(&u, &d, 8);
    for (int b = 7; b >= 0; --b) out.push_back(static_cast<std::uint8_t>(u >> (8 * b)));
  }
  return out;
}

template <class T>
void expect_error(const std::vector<std::uint8_t>& bytes, const std::string& needle) {
  try {
    parse_npy<T>(bytes, "case.npy");
    BOOST_ERROR("expected ssm::Error containing '" << needle << "'");
  } catch (const ssm::Error& e) {
    const std::string what = e.what();
    BOOST_TEST(what.find("case.npy") != std::string::npos, what);
    BOOST_TEST(what.find(needle) != std::string::npos, "'" << what << "' lacks '" << needle << "'");
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(little_endian_host) {
  const std::uint32_t one = 1;
  std::uint8_t b;
  std::memcpy(&b, &one, 1);
  BOOST_TEST(b == 1);
}

BOOST_AUTO_TEST_CASE(writer_emits_numpys_exact_header) {
  const std::vector<float> v = {1, 2, 3, 4, 5, 6};
  const auto bytes = serialize_npy<float>({2, 3}, v.data(), v.size());
  const auto expected = image("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", le_f4(v));
  BOOST_TEST(bytes == expected);
  BOOST_TEST((bytes.size() - 24) % 64 == 0u);  // preamble + header padded to 64

  const double s = 2.5;
  const auto scalar = serialize_npy<double>({}, &s, 1);
  std::vector<std::uint8_t> le(8);
  std::memcpy(le.data(), &s, 8);
  BOOST_TEST(scalar == image("{'descr': '<f8', 'fortran_order': False, 'shape': (), }", le));

  const auto one_d = serialize_npy<float>({6}, v.data(), v.size());
  BOOST_TEST(one_d == image("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", le_f4(v)));
}

BOOST_AUTO_TEST_CASE(reads_hand_made_images) {
  // big-endian float64, version 2.0, keys in another order, double quotes, no trailing comma
  const std::vector<double> v = {0.25, -1.5, 3e300, -0.0, 7.125, 1e-310};
  auto a = parse_npy<double>(image("{\"shape\": (3, 2), \"fortran_order\": False, \"descr\": \">f8\"}", be_f8(v), 2));
  BOOST_TEST((a.stored == NpyDType::f64));
  BOOST_TEST((a.shape == std::vector<std::int64_t>{3, 2}));
  BOOST_TEST(a.data == v, boost::test_tools::per_element());

  // float32 read as double: exact widening
  const std::vector<float> f = {1.0f / 3.0f, -2.0f, 1e-40f};
  auto b = parse_npy<double>(image("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", le_f4(f)));
  BOOST_TEST((b.stored == NpyDType::f32));
  for (std::size_t i = 0; i < f.size(); ++i) BOOST_TEST(b.data[i] == static_cast<double>(f[i]));

  // a zero-size array and a scalar
  auto z = parse_npy<float>(image("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 0, 2), }", {}));
  BOOST_TEST(z.data.empty());
  BOOST_TEST((z.shape == std::vector<std::int64_t>{4, 0, 2}));
  auto s = parse_npy<float>(image("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", le_f4({9.0f})));
  BOOST_TEST(s.shape.empty());
  BOOST_TEST(s.data.size() == 1u);
  BOOST_TEST(s.data[0] == 9.0f);
}

BOOST_AUTO_TEST_CASE(file_round_trip_is_exact_and_atomic) {
  const std::string dir = ssm::test::temp_dir() + "/npy";
  fs::create_directories(dir);
  const auto d = ssm::test::randn(2 * 3 * 5, 7);
  save_npy<double>(dir + "/x.npy", {2, 3, 5}, d);
  const auto back = load_npy<double>(dir + "/x.npy");
  BOOST_TEST((back.shape == std::vector<std::int64_t>{2, 3, 5}));
  BOOST_TEST(back.data == d, boost::test_tools::per_element());
  const auto as_f = load_npy<float>(dir + "/x.npy");  // rounds to nearest
  for (std::size_t i = 0; i < d.size(); ++i) BOOST_TEST(as_f.data[i] == static_cast<float>(d[i]));
  const auto h = npy_info(dir + "/x.npy");
  BOOST_TEST(h.numel() == 30);
  BOOST_TEST(h.data_offset % 64 == 0u);

  // large enough to span several read chunks
  const auto big = ssm::test::randn_f(200003, 8);
  save_npy<float>(dir + "/big.npy", {200003}, big);
  BOOST_TEST(load_npy<float>(dir + "/big.npy").data == big);

  // overwriting replaces the file; no temporary files are left behind
  save_npy<double>(dir + "/x.npy", {1}, std::vector<double>{4.0});
  BOOST_TEST(load_npy<double>(dir + "/x.npy").data.at(0) == 4.0);
  for (const auto& e : fs::directory_iterator(dir))
    BOOST_TEST(e.path().filename().string().find(".tmp") == std::string::npos, e.path());

  // a failing write leaves nothing under the final name
  BOOST_CHECK_THROW(save_npy<double>(dir + "/missing-dir/y.npy", {1}, std::vector<double>{1.0}), ssm::Error);
  BOOST_TEST(!fs::exists(dir + "/missing-dir/y.npy"));
  // invalid arguments
  BOOST_CHECK_THROW(save_npy<double>(dir + "/z.npy", {2, 2}, std::vector<double>{1, 2, 3}), ssm::Error);
  BOOST_CHECK_THROW(save_npy<double>(dir + "/z.npy", {-1}, std::vector<double>{}), ssm::Error);
  BOOST_TEST(!fs::exists(dir + "/z.npy"));
}

BOOST_AUTO_TEST_CASE(missing_file_names_the_file) {
  try {
    load_npy<float>("/nonexistent/dir/none.npy");
    BOOST_ERROR("expected ssm::Error");
  } catch (const ssm::Error& e) {
    BOOST_TEST(std::string(e.what()).find("/nonexistent/dir/none.npy") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(every_truncation_is_an_error) {
  const std::vector<float> v = {1, 2, 3, 4, 5, 6, 7};
  const auto good = serialize_npy<float>({7}, v.data(), v.size());
  BOOST_TEST(parse_npy<float>(good).data == v);
  for (std::size_t n = 0; n < good.size(); ++n) {
    std::vector<std::uint8_t> cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    BOOST_CHECK_THROW(parse_npy<float>(cut), ssm::Error);
  }
  // also through the file path
  const std::string p = ssm::test::temp_dir() + "/trunc.npy";
  {
    std::ofstream f(p, std::ios::binary);
    f.write(reinterpret_cast<const char*>(good.data()), static_cast<std::streamsize>(good.size() - 3));
  }
  BOOST_CHECK_THROW(load_npy<float>(p), ssm::Error);
  BOOST_CHECK_THROW(npy_info(p), ssm::Error);
}

BOOST_AUTO_TEST_CASE(hostile_headers_are_rejected_with_a_reason) {
  const auto d4 = le_f4({1, 2});
  const std::string tail = "'fortran_order': False, 'shape': (2,), }";
  expect_error<float>(image("{'descr': '<i4', " + tail, d4), "unsupported dtype");
  expect_error<float>(image("{'descr': '|f4', " + tail, d4), "unsupported dtype");
  expect_error<float>(image("{'descr': '<f2', " + tail, d4), "unsupported dtype");
  expect_error<float>(image("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", d4), "Fortran");
  expect_error<float>(image("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", d4), "negative");
  expect_error<float>(image("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", d4),
                      "overflows");
  expect_error<float>(image("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }", d4),
                      "more data than the file holds");
  expect_error<float>(image("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", d4), "truncated");
  expect_error<float>(image("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", d4), "unexpected bytes");
  expect_error<float>(image("{'descr': '<f4', 'shape': (2,), }", d4), "missing key 'fortran_order'");
  expect_error<float>(image("{'descr': '<f4', 'descr': '<f4', " + tail, d4), "duplicate key");
  expect_error<float>(image("{'descr': '<f4', 'extra': 1, " + tail, d4), "unknown key");
  expect_error<float>(image("{'descr': '<f4', 'fortran_order': False, 'shape': (2,) } junk", d4), "after the dict");
  expect_error<float>(image("{'descr': '<f4', 'fortran_order': False, 'shape': (2,, }", d4), "malformed");
  expect_error<float>(image("{'descr: '<f4', " + tail, d4), "malformed");
  expect_error<float>(image("'descr': '<f4', " + tail, d4), "malformed");

  auto v = serialize_npy<float>({2}, reinterpret_cast<const float*>(d4.data()), 2);
  auto bad_magic = v;
  bad_magic[1] = 'X';
  expect_error<float>(bad_magic, "magic");
  auto bad_version = v;
  bad_version[6] = 4;
  expect_error<float>(bad_version, "version");
  auto long_header = v;
  long_header[8] = 0xFF;
  long_header[9] = 0xFF;
  expect_error<float>(long_header, "past the end");
  auto non_ascii = v;
  non_ascii[20] = 0xC3;
  expect_error<float>(non_ascii, "non-ASCII");
}

BOOST_AUTO_TEST_CASE(random_corruption_never_crashes) {
  // Flip random header/data bytes: the parser either throws ssm::Error or returns an array
  // whose size matches its shape. (Under ASan this also proves no out-of-bounds reads.)
  const auto v = ssm::test::randn_f(12, 3);
  const auto good = serialize_npy<float>({3, 4}, v.data(), v.size());
  std::mt19937 g(42);
  int rejected = 0;
  for (int trial = 0; trial < 4000; ++trial) {
    auto b = good;
    const int flips = 1 + static_cast<int>(g() % 3);
    for (int k = 0; k < flips; ++k) b[g() % 80] = static_cast<std::uint8_t>(g());
    if (g() % 4 == 0) b.resize(g() % b.size());
    try {
      const auto a = parse_npy<double>(b);
      std::int64_t n = 1;
      for (auto s : a.shape) n *= s;
      BOOST_REQUIRE(static_cast<std::int64_t>(a.data.size()) == n);
    } catch (const ssm::Error&) {
      ++rejected;
    }
  }
  BOOST_TEST(rejected > 3000);
}
