// BSTModel: file round trip, load_model("bst") and its modes, the streamer against the offline
// forward (random splits, channels, state round trip, RtGuard), config/file errors, and the
// PyTorch reference exports of tools/export_bst.py when SSM_TORCH_CHECK_DIR names their folder.
#define BOOST_TEST_MODULE layers_bst_model
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>

#include "ssm/core/error.hpp"
#include "ssm/io/safetensors.hpp"
#include "ssm/layers/bst_model.hpp"
#include "ssm/layers/registry.hpp"
#include "support/rt_guard.hpp"
#include "support/checks.hpp"
#include "support/testing.hpp"

using namespace ssm;

using test::expect_error;

namespace {

BSTModelConfig config() {
  BSTModelConfig c;
  c.d_input = 2;
  c.d_output = 3;
  c.n_layers = 2;
  c.layer.d_model = 16;
  c.layer.modes = 4;
  c.layer.d_ff = 32;
  c.layer.block_size = 8;
  c.layer.context = 5;
  c.layer.n_heads = 4;
  return c;
}

}  // namespace

BOOST_AUTO_TEST_CASE(save_load_round_trip_and_registry) {
  const auto c = config();
  BSTModel<double> m(c, random_bst_model<double>(c, 3));
  const std::string path = test::temp_dir() + "/bst_model.safetensors";
  m.save(path);
  const auto m2 = BSTModel<double>::load(path);
  BOOST_TEST(m2.config().to_json() == c.to_json());
  const int B = 2, L = 45;
  const auto u = test::randn(std::size_t(B) * L * c.d_input, 4);
  std::vector<double> y1(std::size_t(B) * L * c.d_output), y2(y1.size());
  m.forward(u.data(), B, L, y1.data());
  m2.forward(u.data(), B, L, y2.data());
  BOOST_TEST(std::memcmp(y1.data(), y2.data(), y1.size() * sizeof(double)) == 0);
  BOOST_TEST(*std::max_element(y1.begin(), y1.end()) > 0.05);

  // the stack is the layers applied in turn between the linear maps
  std::vector<double> h(std::size_t(B) * L * c.layer.d_model), h2(h.size());
  for (int r = 0; r < B * L; ++r)
    for (int o = 0; o < c.layer.d_model; ++o) {
      double a = m.params().encoder_bias[o];
      for (int i = 0; i < c.d_input; ++i) a += m.params().encoder_weight[o * c.d_input + i] * u[r * c.d_input + i];
      h[std::size_t(r) * c.layer.d_model + o] = a;
    }
  for (int i = 0; i < c.n_layers; ++i) {
    m.layer(i).forward(h.data(), B, L, h2.data());
    std::swap(h, h2);
  }
  std::vector<double> y3(y1.size());
  for (int r = 0; r < B * L; ++r)
    for (int o = 0; o < c.d_output; ++o) {
      double a = m.params().decoder_bias[o];
      for (int i = 0; i < c.layer.d_model; ++i)
        a += m.params().decoder_weight[o * c.layer.d_model + i] * h[std::size_t(r) * c.layer.d_model + i];
      y3[std::size_t(r) * c.d_output + o] = a;
    }
  BOOST_TEST(test::max_rel_diff(y3, y1) < 1e-12);

  // through the registry: both modes agree, both precisions load
  const auto archs = model_archs();
  BOOST_TEST((std::find(archs.begin(), archs.end(), "bst") != archs.end()));
  auto lm = load_model<double>(path);
  BOOST_TEST(lm->info().arch == "bst");
  BOOST_TEST(lm->info().causal);
  const std::vector<std::int64_t> shape{B, L, c.d_input};
  BOOST_TEST((lm->output_shape(shape) == std::vector<std::int64_t>{B, L, c.d_output}));
  for (Mode mode : lm->info().modes) {
    std::vector<double> y(y1.size());
    lm->forward(u.data(), shape, y.data(), mode);
    BOOST_TEST_INFO("mode " << to_string(mode));
    BOOST_TEST(test::max_rel_diff(y, y1) < 1e-11);
  }
  std::vector<double> y(y1.size());
  BOOST_CHECK_THROW(lm->forward(u.data(), shape, y.data(), Mode::scan), Error);
  BOOST_CHECK_THROW(lm->forward(u.data(), {B, L, c.d_input + 1}, y.data(), Mode::conv), Error);
  auto lf = load_model<float>(path);
  std::vector<float> uf(u.begin(), u.end());
  const auto yf = lf->run(uf, shape);
  BOOST_TEST(test::max_rel_diff(yf, y1) < 1e-4);
}

