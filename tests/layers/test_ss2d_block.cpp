// SS2DBlock (VMamba SS2D): the fused cross-scan path against the unfused recipe on random
// weights and shapes (H != W, H = 1, W = 1), float32 and float64; a direct transcription of
// the block for one small shape; reading from a file by the original names; bad input named.
#define BOOST_TEST_MODULE layers_ss2d_block
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "ssm/core/error.hpp"
#include "ssm/io/safetensors.hpp"
#include "ssm/layers/model_file.hpp"
#include "ssm/layers/ss2d_block.hpp"
#include "support/checks.hpp"
#include "support/testing.hpp"

using namespace ssm;

using test::expect_error;

namespace {

SS2DBlockConfig small_config(bool biases) {
  SS2DBlockConfig c;
  c.d_model = 6;
  c.d_inner = 12;
  c.d_state = 4;
  c.d_conv = 3;
  c.dt_rank = 2;
  c.in_proj_bias = c.out_proj_bias = biases;
  c.conv_bias = true;
  return c;
}



template <class T>
void fused_vs_unfused(double tol) {
  const SS2DBlockConfig cfg = small_config(true);
  const SS2DBlock<T> blk(cfg, random_ss2d_block<T>(cfg, 11));
  for (auto [B, H, W] : {std::tuple{2, 5, 7}, {1, 1, 9}, {1, 8, 1}, {3, 4, 4}}) {
    BOOST_TEST_CONTEXT("B=" << B << " H=" << H << " W=" << W) {
      const auto x = test::randn_as<T>(std::size_t(B * H * W * cfg.d_model), 5 + H);
      std::vector<T> yf(x.size()), yu(x.size());
      blk.forward(x.data(), B, H, W, yf.data(), Device::cpu, SS2DPath::fused);
      blk.forward(x.data(), B, H, W, yu.data(), Device::cpu, SS2DPath::unfused);
      BOOST_TEST(test::max_rel_diff(yf, yu) <= tol);
      BOOST_TEST(test::max_abs_diff(yf, std::vector<T>(yf.size(), T(0))) > 1e-3);
    }
  }
}

std::vector<io::TensorOut> tensors_of(const SS2DBlockConfig& c, const SS2DBlockParams<double>& p) {
  const std::int64_t dm = c.d_model, di = c.d_inner, N = c.d_state, K = c.d_conv, R = c.dt_rank;
  std::vector<io::TensorOut> t = {
      {"in_proj.weight", io::DType::F32, {2 * di, dm}, p.in_proj_weight},
      {"conv2d.weight", io::DType::F32, {di, 1, K, K}, p.conv2d_weight},
      {"conv2d.bias", io::DType::F32, {di}, p.conv2d_bias},
      {"x_proj_weight", io::DType::F32, {4, R + 2 * N, di}, p.x_proj_weight},
      {"dt_projs_weight", io::DType::F32, {4, di, R}, p.dt_projs_weight},
      {"dt_projs_bias", io::DType::F32, {4, di}, p.dt_projs_bias},
      {"A_logs", io::DType::F32, {4 * di, N}, p.A_logs},
      {"Ds", io::DType::F32, {4 * di}, p.Ds},
      {"out_norm.weight", io::DType::F32, {di}, p.out_norm_weight},
      {"out_norm.bias", io::DType::F32, {di}, p.out_norm_bias},
      {"out_proj.weight", io::DType::F32, {dm, di}, p.out_proj_weight},
  };
  return t;
}

io::SafeTensors image(const std::vector<io::TensorOut>& t) {
  return io::SafeTensors::parse(io::serialize_safetensors(t, {}));
}

}  // namespace

BOOST_AUTO_TEST_CASE(fused_equals_unfused_f32) { fused_vs_unfused<float>(1e-4); }
BOOST_AUTO_TEST_CASE(fused_equals_unfused_f64) { fused_vs_unfused<double>(1e-11); }

