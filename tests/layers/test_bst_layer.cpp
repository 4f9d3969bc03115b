#define BOOST_TEST_MODULE layers_bst_layer
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstring>
#include <random>

#include "ssm/core/error.hpp"
#include "ssm/layers/bst_layer.hpp"
#include "support/rt_guard.hpp"
#include "support/checks.hpp"
#include "support/testing.hpp"

using namespace ssm;

namespace {

BSTLayerConfig config(int W, int S, int heads, int d = 12, int N2 = 3, int dff = 20) {
  BSTLayerConfig c;
  c.d_model = d;
  c.modes = N2;
  c.d_ff = dff;
  c.block_size = W;
  c.context = S;
  c.n_heads = heads;
  return c;
}


// Direct float64 reference of FORMAT.md bst_layer, written independently of the library:
// the S4D context by the complex recurrence, attention by explicit loops over the mask.
struct Ref {
  std::vector<double> y, c;
};
Ref reference(const BSTLayerConfig& cfg, const BSTLayerParams<double>& p, const std::vector<double>& x, int B,
              int L) {
  const int d = cfg.d_model, N2 = cfg.modes, F = cfg.d_ff, W = cfg.block_size, S = cfg.context;
  const int H = cfg.n_heads, dh = d / H;
  auto ln = [&](const double* in, const std::vector<double>& g, const std::vector<double>& b, double* out) {
    double m = 0, v = 0;
    for (int i = 0; i < d; ++i) m += in[i];
    m /= d;
    for (int i = 0; i < d; ++i) v += (in[i] - m) * (in[i] - m);
    v /= d;
    for (int i = 0; i < d; ++i) out[i] = (in[i] - m) / std::sqrt(v + cfg.norm_eps) * g[i] + b[i];
  };
  auto lin = [](const double* in, int nin, const std::vector<double>& w, const std::vector<double>& b, int nout,
                double* out) {
    for (int o = 0; o < nout; ++o) {
      double a = b.empty() ? 0.0 : b[o];
      for (int i = 0; i < nin; ++i) a += w[std::size_t(o) * nin + i] * in[i];
      out[o] = a;
    }
  };
  Ref r;
  r.y.assign(x.size(), 0);
  r.c.assign(x.size(), 0);
  std::vector<double> xn(x.size());
  for (int b = 0; b < B; ++b) {
    const std::size_t off = std::size_t(b) * L * d;
    for (int t = 0; t < L; ++t) ln(&x[off + t * d], p.norm1_weight, p.norm1_bias, &xn[off + t * d]);
    for (int ch = 0; ch < d; ++ch) {
      const double dt = std::exp(p.log_dt[ch]);
      std::vector<std::complex<double>> h(N2);
      for (int t = 0; t < L; ++t) {
        const double u = xn[off + t * d + ch];
        double acc = 0;
        for (int n = 0; n < N2; ++n) {
          const std::complex<double> A(-std::exp(p.log_A_real[ch * N2 + n]), p.A_imag[ch * N2 + n]);
          const std::complex<double> C(p.C[2 * (ch * N2 + n)], p.C[2 * (ch * N2 + n) + 1]);
          const std::complex<double> Ad = std::exp(dt * A), Bd = (Ad - 1.0) / A;
          h[n] = Ad * h[n] + Bd * u;
          acc += 2 * (C * h[n]).real();
        }
        r.c[off + t * d + ch] = acc + p.D[ch] * u;
      }
    }
    std::vector<double> q(d), k(d), v(d), att(d), hres(d), z(d), f(F), o(d);
    for (int t = 0; t < L; ++t) {
      const int j0 = t / W * W;
      lin(&xn[off + t * d], d, p.q_weight, p.q_bias, d, q.data());
      std::vector<std::vector<double>> ks, vs;
      for (int pp = std::max(0, j0 - S); pp < j0; ++pp) {  // context rows
        lin(&r.c[off + pp * d], d, p.k_weight, p.k_bias, d, k.data());
        lin(&r.c[off + pp * d], d, p.v_weight, p.v_bias, d, v.data());
        ks.push_back(k);
        vs.push_back(v);
      }
      for (int pp = j0; pp <= t; ++pp) {  // block rows at or before t
        lin(&xn[off + pp * d], d, p.k_weight, p.k_bias, d, k.data());
        lin(&xn[off + pp * d], d, p.v_weight, p.v_bias, d, v.data());
        ks.push_back(k);
        vs.push_back(v);
      }
      for (int hh = 0; hh < H; ++hh) {
        std::vector<double> s(ks.size());
        double m = -1e300, sum = 0;
        for (std::size_t kk = 0; kk < ks.size(); ++kk) {
          double a = 0;
          for (int e = 0; e < dh; ++e) a += q[hh * dh + e] * ks[kk][hh * dh + e];
          s[kk] = a / std::sqrt(double(dh));
          m = std::max(m, s[kk]);
        }
        for (auto& e : s) sum += (e = std::exp(e - m));
        for (int e = 0; e < dh; ++e) {
          double a = 0;
          for (std::size_t kk = 0; kk < ks.size(); ++kk) a += s[kk] / sum * vs[kk][hh * dh + e];
          att[hh * dh + e] = a;
        }
      }
      lin(att.data(), d, p.out_weight, p.out_bias, d, hres.data());
      for (int i = 0; i < d; ++i) hres[i] += x[off + t * d + i];
      ln(hres.data(), p.norm2_weight, p.norm2_bias, z.data());
      lin(z.data(), d, p.fc1_weight, p.fc1_bias, F, f.data());
      for (auto& e : f) e = 0.5 * e * (1 + std::erf(e / std::sqrt(2.0)));
      lin(f.data(), F, p.fc2_weight, p.fc2_bias, d, o.data());
      for (int i = 0; i < d; ++i) r.y[off + t * d + i] = hres[i] + o[i];
    }
  }
  return r;
}


// Streams each sequence through step() in calls whose sizes are drawn from [1, max_call].
template <class T>
void stream(const BSTLayer<T>& layer, const std::vector<T>& x, int B, int L, std::vector<T>& y, std::vector<T>& c,
            int max_rows, int max_call, std::uint64_t seed) {
  const std::size_t d = layer.config().d_model;
  std::mt19937 rng(static_cast<unsigned>(seed));
  std::uniform_int_distribution<int> len(1, max_call);
  auto s = layer.make_state(max_rows);
  y.assign(x.size(), T(0));
  c.assign(x.size(), T(0));
  for (int b = 0; b < B; ++b) {
    s.reset();
    const std::size_t off = std::size_t(b) * L * d;
    for (int t = 0; t < L;) {
      const int n = std::min(len(rng), L - t);
      layer.step(x.data() + off + t * d, n, y.data() + off + t * d, s, c.data() + off + t * d);
      t += n;
    }
  }
}

struct Shape {
  int W, S, heads, L;
};
// L < W, W = 1, S = 0, S > W, S = W, a ragged last block, one head and all heads of 1 column.
const Shape kShapes[] = {{8, 4, 2, 29}, {8, 4, 3, 5}, {1, 3, 2, 17}, {6, 0, 4, 20},
                         {4, 11, 1, 26}, {5, 5, 6, 23}, {7, 2, 12, 7}, {3, 1, 2, 3}};

}  // namespace

