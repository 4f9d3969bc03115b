// libFuzzer target: the .npy reader (include/ssm/io/npy.hpp) on arbitrary bytes.
//
// Contract under test: parse_npy<float|double>() and parse_npy_header() either succeed with a
// consistent result (data_offset + numel x itemsize == file size, data.size() == numel) or
// throw ssm::Error. Any other exception, a sanitizer report or a trap below is a bug.
// The header parser is also driven with a prefix of the image (`available` < total size), as
// npy_info()/load_npy() call it. A successful float64 parse is re-serialized and parsed again;
// values must round-trip bit-exactly (NaN as NaN).
#include <cmath>
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <vector>

#include "ssm/core/error.hpp"
#include "ssm/io/npy.hpp"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

template <class T>
bool same_value(T a, T b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::memcmp(&a, &b, sizeof a) == 0;
}

template <class T>
void parse_and_round_trip(const std::vector<std::uint8_t>& bytes) {
  try {
    const auto a = ssm::io::parse_npy<T>(bytes, "fuzz");
    // The element count, without overflow: zero if any dimension is zero, else the product
    // (which a successful parse guarantees fits the file).
    bool zero = false;
    for (auto d : a.shape) {
      check(d >= 0);
      zero = zero || d == 0;
    }
    std::uint64_t count = 1;
    if (!zero)
      for (auto d : a.shape) count *= static_cast<std::uint64_t>(d);
    check(a.data.size() == (zero ? 0 : count));
    const auto image = ssm::io::serialize_npy<T>(a.shape, a.data.data(), a.data.size());
    const auto b = ssm::io::parse_npy<T>(image, "fuzz-roundtrip");
    check(b.shape == a.shape && b.data.size() == a.data.size());
    for (std::size_t i = 0; i < a.data.size(); ++i) check(same_value(a.data[i], b.data[i]));
  } catch (const ssm::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<std::uint8_t> bytes(data, data + size);
  parse_and_round_trip<double>(bytes);
  parse_and_round_trip<float>(bytes);
  // Header from a prefix, as npy_info()/load_npy() see it: `available` bytes of `size`.
  // The prefix length comes from the last input byte so the fuzzer can steer it.
  const std::size_t available = size == 0 ? 0 : std::min<std::size_t>(size, 10u + data[size - 1] * 4u);
  try {
    const auto h = ssm::io::parse_npy_header(data, available, size, "fuzz-prefix");
    check(h.data_offset <= size);
  } catch (const ssm::Error&) {
  }
  return 0;
}
