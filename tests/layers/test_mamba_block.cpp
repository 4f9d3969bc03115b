#define BOOST_TEST_MODULE layers_mamba_block
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>

#include "ssm/core/error.hpp"
#include "ssm/layers/mamba_block.hpp"
#include "support/rt_guard.hpp"
#include "support/testing.hpp"

using namespace ssm;

namespace {

MambaBlockConfig config(bool biases) {
  MambaBlockConfig c;
  c.d_model = 24;
  c.d_inner = 48;
  c.d_state = 8;
  c.d_conv = 4;
  c.dt_rank = 3;
  c.in_proj_bias = biases;
  c.out_proj_bias = biases;
  c.conv_bias = true;
  return c;
}


// Runs x (batch, L, d_model) token by token through step() from `state`.
template <class T>
std::vector<T> run_steps(const MambaBlock<T>& blk, const std::vector<T>& x, int batch, int L,
                         MambaBlockState<T>& state) {
  const std::size_t dm = blk.config().d_model;
  std::vector<T> y(x.size()), xt(batch * dm), yt(batch * dm);
  for (int t = 0; t < L; ++t) {
    for (int b = 0; b < batch; ++b) std::copy_n(&x[(std::size_t(b) * L + t) * dm], dm, &xt[b * dm]);
    blk.step(xt.data(), yt.data(), state);
    for (int b = 0; b < batch; ++b) std::copy_n(&yt[b * dm], dm, &y[(std::size_t(b) * L + t) * dm]);
  }
  return y;
}

template <class T>
std::vector<double> dbl(const std::vector<T>& v) { return {v.begin(), v.end()}; }

std::vector<float> to_float(const std::vector<double>& v) { return {v.begin(), v.end()}; }
// The same block rounded to float32.
MambaBlockParams<float> to_float(const MambaBlockParams<double>& p) {
  MambaBlockParams<float> f;
  f.in_proj_weight = to_float(p.in_proj_weight), f.in_proj_bias = to_float(p.in_proj_bias);
  f.conv1d_weight = to_float(p.conv1d_weight), f.conv1d_bias = to_float(p.conv1d_bias);
  f.x_proj_weight = to_float(p.x_proj_weight), f.dt_proj_weight = to_float(p.dt_proj_weight);
  f.dt_proj_bias = to_float(p.dt_proj_bias), f.A_log = to_float(p.A_log), f.D = to_float(p.D);
  f.out_proj_weight = to_float(p.out_proj_weight), f.out_proj_bias = to_float(p.out_proj_bias);
  return f;
}

}  // namespace

BOOST_AUTO_TEST_CASE(step_equals_scan_f64_and_f32) {
  for (bool biases : {false, true}) {
    const auto cfg = config(biases);
    const int batch = 3, L = 41;
    const auto pd = random_mamba_block<double>(cfg, 7);
    MambaBlock<double> bd(cfg, pd);
    const auto x = test::randn_as<double>(std::size_t(batch) * L * cfg.d_model, 11);
    std::vector<double> y_scan(x.size());
    auto s_scan = bd.make_state(batch);
    bd.forward(x.data(), batch, L, y_scan.data(), &s_scan);
    auto s_step = bd.make_state(batch);
    const auto y_step = run_steps(bd, x, batch, L, s_step);
    BOOST_TEST(test::max_rel_diff(y_step, y_scan) < 1e-12);
    BOOST_TEST(test::max_rel_diff(s_step.conv(), s_scan.conv()) < 1e-13);
    BOOST_TEST(test::max_rel_diff(s_step.ssm(), s_scan.ssm()) < 1e-12);
    // the output is not trivially zero and depends on the input
    BOOST_TEST(*std::max_element(y_scan.begin(), y_scan.end()) > 1e-3);

    // float32: same model rounded, compared with the float64 result
    MambaBlock<float> bf(cfg, to_float(pd));
    const auto xf = to_float(x);
    std::vector<float> yf(xf.size());
    auto sf = bf.make_state(batch);
    bf.forward(xf.data(), batch, L, yf.data(), &sf);
    BOOST_TEST(test::max_rel_diff(dbl(yf), y_scan) < 1e-4);
    auto sf2 = bf.make_state(batch);
    const auto yf_step = run_steps(bf, xf, batch, L, sf2);
    BOOST_TEST(test::max_rel_diff(dbl(yf_step), y_scan) < 1e-4);
    BOOST_TEST(test::max_rel_diff(dbl(sf2.ssm()), s_scan.ssm()) < 1e-4);
  }
}

