// VMambaModel (a VMamba stage of VSSBlocks) and the "vmamba" model family: the stack against a
// direct composition of SS2DBlocks with explicit LayerNorm / MLP / residuals; save -> load_model
// round trip by VMamba's names (ln_1, self_attention.*, ln_2, mlp.fc1, mlp.fc2) in float32 and
// float64; no MLP (d_ff = 0); the Model<T> contract (output_shape, modes, no streamer); bad
// files and inputs named in the error.
#define BOOST_TEST_MODULE layers_vmamba_model
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "ssm/core/error.hpp"
#include "ssm/io/safetensors.hpp"
#include "ssm/layers/registry.hpp"
#include "ssm/layers/vmamba_model.hpp"
#include "support/checks.hpp"
#include "support/models.hpp"
#include "support/testing.hpp"

using namespace ssm;

namespace {

VMambaModelConfig small(int d_ff) { return test::tiny_vmamba(3, 2, 2, d_ff); }



void ln(const std::vector<double>& x, std::size_t rows, std::size_t n, const std::vector<double>& w,
        const std::vector<double>& b, double eps, std::vector<double>& y) {
  y.resize(x.size());
  for (std::size_t r = 0; r < rows; ++r) {
    double mean = 0, var = 0;
    for (std::size_t i = 0; i < n; ++i) mean += x[r * n + i] / double(n);
    for (std::size_t i = 0; i < n; ++i) var += (x[r * n + i] - mean) * (x[r * n + i] - mean) / double(n);
    for (std::size_t i = 0; i < n; ++i) y[r * n + i] = (x[r * n + i] - mean) / std::sqrt(var + eps) * w[i] + b[i];
  }
}
std::vector<double> lin(const std::vector<double>& x, std::size_t rows, std::size_t in, const std::vector<double>& W,
                        const std::vector<double>& b, std::size_t out) {
  std::vector<double> y(rows * out);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t o = 0; o < out; ++o) {
      double s = b[o];
      for (std::size_t i = 0; i < in; ++i) s += x[r * in + i] * W[o * in + i];
      y[r * out + o] = s;
    }
  return y;
}

}  // namespace

BOOST_AUTO_TEST_CASE(stack_matches_direct_composition) {
  for (int d_ff : {0, 20}) {
    const auto c = small(d_ff);
    const auto p = random_vmamba_model<double>(c, 5);
    const VMambaModel<double> m(c, p);
    const int B = 2, H = 3, W = 5;
    const std::size_t M = std::size_t(B * H * W), dm = c.block.d_model;
    const auto u = test::randn_as<double>(M * c.d_input, 1);
    std::vector<double> y(M * c.d_output);
    m.forward(u.data(), B, H, W, y.data());

    auto x = lin(u, M, c.d_input, p.encoder_weight, p.encoder_bias, dm);
    std::vector<double> xn, t(x.size());
    for (int i = 0; i < c.n_layers; ++i) {
      const auto& l = p.layers[std::size_t(i)];
      ln(x, M, dm, l.ln_1_weight, l.ln_1_bias, c.norm_eps, xn);
      const SS2DBlock<double> blk(c.block, l.self_attention);
      blk.forward(xn.data(), B, H, W, t.data());
      for (std::size_t k = 0; k < x.size(); ++k) x[k] += t[k];
      if (d_ff) {
        ln(x, M, dm, l.ln_2_weight, l.ln_2_bias, c.norm_eps, xn);
        auto h = lin(xn, M, dm, l.fc1_weight, l.fc1_bias, std::size_t(d_ff));
        for (auto& v : h) v = 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
        const auto o = lin(h, M, std::size_t(d_ff), l.fc2_weight, l.fc2_bias, dm);
        for (std::size_t k = 0; k < x.size(); ++k) x[k] += o[k];
      }
    }
    ln(x, M, dm, p.norm_f_weight, p.norm_f_bias, c.norm_eps, xn);
    const auto ref = lin(xn, M, dm, p.decoder_weight, p.decoder_bias, std::size_t(c.d_output));
    BOOST_TEST(test::max_rel_diff(y, ref) <= 1e-12);
  }
}

