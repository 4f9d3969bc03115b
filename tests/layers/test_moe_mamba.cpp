// MoEMambaLayer: scan and step agree (outputs and states), prefill + steps equals one scan, the
// layer equals its recipe written out from MambaBlock and MoEFFN, step is real-time safe.
#define BOOST_TEST_MODULE layers_moe_mamba
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>

#include "ssm/core/error.hpp"
#include "ssm/layers/moe_mamba.hpp"
#include "support/rt_guard.hpp"
#include "support/testing.hpp"

using namespace ssm;

namespace {

MoEMambaLayerConfig config(int k, bool biases) {
  MoEMambaLayerConfig c;
  c.mixer.d_model = 16;
  c.mixer.d_inner = 32;
  c.mixer.d_state = 8;
  c.mixer.d_conv = 4;
  c.mixer.dt_rank = 2;
  c.mixer.in_proj_bias = c.mixer.out_proj_bias = biases;
  c.moe.d_model = 16;
  c.moe.d_ff = 24;
  c.moe.n_experts = 4;
  c.moe.top_k = k;
  c.moe.activation = Activation::silu;
  c.moe.router_bias = c.moe.fc1_bias = c.moe.fc2_bias = biases;
  c.norm_eps = 1e-5;
  return c;
}

template <class T>
std::vector<T> run_steps(const MoEMambaLayer<T>& l, const std::vector<T>& x, int batch, int L,
                         MoEMambaLayerState<T>& s) {
  const std::size_t dm = l.config().mixer.d_model;
  std::vector<T> y(x.size()), xt(batch * dm), yt(batch * dm);
  for (int t = 0; t < L; ++t) {
    for (int b = 0; b < batch; ++b) std::copy_n(&x[(std::size_t(b) * L + t) * dm], dm, &xt[b * dm]);
    l.step(xt.data(), yt.data(), s);
    for (int b = 0; b < batch; ++b) std::copy_n(&yt[b * dm], dm, &y[(std::size_t(b) * L + t) * dm]);
  }
  return y;
}


void rms(const double* x, std::size_t rows, std::size_t n, const std::vector<double>& w, double eps, double* y) {
  for (std::size_t r = 0; r < rows; ++r) {
    double ss = 0;
    for (std::size_t i = 0; i < n; ++i) ss += x[r * n + i] * x[r * n + i];
    const double s = 1 / std::sqrt(ss / double(n) + eps);
    for (std::size_t i = 0; i < n; ++i) y[r * n + i] = x[r * n + i] * s * w[i];
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(scan_step_and_recipe_agree) {
  for (int k : {1, 2}) {
    const auto cfg = config(k, k == 2);
    auto p = random_moe_mamba_layer<double>(cfg, 21);
    for (std::size_t i = 0; i < p.norm_weight.size(); ++i) {  // non-trivial norm weights
      p.norm_weight[i] = 0.5 + 0.05 * double(i);
      p.moe_norm_weight[i] = 1.5 - 0.05 * double(i);
    }
    MoEMambaLayer<double> layer(cfg, p);
    const int batch = 2, L = 29;
    const std::size_t dm = 16, M = std::size_t(batch) * L;
    const auto x = test::randn(M * dm, 3);
    std::vector<double> y_scan(x.size());
    std::vector<std::int64_t> idx(M * k);
    auto s_scan = layer.make_state(batch);
    layer.forward(x.data(), batch, L, y_scan.data(), &s_scan, Device::cpu, idx.data());
    auto s_step = layer.make_state(batch);
    const auto y_step = run_steps(layer, x, batch, L, s_step);
    BOOST_TEST(test::max_rel_diff(y_step, y_scan) < 1e-12);
    BOOST_TEST(test::max_rel_diff(s_step.conv(), s_scan.conv()) < 1e-13);
    BOOST_TEST(test::max_rel_diff(s_step.ssm(), s_scan.ssm()) < 1e-12);

    // the recipe written out from the parts
    std::vector<double> xn(x.size()), m(x.size()), h(x.size()), y(x.size());
    rms(x.data(), M, dm, p.norm_weight, cfg.norm_eps, xn.data());
    layer.mixer().forward(xn.data(), batch, L, m.data());
    for (std::size_t i = 0; i < x.size(); ++i) h[i] = x[i] + m[i];
    rms(h.data(), M, dm, p.moe_norm_weight, cfg.norm_eps, xn.data());
    std::vector<std::int64_t> idx2(idx.size());
    layer.moe().forward(xn.data(), std::ptrdiff_t(M), m.data(), idx2.data());
    for (std::size_t i = 0; i < x.size(); ++i) y[i] = h[i] + m[i];
    BOOST_TEST(test::max_rel_diff(y_scan, y) < 1e-13);
    BOOST_TEST(idx == idx2);
    // the MoE matters: y differs from h by more than rounding
    BOOST_TEST(test::max_rel_diff(h, y) > 1e-3);

    // float32 of the same layer against the float64 result
    MoEMambaLayerParams<float> pf;
    auto cv = [](const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); };
    pf.norm_weight = cv(p.norm_weight);
    pf.moe_norm_weight = cv(p.moe_norm_weight);
    const auto& b = p.mixer;
    pf.mixer = {cv(b.in_proj_weight), cv(b.in_proj_bias), cv(b.conv1d_weight), cv(b.conv1d_bias),
                cv(b.x_proj_weight),  cv(b.dt_proj_weight), cv(b.dt_proj_bias), cv(b.A_log),
                cv(b.D),              cv(b.out_proj_weight), cv(b.out_proj_bias)};
    pf.moe.router_weight = cv(p.moe.router_weight);
    pf.moe.router_bias = cv(p.moe.router_bias);
    for (const auto& e : p.moe.experts)
      pf.moe.experts.push_back({cv(e.fc1_weight), cv(e.fc1_bias), cv(e.fc2_weight), cv(e.fc2_bias)});
    MoEMambaLayer<float> lf(cfg, pf);
    const auto xf = cv(x);
    std::vector<float> yf(xf.size());
    auto sf = lf.make_state(batch);
    lf.forward(xf.data(), batch, L, yf.data(), &sf);
    auto sf2 = lf.make_state(batch);
    const auto yf2 = run_steps(lf, xf, batch, L, sf2);
    BOOST_TEST(test::max_rel_diff(std::vector<double>(yf.begin(), yf.end()), y_scan) < 1e-4);
    BOOST_TEST(test::max_rel_diff(std::vector<double>(yf2.begin(), yf2.end()), y_scan) < 1e-4);
  }
}

BOOST_AUTO_TEST_CASE(prefill_then_steps_equals_one_scan) {
  const auto cfg = config(2, true);
  MoEMambaLayer<double> layer(cfg, random_moe_mamba_layer<double>(cfg, 8));
  const int batch = 2, L = 23, split = 7;
  const std::size_t dm = 16;
  const auto x = test::randn(std::size_t(batch) * L * dm, 9);
  std::vector<double> y_ref(x.size());
  auto s_ref = layer.make_state(batch);
  layer.forward(x.data(), batch, L, y_ref.data(), &s_ref);
  std::vector<double> x1(batch * split * dm), y1(x1.size()), x2(batch * (L - split) * dm);
  for (int b = 0; b < batch; ++b) {
    std::copy_n(&x[b * L * dm], split * dm, &x1[b * split * dm]);
    std::copy_n(&x[(b * L + split) * dm], (L - split) * dm, &x2[b * (L - split) * dm]);
  }
  auto s = layer.make_state(batch);
  layer.forward(x1.data(), batch, split, y1.data(), &s);
  const auto y2 = run_steps(layer, x2, batch, L - split, s);
  double err = 0;
  for (int b = 0; b < batch; ++b)
    for (std::size_t i = 0; i < (L - split) * dm; ++i)
      err = std::max(err, std::fabs(y2[b * (L - split) * dm + i] - y_ref[(b * L + split) * dm + i]));
  BOOST_TEST(err < 1e-12);
  BOOST_TEST(test::max_rel_diff(s.ssm(), s_ref.ssm()) < 1e-12);
  BOOST_TEST(test::max_rel_diff(s.conv(), s_ref.conv()) < 1e-14);
}

BOOST_AUTO_TEST_CASE(step_is_real_time_safe_and_reset_restarts) {
  const auto cfg = config(2, true);
  MoEMambaLayer<float> layer(cfg, random_moe_mamba_layer<float>(cfg, 4));
  auto s = layer.make_state(3);
  const auto x = test::randn_f(3 * 16, 1);
  std::vector<float> y1(x.size()), y2(x.size()), y3(x);
  layer.step(x.data(), y1.data(), s);  // warm
  s.reset();
  {
    test::RtGuard g;
    layer.step(x.data(), y1.data(), s);
    for (int i = 0; i < 20; ++i) layer.step(x.data(), y2.data(), s);
    s.reset();
    layer.step(y3.data(), y3.data(), s);  // in place, after reset
    const auto v = g.stop();
    BOOST_TEST(v.allocations == 0u);
    BOOST_TEST(v.locks == 0u);
    BOOST_TEST(v.throws == 0u);
    BOOST_TEST(v.clean());
  }
  BOOST_TEST(test::max_abs_diff(y1, y3) == 0.0);
  BOOST_TEST(test::max_abs_diff(y1, y2) > 0.0);  // the state carries the past
}

BOOST_AUTO_TEST_CASE(step_tokens_in_blocks_equals_steps_and_is_real_time_safe) {
  const auto cfg = config(2, true);
  MoEMambaLayer<float> layer(cfg, random_moe_mamba_layer<float>(cfg, 6));
  const int L = 29, dm = 16;
  const auto x = test::randn_f(std::size_t(L) * dm, 3);
  auto s_ref = layer.make_state(1);
  std::vector<float> y_ref(x.size()), y(x);
  for (int t = 0; t < L; ++t) layer.step(x.data() + t * dm, y_ref.data() + t * dm, s_ref);
  auto s = layer.make_state(1, 8);
  layer.step_tokens(x.data(), 2, y.data(), s);  // warm
  s.reset();
  y = x;
  test::RtGuard g;
  int t = 0;
  for (int n : {1, 8, 3, 17}) {  // 17 > max_tokens: three blocks; in place
    layer.step_tokens(y.data() + t * dm, n, y.data() + t * dm, s);
    t += n;
  }
  const auto v = g.stop();
  BOOST_TEST(t == L);
  BOOST_TEST(v.clean());
  BOOST_TEST((y == y_ref));  // bit for bit, whatever the blocks
}

BOOST_AUTO_TEST_CASE(invalid_configurations_throw) {
  auto cfg = config(1, false);
  cfg.moe.d_model = 8;
  BOOST_CHECK_THROW(cfg.validate("t"), Error);
  cfg = config(1, false);
  cfg.norm_eps = 0;
  BOOST_CHECK_THROW(cfg.validate("t"), Error);
  cfg = config(1, false);
  auto p = random_moe_mamba_layer<float>(cfg, 1);
  p.moe_norm_weight.pop_back();
  try {
    MoEMambaLayer<float> l(cfg, p);
    BOOST_FAIL("no throw");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("moe_norm.weight") != std::string::npos);
  }
  MoEMambaLayer<float> ok(cfg, random_moe_mamba_layer<float>(cfg, 1));
  std::vector<float> x(2 * 5 * 16), y(x.size());
  auto s3 = ok.make_state(3);
  BOOST_CHECK_THROW(ok.forward(x.data(), 2, 5, y.data(), &s3), Error);
  BOOST_CHECK_THROW(ok.forward(x.data(), 2, 5, x.data()), Error);
  BOOST_CHECK_THROW(ok.make_state(0), Error);
}
