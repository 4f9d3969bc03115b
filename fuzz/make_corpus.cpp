// Writes the seed corpus of the fuzz targets: small valid files made by the library's own
// writers, and broken variants that each violate one rule the readers check (truncation,
// bad header length, malformed header, unknown dtype, negative / overflowing shape, overlapping
// or uncovered data, ...). Seeds let libFuzzer start from inputs that reach deep into the
// parsers instead of rediscovering the formats byte by byte.
//
//   make_corpus <dir>     writes <dir>/safetensors/*.safetensors, <dir>/npy/*.npy and, when
//                         built with the model / audio targets, <dir>/model/*.safetensors
//                         (small S4D and Mamba model files and broken variants) and
//                         <dir>/audio/*.{wav,flac} (WAV PCM16/float32/stereo/WAVEX, FLAC, and
//                         truncated or corrupt variants)
//
// The committed fuzz/corpus/ was produced by this program (plus a few small conformance cases
// copied from the shared conformance directory); re-running it is deterministic.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "ssm/io/safetensors.hpp"
#ifdef SSM_FUZZ_HAVE_NPY
#include "ssm/io/npy.hpp"
#endif
#ifdef SSM_FUZZ_HAVE_MODEL
#include <cmath>
#include <functional>
#include <map>

#include "ssm/layers/mamba_model.hpp"
#include "ssm/layers/s4d_model.hpp"
#endif
#ifdef SSM_FUZZ_HAVE_AUDIO
#include <cmath>

#include "ssm/io/audio/audio_file.hpp"
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


#ifdef SSM_FUZZ_HAVE_MODEL
Bytes read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// A model file as editable tensors + metadata.
struct ModelImage {
  std::vector<ssm::io::TensorOut> tensors;
  std::map<std::string, std::string> meta;

  static ModelImage of(const Bytes& b) {
    const auto st = ssm::io::SafeTensors::parse(b, "make_corpus");
    ModelImage m;
    for (const auto& n : st.names()) {
      const auto& ti = st.info(n);
      m.tensors.push_back({n, ti.dtype, ti.shape, st.to_double(n)});
    }
    for (const auto& [k, v] : st.metadata()) m.meta[k] = v;
    return m;
  }
  Bytes bytes() const { return ssm::io::serialize_safetensors(tensors, meta); }
  ssm::io::TensorOut& tensor(const std::string& name) {
    for (auto& t : tensors)
      if (t.name == name) return t;
    std::fprintf(stderr, "make_corpus: no tensor %s\n", name.c_str());
    std::exit(1);
  }
  void erase(const std::string& name) {
    std::erase_if(tensors, [&](const ssm::io::TensorOut& t) { return t.name == name; });
  }
  // The config with one `"key": value` replaced (the configs are flat JSON objects).
  void set_config(const std::string& key, const std::string& value) {
    std::string& c = meta.at("ssmkit.config");
    const auto k = c.find("\"" + key + "\"");
    if (k == std::string::npos) {
      std::fprintf(stderr, "make_corpus: no config key %s in %s\n", key.c_str(), c.c_str());
      std::exit(1);
    }
    const auto colon = c.find(':', k);
    auto end = c.find_first_of(",}", colon);
    c.replace(colon + 1, end - colon - 1, value);
  }
};

template <class Model>
Bytes saved(const Model& m, const fs::path& dir) {
  const fs::path tmp = dir / ".make_corpus_tmp.safetensors";
  m.save(tmp.string());
  auto b = read_file(tmp);
  fs::remove(tmp);
  return b;
}

void variants(const fs::path& dir, const std::string& prefix, const Bytes& valid,
              const std::vector<std::pair<std::string, std::function<void(ModelImage&)>>>& edits) {
  for (const auto& [name, edit] : edits) {
    auto m = ModelImage::of(valid);
    edit(m);
    write(dir, "bad_" + prefix + "_" + name + ".safetensors", m.bytes());
  }
}

