// The ssmkit program on Hugging Face checkpoint directories (config.json + model.safetensors, as
// transformers' save_pretrained writes them for MambaForCausalLM / MambaModel), built here with
// the library's own safetensors writer from a random MambaModel: `info DIR` says what it is,
// `run --model DIR` maps token-id arrays to logits / hidden states equal to ssm::load_model's
// forward on the same ids (scan and stream), and what cannot be run fails with one line naming
// the option or argument and the expectation, leaving no output behind.
#define BOOST_TEST_MODULE cli_hf_checkpoint
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "ssm/io/npy.hpp"
#include "ssm/io/safetensors.hpp"
#include "ssm/layers/mamba_model.hpp"
#include "ssm/layers/registry.hpp"
#include "support/testing.hpp"

namespace fs = std::filesystem;

namespace {

// The program: <build>/src/cli/ssmkit, this test being <build>/tests/test_cli_hf_checkpoint.
std::string program() {
  const fs::path self = fs::read_symlink("/proc/self/exe");
  return (self.parent_path().parent_path() / "src" / "cli" / "ssmkit").string();
}

std::string dir() {
  static const std::string d = [] {
    const fs::path p = fs::path(ssm::test::temp_dir()) / "cli_hf";
    fs::remove_all(p);
    fs::create_directories(p);
    return p.string();
  }();
  return d;
}
std::string path(const std::string& name) { return (fs::path(dir()) / name).string(); }
std::string q(const std::string& s) { return "'" + s + "'"; }

std::string slurp(const std::string& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

struct Result {
  int status = -1;
  std::string out, err;
};

Result ssmkit(const std::string& args) {
  const std::string o = path("stdout.txt"), e = path("stderr.txt");
  const std::string cmd = q(program()) + " " + args + " >" + q(o) + " 2>" + q(e);
  const int rc = std::system(cmd.c_str());
  Result r;
  r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  r.out = slurp(o);
  r.err = slurp(e);
  return r;
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

constexpr int kVocab = 11, kDModel = 8;

enum class Kind { causal_lm_tied, causal_lm_untied, base };

// A random MambaModel of the kind, and the directory save_pretrained would write for it:
// MambaForCausalLM under "backbone." (a tied head not stored; an untied one as lm_head.weight),
// MambaModel without a prefix. `drop` leaves one tensor out; `extra` overrides config keys.
ssm::MambaModel<float> make_model(Kind kind) {
  ssm::MambaModelConfig c;
  c.n_layers = 2;
  c.block.d_model = kDModel;
  c.block.d_inner = 16;
  c.block.d_state = 4;
  c.block.d_conv = 4;
  c.block.dt_rank = 1;
  c.vocab_size = kVocab;
  c.d_input = 1;
  c.output = kind == Kind::base ? ssm::MambaOutput::hidden : ssm::MambaOutput::logits;
  c.d_output = kind == Kind::base ? kDModel : kVocab;
  c.tie_embeddings = kind != Kind::causal_lm_untied;
  return ssm::MambaModel<float>(c, ssm::random_mamba_model<float>(c, 31));
}

std::string write_hf_dir(const ssm::MambaModel<float>& m, Kind kind, const std::string& tag,
                         const std::string& drop = "", const nlohmann::json& extra = {}) {
  const auto& c = m.config();
  const fs::path d = fs::path(dir()) / tag;
  fs::remove_all(d);
  fs::create_directories(d);
  const std::string pre = kind == Kind::base ? "" : "backbone.";
  std::vector<ssm::io::TensorOut> t;
  auto add = [&](const std::string& n, std::vector<std::int64_t> s, const std::vector<float>& v) {
    if (n != drop) t.push_back({n, ssm::io::DType::F32, std::move(s), std::vector<double>(v.begin(), v.end())});
  };
  const std::int64_t dm = c.block.d_model, di = c.block.d_inner, N = c.block.d_state;
  add(pre + "embeddings.weight", {c.vocab_size, dm}, m.params().embedding);
  for (int i = 0; i < c.n_layers; ++i) {
    const auto& b = m.block(i).params();
    const std::string l = pre + "layers." + std::to_string(i) + ".";
    add(l + "mixer.A_log", {di, N}, b.A_log);
    add(l + "mixer.D", {di}, b.D);
    add(l + "mixer.conv1d.weight", {di, 1, c.block.d_conv}, b.conv1d_weight);
    add(l + "mixer.conv1d.bias", {di}, b.conv1d_bias);
    add(l + "mixer.dt_proj.weight", {di, c.block.dt_rank}, b.dt_proj_weight);
    add(l + "mixer.dt_proj.bias", {di}, b.dt_proj_bias);
    add(l + "mixer.in_proj.weight", {2 * di, dm}, b.in_proj_weight);
    add(l + "mixer.out_proj.weight", {dm, di}, b.out_proj_weight);
    add(l + "mixer.x_proj.weight", {c.block.dt_rank + 2 * N, di}, b.x_proj_weight);
    add(l + "norm.weight", {dm}, m.params().norm_weight[std::size_t(i)]);
  }
  add(pre + "norm_f.weight", {dm}, m.params().norm_f_weight);
  if (kind == Kind::causal_lm_untied) add("lm_head.weight", {c.vocab_size, dm}, m.params().decoder_weight);
  ssm::io::save_safetensors((d / "model.safetensors").string(), t, {{"format", "pt"}});
  nlohmann::json j = {{"architectures", {kind == Kind::base ? "MambaModel" : "MambaForCausalLM"}},
                      {"model_type", "mamba"},
                      {"hidden_size", dm},
                      {"num_hidden_layers", c.n_layers},
                      {"state_size", N},
                      {"conv_kernel", c.block.d_conv},
                      {"intermediate_size", di},
                      {"time_step_rank", c.block.dt_rank},
                      {"use_bias", false},
                      {"use_conv_bias", true},
                      {"hidden_act", "silu"},
                      {"layer_norm_epsilon", 1e-5},
                      {"vocab_size", c.vocab_size},
                      {"tie_word_embeddings", c.tie_embeddings},
                      {"pad_token_id", 0},
                      {"torch_dtype", "float32"},
                      {"transformers_version", "4.44.2"}};
  if (extra.is_object()) j.update(extra);
  std::ofstream(d / "config.json") << j.dump(2);
  return d.string();
}

// A .npy of integers as np.save writes them: descr '<i8', '>i4', ...
template <class I>
void save_int_npy(const std::string& p, const std::vector<std::int64_t>& shape, const std::vector<I>& v, bool big) {
  std::string dims;
  for (std::size_t i = 0; i < shape.size(); ++i) dims += std::to_string(shape[i]) + (shape.size() == 1 || i + 1 < shape.size() ? "," : "");
  std::string h = std::string("{'descr': '") + (big ? '>' : '<') + 'i' + std::to_string(sizeof(I)) +
                  "', 'fortran_order': False, 'shape': (" + dims + "), }";
  while ((10 + h.size() + 1) % 64) h += ' ';
  h += '\n';
  std::ofstream f(p, std::ios::binary);
  f.write("\x93NUMPY\x01\x00", 8);
  const char len[2] = {char(h.size() & 0xff), char(h.size() >> 8)};
  f.write(len, 2);
  f.write(h.data(), std::streamsize(h.size()));
  for (I x : v) {
    unsigned char b[sizeof(I)];
    std::memcpy(b, &x, sizeof(I));
    if (big == (std::endian::native == std::endian::little)) std::reverse(b, b + sizeof(I));
    f.write(reinterpret_cast<const char*>(b), sizeof(I));
  }
}

std::vector<float> token_ids(std::size_t n, std::uint64_t seed) {
  std::vector<float> ids(n);
  const auto r = ssm::test::randn_f(n, seed);
  for (std::size_t i = 0; i < n; ++i) ids[i] = float(std::min<int>(kVocab - 1, int(std::fabs(r[i]) * 4)));
  ids[0] = 0, ids[n - 1] = kVocab - 1;  // both ends of the vocabulary
  return ids;
}

double max_abs(const std::vector<float>& a) {
  double m = 0;
  for (float v : a) m = std::max(m, double(std::fabs(v)));
  return m;
}

}  // namespace

BOOST_AUTO_TEST_CASE(program_exists) { BOOST_TEST_REQUIRE(fs::exists(program()), program()); }

// info and run on the three layouts, every output against ssm::load_model(dir)'s forward.
BOOST_AUTO_TEST_CASE(info_and_run_on_hugging_face_directories) {
  const std::int64_t B = 2, L = 9;
  const auto ids = token_ids(std::size_t(B * L), 5);
  const std::string ids_i8 = path("ids_i8.npy"), ids_be = path("ids_be.npy"), ids_f = path("ids_f.npy");
  save_int_npy<std::int64_t>(ids_i8, {B, L}, std::vector<std::int64_t>(ids.begin(), ids.end()), false);
  save_int_npy<std::int32_t>(ids_be, {L}, std::vector<std::int32_t>(ids.begin(), ids.begin() + L), true);
  ssm::io::save_npy<float>(ids_f, {B, L, 1}, ids);

  for (Kind kind : {Kind::causal_lm_tied, Kind::causal_lm_untied, Kind::base}) {
    const std::string tag = kind == Kind::causal_lm_tied ? "lm_tied" : kind == Kind::causal_lm_untied ? "lm_untied" : "base";
    BOOST_TEST_CONTEXT(tag) {
      const auto m = make_model(kind);
      const std::string hf = write_hf_dir(m, kind, "hf_" + tag);
      const int d_out = kind == Kind::base ? kDModel : kVocab;

      // info: what it is
      Result r = ssmkit("info " + q(hf));
      BOOST_TEST_REQUIRE(r.status == 0, r.err);
      BOOST_TEST(has(r.out, "Hugging Face checkpoint directory"), r.out);
      BOOST_TEST(has(r.out, kind == Kind::base ? "architectures MambaModel" : "architectures MambaForCausalLM"), r.out);
      BOOST_TEST(has(r.out, "arch        : mamba (token ids in, " + std::string(kind == Kind::base ? "hidden states" : "logits") + " out)"), r.out);
      BOOST_TEST(has(r.out, "d_model     : 8"), r.out);
      BOOST_TEST(has(r.out, "n_layer     : 2"), r.out);
      BOOST_TEST(has(r.out, "vocab       : 11"), r.out);
      const std::string head = kind == Kind::causal_lm_tied     ? "lm head     : yes, tied to the token embedding (no lm_head.weight stored)"
                               : kind == Kind::causal_lm_untied ? "lm head     : yes, untied"
                                                                : "lm head     : no";
      BOOST_TEST(has(r.out, head), r.out);
      BOOST_TEST(has(r.out, "widths      : d_input 1, d_output " + std::to_string(d_out)), r.out);
      BOOST_TEST(has(r.out, "modes       : scan, stream"), r.out);
      BOOST_TEST(r.err.empty(), r.err);
      // `info --model DIR` is the same
      BOOST_TEST(ssmkit("info --model " + q(hf)).out == r.out);

      // The reference: the library's loader and forward on the same ids, scan and stream.
      const auto model = ssm::load_model<float>(hf);
      std::vector<float> ref(std::size_t(B * L * d_out)), ref_stream(ref.size());
      model->forward(ids.data(), {B, L, 1}, ref.data(), ssm::Mode::scan);
      model->forward(ids.data(), {B, L, 1}, ref_stream.data(), ssm::Mode::stream);
      const double tol = 1e-5 * std::max(1.0, max_abs(ref));

      const std::string out = path("out_" + tag + ".npy");
      r = ssmkit("run --model " + q(hf) + " " + q(ids_i8) + " -o " + q(out));
      BOOST_TEST_REQUIRE(r.status == 0, r.err);
      BOOST_TEST(has(r.out, "18 token(s) in 2 sequence(s), mode scan"), r.out);
      auto y = ssm::io::load_npy<float>(out);
      BOOST_TEST((y.shape == std::vector<std::int64_t>{B, L, d_out}));
      BOOST_TEST(ssm::test::max_abs_diff(y.data, ref) <= tol);

      // stream mode in blocks of 4 tokens: the streamer, equal to the library's stream forward
      r = ssmkit("run --model " + q(hf) + " --mode stream --block 4 " + q(ids_f) + " -o " + q(out));
      BOOST_TEST_REQUIRE(r.status == 0, r.err);
      y = ssm::io::load_npy<float>(out);
      BOOST_TEST((y.shape == std::vector<std::int64_t>{B, L, d_out}));
      BOOST_TEST(ssm::test::max_abs_diff(y.data, ref_stream) <= tol);
      BOOST_TEST(ssm::test::max_abs_diff(y.data, ref) <= 1e-4 * std::max(1.0, max_abs(ref)));

      // one sequence (L) of big-endian int32 ids -> (L, d_out), the first row of the batch
      r = ssmkit("run --model " + q(hf) + " --check " + q(ids_be) + " -o " + q(out));
      BOOST_TEST_REQUIRE(r.status == 0, r.err);
      BOOST_TEST(has(r.out, "check           : max |scan vs stream|"), r.out);
      y = ssm::io::load_npy<float>(out);
      BOOST_TEST((y.shape == std::vector<std::int64_t>{L, d_out}));
      BOOST_TEST(ssm::test::max_abs_diff(y.data, std::vector<float>(ref.begin(), ref.begin() + L * d_out)) <= tol);
    }
  }
}

// What is not a runnable checkpoint, or not an input a token model takes: one line naming the
// option or argument, status 1, no output file.
BOOST_AUTO_TEST_CASE(what_cannot_be_run_is_refused_by_name) {
  const auto m = make_model(Kind::causal_lm_tied);
  const std::string good = write_hf_dir(m, Kind::causal_lm_tied, "hf_good");
  const std::string ids = path("ids_ok.npy");
  ssm::io::save_npy<float>(ids, {4}, {0, 1, 2, 3});
  const std::string out = path("refused.npy");
  auto refused = [&](const std::string& args, std::vector<std::string> parts) {
    fs::remove(out);
    const Result r = ssmkit(args);
    BOOST_TEST(r.status == 1, args << ": " << r.err);
    BOOST_TEST(std::count(r.err.begin(), r.err.end(), '\n') == 1, r.err);
    BOOST_TEST(has(r.err, "ssmkit: error: "), r.err);
    for (const auto& p : parts) BOOST_TEST(has(r.err, p), args << ": '" << p << "' not in: " << r.err);
    BOOST_TEST(!fs::exists(out));
  };
  auto run_with = [&](const std::string& model_dir) { return "run --model " + q(model_dir) + " " + q(ids) + " -o " + q(out); };

  // a directory without config.json
  const fs::path empty = fs::path(dir()) / "hf_no_config";
  fs::create_directories(empty);
  fs::copy_file(fs::path(good) / "model.safetensors", empty / "model.safetensors", fs::copy_options::overwrite_existing);
  refused(run_with(empty.string()), {"argument '--model'", "without config.json", "Hugging Face checkpoint directory"});
  refused("info " + q(empty.string()), {"argument 'FILE'", "without config.json"});
  // a config of another model type
  const std::string gpt2 = write_hf_dir(m, Kind::causal_lm_tied, "hf_gpt2", "", {{"model_type", "gpt2"}});
  refused(run_with(gpt2), {"argument '--model'", "model_type", "gpt2", "\"mamba\""});
  refused("info " + q(gpt2), {"argument 'FILE'", "gpt2"});
  // a missing tensor
  const std::string holed = write_hf_dir(m, Kind::causal_lm_tied, "hf_missing", "backbone.layers.1.mixer.A_log");
  refused(run_with(holed), {"argument '--model'", "backbone.layers.1.mixer.A_log", "missing"});
  // no model.safetensors
  const fs::path no_weights = fs::path(dir()) / "hf_no_weights";
  fs::create_directories(no_weights);
  fs::copy_file(fs::path(good) / "config.json", no_weights / "config.json", fs::copy_options::overwrite_existing);
  refused(run_with(no_weights.string()), {"argument '--model'", "model.safetensors"});

  // inputs a token model does not take
  const std::string bad_id = path("ids_bad.npy"), frac = path("ids_frac.npy"), wide = path("ids_wide.npy");
  ssm::io::save_npy<float>(bad_id, {2, 2}, {0, 1, 11, 3});
  refused("run --model " + q(good) + " " + q(bad_id) + " -o " + q(out),
          {"argument 'IN'", "token id 11 at [1, 0]", "vocab_size = 11"});
  ssm::io::save_npy<float>(frac, {3}, {0, 2.5f, 1});
  refused("run --model " + q(good) + " " + q(frac) + " -o " + q(out), {"argument 'IN'", "2.5", "not a token id"});
  ssm::io::save_npy<float>(wide, {1, 2, 3}, {0, 1, 2, 3, 4, 5});
  refused("run --model " + q(good) + " " + q(wide) + " -o " + q(out), {"argument 'IN'", "(1, 2, 3)", "(L)", "(B, L)"});
  save_int_npy<std::int64_t>(bad_id, {2}, std::vector<std::int64_t>{-1, 2}, false);
  refused("run --model " + q(good) + " " + q(bad_id) + " -o " + q(out), {"argument 'IN'", "token id -1 at [0]"});
  // signal options, a signal output, a mode the model lacks, hosts that filter signals
  refused(run_with(good) + " --rate 16000", {"argument '--rate'", "token model"});
  refused(run_with(good) + " --layout time-first", {"argument '--layout'", "token model"});
  refused("run --model " + q(good) + " " + q(ids) + " -o " + q(path("refused.wav")), {"argument '-o'", ".npy"});
  refused(run_with(good) + " --mode conv", {"argument '--mode'", "conv"});
  refused("demo --model " + q(good) + " --out " + q(path("demo_refused")), {"argument '--model'", "token model"});
  BOOST_TEST(!fs::exists(path("demo_refused")));
}