BOOST_AUTO_TEST_CASE(offline_and_stream_match_direct_reference_f64) {
  for (const Shape& sh : kShapes) {
    BOOST_TEST_CONTEXT("W=" << sh.W << " S=" << sh.S << " heads=" << sh.heads << " L=" << sh.L) {
      const auto cfg = config(sh.W, sh.S, sh.heads);
      const auto p = random_bst_layer<double>(cfg, 3 + sh.W);
      BSTLayer<double> layer(cfg, p);
      const int B = 2;
      const auto x = test::randn_as<double>(std::size_t(B) * sh.L * cfg.d_model, 17 + sh.L);
      const Ref ref = reference(cfg, p, x, B, sh.L);
      std::vector<double> y(x.size()), c(x.size());
      layer.forward(x.data(), B, sh.L, y.data(), c.data());
      BOOST_TEST(test::max_rel_diff(y, ref.y) < 1e-11);
      BOOST_TEST(test::max_rel_diff(c, ref.c) < 1e-11);
      std::vector<double> ys, cs;
      stream(layer, x, B, sh.L, ys, cs, 3, 2 * sh.W + 1, 5);
      BOOST_TEST(test::max_rel_diff(ys, ref.y) < 1e-11);
      BOOST_TEST(test::max_rel_diff(cs, ref.c) < 1e-11);
      // a real function of its input
      BOOST_TEST(*std::max_element(ref.y.begin(), ref.y.end()) > 0.1);
    }
  }
}