BOOST_AUTO_TEST_CASE(matches_direct_transcription) {
  // The block written out directly (four explicit direction sequences, per-direction x_proj /
  // dt_proj, scan, merge, LayerNorm, gate, out_proj), float64, B = 1, H = 3, W = 4.
  const SS2DBlockConfig c = small_config(false);
  const auto p = random_ss2d_block<double>(c, 3);
  const SS2DBlock<double> blk(c, p);
  const int H = 3, W = 4, L = H * W, dm = c.d_model, di = c.d_inner, N = c.d_state, R = c.dt_rank, K = 3;
  const auto x = test::randn_as<double>(std::size_t(L * dm), 9);
  std::vector<double> y(x.size());
  blk.forward(x.data(), 1, H, W, y.data());

  std::vector<double> xz(std::size_t(L * 2 * di));
  for (int q = 0; q < L; ++q)
    for (int o = 0; o < 2 * di; ++o) {
      double s = 0;
      for (int i = 0; i < dm; ++i) s += x[q * dm + i] * p.in_proj_weight[o * dm + i];
      xz[q * 2 * di + o] = s;
    }
  std::vector<double> xc(std::size_t(di * L));  // (di, H, W)
  for (int ch = 0; ch < di; ++ch)
    for (int h = 0; h < H; ++h)
      for (int w = 0; w < W; ++w) {
        double s = p.conv2d_bias[ch];
        for (int i = 0; i < K; ++i)
          for (int j = 0; j < K; ++j) {
            const int hh = h + i - 1, ww = w + j - 1;
            if (hh >= 0 && hh < H && ww >= 0 && ww < W)
              s += p.conv2d_weight[(ch * K + i) * K + j] * xz[(hh * W + ww) * 2 * di + ch];
          }
        xc[ch * L + h * W + w] = s / (1 + std::exp(-s));
      }
  std::vector<double> merged(std::size_t(L * di), 0.0);  // (L, di)
  for (int k = 0; k < 4; ++k) {
    // x_k[c][l]: direction k's sequence
    std::vector<int> pos(L);
    for (int l = 0; l < L; ++l) {
      const int s = k >= 2 ? L - 1 - l : l;
      pos[l] = (k & 1) ? (s % H) * W + s / H : s;
    }
    for (int ch = 0; ch < di; ++ch) {
      std::vector<double> h(N, 0.0);
      const int j = k * di + ch;
      for (int l = 0; l < L; ++l) {
        std::vector<double> xd(R + 2 * N, 0.0);
        for (int r = 0; r < R + 2 * N; ++r)
          for (int i = 0; i < di; ++i) xd[r] += p.x_proj_weight[(k * (R + 2 * N) + r) * di + i] * xc[i * L + pos[l]];
        double dt = p.dt_projs_bias[j];
        for (int r = 0; r < R; ++r) dt += p.dt_projs_weight[(k * di + ch) * R + r] * xd[r];
        dt = std::log1p(std::exp(dt));
        const double u = xc[ch * L + pos[l]];
        double yy = p.Ds[j] * u;
        for (int n = 0; n < N; ++n) {
          h[n] = std::exp(-dt * std::exp(p.A_logs[j * N + n])) * h[n] + dt * xd[R + n] * u;
          yy += xd[R + N + n] * h[n];
        }
        merged[pos[l] * di + ch] += yy;
      }
    }
  }
  std::vector<double> ref(std::size_t(L * dm));
  for (int q = 0; q < L; ++q) {
    double mean = 0, var = 0;
    for (int ch = 0; ch < di; ++ch) mean += merged[q * di + ch] / di;
    for (int ch = 0; ch < di; ++ch) var += (merged[q * di + ch] - mean) * (merged[q * di + ch] - mean) / di;
    std::vector<double> g(di);
    for (int ch = 0; ch < di; ++ch) {
      const double z = xz[q * 2 * di + di + ch];
      g[ch] = ((merged[q * di + ch] - mean) / std::sqrt(var + 1e-5) * p.out_norm_weight[ch] + p.out_norm_bias[ch]) *
              (z / (1 + std::exp(-z)));
    }
    for (int o = 0; o < dm; ++o) {
      double s = 0;
      for (int ch = 0; ch < di; ++ch) s += g[ch] * p.out_proj_weight[o * di + ch];
      ref[q * dm + o] = s;
    }
  }
  BOOST_TEST(test::max_rel_diff(y, ref) <= 1e-11);
}

