// VimModel (Vision Mamba classifier): against a direct transcription of the forward pass
// (patch conv as a plain sum over the image, middle class token, position embedding, RMSNorm
// written here, the blocks' unfused path), cls-token and mean-pool variants, overlapping
// patches (stride < patch); save/load round trip and load_model("vim") through the registry;
// shape/mode errors; a missing or leftover tensor named. With SSM_TORCH_CHECK_DIR, the files
// tools/export_vim.py --check wrote (NAME.vimcheck.safetensors: images `x` in PyTorch's
// (B, C, H, W) and PyTorch's float64 `logits`) are checked too.
#define BOOST_TEST_MODULE layers_vim_model
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "ssm/core/error.hpp"
#include "ssm/io/safetensors.hpp"
#include "ssm/layers/registry.hpp"
#include "ssm/layers/vim_model.hpp"
#include "support/testing.hpp"

using namespace ssm;

namespace {

VimModelConfig small(bool cls, int stride) {
  VimModelConfig c;
  c.img_h = 12;
  c.img_w = 16;
  c.patch_size = 4;
  c.stride = stride;
  c.in_chans = 3;
  c.depth = 2;
  c.num_classes = 5;
  c.cls_token = cls;
  c.block.d_model = 16;
  c.block.d_inner = 32;
  c.block.d_state = 8;
  c.block.d_conv = 4;
  c.block.dt_rank = 1;
  c.block.if_divide_out = true;
  return c;
}

/// The forward pass written out from the header's formulas, in double.
std::vector<double> reference(const VimModelConfig& c, const VimModelParams<double>& p, const VimModel<double>& m,
                              const std::vector<double>& x, int batch) {
  const int D = c.block.d_model, C = c.in_chans, k = c.patch_size, s = c.stride, GH = c.grid_h(), GW = c.grid_w();
  const int P = GH * GW, L = c.tokens(), pos = c.cls_position();
  std::vector<double> r(std::size_t(batch) * L * D);
  for (int b = 0; b < batch; ++b) {
    int t = 0;
    for (int g = 0; g < P; ++g) {
      if (c.cls_token && g == pos) {
        for (int d = 0; d < D; ++d) r[(std::size_t(b) * L + t) * D + d] = p.cls_token[d];
        ++t;
      }
      const int gh = g / GW, gw = g % GW;
      for (int d = 0; d < D; ++d) {
        double acc = p.patch_bias[d];
        for (int ch = 0; ch < C; ++ch)
          for (int i = 0; i < k; ++i)
            for (int j = 0; j < k; ++j)
              acc += p.patch_weight[((std::size_t(d) * C + ch) * k + i) * k + j] *
                     x[((std::size_t(b) * c.img_h + gh * s + i) * c.img_w + gw * s + j) * C + ch];
        r[(std::size_t(b) * L + t) * D + d] = acc;
      }
      ++t;
    }
    for (int tt = 0; tt < L; ++tt)
      for (int d = 0; d < D; ++d) r[(std::size_t(b) * L + tt) * D + d] += p.pos_embed[std::size_t(tt) * D + d];
  }
  auto rms = [&](const std::vector<double>& in, const std::vector<double>& w) {
    std::vector<double> o(in.size());
    for (std::size_t row = 0; row < in.size() / D; ++row) {
      double ss = 0;
      for (int d = 0; d < D; ++d) ss += in[row * D + d] * in[row * D + d];
      const double sc = 1 / std::sqrt(ss / D + c.norm_eps);
      for (int d = 0; d < D; ++d) o[row * D + d] = in[row * D + d] * sc * w[d];
    }
    return o;
  };
  for (int i = 0; i < c.depth; ++i) {
    const auto hn = rms(r, p.norm_weight[std::size_t(i)]);
    std::vector<double> mix(hn.size());
    m.block(i).forward(hn.data(), batch, L, mix.data(), Device::cpu, BiMambaPath::unfused);
    for (std::size_t j = 0; j < r.size(); ++j) r[j] += mix[j];
  }
  const auto h = rms(r, p.norm_f_weight);
  std::vector<double> logits(std::size_t(batch) * c.num_classes);
  for (int b = 0; b < batch; ++b) {
    std::vector<double> f(D, 0.0);
    for (int d = 0; d < D; ++d) {
      if (c.cls_token) f[d] = h[(std::size_t(b) * L + pos) * D + d];
      else {
        for (int t = 0; t < L; ++t) f[d] += h[(std::size_t(b) * L + t) * D + d];
        f[d] /= L;
      }
    }
    for (int o = 0; o < c.num_classes; ++o) {
      double acc = p.head_bias[o];
      for (int d = 0; d < D; ++d) acc += p.head_weight[std::size_t(o) * D + d] * f[d];
      logits[std::size_t(b) * c.num_classes + o] = acc;
    }
  }
  return logits;
}

}  // namespace

