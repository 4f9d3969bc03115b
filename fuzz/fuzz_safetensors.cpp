// libFuzzer target: ssm::io::SafeTensors::parse on arbitrary bytes.
//
// Contract under test (include/ssm/io/safetensors.hpp): parse() either returns a SafeTensors
// whose every tensor lies inside the data buffer with end - begin == numel x dtype size, or
// throws ssm::Error. Any other exception, a sanitizer report (out-of-bounds read, integer
// overflow, bad float->int cast), a leak or a trap below is a bug.
// After a successful parse every accessor is exercised, and the parsed tensors are serialized
// and parsed again: the round trip must reproduce names, dtypes, shapes and value bits.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "ssm/core/error.hpp"
#include "ssm/io/safetensors.hpp"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

// Bit pattern of a value as the writer would store it for `d` (NaN payloads of F16/BF16 are
// canonicalised by the writer, so NaN compares as "NaN").
bool same_value(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::memcmp(&a, &b, sizeof a) == 0;
}

// Integers the writer can store exactly: I64 values round-trip through double only below 2^53
// (tests/reliability/test_validation.cpp covers the out-of-range case separately).
bool round_trippable(const ssm::io::TensorInfo& ti, const std::vector<double>& v) {
  if (ti.dtype != ssm::io::DType::I64) return true;
  for (double x : v)
    if (!(std::fabs(x) < 9007199254740992.0)) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::uint8_t> bytes(data, data + size);
  try {
    const auto st = ssm::io::SafeTensors::parse(std::move(bytes), "fuzz");
    std::vector<ssm::io::TensorOut> out;
    bool all_round_trippable = true;
    for (const auto& name : st.names()) {
      const auto& ti = st.info(name);
      check(ti.name == name && st.has(name));
      check(ti.begin <= ti.end && ti.end <= size);
      const auto n = static_cast<std::size_t>(ti.numel());
      check(ti.end - ti.begin == n * ssm::io::dtype_size(ti.dtype));
      auto v = st.to_double(name);  // reads every byte of the tensor
      check(v.size() == n);
      check(st.to_float(name).size() == n);
      if (!name.empty() && name != "__metadata__") {
        all_round_trippable = all_round_trippable && round_trippable(ti, v);
        out.push_back({name, ti.dtype, ti.shape, std::move(v)});
      } else {
        all_round_trippable = false;  // the writer refuses such names by contract
      }
    }
    for (const auto& [key, value] : st.metadata()) {
      check(st.meta(key) == value);
      try { (void)st.meta_double(key); } catch (const ssm::Error&) {}
      try { (void)st.meta_int(key); } catch (const ssm::Error&) {}
      try { (void)st.meta_bool(key); } catch (const ssm::Error&) {}
    }
    if (all_round_trippable) {
      const auto again = ssm::io::SafeTensors::parse(
          ssm::io::serialize_safetensors(out, st.metadata()), "fuzz-roundtrip");
      check(again.names() == st.names() && again.metadata() == st.metadata());
      for (const auto& t : out) {
        const auto& ti = again.info(t.name);
        check(ti.dtype == t.dtype && ti.shape == t.shape);
        const auto v = again.to_double(t.name);
        check(v.size() == t.values.size());
        for (std::size_t i = 0; i < v.size(); ++i) check(same_value(v[i], t.values[i]));
      }
    }
  } catch (const ssm::Error&) {
    // Rejected with the library's error type: the expected outcome for malformed input.
  }
  return 0;
}