BOOST_AUTO_TEST_CASE(float32_tracks_float64) {
  const auto cfg = config(8, 5, 3);
  const auto pd = random_bst_layer<double>(cfg, 9);
  BSTLayerParams<float> pf;
  auto cp = [](const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); };
  pf.norm1_weight = cp(pd.norm1_weight), pf.norm1_bias = cp(pd.norm1_bias), pf.log_dt = cp(pd.log_dt);
  pf.log_A_real = cp(pd.log_A_real), pf.A_imag = cp(pd.A_imag), pf.C = cp(pd.C), pf.D = cp(pd.D);
  pf.q_weight = cp(pd.q_weight), pf.q_bias = cp(pd.q_bias), pf.k_weight = cp(pd.k_weight), pf.k_bias = cp(pd.k_bias);
  pf.v_weight = cp(pd.v_weight), pf.v_bias = cp(pd.v_bias), pf.out_weight = cp(pd.out_weight);
  pf.out_bias = cp(pd.out_bias), pf.norm2_weight = cp(pd.norm2_weight), pf.norm2_bias = cp(pd.norm2_bias);
  pf.fc1_weight = cp(pd.fc1_weight), pf.fc1_bias = cp(pd.fc1_bias), pf.fc2_weight = cp(pd.fc2_weight);
  pf.fc2_bias = cp(pd.fc2_bias);
  BSTLayer<double> ld(cfg, pd);
  BSTLayer<float> lf(cfg, pf);
  const int B = 2, L = 300;
  const auto xd = test::randn_as<double>(std::size_t(B) * L * cfg.d_model, 4);
  const std::vector<float> xf(xd.begin(), xd.end());
  std::vector<double> yd(xd.size()), cd(xd.size());
  std::vector<float> yf(xd.size()), cf(xd.size());
  ld.forward(xd.data(), B, L, yd.data(), cd.data());
  lf.forward(xf.data(), B, L, yf.data(), cf.data());
  BOOST_TEST(test::max_rel_diff(yf, yd) < 2e-5);
  BOOST_TEST(test::max_rel_diff(cf, cd) < 2e-5);
  std::vector<float> ys, cs;
  stream(lf, xf, B, L, ys, cs, 16, 40, 8);
  BOOST_TEST(test::max_rel_diff(ys, yd) < 2e-5);
  BOOST_TEST(test::max_rel_diff(cs, cd) < 2e-5);
}

BOOST_AUTO_TEST_CASE(no_biases) {
  auto cfg = config(4, 3, 2);
  auto p = random_bst_layer<double>(cfg, 21);
  p.q_bias.clear(), p.k_bias.clear(), p.v_bias.clear(), p.out_bias.clear(), p.fc1_bias.clear(), p.fc2_bias.clear();
  BSTLayer<double> layer(cfg, p);
  const int B = 1, L = 19;
  const auto x = test::randn_as<double>(std::size_t(L) * cfg.d_model, 2);
  const Ref ref = reference(cfg, p, x, B, L);
  std::vector<double> y(x.size()), ys, cs;
  layer.forward(x.data(), B, L, y.data());
  BOOST_TEST(test::max_rel_diff(y, ref.y) < 1e-11);
  stream(layer, x, B, L, ys, cs, 4, 6, 1);
  BOOST_TEST(test::max_rel_diff(ys, ref.y) < 1e-11);
}

