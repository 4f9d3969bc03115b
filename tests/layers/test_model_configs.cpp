#define BOOST_TEST_MODULE layers_model_configs
// Model configs: every key of every family is known or the load fails naming it; settings that
// change the math travel in the config (norm eps, hidden_act); token models (embedding, LM
// head) and Hugging Face Mamba checkpoint directories load through load_model.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "ssm/core/error.hpp"
#include "ssm/layers/bst_model.hpp"
#include "ssm/layers/mamba_model.hpp"
#include "ssm/layers/moe_mamba_model.hpp"
#include "ssm/layers/registry.hpp"
#include "ssm/layers/s4d_model.hpp"
#include "ssm/layers/vim_model.hpp"
#include "ssm/layers/vmamba_model.hpp"
#include "support/checks.hpp"
#include "support/models.hpp"
#include "support/testing.hpp"

using namespace ssm;
namespace fs = std::filesystem;

using test::expect_error;

namespace {

// One small model file per family, written by the family's own save().
std::map<std::string, std::string> family_files() {
  using test::save_random_model;
  const std::string dir = test::temp_dir();
  return {{"s4d", save_random_model<float>(test::tiny_s4d(1, 1, 1), 1, dir + "/cfg_s4d.safetensors")},
          {"mamba", save_random_model<float>(test::tiny_mamba(1, 1, 1), 2, dir + "/cfg_mamba.safetensors")},
          {"moe_mamba", save_random_model<float>(test::tiny_moe_mamba(), 3, dir + "/cfg_moe.safetensors")},
          {"bst", save_random_model<float>(test::tiny_bst(1, 1, 1, 4, 2), 4, dir + "/cfg_bst.safetensors")},
          {"vmamba", save_random_model<float>(test::tiny_vmamba(), 5, dir + "/cfg_vmamba.safetensors")},
          {"vim", save_random_model<float>(test::tiny_vim(8, 8, 1, 1, 2), 6, dir + "/cfg_vim.safetensors")}};
}

// The file at `path` with its ssmkit.config edited by `edit`, written under `tag`.
std::string with_config(const std::string& path, const std::string& tag,
                        const std::function<void(nlohmann::json&)>& edit) {
  const auto st = io::SafeTensors::load(path);
  std::vector<io::TensorOut> t;
  for (const auto& n : st.names()) t.push_back({n, st.info(n).dtype, st.info(n).shape, st.to_double(n)});
  auto meta = st.metadata();
  auto j = nlohmann::json::parse(meta.at("ssmkit.config"));
  edit(j);
  meta["ssmkit.config"] = j.dump();
  const std::string p = test::temp_dir() + "/" + tag + ".safetensors";
  io::save_safetensors(p, t, meta);
  return p;
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_family_refuses_an_unknown_key_by_name) {
  const auto files = family_files();
  BOOST_TEST(files.size() == model_archs().size());  // a new family needs a line in family_files()
  for (const auto& [arch, path] : files) {
    BOOST_TEST_CONTEXT(arch) {
      BOOST_CHECK_NO_THROW(load_model<float>(path));  // what save() writes loads back
      expect_error([&] { load_model<float>(with_config(path, "unk_" + arch, [](auto& j) { j["pre_norm"] = true; })); },
                   {"pre_norm", "not known", "known keys"});
    }
  }
}

BOOST_AUTO_TEST_CASE(hidden_act_is_carried_and_only_silu_is_taken) {
  const auto files = family_files();
  for (const char* arch : {"mamba", "moe_mamba", "vim"}) {
    BOOST_TEST_CONTEXT(arch) {
      BOOST_TEST(nlohmann::json::parse(load_model<float>(files.at(arch))->info().config_json)["hidden_act"] == "silu");
      BOOST_CHECK_NO_THROW(
          load_model<float>(with_config(files.at(arch), "swish", [](auto& j) { j["hidden_act"] = "swish"; })));
      expect_error([&] {
        load_model<float>(with_config(files.at(arch), "gelu", [](auto& j) { j["hidden_act"] = "gelu"; }));
      }, {"hidden_act", "gelu", "silu"});
    }
  }
  MambaBlockConfig b = test::tiny_mamba_block();
  b.hidden_act = Activation::gelu;
  expect_error([&] { b.validate("test"); }, {"hidden_act", "gelu"});
}

BOOST_AUTO_TEST_CASE(expand_and_d_inner_must_agree) {
  const auto files = family_files();
  expect_error([&] {
    load_model<float>(with_config(files.at("mamba"), "expand", [](auto& j) { j["expand"] = 3; }));  // d_inner 16 = 2 x 8
  }, {"expand", "d_inner"});
  BOOST_CHECK_NO_THROW(load_model<float>(with_config(files.at("mamba"), "expand2", [](auto& j) { j["expand"] = 2; })));
}

BOOST_AUTO_TEST_CASE(vmamba_out_norm_eps_travels_with_the_file) {
  const auto path = family_files().at("vmamba");
  const auto a = load_model<double>(path);
  BOOST_TEST(nlohmann::json::parse(a->info().config_json)["out_norm_eps"] == 1e-5);
  const auto b = load_model<double>(with_config(path, "eps", [](auto& j) { j["out_norm_eps"] = 0.5; }));
  BOOST_TEST(nlohmann::json::parse(b->info().config_json)["out_norm_eps"] == 0.5);
  const std::vector<std::int64_t> shape{1, 3, 4, 1};
  const auto u = test::randn(12, 9);
  BOOST_TEST(test::max_abs_diff(a->run(u, shape), b->run(u, shape)) > 1e-6);  // the eps is used
  expect_error([&] { load_model<double>(with_config(path, "eps0", [](auto& j) { j["out_norm_eps"] = 0; })); },
               {"out_norm_eps"});
}

// ---- token models ---------------------------------------------------------------------------

namespace {

MambaModelConfig token_config(MambaOutput out, bool tied) {
  MambaModelConfig c;
  c.n_layers = 2;
  c.block = test::tiny_mamba_block();
  c.vocab_size = 11;
  c.output = out;
  c.tie_embeddings = tied;
  c.d_output = out == MambaOutput::logits ? 11 : 8;
  return c;
}

std::vector<double> token_ids(std::size_t n, std::uint64_t seed) {
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = double((i * 7 + seed * 3 + i * i) % 11);
  return v;
}

}  // namespace

BOOST_AUTO_TEST_CASE(token_models_round_trip_and_stream_as_they_scan) {
  for (auto [out, tied] : {std::pair{MambaOutput::logits, true}, std::pair{MambaOutput::logits, false},
                           std::pair{MambaOutput::hidden, true}}) {
    BOOST_TEST_CONTEXT(std::string(out == MambaOutput::logits ? "logits" : "hidden") + (tied ? " tied" : " untied")) {
      const auto c = token_config(out, tied);
      const MambaModel<double> m(c, random_mamba_model<double>(c, 21));
      const std::string path = test::temp_dir() + "/tokens.safetensors";
      m.save(path);
      const auto loaded = load_model<double>(path);
      BOOST_TEST(loaded->info().d_input == 1);
      BOOST_TEST(loaded->info().d_output == c.d_output);
      const int B = 2, L = 13;
      const auto ids = token_ids(std::size_t(B * L), 1);
      const std::vector<std::int64_t> shape{B, L, 1};
      std::vector<double> y_scan(std::size_t(B * L * c.d_output)), y_stream(y_scan.size()), y_ref(y_scan.size());
      m.forward(ids.data(), B, L, y_ref.data());
      loaded->forward(ids.data(), shape, y_scan.data(), Mode::scan);
      loaded->forward(ids.data(), shape, y_stream.data(), Mode::stream);
      BOOST_TEST(test::max_abs_diff(y_scan, y_ref) == 0.0);
      BOOST_TEST(test::max_abs_diff(y_stream, y_scan) < 1e-12);
      if (out == MambaOutput::logits) {  // the head is the embedding when tied
        const auto& p = m.params();
        BOOST_TEST(p.decoder_weight.empty() == tied);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(bad_token_ids_are_refused_offline_and_silenced_in_streaming) {
  const auto c = token_config(MambaOutput::logits, true);
  MambaModel<double> m(c, random_mamba_model<double>(c, 22));
  for (double bad : {-1.0, 11.0, 2.5, double(NAN)}) {
    std::vector<double> ids{1, 2, bad, 3}, y(4 * 11);
    expect_error([&] { m.forward(ids.data(), 1, 4, y.data()); }, {"'u'", "token ids", "frame 2"});
  }
  // streaming: NaN for the bad frame, the state untouched (the next frames as without it)
  m.prepare({48000.0, 8});
  std::vector<double> with_bad{4, 5, 11.5, 6}, y(4 * 11), clean{4, 5, 6}, yc(3 * 11);
  m.process(with_bad.data(), y.data(), 4);
  BOOST_TEST(std::isnan(y[2 * 11]));
  m.reset();
  m.process(clean.data(), yc.data(), 3);
  for (int k = 0; k < 11; ++k) {
    BOOST_TEST(y[std::size_t(k)] == yc[std::size_t(k)]);
    BOOST_TEST(y[std::size_t(3 * 11 + k)] == yc[std::size_t(2 * 11 + k)]);
  }
}

BOOST_AUTO_TEST_CASE(token_config_is_consistent) {
  auto c = token_config(MambaOutput::logits, true);
  c.d_output = 5;
  expect_error([&] { c.validate("test"); }, {"d_output", "vocab_size"});
  c = token_config(MambaOutput::hidden, true);
  c.d_output = 3;
  expect_error([&] { c.validate("test"); }, {"d_output", "d_model"});
  c = token_config(MambaOutput::logits, true);
  c.vocab_size = 0;
  expect_error([&] { c.validate("test"); }, {"output", "vocab_size"});
  c = token_config(MambaOutput::logits, true);
  c.d_input = 2;
  expect_error([&] { c.validate("test"); }, {"d_input", "token"});
}

// ---- Hugging Face checkpoint directories ------------------------------------------------------

namespace {

// A directory as transformers' save_pretrained writes it for MambaForCausalLM (prefix
// "backbone.", tied head dropped) or MambaModel (no prefix), from the parameters of `m`.
std::string hf_dir(const MambaModel<double>& m, const std::string& tag, bool causal_lm, const nlohmann::json& extra) {
  const auto& c = m.config();
  const fs::path dir = fs::path(test::temp_dir()) / tag;
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string pre = causal_lm ? "backbone." : "";
  std::vector<io::TensorOut> t;
  const std::int64_t dm = c.block.d_model, di = c.block.d_inner, N = c.block.d_state;
  auto add = [&](const std::string& n, std::vector<std::int64_t> s, const std::vector<double>& v) {
    t.push_back({n, io::DType::F32, std::move(s), v});
  };
  auto d = [](const std::vector<double>& v) { return v; };
  add(pre + "embeddings.weight", {c.vocab_size, dm}, d(m.params().embedding));
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
  io::save_safetensors((dir / "model.safetensors").string(), t, {{"format", "pt"}});
  nlohmann::json j = {{"architectures", {causal_lm ? "MambaForCausalLM" : "MambaModel"}},
                      {"model_type", "mamba"},
                      {"hidden_size", dm},
                      {"num_hidden_layers", c.n_layers},
                      {"state_size", N},
                      {"conv_kernel", c.block.d_conv},
                      {"expand", 2},
                      {"intermediate_size", di},
                      {"time_step_rank", c.block.dt_rank},
                      {"use_bias", false},
                      {"use_conv_bias", true},
                      {"hidden_act", "silu"},
                      {"layer_norm_epsilon", c.norm_eps},
                      {"vocab_size", c.vocab_size},
                      {"residual_in_fp32", true},
                      {"initializer_range", 0.1},
                      {"time_step_min", 0.001},
                      {"time_step_max", 0.1},
                      {"torch_dtype", "float32"},
                      {"transformers_version", "4.44.2"}};
  if (extra.is_object()) j.update(extra);
  std::ofstream(dir / "config.json") << j.dump(2);
  return dir.string();
}

}  // namespace

BOOST_AUTO_TEST_CASE(hugging_face_directories_load_as_logits_or_hidden_states) {
  for (bool causal_lm : {true, false}) {
    BOOST_TEST_CONTEXT(std::string(causal_lm ? "MambaForCausalLM" : "MambaModel")) {
      auto c = token_config(causal_lm ? MambaOutput::logits : MambaOutput::hidden, true);
      c.norm_eps = 1e-4;
      auto p = random_mamba_model<double>(c, 23);
      for (auto* v : {&p.embedding, &p.norm_f_weight})  // values a float32 file holds exactly
        for (auto& x : *v) x = double(float(x));
      for (auto& b : p.mixers)
        for (auto* v : {&b.A_log, &b.D, &b.conv1d_weight, &b.conv1d_bias, &b.dt_proj_weight, &b.dt_proj_bias,
                        &b.in_proj_weight, &b.out_proj_weight, &b.x_proj_weight})
          for (auto& x : *v) x = double(float(x));
      const MambaModel<double> m(c, p);
      const auto dir = hf_dir(m, causal_lm ? "hf_lm" : "hf_base", causal_lm, {});
      const auto loaded = load_model<double>(dir);
      BOOST_TEST(loaded->info().d_output == (causal_lm ? 11 : 8));
      BOOST_TEST(nlohmann::json::parse(loaded->info().config_json)["norm_eps"] == 1e-4);  // layer_norm_epsilon
      const auto ids = token_ids(2 * 9, 4);
      const std::vector<std::int64_t> shape{2, 9, 1};
      std::vector<double> y(std::size_t(2 * 9 * c.d_output));
      m.forward(ids.data(), 2, 9, y.data());
      BOOST_TEST(test::max_abs_diff(loaded->run(ids, shape), y) == 0.0);
    }
  }
}

BOOST_AUTO_TEST_CASE(hugging_face_settings_that_change_the_math_are_refused_or_checked) {
  const auto c = token_config(MambaOutput::logits, true);
  const MambaModel<double> m(c, random_mamba_model<double>(c, 24));
  const std::vector<std::pair<nlohmann::json, std::vector<std::string>>> bad = {
      {{{"hidden_act", "gelu"}}, {"hidden_act", "gelu"}},
      {{{"pre_norm", true}}, {"pre_norm", "not known"}},
      {{{"model_type", "mamba2"}}, {"model_type", "mamba2"}},
      {{{"rms_norm", false}}, {"rms_norm"}},
      {{{"expand", 3}}, {"expand"}},
      {{{"num_hidden_layers", 3}}, {"layers.2.", "missing"}},
      {{{"tie_word_embeddings", false}}, {"lm_head.weight", "missing"}},
  };
  int k = 0;
  for (const auto& [extra, parts] : bad) {
    BOOST_TEST_CONTEXT(extra.dump()) {
      const auto dir = hf_dir(m, "hf_bad" + std::to_string(k++), true, extra);
      expect_error([&] { load_model<float>(dir); }, parts);
    }
  }
  const auto empty = fs::path(test::temp_dir()) / "hf_empty";
  fs::create_directories(empty);
  expect_error([&] { load_model<float>(empty.string()); }, {"config.json"});
}
