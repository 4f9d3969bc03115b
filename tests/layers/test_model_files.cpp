#define BOOST_TEST_MODULE layers_model_files
#include <boost/test/unit_test.hpp>

#include <cstdio>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>

#include "ssm/core/error.hpp"
#include "ssm/layers/mamba_model.hpp"
#include "ssm/layers/model_file.hpp"
#include "ssm/layers/s4d_model.hpp"
#include "support/checks.hpp"
#include "support/testing.hpp"

using namespace ssm;

namespace {

struct FileImage {
  std::vector<io::TensorOut> tensors;
  std::map<std::string, std::string> meta;

  static FileImage read(const std::string& path) {
    const auto st = io::SafeTensors::load(path);
    FileImage f;
    f.meta = st.metadata();
    for (const auto& n : st.names()) f.tensors.push_back({n, st.info(n).dtype, st.info(n).shape, st.to_double(n)});
    return f;
  }
  io::TensorOut& at(const std::string& name) {
    auto it = std::find_if(tensors.begin(), tensors.end(), [&](const auto& t) { return t.name == name; });
    BOOST_REQUIRE(it != tensors.end());
    return *it;
  }
  void erase(const std::string& name) {
    at(name);
    tensors.erase(std::remove_if(tensors.begin(), tensors.end(), [&](const auto& t) { return t.name == name; }),
                  tensors.end());
  }
  std::string write(const std::string& tag) const {
    const std::string p = test::temp_dir() + "/" + tag + ".safetensors";
    io::save_safetensors(p, tensors, meta);
    return p;
  }
};

// Loading `path` as model M must throw ssm::Error whose message contains every `parts`.
template <class Load>
void expect_error(Load load, const std::string& path, const std::vector<std::string>& parts) {
  BOOST_TEST_CONTEXT(path) { test::expect_error([&] { load(path); }, parts); }
}

std::string s4d_file() {
  S4DModelConfig c;
  c.n_layers = 2;
  c.d_model = 8;
  c.d_state = 8;
  const std::string p = test::temp_dir() + "/s4d_ok.safetensors";
  S4DModel<float>(c, random_s4d_model<float>(c, 1)).save(p);
  return p;
}
std::string mamba_file() {
  MambaModelConfig c;
  c.n_layers = 2;
  c.block.d_model = 16;
  c.block.d_inner = 32;
  c.block.d_state = 4;
  c.block.dt_rank = 1;
  const std::string p = test::temp_dir() + "/mamba_ok.safetensors";
  MambaModel<float>(c, random_mamba_model<float>(c, 1)).save(p);
  return p;
}

const auto load_s4d = [](const std::string& p) { return S4DModel<float>::load(p); };
const auto load_mamba = [](const std::string& p) { return MambaModel<float>::load(p); };

}  // namespace

BOOST_AUTO_TEST_CASE(valid_files_load_in_every_float_dtype) {
  const auto ok = s4d_file();
  const auto m = S4DModel<float>::load(ok);
  BOOST_TEST(m.config().n_layers == 2);
  BOOST_TEST(model_arch(io::SafeTensors::load(ok)) == "s4d");
  std::vector<float> u(300), y0(300), y1(300);
  for (std::size_t i = 0; i < u.size(); ++i) u[i] = float(std::sin(0.1 * double(i)));
  m.forward(u.data(), 1, 300, y0.data(), Mode::conv);
  for (auto dt : {io::DType::F64, io::DType::BF16, io::DType::F16}) {
    auto f = FileImage::read(ok);
    for (auto& t : f.tensors) t.dtype = dt;
    const auto m2 = S4DModel<float>::load(f.write("s4d_dtype"));
    m2.forward(u.data(), 1, 300, y1.data(), Mode::conv);
    const double tol = dt == io::DType::F64 ? 1e-6 : 0.2;  // half precision weights: close, not equal
    BOOST_TEST(test::max_abs_diff(y0, y1) < tol);
  }
  const auto mm = MambaModel<double>::load(mamba_file());
  BOOST_TEST(mm.config().block.d_inner == 32);
}