BOOST_AUTO_TEST_CASE(save_and_load_model_by_arch) {
  const auto c = small(12);
  const VMambaModel<double> m(c, random_vmamba_model<double>(c, 9));
  const std::string path = test::temp_dir() + "/vmamba.safetensors";
  m.save(path);
  const auto st = io::SafeTensors::load(path);
  for (const char* name : {"layers.0.ln_1.weight", "layers.1.self_attention.x_proj_weight",
                           "layers.1.self_attention.A_logs", "layers.0.ln_2.bias", "layers.0.mlp.fc1.weight",
                           "layers.1.mlp.fc2.bias", "encoder.weight", "norm_f.weight", "decoder.bias"})
    BOOST_TEST(st.has(name), name);
  BOOST_TEST(st.meta("ssmkit.arch") == "vmamba");
  const int B = 1, H = 4, W = 6;
  const auto u = test::randn_as<double>(std::size_t(B * H * W * c.d_input), 2);
  std::vector<double> y(std::size_t(B * H * W * c.d_output));
  m.forward(u.data(), B, H, W, y.data());

  const auto m64 = load_model<double>(path);
  BOOST_TEST(m64->info().arch == "vmamba");
  BOOST_TEST(!m64->info().causal);
  BOOST_TEST(m64->info().d_input == 3);
  const std::vector<std::int64_t> shape{B, H, W, c.d_input};
  BOOST_TEST((m64->output_shape(shape) == std::vector<std::int64_t>{B, H, W, c.d_output}));
  BOOST_TEST(m64->run(u, shape) == y);  // F64 file, same arithmetic: bit-equal

  const auto m32 = load_model<float>(path);
  const std::vector<float> uf(u.begin(), u.end());
  const auto yf = m32->run(uf, shape);
  BOOST_TEST(test::max_rel_diff(std::vector<double>(yf.begin(), yf.end()), y) <= 1e-4);
}

BOOST_AUTO_TEST_CASE(contract_and_bad_input_are_named) {
  const auto c = small(0);
  const VMambaModel<float> m(c, random_vmamba_model<float>(c, 3));
  const std::string path = test::temp_dir() + "/vmamba0.safetensors";
  m.save(path);
  const auto model = load_model<float>(path);
  const auto expect = [](auto f, const std::vector<std::string>& parts) { test::expect_error(f, parts); };
  expect([&] { model->make_streamer(); }, {"not causal"});
  expect([&] { model->output_shape({1, 4, 3}); }, {"'input'", "rank"});
  expect([&] { model->output_shape({1, 4, 4, 2}); }, {"'input'", "d_input = 3"});
  expect([&] { model->output_shape({1, 0, 4, 3}); }, {"'input'", ">= 1"});
  std::vector<float> u(48 * 3), y(48 * 2);
  expect([&] { model->forward(u.data(), {1, 4, 12, 3}, y.data(), Mode::conv); }, {"'mode'"});
  expect([&] { m.forward(u.data(), 1, 0, 4, y.data()); }, {"'height'"});

  // a file with a tensor missing, one left over, a config that disagrees
  auto st = io::SafeTensors::load(path);
  std::vector<io::TensorOut> t;
  for (const auto& n : st.names()) t.push_back({n, st.info(n).dtype, st.info(n).shape, st.to_double(n)});
  const auto meta = st.metadata();
  {
    auto t2 = t;
    t2.erase(std::find_if(t2.begin(), t2.end(), [](const auto& x) { return x.name == "layers.1.self_attention.Ds"; }));
    expect([&] { load_model<float>(io::SafeTensors::parse(io::serialize_safetensors(t2, meta))); },
           {"layers.1.self_attention.Ds"});
  }
  {
    auto t2 = t;
    t2.push_back({"layers.2.ln_1.weight", io::DType::F32, {8}, std::vector<double>(8, 1.0)});
    expect([&] { load_model<float>(io::SafeTensors::parse(io::serialize_safetensors(t2, meta))); },
           {"layers.2.ln_1.weight"});
  }
  {
    auto m2 = meta;
    auto cfg = c;
    cfg.block.d_inner = 12;
    m2["ssmkit.config"] = cfg.to_json();
    expect([&] { load_model<float>(io::SafeTensors::parse(io::serialize_safetensors(t, m2))); }, {"in_proj.weight"});
    m2["ssmkit.config"] = "{\"d_model\": 8}";
    expect([&] { load_model<float>(io::SafeTensors::parse(io::serialize_safetensors(t, m2))); }, {"'n_layers'"});
  }
}

// A stage exported by tools/export_vmamba.py --check DIR (PyTorch reference output, float64):
// runs when SSM_TORCH_CHECK_DIR names that folder (else there is nothing to compare with).
BOOST_AUTO_TEST_CASE(pytorch_export_matches_pytorch_output) {
  const std::string dir = test::torch_check_dir();
  if (dir.empty()) {
    BOOST_TEST_MESSAGE("SSM_TORCH_CHECK_DIR not set: run tools/export_vmamba.py --check DIR first");
    return;
  }
  const auto chk = io::SafeTensors::load(std::string(dir) + "/vmamba.check.safetensors");
  const auto model = load_model<double>(std::string(dir) + "/" + chk.meta("model"));
  const auto s = chk.info("u").shape;
  const auto y = model->run(chk.to_double("u"), s);
  BOOST_TEST(test::max_rel_diff(y, chk.to_double("y")) <= chk.meta_double("rtol"));
  const auto m32 = load_model<float>(std::string(dir) + "/" + chk.meta("model"));
  const auto u64 = chk.to_double("u");
  const auto yf = m32->run(std::vector<float>(u64.begin(), u64.end()), s);
  BOOST_TEST(test::max_rel_diff(std::vector<double>(yf.begin(), yf.end()), chk.to_double("y")) <= 1e-4);
}