void model_seeds(const fs::path& dir) {
  using namespace ssm;
  // ---- valid: small models of both architectures, several config variants ----
  S4DModelConfig s;
  s.n_layers = 1;
  s.d_model = 4;
  s.d_state = 4;
  const Bytes s4d = saved(S4DModel<float>(s, random_s4d_model<float>(s, 1)), dir);
  write(dir, "valid_s4d_1layer.safetensors", s4d);
  S4DModelConfig s2 = s;
  s2.n_layers = 2;
  s2.d_model = 3;
  s2.d_state = 2;
  s2.d_input = 2;
  s2.d_output = 3;
  s2.prenorm = true;
  s2.activation = Activation::silu;
  s2.sample_rate = 16000;
  write(dir, "valid_s4d_2layers_prenorm_silu.safetensors", saved(S4DModel<float>(s2, random_s4d_model<float>(s2, 2)), dir));
  {  // output_linear as (2H, H) and F64 values: the alternative spelling the loader accepts
    auto m = ModelImage::of(s4d);
    auto& w = m.tensor("s4_layers.0.output_linear.0.weight");
    w.name = "s4_layers.0.output_linear.weight";
    w.shape = {w.shape[0], w.shape[1]};
    m.tensor("s4_layers.0.output_linear.0.bias").name = "s4_layers.0.output_linear.bias";
    for (auto& t : m.tensors) t.dtype = ssm::io::DType::F64;
    m.tensor("decoder.weight").dtype = ssm::io::DType::BF16;
    write(dir, "valid_s4d_alt_names_f64_bf16.safetensors", m.bytes());
  }

  MambaModelConfig mc;
  mc.n_layers = 1;
  mc.block.d_model = 4;
  mc.block.d_inner = 8;
  mc.block.d_state = 4;
  mc.block.d_conv = 3;
  mc.block.dt_rank = 1;
  const Bytes mamba = saved(MambaModel<float>(mc, random_mamba_model<float>(mc, 3)), dir);
  write(dir, "valid_mamba_1layer.safetensors", mamba);
  MambaModelConfig mc2 = mc;
  mc2.n_layers = 2;
  mc2.d_input = 2;
  mc2.d_output = 2;
  mc2.norm = NormKind::layernorm;
  mc2.block.in_proj_bias = true;
  mc2.block.out_proj_bias = true;
  mc2.block.conv_bias = false;
  mc2.block.dt_rank = 2;
  write(dir, "valid_mamba_2layers_layernorm_biases.safetensors",
        saved(MambaModel<float>(mc2, random_mamba_model<float>(mc2, 4)), dir));

  // ---- broken: each violates one rule of the loaders ----
  const auto nan = std::nan("");
  variants(dir, "s4d", s4d,
           {{"missing_tensor", [](ModelImage& m) { m.erase("s4_layers.0.kernel.C"); }},
            {"wrong_shape", [](ModelImage& m) { m.tensor("s4_layers.0.D").shape = {2, 2}; }},
            {"extra_tensor", [](ModelImage& m) { m.tensors.push_back({"s4_layers.1.D", ssm::io::DType::F32, {4}, {0, 0, 0, 0}}); }},
            {"int_dtype", [](ModelImage& m) {
               auto& t = m.tensor("encoder.bias");
               t.dtype = ssm::io::DType::I32;
               for (auto& v : t.values) v = std::round(v);
             }},
            {"nan_weight", [nan](ModelImage& m) { m.tensor("s4_layers.0.kernel.log_dt").values[1] = nan; }},
            {"config_not_json", [](ModelImage& m) { m.meta["ssmkit.config"] = "{\"d_model\": 4,"; }},
            {"config_not_object", [](ModelImage& m) { m.meta["ssmkit.config"] = "[4, 1]"; }},
            {"config_missing", [](ModelImage& m) { m.meta.erase("ssmkit.config"); }},
            {"config_odd_d_state", [](ModelImage& m) { m.set_config("d_state", "3"); }},
            {"config_zero_layers", [](ModelImage& m) { m.set_config("n_layers", "0"); }},
            {"config_negative_d_model", [](ModelImage& m) { m.set_config("d_model", "-4"); }},
            {"config_huge_d_model", [](ModelImage& m) { m.set_config("d_model", "4294967300"); }},
            {"config_float_layers", [](ModelImage& m) { m.set_config("n_layers", "1.5"); }},
            {"config_string_layers", [](ModelImage& m) { m.set_config("n_layers", "\"1\""); }},
            {"config_more_layers", [](ModelImage& m) { m.set_config("n_layers", "2"); }},
            {"config_bad_activation", [](ModelImage& m) { m.set_config("activation", "\"tanh\""); }},
            {"config_zero_rate", [](ModelImage& m) { m.set_config("sample_rate", "0"); }},
            {"arch_mamba", [](ModelImage& m) { m.meta["ssmkit.arch"] = "mamba"; }},
            {"arch_unknown", [](ModelImage& m) { m.meta["ssmkit.arch"] = "transformer"; }},
            {"arch_missing", [](ModelImage& m) { m.meta.erase("ssmkit.arch"); }}});
  variants(dir, "mamba", mamba,
           {{"missing_tensor", [](ModelImage& m) { m.erase("layers.0.mixer.A_log"); }},
            {"wrong_shape", [](ModelImage& m) { m.tensor("layers.0.mixer.conv1d.weight").shape = {8, 3, 1}; }},
            {"extra_tensor", [](ModelImage& m) { m.tensors.push_back({"norm_f.bias", ssm::io::DType::F32, {4}, {0, 0, 0, 0}}); }},
            {"nan_weight", [nan](ModelImage& m) { m.tensor("layers.0.mixer.dt_proj.bias").values[0] = nan; }},
            {"config_not_json", [](ModelImage& m) { m.meta["ssmkit.config"] = "d_model=4"; }},
            {"config_zero_d_state", [](ModelImage& m) { m.set_config("d_state", "0"); }},
            {"config_bad_norm", [](ModelImage& m) { m.set_config("norm", "\"batchnorm\""); }},
            {"config_bad_dt_rank", [](ModelImage& m) { m.set_config("dt_rank", "\"big\""); }},
            {"config_huge_d_inner", [](ModelImage& m) { m.set_config("d_inner", "2147483647"); }},
            {"config_more_layers", [](ModelImage& m) { m.set_config("n_layers", "3"); }},
            {"arch_s4d", [](ModelImage& m) { m.meta["ssmkit.arch"] = "s4d"; }},
            {"arch_missing", [](ModelImage& m) { m.meta.erase("ssmkit.arch"); }}});
}
#endif