BOOST_AUTO_TEST_CASE(prefill_then_steps_and_chunked_scans_equal_one_scan) {
  const auto cfg = config(true);
  const int batch = 2, L = 37;
  MambaBlock<double> blk(cfg, random_mamba_block<double>(cfg, 3));
  const std::size_t dm = cfg.d_model;
  const auto x = test::randn_as<double>(std::size_t(batch) * L * dm, 5);
  std::vector<double> y_ref(x.size());
  auto s_ref = blk.make_state(batch);
  blk.forward(x.data(), batch, L, y_ref.data(), &s_ref);

  // chunk boundaries include chunks shorter than d_conv (the conv state crosses them)
  for (int split : {1, 2, 3, 10, 36}) {
    // prefill `split` tokens with the scan, then step the rest
    std::vector<double> x1(batch * split * dm), y1(x1.size());
    std::vector<double> x2(batch * (L - split) * dm);
    for (int b = 0; b < batch; ++b) {
      std::copy_n(&x[b * L * dm], split * dm, &x1[b * split * dm]);
      std::copy_n(&x[(b * L + split) * dm], (L - split) * dm, &x2[b * (L - split) * dm]);
    }
    auto s = blk.make_state(batch);
    blk.forward(x1.data(), batch, split, y1.data(), &s);
    auto s_chunks = s;  // for the chunked-scan variant
    const auto y2 = run_steps(blk, x2, batch, L - split, s);
    std::vector<double> y2c(x2.size());
    blk.forward(x2.data(), batch, L - split, y2c.data(), &s_chunks);
    std::vector<double> y(x.size()), yc(x.size());
    for (int b = 0; b < batch; ++b) {
      std::copy_n(&y1[b * split * dm], split * dm, &y[b * L * dm]);
      std::copy_n(&y2[b * (L - split) * dm], (L - split) * dm, &y[(b * L + split) * dm]);
      std::copy_n(&y1[b * split * dm], split * dm, &yc[b * L * dm]);
      std::copy_n(&y2c[b * (L - split) * dm], (L - split) * dm, &yc[(b * L + split) * dm]);
    }
    BOOST_TEST(test::max_rel_diff(y, y_ref) < 1e-12, "split " << split);
    BOOST_TEST(test::max_rel_diff(yc, y_ref) < 1e-12, "split " << split);
    BOOST_TEST(test::max_rel_diff(s.ssm(), s_ref.ssm()) < 1e-12);
    BOOST_TEST(test::max_rel_diff(s.conv(), s_ref.conv()) < 1e-14);
    BOOST_TEST(test::max_rel_diff(s_chunks.ssm(), s_ref.ssm()) < 1e-12);
    BOOST_TEST(test::max_rel_diff(s_chunks.conv(), s_ref.conv()) < 1e-14);
  }
}

BOOST_AUTO_TEST_CASE(step_is_real_time_safe_and_reset_restarts) {
  const auto cfg = config(true);
  MambaBlock<float> blk(cfg, random_mamba_block<float>(cfg, 9));
  auto s = blk.make_state(2);
  const auto x = test::randn_as<float>(2 * cfg.d_model, 1);
  std::vector<float> y1(x.size()), y2(x.size());
  blk.step(x.data(), y1.data(), s);  // warm
  s.reset();
  {
    test::RtGuard g;
    blk.step(x.data(), y1.data(), s);
    for (int i = 0; i < 20; ++i) blk.step(x.data(), y2.data(), s);
    s.reset();
    blk.step(x.data(), y2.data(), s);
    const auto v = g.stop();
    BOOST_TEST(v.allocations == 0u);
    BOOST_TEST(v.locks == 0u);
    BOOST_TEST(v.throws == 0u);
    BOOST_TEST(v.clean());
  }
  BOOST_TEST(test::max_abs_diff(y1, y2) == 0.0);  // reset gives back the fresh-state output
}

BOOST_AUTO_TEST_CASE(step_tokens_equals_steps_in_blocks_and_is_real_time_safe) {
  // Blocks of tokens (the projections as one product per block, blocks shorter than d_conv,
  // calls longer than max_tokens) give the outputs and states of token-by-token step() calls
  // bit for bit, float (vector kernels) and double; no allocation, lock or throw.
  const auto cfg = config(true);
  const int L = 53, dm = cfg.d_model;
  auto check = [&](auto tag) {
    using T = decltype(tag);
    MambaBlock<T> blk(cfg, random_mamba_block<T>(cfg, 21));
    const auto x = test::randn_as<T>(std::size_t(L) * dm, 4);
    auto s_ref = blk.make_state(1);
    const auto y_ref = run_steps(blk, x, 1, L, s_ref);
    auto s = blk.make_state(1, 16);
    BOOST_TEST(s.max_tokens() == 16);
    std::vector<T> y(x.size());
    blk.step_tokens(x.data(), 3, y.data(), s);  // warm
    s.reset();
    test::RtGuard g;
    int t = 0;
    for (int n : {1, 2, 16, 3, 20, 11}) {  // 20 > max_tokens: two blocks
      blk.step_tokens(x.data() + t * dm, n, y.data() + t * dm, s);
      t += n;
    }
    const auto v = g.stop();
    BOOST_TEST(t == L);
    BOOST_TEST(v.clean());
    BOOST_TEST((y == y_ref));
    BOOST_TEST((s.ssm() == s_ref.ssm()));
    BOOST_TEST((s.conv() == s_ref.conv()));
    // in place (x and y alias), batch 2 (token-major (n, batch, d_model): per-token steps)
    auto s2 = blk.make_state(2, 4);
    auto s2_ref = blk.make_state(2);
    std::vector<T> x2(std::size_t(6) * 2 * dm), y2_ref(x2.size());
    for (std::size_t i = 0; i < x2.size(); ++i) x2[i] = x[i];
    for (int k = 0; k < 6; ++k) blk.step(x2.data() + k * 2 * dm, y2_ref.data() + k * 2 * dm, s2_ref);
    blk.step_tokens(x2.data(), 6, x2.data(), s2);
    BOOST_TEST((x2 == y2_ref));
  };
  check(float{});
  check(double{});
}

