// MoEMambaModel: scan (forward) and streaming agree over uneven block splits; files round-trip;
// the registry opens arch "moe_mamba" and its Streamer honours the contract (channels,
// interleaved, real-time safe, state save/restore); bad files and configs name what is wrong;
// files exported by tools/export_moe_mamba.py --check match PyTorch (SSM_TORCH_CHECK_DIR).
#define BOOST_TEST_MODULE layers_moe_mamba_model
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "ssm/core/error.hpp"
#include "ssm/io/safetensors.hpp"
#include "ssm/layers/moe_mamba_model.hpp"
#include "ssm/layers/registry.hpp"
#include "support/rt_guard.hpp"
#include "support/checks.hpp"
#include "support/testing.hpp"

using namespace ssm;

namespace {

MoEMambaModelConfig config() {
  MoEMambaModelConfig c;
  c.d_input = 2;
  c.d_output = 3;
  c.n_layers = 2;
  auto& b = c.layer.mixer;
  b.d_model = 16;
  b.d_inner = 32;
  b.d_state = 4;
  b.d_conv = 4;
  b.dt_rank = 1;
  auto& e = c.layer.moe;
  e.d_model = 16;
  e.d_ff = 32;
  e.n_experts = 4;
  e.top_k = 2;
  e.activation = Activation::gelu;
  e.fc1_bias = e.fc2_bias = true;
  return c;
}

std::string model_file(const std::string& name = "moe_mamba") {
  const auto c = config();
  const std::string path = test::temp_dir() + "/" + name + ".safetensors";
  MoEMambaModel<float>(c, random_moe_mamba_model<float>(c, 5)).save(path);
  return path;
}

}  // namespace

BOOST_AUTO_TEST_CASE(scan_and_stream_agree_over_any_split) {
  const auto c = config();
  MoEMambaModel<double> m(c, random_moe_mamba_model<double>(c, 3));
  const int B = 2, L = 61;
  const auto u = test::randn(std::size_t(B) * L * c.d_input, 4);
  std::vector<double> y(std::size_t(B) * L * c.d_output), ys(y.size());
  m.forward(u.data(), B, L, y.data());
  BOOST_TEST(*std::max_element(y.begin(), y.end()) > 1e-3);
  m.prepare({48000.0, 9});
  const int splits[] = {1, 9, 4, 2, 7};
  for (int b = 0; b < B; ++b) {
    m.reset();
    int t = 0, s = 0;
    while (t < L) {
      const int n = std::min(splits[s++ % 5], L - t);
      m.process_mono(u.data() + (std::size_t(b) * L + t) * c.d_input, ys.data() + (std::size_t(b) * L + t) * c.d_output, n);
      t += n;
    }
  }
  BOOST_TEST(test::max_rel_diff(ys, y) < 1e-12);
  // more than max_block frames in one call: pieces of max_block, the same output
  for (int b = 0; b < B; ++b) {
    m.reset();
    m.process_mono(u.data() + std::size_t(b) * L * c.d_input, ys.data() + std::size_t(b) * L * c.d_output, L);
  }
  BOOST_TEST(test::max_rel_diff(ys, y) < 1e-12);
}

BOOST_AUTO_TEST_CASE(files_round_trip) {
  const auto c = config();
  const auto path = model_file("round_trip");
  const auto m = MoEMambaModel<float>::load(path);
  BOOST_TEST(m.config().to_json() == MoEMambaModelConfig::from_json(c.to_json()).to_json());
  const std::string path2 = test::temp_dir() + "/round_trip2.safetensors";
  m.save(path2);
  const auto m2 = MoEMambaModel<float>::load(path2);
  const int B = 1, L = 20;
  const auto u = test::randn_f(std::size_t(B) * L * c.d_input, 8);
  std::vector<float> y1(std::size_t(L) * c.d_output), y2(y1.size());
  m.forward(u.data(), B, L, y1.data());
  m2.forward(u.data(), B, L, y2.data());
  BOOST_TEST(test::max_abs_diff(y1, y2) == 0.0);
  MoEMambaModel<float> orig(c, random_moe_mamba_model<float>(c, 5));
  std::vector<float> y0(y1.size());
  orig.forward(u.data(), B, L, y0.data());
  BOOST_TEST(test::max_abs_diff(y0, y1) == 0.0);
}