BOOST_AUTO_TEST_CASE(causal_offline) {
  // y[t] for t < t0 does not change when x[t0..] changes (also inside a block).
  const auto cfg = config(8, 4, 2);
  BSTLayer<double> layer(cfg, random_bst_layer<double>(cfg, 1));
  const int L = 40, d = cfg.d_model;
  auto x = test::randn_as<double>(std::size_t(L) * d, 6);
  std::vector<double> y1(x.size()), y2(x.size());
  layer.forward(x.data(), 1, L, y1.data());
  for (int t0 : {3, 8, 21}) {
    auto x2 = x;
    for (int t = t0; t < L; ++t)
      for (int i = 0; i < d; ++i) x2[std::size_t(t) * d + i] += 1.0;
    layer.forward(x2.data(), 1, L, y2.data());
    // offline: the FFT convolution mixes rounding across positions, so equal up to round-off
    const std::size_t n0 = std::size_t(t0) * d;
    BOOST_TEST(test::max_rel_diff(std::vector<double>(y2.begin(), y2.begin() + n0),
                       std::vector<double>(y1.begin(), y1.begin() + n0)) < 1e-13);
    BOOST_TEST(std::fabs(y1[n0] - y2[n0]) > 1e-3);
    // stream: exactly equal
    std::vector<double> s1, c1, s2, c2;
    stream(layer, x, 1, L, s1, c1, 4, 5, 1);
    stream(layer, x2, 1, L, s2, c2, 4, 5, 1);
    BOOST_TEST(std::equal(s1.begin(), s1.begin() + std::ptrdiff_t(n0), s2.begin()));
    BOOST_TEST(s1[n0] != s2[n0]);
  }
}

BOOST_AUTO_TEST_CASE(stream_split_invariant_bit_exact) {
  // The output of a stream does not depend on how it is cut into calls, nor on max_rows.
  for (const Shape& sh : {Shape{8, 4, 2, 70}, Shape{3, 7, 3, 50}, Shape{5, 0, 1, 33}}) {
    const auto cfg = config(sh.W, sh.S, sh.heads);
    BSTLayer<float> layer(cfg, random_bst_layer<float>(cfg, 13));
    const auto x = test::randn_as<float>(std::size_t(sh.L) * cfg.d_model, 12);
    std::vector<float> y1, c1, y2, c2, y3, c3;
    stream(layer, x, 1, sh.L, y1, c1, 1, 1, 0);            // one row a call
    stream(layer, x, 1, sh.L, y2, c2, 64, 3 * sh.W, 77);   // random calls, whole blocks a piece
    stream(layer, x, 1, sh.L, y3, c3, 2, sh.L, 78);        // long calls in pieces of 2
    BOOST_TEST(std::memcmp(y1.data(), y2.data(), y1.size() * sizeof(float)) == 0);
    BOOST_TEST(std::memcmp(y1.data(), y3.data(), y1.size() * sizeof(float)) == 0);
    BOOST_TEST(std::memcmp(c1.data(), c3.data(), c1.size() * sizeof(float)) == 0);
  }
}

BOOST_AUTO_TEST_CASE(save_load_resumes_bit_exact) {
  const auto cfg = config(6, 9, 3);
  BSTLayer<float> layer(cfg, random_bst_layer<float>(cfg, 5));
  const int L = 61, d = cfg.d_model;
  const auto x = test::randn_as<float>(std::size_t(L) * d, 31);
  std::vector<float> yref, cref;
  stream(layer, x, 1, L, yref, cref, 4, 1, 0);
  for (int cut : {1, 6, 13, 30, 60}) {  // inside a block, at block ends, after the ring filled
    auto s = layer.make_state(4);
    std::vector<float> y(x.size());
    layer.step(x.data(), cut, y.data(), s);
    std::vector<float> saved(s.state_size());
    BOOST_TEST(s.save(saved));
    auto s2 = layer.make_state(5);  // another piece size: the state is the same
    BOOST_TEST(s2.load(saved));
    layer.step(x.data() + std::ptrdiff_t(cut) * d, L - cut, y.data() + std::ptrdiff_t(cut) * d, s2);
    BOOST_TEST(std::memcmp(y.data(), yref.data(), y.size() * sizeof(float)) == 0);
    // the original state continues identically too
    std::vector<float> y3(x.size());
    std::copy_n(y.data(), std::ptrdiff_t(cut) * d, y3.data());
    layer.step(x.data() + std::ptrdiff_t(cut) * d, L - cut, y3.data() + std::ptrdiff_t(cut) * d, s);
    BOOST_TEST(std::memcmp(y3.data(), yref.data(), y.size() * sizeof(float)) == 0);
  }
  auto s = layer.make_state(4);
  std::vector<float> wrong(s.state_size() + 1, 0.f), good(s.state_size(), 0.f);
  BOOST_TEST(!s.load(wrong));
  BOOST_TEST(!s.save(wrong));
  good.back() = 99.f;  // pos beyond W
  BOOST_TEST(!s.load(good));
  good.back() = 0.5f;  // not an integer
  BOOST_TEST(!s.load(good));
}