BOOST_AUTO_TEST_CASE(missing_tensor_is_named) {
  auto f = FileImage::read(s4d_file());
  f.erase("s4_layers.1.kernel.C");
  expect_error(load_s4d, f.write("s4d_missing"), {"s4_layers.1.kernel.C", "missing", "(8, 4, 2)"});
  auto g = FileImage::read(mamba_file());
  g.erase("layers.1.mixer.A_log");
  expect_error(load_mamba, g.write("mamba_missing"), {"layers.1.mixer.A_log", "missing"});
  auto h = FileImage::read(mamba_file());
  h.erase("norm_f.weight");
  expect_error(load_mamba, h.write("mamba_missing_normf"), {"norm_f.weight"});
}

BOOST_AUTO_TEST_CASE(wrong_shape_is_named_with_expectation) {
  auto f = FileImage::read(s4d_file());
  auto& t = f.at("s4_layers.0.output_linear.0.weight");
  t.shape = {8, 16, 1};  // transposed
  expect_error(load_s4d, f.write("s4d_shape"), {"output_linear.0.weight", "(8, 16, 1)", "(16, 8, 1)"});
  auto g = FileImage::read(mamba_file());
  auto& a = g.at("layers.0.mixer.x_proj.weight");  // (1 + 8, 32) -> (9*32) flat
  a.shape = {9 * 32};
  expect_error(load_mamba, g.write("mamba_shape"), {"layers.0.mixer.x_proj.weight", "(288)", "(9, 32)"});
}

BOOST_AUTO_TEST_CASE(wrong_dtype_is_named) {
  auto f = FileImage::read(s4d_file());
  auto& t = f.at("s4_layers.1.D");
  t.dtype = io::DType::I32;
  for (auto& v : t.values) v = std::round(v);
  expect_error(load_s4d, f.write("s4d_dtype_bad"), {"s4_layers.1.D", "I32", "F32"});
}

BOOST_AUTO_TEST_CASE(non_finite_weight_is_named) {
  auto f = FileImage::read(mamba_file());
  f.at("layers.1.mixer.dt_proj.bias").values[3] = NAN;
  expect_error(load_mamba, f.write("mamba_nan"), {"layers.1.mixer.dt_proj.bias", "finite"});
}

BOOST_AUTO_TEST_CASE(bad_or_mismatched_config) {
  const auto ok = s4d_file();
  auto f = FileImage::read(ok);
  f.meta["ssmkit.config"] = "{\"d_model\": 8, \"n_layers\": 2,";
  expect_error(load_s4d, f.write("cfg_json"), {"ssmkit.config", "JSON"});
  f = FileImage::read(ok);
  f.meta["ssmkit.config"] = R"({"d_model": 8, "n_layers": 2})";
  expect_error(load_s4d, f.write("cfg_key"), {"d_state", "missing"});
  f = FileImage::read(ok);
  f.meta["ssmkit.config"] = R"({"d_model": 8, "n_layers": 2, "d_state": 8, "activation": "tanh"})";
  expect_error(load_s4d, f.write("cfg_act"), {"activation", "tanh"});
  f = FileImage::read(ok);
  f.meta["ssmkit.config"] = R"({"d_model": 8, "n_layers": 1, "d_state": 8})";  // file has 2 layers
  expect_error(load_s4d, f.write("cfg_layers"), {"unexpected", "s4_layers.1."});
  f = FileImage::read(ok);
  f.meta["ssmkit.config"] = R"({"d_model": 8, "n_layers": 3, "d_state": 8})";
  expect_error(load_s4d, f.write("cfg_layers3"), {"s4_layers.2.kernel.log_dt", "missing"});
  f = FileImage::read(ok);
  f.meta["ssmkit.config"] = R"({"d_model": 8, "n_layers": 2, "d_state": 16})";
  expect_error(load_s4d, f.write("cfg_state"), {"log_A_real", "(8, 8)", "(8, 4)"});
  f = FileImage::read(ok);
  f.meta.erase("ssmkit.arch");
  expect_error(load_s4d, f.write("no_arch"), {"ssmkit.arch", "missing"});
  f = FileImage::read(ok);
  f.meta.erase("ssmkit.config");
  expect_error(load_s4d, f.write("no_cfg"), {"ssmkit.config", "missing"});
  expect_error(load_mamba, ok, {"s4d", "mamba"});  // arch mismatch
}