BOOST_AUTO_TEST_CASE(streamer_matches_offline_and_is_real_time_safe) {
  const auto c = config();
  BSTModel<float> m(c, random_bst_model<float>(c, 8));
  const int B = 2, L = 83, di = c.d_input, dout = c.d_output;
  const auto u = test::randn_f(std::size_t(B) * L * di, 9);
  std::vector<float> ref(std::size_t(B) * L * dout);
  m.forward(u.data(), B, L, ref.data());

  BSTModelStreamer<float> st(m);
  BOOST_TEST(st.latency() == 0);
  StreamSpec spec;
  spec.max_block = 12;
  spec.channels = B;
  st.prepare(spec);
  std::vector<float> in(std::size_t(L) * B * di), out(std::size_t(L) * B * dout);
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < L; ++t)
      for (int k = 0; k < di; ++k) in[(std::size_t(t) * B + b) * di + k] = u[(std::size_t(b) * L + t) * di + k];
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> len(1, spec.max_block);
  std::vector<float> saved, replay(std::size_t(spec.max_block) * B * dout);
  int t = 0, n_saved = 0, t_saved = 0;
  while (t < L) {
    const int n = std::min(len(rng), L - t);
    if (t >= 30 && saved.empty()) {
      saved = st.state();
      t_saved = t;
      n_saved = n;
    }
    test::RtGuard g;
    st.process_interleaved(in.data() + std::size_t(t) * B * di, out.data() + std::size_t(t) * B * dout, n);
    const auto v = g.stop();
    BOOST_TEST(v.clean());
    t += n;
  }
  std::vector<float> got(ref.size());
  for (int b = 0; b < B; ++b)
    for (int tt = 0; tt < L; ++tt)
      for (int k = 0; k < dout; ++k) got[(std::size_t(b) * L + tt) * dout + k] = out[(std::size_t(tt) * B + b) * dout + k];
  BOOST_TEST(test::max_rel_diff(got, ref) < 1e-4);
  // restore the state saved at t_saved and replay that call: the same bits
  st.set_state(saved);
  st.process_interleaved(in.data() + std::size_t(t_saved) * B * di, replay.data(), n_saved);
  BOOST_TEST(std::memcmp(replay.data(), out.data() + std::size_t(t_saved) * B * dout,
                         std::size_t(n_saved) * B * dout * sizeof(float)) == 0);
  BOOST_CHECK_THROW(st.set_state(std::vector<float>(saved.size() + 1)), Error);
}