BOOST_AUTO_TEST_CASE(step_is_real_time_safe) {
  const auto cfg = config(8, 4, 2, 32, 8, 64);
  BSTLayer<float> layer(cfg, random_bst_layer<float>(cfg, 2));
  auto s = layer.make_state(8);
  const auto x = test::randn_as<float>(std::size_t(100) * cfg.d_model, 3);
  std::vector<float> y(x.size()), c(x.size()), saved(s.state_size());
  layer.step(x.data(), 3, y.data(), s);  // warm-up (lazy statics of the math library)
  test::RtGuard g;
  int t = 3;
  for (int n : {1, 5, 8, 17, 2, 30}) {
    layer.step(x.data() + std::ptrdiff_t(t) * cfg.d_model, n, y.data() + std::ptrdiff_t(t) * cfg.d_model, s,
               c.data());
    t += n;
  }
  layer.step(x.data(), 4, y.data(), s);
  const bool saved_ok = s.save(saved);
  const bool loaded_ok = s.load(saved);
  s.reset();
  const auto v = g.stop();
  BOOST_TEST(saved_ok);
  BOOST_TEST(loaded_ok);
  BOOST_TEST(v.clean(), "allocations " << v.allocations << " locks " << v.locks << " throws " << v.throws);
}

BOOST_AUTO_TEST_CASE(in_place_step) {
  const auto cfg = config(4, 2, 2);
  BSTLayer<double> layer(cfg, random_bst_layer<double>(cfg, 8));
  const int L = 15;
  const auto x = test::randn_as<double>(std::size_t(L) * cfg.d_model, 1);
  std::vector<double> y(x.size()), ys, cs;
  layer.forward(x.data(), 1, L, y.data());
  auto s = layer.make_state(3);
  auto buf = x;
  layer.step(buf.data(), L, buf.data(), s);
  BOOST_TEST(test::max_rel_diff(buf, y) < 1e-12);
}

BOOST_AUTO_TEST_CASE(errors_name_the_argument) {
  const auto expect = [](auto&& f, const char* needle) { test::expect_error(f, needle); };
  const auto good = config(4, 2, 2);
  const auto p = random_bst_layer<double>(good, 1);
  expect([&] { BSTLayer<double>(config(0, 2, 2), p); }, "'block_size'");
  expect([&] { BSTLayer<double>(config(4, -1, 2), p); }, "'context'");
  expect([&] { BSTLayer<double>(config(4, 2, 5), p); }, "'n_heads'");
  expect([&] { BSTLayer<double>(config(4, 2, 0), p); }, "'n_heads'");
  auto cfg_eps = good;
  cfg_eps.norm_eps = 0;
  expect([&] { BSTLayer<double>(cfg_eps, p); }, "'norm_eps'");
  expect([&] { BSTLayer<double>(config(4, 2, 2, 12, 4), p); }, "ssm.kernel.log_A_real");
  auto bad = p;
  bad.fc1_bias.resize(3);
  expect([&] { BSTLayer<double>(good, bad); }, "ffn.fc1.bias");
  bad = p;
  bad.k_weight[5] = NAN;
  expect([&] { BSTLayer<double>(good, bad); }, "attn.k_proj.weight");
  BSTLayer<double> layer(good, p);
  std::vector<double> x(40 * good.d_model), y(x.size());
  expect([&] { layer.forward(x.data(), 1, 0, y.data()); }, "'length'");
  expect([&] { layer.forward(x.data(), 0, 4, y.data()); }, "'batch'");
  expect([&] { layer.forward(x.data(), 1, 4, x.data() + 1); }, "'y'");
  expect([&] { layer.make_state(0); }, "'max_rows'");
  // a state of another layer shape is ignored by step() (no throw in the real-time path)
  BSTLayer<double> other(config(5, 2, 2), random_bst_layer<double>(config(5, 2, 2), 1));
  auto s = other.make_state(2);
  std::fill(y.begin(), y.end(), 7.0);
  layer.step(x.data(), 3, y.data(), s);
  BOOST_TEST(y[0] == 7.0);
}

