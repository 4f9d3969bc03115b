#define BOOST_TEST_MODULE safetensors
#include <boost/test/unit_test.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "ssm/core/error.hpp"
#include "ssm/io/safetensors.hpp"
#include "support/testing.hpp"

using namespace ssm;
using namespace ssm::io;

namespace {
std::vector<std::uint8_t> sample_file() {
  return serialize_safetensors(
      {{"a", DType::F64, {2, 3}, {1, 2, 3, 4, 5, 6}},
       {"b", DType::F32, {4}, {0.5, -1.25, 3, 1e-3}},
       {"c", DType::I32, {2}, {-7, 9}}},
      {{"op", "test"}, {"rtol", "1e-4"}});
}
std::vector<std::uint8_t> with_header(const std::string& json, std::size_t data_bytes) {
  std::vector<std::uint8_t> b(8 + json.size() + data_bytes, 0);
  const std::uint64_t n = json.size();
  std::memcpy(b.data(), &n, 8);
  std::memcpy(b.data() + 8, json.data(), json.size());
  return b;
}
// Expects ssm::Error whose message contains `needle`.
void expect_error(std::vector<std::uint8_t> bytes, const std::string& needle) {
  try {
    SafeTensors::parse(std::move(bytes), "case");
    BOOST_ERROR("expected ssm::Error containing '" << needle << "'");
  } catch (const Error& e) {
    BOOST_TEST_INFO("message: " << e.what());
    BOOST_TEST(std::string(e.what()).find(needle) != std::string::npos);
  }
}
}  // namespace

BOOST_AUTO_TEST_CASE(round_trip_all_dtypes) {
  std::vector<TensorOut> ts;
  const std::vector<double> v{0.0, 1.5, -2.25, 100.0};
  for (DType d : {DType::F64, DType::F32, DType::F16, DType::BF16})
    ts.push_back({std::string("t_") + to_string(d), d, {2, 2}, v});
  for (DType d : {DType::I64, DType::I32})
    ts.push_back({std::string("t_") + to_string(d), d, {2, 2}, {0, -3, 7, 100}});
  ts.push_back({"u8", DType::U8, {4}, {0, 1, 200, 255}});
  const auto st = SafeTensors::parse(serialize_safetensors(ts, {{"k", "v"}}));
  for (DType d : {DType::F64, DType::F32, DType::F16, DType::BF16, DType::I64, DType::I32}) {
    const auto name = std::string("t_") + to_string(d);
    BOOST_TEST((st.info(name).dtype == d));
    BOOST_TEST(st.info(name).shape == (std::vector<std::int64_t>{2, 2}), boost::test_tools::per_element());
    const auto got = st.to_double(name);
    if (d == DType::I64 || d == DType::I32) {
      BOOST_TEST(got[1] == -3.0);
    } else {
      BOOST_TEST(got == v, boost::test_tools::per_element());  // all exactly representable
    }
  }
  BOOST_TEST(st.to_double("u8")[2] == 200.0);
  BOOST_TEST(st.meta("k") == "v");
  BOOST_TEST(st.meta("missing", "dflt") == "dflt");
}

BOOST_AUTO_TEST_CASE(half_and_bfloat16_conversions) {
  BOOST_TEST(half_to_float(0x3c00) == 1.0f);
  BOOST_TEST(half_to_float(0xc000) == -2.0f);
  BOOST_TEST(half_to_float(0x0001) == std::ldexp(1.0f, -24));  // smallest subnormal
  BOOST_TEST(std::isinf(half_to_float(0x7c00)));
  BOOST_TEST(std::isnan(half_to_float(0x7e00)));
  BOOST_TEST(float_to_half(65504.0f) == 0x7bff);
  BOOST_TEST(float_to_half(1e6f) == 0x7c00);
  BOOST_TEST(bf16_to_float(float_to_bf16(3.140625f)) == 3.140625f);
  for (float f : {0.1f, -7.3f, 1e-5f, 12345.f}) {
    BOOST_TEST(std::fabs(half_to_float(float_to_half(f)) - f) <= std::fabs(f) * 1e-3f + 6e-8f);
    BOOST_TEST(std::fabs(bf16_to_float(float_to_bf16(f)) - f) <= std::fabs(f) * 8e-3f);
  }
}

BOOST_AUTO_TEST_CASE(reads_every_conformance_case) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(ssm::test::conformance_dir())) {
    if (e.path().extension() != ".safetensors") continue;
    const auto st = SafeTensors::load(e.path().string());
    BOOST_TEST(!st.meta("op").empty());
    ++n;
  }
  BOOST_TEST(n > 0);
}