BOOST_AUTO_TEST_CASE(float_stream_kernels_at_odd_sizes) {
  // Sizes that are no multiple of any vector length (partial vectors in every kernel: the
  // panels of the linear maps, the conv, the three passes of the fused scan), an odd state
  // count, d_conv 1 (no history) to 4: float step_tokens in uneven blocks equals float steps bit
  // for bit, and both follow the float64 scan; the states read back through the transposes.
  for (int K : {1, 2, 4}) {
    MambaBlockConfig cfg;
    cfg.d_model = 13;
    cfg.d_inner = 37;
    cfg.d_state = 5;
    cfg.d_conv = K;
    cfg.dt_rank = 3;
    cfg.in_proj_bias = cfg.out_proj_bias = true;
    const int L = 29;
    const auto pd = random_mamba_block<double>(cfg, 40 + std::uint64_t(K));
    MambaBlock<double> bd(cfg, pd);
    const auto x = test::randn_as<double>(std::size_t(L) * cfg.d_model, 12);
    std::vector<double> y_scan(x.size());
    auto s_scan = bd.make_state(1);
    bd.forward(x.data(), 1, L, y_scan.data(), &s_scan);
    MambaBlock<float> bf(cfg, to_float(pd));
    const auto xf = to_float(x);
    auto s1 = bf.make_state(1);
    const auto y1 = run_steps(bf, xf, 1, L, s1);
    auto sb = bf.make_state(1, 8);
    std::vector<float> yb(xf.size());
    int t = 0;
    for (int n : {2, 1, 8, 5, 13}) {  // 13 > max_tokens: two blocks
      bf.step_tokens(xf.data() + t * cfg.d_model, n, yb.data() + t * cfg.d_model, sb);
      t += n;
    }
    BOOST_TEST(t == L);
    BOOST_TEST((yb == y1), "d_conv " << K);
    BOOST_TEST((sb.conv() == s1.conv()));
    BOOST_TEST((sb.ssm() == s1.ssm()));
    BOOST_TEST(test::max_rel_diff(dbl(y1), y_scan) < 1e-4, "d_conv " << K);
    BOOST_TEST(test::max_rel_diff(dbl(s1.conv()), s_scan.conv()) < 1e-5);
    BOOST_TEST(test::max_rel_diff(dbl(s1.ssm()), s_scan.ssm()) < 1e-4);
    // a state written through the public layouts is what the next step continues from
    auto sw = bf.make_state(1, 8);
    std::copy(s1.conv().begin(), s1.conv().end(), sw.conv().begin());
    std::copy(s1.ssm().begin(), s1.ssm().end(), sw.ssm().begin());
    std::vector<float> ya(cfg.d_model), yc(cfg.d_model);
    bf.step(xf.data(), ya.data(), s1);
    bf.step_tokens(xf.data(), 1, yc.data(), sw);
    BOOST_TEST((ya == yc));
  }
}

BOOST_AUTO_TEST_CASE(invalid_arguments_throw) {
  auto cfg = config(false);
  auto p = random_mamba_block<float>(cfg, 1);
  p.A_log.pop_back();
  BOOST_CHECK_THROW(MambaBlock<float>(cfg, p), Error);
  try {
    MambaBlock<float> b(cfg, p);
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("A_log") != std::string::npos);
  }
  auto q = random_mamba_block<float>(cfg, 1);
  q.D[3] = NAN;
  BOOST_CHECK_THROW(MambaBlock<float>(cfg, q), Error);
  MambaBlock<float> ok(cfg, random_mamba_block<float>(cfg, 1));
  std::vector<float> x(2 * 5 * cfg.d_model), y(x.size());
  auto s3 = ok.make_state(3);
  BOOST_CHECK_THROW(ok.forward(x.data(), 2, 5, y.data(), &s3), Error);  // state for another batch
  BOOST_CHECK_THROW(ok.forward(x.data(), 2, 0, y.data()), Error);
  BOOST_CHECK_THROW(ok.forward(x.data(), 2, 5, x.data()), Error);  // in place
  BOOST_CHECK_THROW(ok.make_state(0), Error);
  cfg.dt_rank = 0;
  BOOST_CHECK_THROW(random_mamba_block<float>(cfg, 1), Error);
}