BOOST_AUTO_TEST_CASE(registry_model_and_streamer_contract) {
  const auto a = model_archs();
  BOOST_TEST((std::find(a.begin(), a.end(), "moe_mamba") != a.end()));
  auto m = load_model<float>(model_file("registry"));
  BOOST_REQUIRE(m);
  BOOST_TEST(m->info().arch == "moe_mamba");
  BOOST_TEST(m->info().causal);
  const int B = 2, L = 53, di = m->info().d_input, dout = m->info().d_output;
  const std::vector<std::int64_t> shape{B, L, di};
  const auto x = test::randn_f(std::size_t(B) * L * di, 11);
  const auto ref = m->run(x, shape);
  std::vector<float> ys(ref.size());
  m->forward(x.data(), shape, ys.data(), Mode::stream);
  BOOST_TEST(test::max_rel_diff(ys, ref) < 1e-4);
  BOOST_CHECK_THROW(m->forward(x.data(), shape, ys.data(), Mode::conv), Error);

  auto st = m->make_streamer();
  m.reset();  // the streamer outlives the model
  BOOST_TEST(st->input_width() == di);
  BOOST_TEST(st->output_width() == dout);
  StreamSpec spec;
  spec.max_block = 16;
  spec.channels = B;
  st->prepare(spec);
  std::vector<float> in(std::size_t(L) * B * di), out(std::size_t(L) * B * dout), out2(out.size());
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < L; ++t)
      for (int k = 0; k < di; ++k) in[(std::size_t(t) * B + b) * di + k] = x[(std::size_t(b) * L + t) * di + k];
  std::vector<float> saved(st->state_size());
  BOOST_TEST(saved.size() == std::size_t(B) * 2 * 32 * (4 + 4));
  const int blocks[] = {1, 16, 3, 7, 16, 5};
  int t = 0, split = 0, t_saved = -1;
  {
    test::RtGuard g;
    while (t < L) {
      const int n = std::min(blocks[split++ % 6], L - t);
      if (t >= 20 && t_saved < 0) {
        st->save_state(saved.data());
        t_saved = t;
      }
      st->process_interleaved(in.data() + std::size_t(t) * B * di, out.data() + std::size_t(t) * B * dout, n);
      t += n;
    }
    const auto v = g.stop();
    BOOST_TEST(v.clean());
  }
  for (int b = 0; b < B; ++b)
    for (int tt = 0; tt < L; ++tt)
      for (int k = 0; k < dout; ++k) {
        const float r = ref[(std::size_t(b) * L + tt) * dout + k];
        BOOST_TEST(std::fabs(out[(std::size_t(tt) * B + b) * dout + k] - r) <= 2e-4 * (1 + std::fabs(r)));
      }
  // restore the saved state and replay the rest: bit-identical
  st->load_state(saved.data());
  const int rest = L - t_saved;
  for (int t2 = t_saved; t2 < L; t2 += 16) {
    const int n = std::min(16, L - t2);
    st->process_interleaved(in.data() + std::size_t(t2) * B * di, out2.data() + std::size_t(t2) * B * dout, n);
  }
  BOOST_TEST(rest > 0);
  BOOST_TEST(std::equal(out.begin() + std::ptrdiff_t(t_saved) * B * dout, out.end(),
                        out2.begin() + std::ptrdiff_t(t_saved) * B * dout));
  st->reset();
  BOOST_CHECK_THROW(st->set_state(std::vector<float>(saved.size() + 1)), Error);
}