BOOST_AUTO_TEST_CASE(truncated_files_are_rejected_at_every_length) {
  const auto full = sample_file();
  SafeTensors::parse(full);  // valid
  for (std::size_t len = 0; len < full.size(); ++len) {
    std::vector<std::uint8_t> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(len));
    BOOST_CHECK_THROW(SafeTensors::parse(cut, "cut"), Error);
  }
}

BOOST_AUTO_TEST_CASE(corrupted_bytes_never_crash) {
  // Flip every byte of the header in turn: each result is either a valid file or an ssm::Error.
  const auto full = sample_file();
  std::uint64_t n;
  std::memcpy(&n, full.data(), 8);
  int errors = 0;
  for (std::size_t i = 0; i < 8 + n; ++i) {
    auto b = full;
    b[i] ^= 0x5a;
    try {
      auto st = SafeTensors::parse(b, "flip");
      for (const auto& name : st.names()) (void)st.to_double(name);
    } catch (const Error&) {
      ++errors;
    }
  }
  BOOST_TEST(errors > 0);
}

BOOST_AUTO_TEST_CASE(specific_violations_have_clear_messages) {
  expect_error({1, 2, 3}, "at least 8");
  {
    std::vector<std::uint8_t> b(16, 0);
    const std::uint64_t n = 1000;
    std::memcpy(b.data(), &n, 8);
    expect_error(b, "runs past the end");
  }
  {
    std::vector<std::uint8_t> b(16, 0);
    const std::uint64_t n = ~0ull;
    std::memcpy(b.data(), &n, 8);
    expect_error(b, "exceeds");
  }
  expect_error(with_header("[1,2]", 0), "JSON object");
  expect_error(with_header("{\"a\": ", 0), "not valid JSON");
  expect_error(with_header(R"({"a":{"dtype":"F99","shape":[1],"data_offsets":[0,8]}})", 8), "unknown dtype 'F99'");
  expect_error(with_header(R"({"a":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}})", 8), "shape x dtype");
  expect_error(with_header(R"({"a":{"dtype":"F64","shape":[1],"data_offsets":[0,16]}})", 8), "truncated");
  expect_error(with_header(R"({"a":{"dtype":"F64","shape":[-1],"data_offsets":[0,8]}})", 8), "non-negative");
  expect_error(with_header(R"({"a":{"dtype":"F64","shape":[1],"data_offsets":[8,0]}})", 8), "begin offset > end");
  expect_error(with_header(R"({"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12), "overlaps");
  expect_error(with_header(R"({"a":{"dtype":"F64","shape":[1],"data_offsets":[8,16]}})", 16), "hole");
  expect_error(with_header(R"({"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})", 12), "trailing bytes");
  expect_error(with_header(R"({"__metadata__":{"k":1}})", 0), "must be a string");
  expect_error(with_header(R"({"a":{"dtype":"F64","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}})", 8), "overflows");
  expect_error(with_header(R"({"a":{"shape":[1],"data_offsets":[0,8]}})", 8), "dtype");
}

BOOST_AUTO_TEST_CASE(files_and_metadata_accessors) {
  const auto path = ssm::test::temp_dir() + "/x.safetensors";
  save_safetensors(path, {{"w", DType::F32, {3}, {1, 2, 3}}}, {{"n", "12"}, {"f", "0.5"}, {"b", "true"}, {"bad", "1x"}});
  const auto st = SafeTensors::load(path);
  BOOST_TEST(st.meta_int("n") == 12);
  BOOST_TEST(st.meta_double("f") == 0.5);
  BOOST_TEST(st.meta_bool("b"));
  BOOST_CHECK_THROW(st.meta_int("bad"), Error);
  BOOST_CHECK_THROW(st.meta("absent"), Error);
  BOOST_CHECK_THROW(st.info("absent"), Error);
  BOOST_CHECK_THROW(SafeTensors::load(ssm::test::temp_dir() + "/does-not-exist.safetensors"), Error);
  BOOST_CHECK_THROW(SafeTensors::load(ssm::test::temp_dir()), Error);  // a directory
  BOOST_CHECK_THROW(serialize_safetensors({{"w", DType::F32, {2}, {1, 2, 3}}}, {}), Error);
  BOOST_CHECK_THROW(serialize_safetensors({{"w", DType::I32, {1}, {0.5}}}, {}), Error);  // not silently truncated
}