BOOST_AUTO_TEST_CASE(reads_original_names_and_infers_config) {
  const SS2DBlockConfig c = small_config(false);
  const auto p = random_ss2d_block<double>(c, 4);
  const auto st = image(tensors_of(c, p));
  const SS2DBlockConfig got = infer_ss2d_block_config(st);
  BOOST_TEST(got.d_model == c.d_model);
  BOOST_TEST(got.d_inner == c.d_inner);
  BOOST_TEST(got.d_state == c.d_state);
  BOOST_TEST(got.d_conv == c.d_conv);
  BOOST_TEST(got.dt_rank == c.dt_rank);
  BOOST_TEST(!got.in_proj_bias);
  BOOST_TEST(!got.out_proj_bias);
  TensorReader r(st, "test");
  const SS2DBlock<float> blk(got, read_ss2d_block<float>(r, "", got));
  r.finish();
  BOOST_TEST(blk.params().A_logs.size() == p.A_logs.size());
}

BOOST_AUTO_TEST_CASE(bad_input_is_named) {
  const SS2DBlockConfig c = small_config(false);
  const auto p = random_ss2d_block<double>(c, 4);
  const SS2DBlock<double> blk(c, p);
  std::vector<double> x(6 * 4 * 4), y(x.size());
  // H W = 0
  expect_error([&] { blk.forward(x.data(), 1, 0, 4, y.data()); }, {"'height'"});
  expect_error([&] { blk.forward(x.data(), 1, 4, 0, y.data()); }, {"'width'"});
  expect_error([&] { blk.forward(x.data(), 0, 4, 4, y.data()); }, {"'batch'"});
  expect_error([&] { blk.forward(x.data(), 1, 2, 2, x.data()); }, {"'y'", "overlap"});
  // The scan weights become resident on a GPU only on cuda use (tests/layers/test_ss2d_cuda.cpp);
  // without one, to_device() names the device and nothing is resident.
  BOOST_TEST(blk.resident_devices() == 0);
  if (!cuda_available()) expect_error([&] { blk.to_device(); }, {"SS2DBlock", "'device'"});
  // d_inner not matching the weights
  {
    auto t = tensors_of(c, p);
    t[3].shape = {4, c.dt_rank + 2 * c.d_state, c.d_inner + 1};
    t[3].values.resize(std::size_t(4 * (c.dt_rank + 2 * c.d_state) * (c.d_inner + 1)), 0.0);
    const auto st = image(t);
    expect_error([&] { infer_ss2d_block_config(st); }, {"'x_proj_weight'", "d_inner = 12"});
  }
  {
    auto t = tensors_of(c, p);
    t[6].shape = {4 * c.d_inner + 4, c.d_state};
    t[6].values.resize(std::size_t((4 * c.d_inner + 4) * c.d_state), 0.0);
    expect_error([&] { infer_ss2d_block_config(image(t)); }, {"'A_logs'", "4 d_inner = 48"});
  }
  {
    auto params = p;
    params.Ds.pop_back();
    expect_error([&] { SS2DBlock<double>(c, params); }, {"'Ds'", "48"});
  }
  // even conv size
  {
    auto t = tensors_of(c, p);
    t[1].shape = {c.d_inner, 1, 2, 2};
    t[1].values.resize(std::size_t(c.d_inner * 4), 0.1);
    expect_error([&] { infer_ss2d_block_config(image(t)); }, {"'conv2d.weight'", "odd"});
    auto c2 = c;
    c2.d_conv = 4;
    expect_error([&] { random_ss2d_block<double>(c2, 1); }, {"'d_conv'", "odd"});
  }
  // missing tensor
  {
    auto t = tensors_of(c, p);
    t.erase(t.begin() + 7);  // Ds
    const auto st = image(t);
    const auto cfg = infer_ss2d_block_config(st);
    TensorReader r(st, "test");
    expect_error([&] { read_ss2d_block<double>(r, "", cfg); }, {"'Ds'"});
    t.erase(t.begin() + 1);  // conv2d.weight
    expect_error([&] { infer_ss2d_block_config(image(t)); }, {"conv2d.weight"});
  }
  // non-finite weight
  {
    auto params = p;
    params.A_logs[3] = NAN;
    expect_error([&] { SS2DBlock<double>(c, params); }, {"'A_logs'", "finite"});
  }
}