#ifdef SSM_FUZZ_HAVE_AUDIO
ssm::io::AudioBuffer tone(int channels, std::int64_t frames, double rate, double amplitude) {
  ssm::io::AudioBuffer a(channels, frames, rate);
  for (int c = 0; c < channels; ++c)
    for (std::int64_t t = 0; t < frames; ++t)
      a.channel(c)[static_cast<std::size_t>(t)] =
          static_cast<float>(amplitude * std::sin(0.05 * static_cast<double>((c + 1) * t)));
  return a;
}

Bytes audio_bytes(const fs::path& dir, const std::string& ext, const ssm::io::AudioBuffer& a,
                  ssm::io::AudioEncoding enc) {
  const fs::path tmp = dir / (".make_corpus_tmp" + ext);
  ssm::io::write_audio(tmp.string(), a, {enc});
  std::ifstream f(tmp, std::ios::binary);
  Bytes b{std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
  fs::remove(tmp);
  return b;
}

void put_u16(Bytes& b, std::size_t at, std::uint16_t v) {
  b[at] = static_cast<std::uint8_t>(v);
  b[at + 1] = static_cast<std::uint8_t>(v >> 8);
}
void put_u32(Bytes& b, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v >> (8 * i));
}
// Offset of the 4-byte tag `tag` (e.g. "data") in a RIFF image.
std::size_t find_tag(const Bytes& b, const char* tag) {
  for (std::size_t i = 12; i + 4 <= b.size(); ++i)
    if (std::memcmp(b.data() + i, tag, 4) == 0) return i;
  std::fprintf(stderr, "make_corpus: no %s chunk\n", tag);
  std::exit(1);
}