BOOST_AUTO_TEST_CASE(streamer_matches_offline_channels_and_layouts) {
  const auto cfg = config(8, 5, 2, 16, 4, 24);
  BSTLayer<double> layer(cfg, random_bst_layer<double>(cfg, 44));
  const int B = 2, L = 90, d = cfg.d_model;
  const auto x = test::randn_as<double>(std::size_t(B) * L * d, 45);
  std::vector<double> y(x.size());
  layer.forward(x.data(), B, L, y.data());

  BSTStreamer<double> st(layer);
  BOOST_TEST(st.latency() == 0);
  BOOST_TEST(st.input_width() == d);
  StreamSpec spec;
  spec.max_block = 13;
  spec.channels = B;
  st.prepare(spec);
  // planar: channel b is sequence b, random block sizes in [0, max_block]
  std::vector<double> yp(x.size());
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> len(0, spec.max_block);
  for (int t = 0; t < L;) {
    const int n = std::min(len(rng), L - t);
    const double* in[2] = {x.data() + std::size_t(t) * d, x.data() + (std::size_t(L) + t) * d};
    double* out[2] = {yp.data() + std::size_t(t) * d, yp.data() + (std::size_t(L) + t) * d};
    st.process(in, out, n);
    t += n;
  }
  BOOST_TEST(test::max_rel_diff(yp, y) < 1e-11);

  // interleaved (n, channels, d) gives the same bits as planar
  st.reset();
  std::vector<double> xi(x.size()), yi(x.size());
  for (int t = 0; t < L; ++t)
    for (int b = 0; b < B; ++b)
      std::copy_n(&x[(std::size_t(b) * L + t) * d], d, &xi[(std::size_t(t) * B + b) * d]);
  for (int t = 0; t < L; t += spec.max_block) {
    const int n = std::min(spec.max_block, L - t);
    st.process_interleaved(xi.data() + std::size_t(t) * B * d, yi.data() + std::size_t(t) * B * d, n);
  }
  bool same = true;
  for (int t = 0; t < L; ++t)
    for (int b = 0; b < B; ++b)
      for (int i = 0; i < d; ++i)
        same = same && yi[(std::size_t(t) * B + b) * d + i] == yp[(std::size_t(b) * L + t) * d + i];
  BOOST_TEST(same);

  // more than max_block frames in one call: processed in pieces of max_block, the same bits
  st.reset();
  std::vector<double> yb(x.size());
  st.process_interleaved(xi.data(), yb.data(), L);
  BOOST_TEST(yb == yi);
}

BOOST_AUTO_TEST_CASE(streamer_state_round_trip_and_real_time) {
  const auto cfg = config(4, 6, 2, 16, 4, 24);
  BSTLayer<float> layer(cfg, random_bst_layer<float>(cfg, 46));
  BSTStreamer<float> st(layer);
  StreamSpec spec;
  spec.max_block = 16;
  spec.channels = 2;
  st.prepare(spec);
  const int d = cfg.d_model, n = 11;
  const auto x = test::randn_as<float>(std::size_t(4 * n) * 2 * d, 47);
  std::vector<float> y1(std::size_t(n) * 2 * d), y2(y1.size()), saved(st.state_size());
  BOOST_TEST(st.state_size() == 2 * layer.make_state(1).state_size());
  st.process_interleaved(x.data(), y1.data(), n);  // warm-up
  test::RtGuard g;
  st.process_interleaved(x.data() + std::size_t(n) * 2 * d, y1.data(), 7);  // into the ring
  st.save_state(saved.data());
  st.process_interleaved(x.data() + std::size_t(2 * n) * 2 * d, y1.data(), n);
  st.load_state(saved.data());
  st.process_interleaved(x.data() + std::size_t(2 * n) * 2 * d, y2.data(), n);
  st.reset();
  st.process_interleaved(x.data(), y2.data() , 1);
  const auto v = g.stop();
  BOOST_TEST(v.clean(), "allocations " << v.allocations << " locks " << v.locks << " throws " << v.throws);
  st.load_state(saved.data());
  st.process_interleaved(x.data() + std::size_t(2 * n) * 2 * d, y2.data(), n);
  BOOST_TEST(std::memcmp(y1.data(), y2.data(), y1.size() * sizeof(float)) == 0);
  auto s = st.state();
  s.push_back(0.f);
  BOOST_CHECK_THROW(st.set_state(s), Error);
}