BOOST_AUTO_TEST_CASE(config_and_file_errors_are_named) {
  expect_error([] { BSTModelConfig::from_json(R"({"d_model":16,"n_layers":1,"d_state":7,"d_ff":8,"block_size":4,"context":2,"n_heads":2})"); },
               "'d_state'");
  expect_error([] { BSTModelConfig::from_json(R"({"d_model":16,"n_layers":1,"d_state":8,"d_ff":8,"block_size":4,"context":2,"n_heads":3})"); },
               "'n_heads'");
  expect_error([] { BSTModelConfig::from_json(R"({"d_model":16,"n_layers":1,"d_state":8,"d_ff":8,"context":2,"n_heads":2})"); },
               "block_size");
  expect_error([] { BSTModelConfig::from_json(R"({"d_model":16,"n_layers":1,"d_state":8,"d_ff":8,"block_size":0,"context":2,"n_heads":2})"); },
               "'block_size'");
  expect_error([] { BSTModelConfig::from_json(R"({"d_model":16,"n_layers":1,"d_state":8,"d_ff":8,"block_size":4,"context":-1,"n_heads":2})"); },
               "'context'");
  // a file whose config says 1 layer but holds 2: the leftover tensors are named
  auto c = config();
  BSTModel<float> m(c, random_bst_model<float>(c, 1));
  const std::string path = test::temp_dir() + "/bst_two.safetensors";
  m.save(path);
  auto f = io::SafeTensors::load(path);
  std::vector<io::TensorOut> ts;
  for (const auto& n : f.names()) ts.push_back({n, io::DType::F32, f.info(n).shape, f.to_double(n)});
  auto c1 = c;
  c1.n_layers = 1;
  const std::string bad = test::temp_dir() + "/bst_bad.safetensors";
  io::save_safetensors(bad, ts, {{"ssmkit.arch", "bst"}, {"ssmkit.config", c1.to_json()}});
  expect_error([&] { BSTModel<float>::load(bad); }, "layers.1.");
  // a missing tensor
  std::vector<io::TensorOut> ts2;
  for (auto& t : ts)
    if (t.name != "layers.0.ssm.kernel.A_imag") ts2.push_back(t);
  io::save_safetensors(bad, ts2, {{"ssmkit.arch", "bst"}, {"ssmkit.config", c.to_json()}});
  expect_error([&] { BSTModel<float>::load(bad); }, "layers.0.ssm.kernel.A_imag");
  // wrong arch
  io::save_safetensors(bad, ts, {{"ssmkit.arch", "mamba"}, {"ssmkit.config", c.to_json()}});
  expect_error([&] { BSTModel<float>::load(bad); }, "expected \"bst\"");
}

// tools/export_bst.py --check DIR writes NAME.safetensors (a BST model exported from the PyTorch
// reference module) and NAME.bst-check.safetensors (input u and PyTorch's float64 output y).
BOOST_AUTO_TEST_CASE(pytorch_exports_match_pytorch_outputs) {
  const std::string dir = test::torch_check_dir();
  if (dir.empty()) {
    BOOST_TEST_MESSAGE("SSM_TORCH_CHECK_DIR not set: no PyTorch export checked");
    return;
  }
  int checked = 0;
  for (const std::string& p : test::files_ending_in(dir, ".bst-check.safetensors")) {
    const auto chk = io::SafeTensors::load(p);
    const auto m = BSTModel<double>::load(std::string(dir) + "/" + chk.meta("model"));
    const auto us = chk.info("u").shape;
    const int batch = int(us[0]), L = int(us[1]);
    const auto u = chk.to_double("u"), y = chk.to_double("y");
    std::vector<double> got(y.size());
    m.forward(u.data(), batch, L, got.data());
    BOOST_TEST(test::max_rel_diff(got, y) < 1e-9, p << " offline: rel err " << test::max_rel_diff(got, y));
    BSTModelStreamer<double> st(m);
    StreamSpec spec;
    spec.max_block = 7;
    st.prepare(spec);
    const std::size_t di = us[2], dout = chk.info("y").shape[2];
    for (int b = 0; b < batch; ++b) {
      st.reset();
      for (int t = 0; t < L; t += 7)
        st.process_mono(u.data() + (std::size_t(b) * L + t) * di, got.data() + (std::size_t(b) * L + t) * dout,
                        std::min(7, L - t));
    }
    BOOST_TEST(test::max_rel_diff(got, y) < 1e-9, p << " stream: rel err " << test::max_rel_diff(got, y));
    ++checked;
  }
  BOOST_TEST(checked > 0, "no .bst-check.safetensors files in " << dir);
}