void audio_seeds(const fs::path& dir) {
  using ssm::io::AudioEncoding;
  // ---- valid ----
  const Bytes pcm16 = audio_bytes(dir, ".wav", tone(1, 64, 8000, 0.5), AudioEncoding::pcm16);
  write(dir, "valid_pcm16_mono.wav", pcm16);
  const Bytes f32 = audio_bytes(dir, ".wav", tone(2, 48, 44100, 2.0), AudioEncoding::float32);
  write(dir, "valid_float32_stereo.wav", f32);
  write(dir, "valid_pcm24_3ch_wavex.wav", audio_bytes(dir, ".wav", tone(3, 16, 48000, 0.9), AudioEncoding::pcm24));
  write(dir, "valid_empty_pcm16.wav", audio_bytes(dir, ".wav", ssm::io::AudioBuffer(1, 0, 22050), AudioEncoding::pcm16));
  const Bytes flac = audio_bytes(dir, ".flac", tone(1, 300, 16000, 0.7), AudioEncoding::pcm16);
  write(dir, "valid_pcm16_mono.flac", flac);
  write(dir, "valid_pcm24_stereo.flac", audio_bytes(dir, ".flac", tone(2, 100, 48000, 1.0), AudioEncoding::pcm24));
  // ---- broken ----
  write(dir, "bad_empty.wav", {});
  write(dir, "bad_text.wav", Bytes{'n', 'o', 't', ' ', 'a', 'u', 'd', 'i', 'o', '\n'});
  write(dir, "bad_riff_header_only.wav", Bytes(pcm16.begin(), pcm16.begin() + 12));
  write(dir, "bad_truncated_fmt.wav", Bytes(pcm16.begin(), pcm16.begin() + 30));
  write(dir, "bad_truncated_data.wav", Bytes(pcm16.begin(), pcm16.end() - 40));
  write(dir, "bad_truncated_data_float.wav", Bytes(f32.begin(), f32.end() - 7));
  {
    Bytes b = pcm16;
    put_u16(b, find_tag(b, "fmt ") + 10, 0);  // channels = 0
    write(dir, "bad_zero_channels.wav", b);
  }
  {
    Bytes b = pcm16;
    put_u32(b, find_tag(b, "fmt ") + 12, 0);  // sample rate = 0
    write(dir, "bad_zero_rate.wav", b);
  }
  {
    Bytes b = pcm16;
    put_u16(b, find_tag(b, "fmt ") + 8, 0x55);  // format tag: MPEG layer 3 (not decodable)
    write(dir, "bad_format_mp3_tag.wav", b);
  }
  {
    Bytes b = pcm16;
    put_u32(b, find_tag(b, "data") + 4, 0x7ffffff0u);  // data chunk longer than the file
    write(dir, "bad_data_len_past_end.wav", b);
  }
  {  // float WAV holding an Inf sample
    Bytes b = f32;
    const std::size_t at = find_tag(b, "data") + 8 + 4 * 5;
    put_u32(b, at, 0x7f800000u);
    write(dir, "bad_float_inf_sample.wav", b);
  }
  write(dir, "bad_truncated_header.flac", Bytes(flac.begin(), flac.begin() + 20));
  write(dir, "bad_truncated_frames.flac", Bytes(flac.begin(), flac.begin() + static_cast<std::ptrdiff_t>(flac.size() / 2)));
  {
    Bytes b = pcm16;
    put_u32(b, find_tag(b, "data") + 4, 0xffffffffu);  // "length unknown" (streamed WAV)
    write(dir, "edge_data_len_unknown.wav", b);
  }
  {  // FLAC with its frame data scribbled over (decoder CRC errors)
    Bytes b = flac;
    for (std::size_t i = b.size() / 2; i < b.size(); i += 3) b[i] ^= 0x5a;
    write(dir, "edge_corrupt_frames.flac", b);
  }
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
#ifdef SSM_FUZZ_HAVE_MODEL
  fs::create_directories(root / "model");
  model_seeds(root / "model");
#endif
#ifdef SSM_FUZZ_HAVE_AUDIO
  fs::create_directories(root / "audio");
  audio_seeds(root / "audio");
#endif
  return 0;
}