BOOST_AUTO_TEST_CASE(matches_direct_transcription) {
  for (bool cls : {true, false})
    for (int stride : {4, 2}) {
      const auto c = small(cls, stride);
      const auto p = random_vim_model<double>(c, 9 + stride + cls);
      VimModel<double> m(c, p);
      const int batch = 2;
      const auto x = test::randn(std::size_t(batch) * c.img_h * c.img_w * c.in_chans, 77);
      std::vector<double> got(std::size_t(batch) * c.num_classes);
      m.forward(x.data(), batch, got.data());
      BOOST_TEST_CONTEXT("cls " << cls << " stride " << stride << " tokens " << c.tokens()) {
        BOOST_TEST(test::max_rel_diff(got, reference(c, p, m, x, batch)) < 1e-10);
      }
      // float model of the same parameters agrees to float precision
      VimModel<float> mf(c, random_vim_model<float>(c, 9 + stride + cls));
      std::vector<float> xf(x.begin(), x.end()), gf(got.size());
      mf.forward(xf.data(), batch, gf.data());
      BOOST_TEST(test::max_rel_diff(std::vector<double>(gf.begin(), gf.end()), got) < 1e-4);
    }
}

BOOST_AUTO_TEST_CASE(file_round_trip_and_registry) {
  const auto c = small(true, 4);
  VimModel<double> m(c, random_vim_model<double>(c, 3));
  const std::string path = test::temp_dir() + "/vim.safetensors";
  m.save(path);
  const auto back = VimModel<double>::load(path);
  const int batch = 3;
  const auto x = test::randn(std::size_t(batch) * c.img_h * c.img_w * c.in_chans, 5);
  std::vector<double> y1(std::size_t(batch) * c.num_classes), y2(y1.size());
  m.forward(x.data(), batch, y1.data());
  back.forward(x.data(), batch, y2.data());
  BOOST_TEST(y1 == y2);

  const auto model = load_model<double>(path);
  BOOST_TEST(model->info().arch == "vim");
  BOOST_TEST(!model->info().causal);
  const std::vector<std::int64_t> shape{batch, c.img_h, c.img_w, c.in_chans};
  BOOST_TEST((model->output_shape(shape) == std::vector<std::int64_t>{batch, c.num_classes}));
  BOOST_TEST(model->run(x, shape) == y1);
  BOOST_CHECK_THROW(model->output_shape({batch, c.img_h + 1, c.img_w, c.in_chans}), Error);
  BOOST_CHECK_THROW(model->make_streamer(), Error);
  std::vector<double> out(y1.size());
  BOOST_CHECK_THROW(model->forward(x.data(), shape, out.data(), Mode::stream), Error);
  BOOST_TEST(VimModelConfig::from_json(c.to_json()).to_json() == c.to_json());
}

BOOST_AUTO_TEST_CASE(missing_and_leftover_tensors_are_named) {
  const auto c = small(true, 4);
  VimModel<float> m(c, random_vim_model<float>(c, 4));
  const std::string path = test::temp_dir() + "/vim_full.safetensors";
  m.save(path);
  const auto full = io::SafeTensors::load(path);
  auto rewrite = [&](const std::string& drop, bool extra) {
    std::vector<io::TensorOut> t;
    for (const auto& name : full.names()) {
      if (name == drop) continue;
      t.push_back({name, io::DType::F32, full.info(name).shape, full.to_double(name)});
    }
    if (extra) t.push_back({"layers.9.norm.weight", io::DType::F32, {16}, std::vector<double>(16, 1.0)});
    return io::SafeTensors::parse(io::serialize_safetensors(t, full.metadata()));
  };
  for (const char* name : {"layers.1.mixer.A_b_log", "layers.0.mixer.conv1d_b.weight", "cls_token", "pos_embed"}) {
    try {
      VimModel<float>::from_file(rewrite(name, false));
      BOOST_ERROR("no error without " << name);
    } catch (const Error& e) {
      BOOST_TEST(std::string(e.what()).find(name) != std::string::npos, e.what());
    }
  }
  try {
    VimModel<float>::from_file(rewrite("", true));
    BOOST_ERROR("no error for a leftover tensor");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("layers.9.norm.weight") != std::string::npos, e.what());
  }
  VimModelConfig bad = c;
  bad.img_h = 2;  // smaller than a patch
  BOOST_CHECK_THROW(bad.validate("test"), Error);
}

BOOST_AUTO_TEST_CASE(pytorch_exports_match_pytorch_outputs) {
  const std::string dir = test::torch_check_dir();
  if (dir.empty()) {
    BOOST_TEST_MESSAGE("SSM_TORCH_CHECK_DIR not set: no PyTorch Vim export checked");
    return;
  }
  int checked = 0;
  for (const std::string& p : test::files_ending_in(dir, ".vimcheck.safetensors")) {
    const auto chk = io::SafeTensors::load(p);
    const auto m = VimModel<double>::load(std::string(dir) + "/" + chk.meta("model"));
    const auto xs = chk.info("x").shape;  // (B, C, H, W) as PyTorch takes it
    const int batch = int(xs[0]), C = int(xs[1]), H = int(xs[2]), W = int(xs[3]);
    const auto xc = chk.to_double("x"), want = chk.to_double("logits");
    std::vector<double> x(xc.size()), got(want.size());
    for (int b = 0; b < batch; ++b)
      for (int ch = 0; ch < C; ++ch)
        for (int i = 0; i < H; ++i)
          for (int j = 0; j < W; ++j)
            x[((std::size_t(b) * H + i) * W + j) * C + ch] = xc[((std::size_t(b) * C + ch) * H + i) * W + j];
    m.forward(x.data(), batch, got.data());
    BOOST_TEST(test::max_rel_diff(got, want) < 1e-9, p << ": rel err " << test::max_rel_diff(got, want));
    ++checked;
  }
  BOOST_TEST(checked > 0, "no .vimcheck.safetensors files in " << dir);
}