BOOST_AUTO_TEST_CASE(bad_files_and_configs_are_named) {
  const auto what = [](auto&& f) { return test::error_of(f); };
  auto c = config();
  BOOST_TEST(what([&] { MoEMambaModelConfig::from_json(R"({"d_model": 8, "n_layers": 1})"); }).find("n_experts") !=
             std::string::npos);
  BOOST_TEST(what([&] {
               MoEMambaModelConfig::from_json(R"({"d_model": 8, "n_layers": 1, "n_experts": 2, "d_ff": 8, "top_k": 3})");
             }).find("top_k") != std::string::npos);
  BOOST_TEST(what([&] {
               MoEMambaModelConfig::from_json(
                   R"({"d_model": 8, "n_layers": 1, "n_experts": 2, "d_ff": 8, "activation": "tanh"})");
             }).find("activation") != std::string::npos);
  BOOST_TEST(what([&] {
               MoEMambaModelConfig::from_json(
                   R"({"d_model": 8, "n_layers": 1, "n_experts": 2, "d_ff": 8, "norm": "layernorm"})");
             }).find("norm") != std::string::npos);
  // a file missing one expert tensor, and one with a leftover tensor
  const auto f = io::SafeTensors::load(model_file("full"));
  std::vector<io::TensorOut> ts;
  for (const auto& n : f.names()) ts.push_back({n, io::DType::F32, f.info(n).shape, f.to_double(n)});
  auto write = [&](const std::vector<io::TensorOut>& v, const std::string& name) {
    const std::string p = test::temp_dir() + "/" + name + ".safetensors";
    io::save_safetensors(p, v, f.metadata());
    return p;
  };
  auto missing = ts;
  missing.erase(std::remove_if(missing.begin(), missing.end(),
                               [](const io::TensorOut& t) { return t.name == "layers.1.moe.experts.3.fc2.weight"; }),
                missing.end());
  const auto pm = write(missing, "missing");
  BOOST_TEST(what([&] { MoEMambaModel<float>::load(pm); }).find("layers.1.moe.experts.3.fc2.weight") !=
             std::string::npos);
  auto extra = ts;
  extra.push_back({"layers.1.moe.experts.4.fc1.weight", io::DType::F32, {32, 16}, std::vector<double>(512, 0.0)});
  const auto pe = write(extra, "extra");
  BOOST_TEST(what([&] { MoEMambaModel<float>::load(pe); }).find("experts.4") != std::string::npos);
  BOOST_TEST(what([&] { MoEMambaModel<float>::from_file(io::SafeTensors::load(test::temp_dir() + "/full.safetensors")); })
                 .find("no throw") != std::string::npos);
  c.n_layers = 0;
  BOOST_CHECK_THROW(c.validate("t"), Error);
}

// Files written by tools/export_moe_mamba.py --check DIR (a machine with PyTorch): each
// NAME.check.safetensors with metadata arch = moe_mamba holds an input `u` and PyTorch's float64
// output `y` of the model NAME.safetensors. Without SSM_TORCH_CHECK_DIR nothing is checked.
BOOST_AUTO_TEST_CASE(pytorch_exports_match_pytorch_outputs) {
  const std::string dir = test::torch_check_dir();
  if (dir.empty()) {
    BOOST_TEST_MESSAGE("SSM_TORCH_CHECK_DIR not set: no PyTorch export checked");
    return;
  }
  int checked = 0;
  for (const std::string& p : test::files_ending_in(dir, ".check.safetensors")) {
    const auto chk = io::SafeTensors::load(p);
    if (chk.meta("arch", "") != "moe_mamba") continue;
    auto m = MoEMambaModel<double>::load(std::string(dir) + "/" + chk.meta("model"));
    const auto us = chk.info("u").shape, ys = chk.info("y").shape;
    const int batch = int(us[0]), L = int(us[1]);
    const auto u = chk.to_double("u"), y = chk.to_double("y");
    std::vector<double> got(y.size());
    m.forward(u.data(), batch, L, got.data());
    BOOST_TEST(test::max_rel_diff(got, y) < 1e-9, p << " scan: rel err " << test::max_rel_diff(got, y));
    m.prepare({48000.0, 5});
    const std::size_t di = us[2], dout = ys[2];
    for (int b = 0; b < batch; ++b) {
      m.reset();
      for (int t = 0; t < L; t += 5)
        m.process_mono(u.data() + (std::size_t(b) * L + t) * di, got.data() + (std::size_t(b) * L + t) * dout,
                  std::min(5, L - t));
    }
    BOOST_TEST(test::max_rel_diff(got, y) < 1e-9, p << " stream: rel err " << test::max_rel_diff(got, y));
    BOOST_TEST_MESSAGE(p << ": matches PyTorch");
    ++checked;
  }
  BOOST_TEST(checked > 0, "no moe_mamba .check.safetensors files in " << dir);
}
