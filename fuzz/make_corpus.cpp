// Writes the seed corpus of the fuzz targets: small valid files made by the library's own
// writers, and broken variants that each violate one rule the readers check (truncation,
// bad header length, malformed header, unknown dtype, negative / overflowing shape, overlapping
// or uncovered data, ...). Seeds let libFuzzer start from inputs that reach deep into the
// parsers instead of rediscovering the formats byte by byte.
//
//   make_corpus <dir>     writes <dir>/safetensors/*.safetensors and <dir>/npy/*.npy
//
// The committed fuzz/corpus/ was produced by this program (plus a few small conformance cases
// copied from the shared conformance directory); re-running it is deterministic.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "ssm/io/safetensors.hpp"
#ifdef SSM_FUZZ_HAVE_NPY
#include "ssm/io/npy.hpp"
#endif

namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;
using ssm::io::DType;

namespace {

void write(const fs::path& dir, const std::string& name, const Bytes& b) {
  std::ofstream f(dir / name, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  if (!f) {
    std::fprintf(stderr, "make_corpus: cannot write %s\n", (dir / name).c_str());
    std::exit(1);
  }
}

// A safetensors image from a literal JSON header and a data buffer (no validation: used to
// build the broken cases).
Bytes safetensors_raw(const std::string& header, const Bytes& data, std::uint64_t claimed_len = ~0ull) {
  const std::uint64_t n = claimed_len == ~0ull ? header.size() : claimed_len;
  Bytes out(8);
  std::memcpy(out.data(), &n, 8);
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

void safetensors_seeds(const fs::path& dir) {
  using ssm::io::serialize_safetensors;
  // ---- valid ----
  write(dir, "valid_empty.safetensors", serialize_safetensors({}, {}));
  write(dir, "valid_metadata_only.safetensors",
        serialize_safetensors({}, {{"format", "pt"}, {"dt", "0.01"}, {"causal", "true"}, {"n", "16"}}));
  write(dir, "valid_all_dtypes.safetensors",
        serialize_safetensors({{"f64", DType::F64, {2, 2}, {1.0, -2.5, 1e-300, 3e300}},
                               {"f32", DType::F32, {3}, {0.5, -1e-40, 7.0}},
                               {"f16", DType::F16, {2}, {65504.0, -6e-8}},
                               {"bf16", DType::BF16, {2}, {1.0, -3.0e38}},
                               {"i64", DType::I64, {2}, {-9007199254740991.0, 42.0}},
                               {"i32", DType::I32, {1, 2}, {-2147483648.0, 2147483647.0}},
                               {"u8", DType::U8, {4}, {0, 1, 128, 255}}},
                              {{"note", "all dtypes"}}));
  write(dir, "valid_scalar_and_empty_shapes.safetensors",
        serialize_safetensors({{"scalar", DType::F32, {}, {3.0}},
                               {"empty", DType::F64, {0, 5}, {}},
                               {"row", DType::F32, {1, 4}, {1, 2, 3, 4}}},
                              {}));
  write(dir, "valid_complex_trailing2.safetensors",
        serialize_safetensors({{"A", DType::F64, {2, 3, 2}, {-0.5, 0, -0.5, 3.14, -0.5, 6.28, -0.5, 0, -0.5, 3.14, -0.5, 6.28}}},
                              {{"op", "diag_kernel"}}));
  // ---- broken: each violates one rule ----
  const Bytes four(4, 0);
  write(dir, "bad_short_file.safetensors", Bytes{1, 2, 3});
  write(dir, "bad_header_len_past_end.safetensors", safetensors_raw("{}", {}, 4096));
  write(dir, "bad_header_len_huge.safetensors", safetensors_raw("{}", {}, 0xffffffffffffull));
  write(dir, "bad_header_not_object.safetensors", safetensors_raw("[1,2,3]", {}));
  write(dir, "bad_header_not_json.safetensors", safetensors_raw("{\"a\": {\"dtype\": \"F32\",", {}));
  write(dir, "bad_unknown_dtype.safetensors",
        safetensors_raw(R"({"x":{"dtype":"F8","shape":[4],"data_offsets":[0,4]}})", four));
  write(dir, "bad_negative_shape.safetensors",
        safetensors_raw(R"({"x":{"dtype":"U8","shape":[-4],"data_offsets":[0,4]}})", four));
  write(dir, "bad_float_shape.safetensors",
        safetensors_raw(R"({"x":{"dtype":"U8","shape":[4.0],"data_offsets":[0,4]}})", four));
  write(dir, "bad_shape_overflow.safetensors",
        safetensors_raw(R"({"x":{"dtype":"F64","shape":[4294967296,4294967296,16],"data_offsets":[0,4]}})", four));
  write(dir, "bad_size_mismatch.safetensors",
        safetensors_raw(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", four));
  write(dir, "bad_offsets_reversed.safetensors",
        safetensors_raw(R"({"x":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}})", four));
  write(dir, "bad_offsets_past_end.safetensors",
        safetensors_raw(R"({"x":{"dtype":"U8","shape":[8],"data_offsets":[0,8]}})", four));
  write(dir, "bad_offsets_negative.safetensors",
        safetensors_raw(R"({"x":{"dtype":"U8","shape":[4],"data_offsets":[-4,0]}})", four));
  write(dir, "bad_offsets_not_pair.safetensors",
        safetensors_raw(R"({"x":{"dtype":"U8","shape":[4],"data_offsets":[0,2,4]}})", four));
  write(dir, "bad_overlap.safetensors",
        safetensors_raw(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}})", four));
  write(dir, "bad_hole.safetensors",
        safetensors_raw(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}})", four));
  write(dir, "bad_trailing_bytes.safetensors",
        safetensors_raw(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})", four));
  write(dir, "bad_metadata_not_strings.safetensors",
        safetensors_raw(R"({"__metadata__":{"n":16}})", {}));
  write(dir, "bad_tensor_not_object.safetensors", safetensors_raw(R"({"x":[0,4]})", four));
  write(dir, "bad_deep_nesting.safetensors",
        safetensors_raw("{\"x\":" + std::string(2000, '[') + std::string(2000, ']') + "}", {}));
  // A valid file cut in the middle of its data.
  auto cut = serialize_safetensors({{"w", DType::F32, {8}, {1, 2, 3, 4, 5, 6, 7, 8}}}, {});
  cut.resize(cut.size() - 5);
  write(dir, "bad_truncated_data.safetensors", cut);
}

#ifdef SSM_FUZZ_HAVE_NPY
Bytes npy_raw(int major, const std::string& dict, const Bytes& data) {
  Bytes out = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<std::uint8_t>(major), 0};
  const std::size_t n = dict.size();
  out.push_back(static_cast<std::uint8_t>(n));
  out.push_back(static_cast<std::uint8_t>(n >> 8));
  if (major >= 2) {
    out.push_back(static_cast<std::uint8_t>(n >> 16));
    out.push_back(static_cast<std::uint8_t>(n >> 24));
  }
  out.insert(out.end(), dict.begin(), dict.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

void npy_seeds(const fs::path& dir) {
  using ssm::io::serialize_npy;
  const std::vector<float> f = {1.0f, -2.0f, 0.5f, 1e-40f, 3.0e38f, 0.0f};
  const std::vector<double> d = {1.0, -2.0, 1e-310, 1e300, 0.25, -0.0};
  write(dir, "valid_f32_2x3.npy", serialize_npy<float>({2, 3}, f.data(), f.size()));
  write(dir, "valid_f64_6.npy", serialize_npy<double>({6}, d.data(), d.size()));
  write(dir, "valid_f64_scalar.npy", serialize_npy<double>({}, d.data(), 1));
  write(dir, "valid_f32_empty_0x4.npy", serialize_npy<float>({0, 4}, nullptr, 0));
  write(dir, "valid_f64_1x1x2x3.npy", serialize_npy<double>({1, 1, 2, 3}, d.data(), d.size()));
  Bytes be(8);
  const double v = 1.5;
  std::uint64_t u;
  std::memcpy(&u, &v, 8);
  for (int i = 0; i < 8; ++i) be[i] = static_cast<std::uint8_t>(u >> (56 - 8 * i));
  write(dir, "valid_big_endian_f8.npy", npy_raw(1, "{'descr': '>f8', 'fortran_order': False, 'shape': (1,), }\n", be));
  write(dir, "valid_v2_header.npy", npy_raw(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }\n", Bytes(4, 0)));
  write(dir, "valid_v3_header.npy", npy_raw(3, "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (1, 1)}\n", Bytes(4, 0)));
  // ---- broken ----
  const std::string ok_dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n";
  write(dir, "bad_magic.npy", [&] { auto b = npy_raw(1, ok_dict, Bytes(8, 0)); b[1] = 'X'; return b; }());
  write(dir, "bad_version.npy", npy_raw(4, ok_dict, Bytes(8, 0)));
  write(dir, "bad_short.npy", Bytes{0x93, 'N', 'U', 'M'});
  write(dir, "bad_header_len_past_end.npy", [&] { auto b = npy_raw(1, ok_dict, {}); b[8] = 0xff; b[9] = 0xff; return b; }());
  write(dir, "bad_truncated_data.npy", npy_raw(1, ok_dict, Bytes(5, 0)));
  write(dir, "bad_trailing_data.npy", npy_raw(1, ok_dict, Bytes(12, 0)));
  write(dir, "bad_dtype_i4.npy", npy_raw(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }\n", Bytes(8, 0)));
  write(dir, "bad_dtype_pipe.npy", npy_raw(1, "{'descr': '|f4', 'fortran_order': False, 'shape': (2,), }\n", Bytes(8, 0)));
  write(dir, "bad_fortran.npy", npy_raw(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }\n", Bytes(8, 0)));
  write(dir, "bad_negative_dim.npy", npy_raw(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }\n", Bytes(8, 0)));
  write(dir, "bad_dim_overflow.npy", npy_raw(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }\n", {}));
  write(dir, "bad_dims_product_overflow.npy", npy_raw(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }\n", Bytes(8, 0)));
  write(dir, "edge_zero_after_huge_dims.npy", npy_raw(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4611686018427387904, 0), }\n", {}));
  write(dir, "bad_missing_key.npy", npy_raw(1, "{'descr': '<f4', 'shape': (2,), }\n", Bytes(8, 0)));
  write(dir, "bad_duplicate_key.npy", npy_raw(1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}\n", Bytes(8, 0)));
  write(dir, "bad_unknown_key.npy", npy_raw(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}\n", Bytes(8, 0)));
  write(dir, "bad_unterminated_string.npy", npy_raw(1, "{'descr: <f4\n", {}));
  write(dir, "bad_non_ascii_v1.npy", npy_raw(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), '\xc3\xa9': 1}\n", Bytes(8, 0)));
}
#endif

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_corpus <dir>\n");
    return 2;
  }
  const fs::path root = argv[1];
  fs::create_directories(root / "safetensors");
  safetensors_seeds(root / "safetensors");
#ifdef SSM_FUZZ_HAVE_NPY
  fs::create_directories(root / "npy");
  npy_seeds(root / "npy");
#endif
  return 0;
}