BOOST_AUTO_TEST_CASE(truncated_file) {
  const auto ok = s4d_file();
  std::ifstream in(ok, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string p = test::temp_dir() + "/truncated.safetensors";
  std::ofstream(p, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size() - 7));
  BOOST_CHECK_THROW(S4DModel<float>::load(p), Error);
  BOOST_CHECK_THROW(S4DModel<float>::load(test::temp_dir() + "/does_not_exist.safetensors"), Error);
}

BOOST_AUTO_TEST_CASE(alternative_output_linear_layout) {
  // output_linear.weight (2H, H) without the Sequential index and the kernel-size axis
  auto f = FileImage::read(s4d_file());
  for (auto& t : f.tensors) {
    const auto pos = t.name.find("output_linear.0.");
    if (pos != std::string::npos) t.name.replace(pos, 16, "output_linear.");
    if (t.name.find("output_linear.weight") != std::string::npos) t.shape = {16, 8};
  }
  const auto m = S4DModel<float>::load(f.write("s4d_alt"));
  const auto ref = S4DModel<float>::load(s4d_file());
  BOOST_TEST(m.params().layers[1].out_weight == ref.params().layers[1].out_weight);
}

// Files written by tools/export_{s4d,mamba}.py --check DIR (on a machine with
// PyTorch): each NAME.check.safetensors holds an input `u` and PyTorch's float64 output `y` of
// the model exported to NAME.safetensors. Run with SSM_TORCH_CHECK_DIR=DIR; without it this
// case only reports that it had nothing to check.
BOOST_AUTO_TEST_CASE(pytorch_exports_match_pytorch_outputs) {
  const std::string dir = test::torch_check_dir();
  if (dir.empty()) {
    BOOST_TEST_MESSAGE("SSM_TORCH_CHECK_DIR not set: no PyTorch export checked");
    return;
  }
  int checked = 0;
  for (const std::string& p : test::files_ending_in(dir, ".check.safetensors")) {
    const auto chk = io::SafeTensors::load(p);
    const std::string model_path = std::string(dir) + "/" + chk.meta("model");
    const auto us = chk.info("u").shape, ys = chk.info("y").shape;
    const int batch = int(us[0]), L = int(us[1]);
    const auto u = chk.to_double("u"), y = chk.to_double("y");
    std::vector<double> got(y.size());
    double ymax = 0;
    for (double v : y) ymax = std::max(ymax, std::fabs(v));
    auto err = [&] { return test::max_abs_diff(got, y) / ymax; };
    if (chk.meta("arch") == "s4d") {
      const auto m = S4DModel<double>::load(model_path);
      for (Mode mode : {Mode::conv, Mode::scan, Mode::stream}) {
        m.forward(u.data(), batch, L, got.data(), mode);
        BOOST_TEST(err() < 1e-9, p << " mode " << to_string(mode) << ": rel err " << err());
      }
    } else {
      auto m = MambaModel<double>::load(model_path);
      m.forward(u.data(), batch, L, got.data());
      BOOST_TEST(err() < 1e-9, p << " scan: rel err " << err());
      m.prepare({48000.0, 7});
      const std::size_t di = us[2], dout = ys[2];
      for (int b = 0; b < batch; ++b) {
        m.reset();
        for (int t = 0; t < L; t += 7)
          m.process_mono(u.data() + (std::size_t(b) * L + t) * di, got.data() + (std::size_t(b) * L + t) * dout,
                    std::min(7, L - t));
      }
      BOOST_TEST(err() < 1e-9, p << " step: rel err " << err());
    }
    // Said on stdout (Boost prints only "No errors detected"): what was compared.
    std::printf("%s: %s model, %d x %d frames: ssmkit matches PyTorch's float64 output in %s (last rel err %.3g)\n",
                p.c_str(), chk.meta("arch").c_str(), batch, L,
                chk.meta("arch") == "s4d" ? "conv, scan and stream" : "scan and step", err());
    ++checked;
  }
  std::printf("checked %d PyTorch export(s) in %s (relative error < 1e-9 each)\n", checked, dir);
  BOOST_TEST(checked > 0, "no .check.safetensors files in " << dir);
}
