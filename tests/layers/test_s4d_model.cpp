#define BOOST_TEST_MODULE layers_s4d_model
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "ssm/core/error.hpp"
#include "ssm/layers/s4d_model.hpp"
#include "support/rt_guard.hpp"
#include "support/testing.hpp"

using namespace ssm;

namespace {

S4DModelConfig config(int layers, int H, int N2, bool prenorm) {
  S4DModelConfig c;
  c.n_layers = layers;
  c.d_model = H;
  c.d_state = 2 * N2;
  c.prenorm = prenorm;
  c.sample_rate = 48000;
  return c;
}

// A test signal: noise bursts + a chirp, so that every time scale of the model is excited.
template <class T>
std::vector<T> signal(std::size_t n, int channels, std::uint64_t seed) {
  const auto r = test::randn(n * channels, seed);
  std::vector<T> u(n * channels);
  for (std::size_t t = 0; t < n; ++t)
    for (int c = 0; c < channels; ++c) {
      const double env = (t / 2000) % 3 == 0 ? 1.0 : 0.1;
      u[t * channels + c] = T(env * r[t * channels + c] + 0.5 * std::sin(1e-5 * double(t) * double(t) + c));
    }
  return u;
}

template <class T>
std::vector<T> stream(S4DModel<T>& m, const std::vector<T>& u, std::size_t L, double rate, int max_block,
                      std::uint64_t seed) {
  m.prepare({rate, max_block});
  std::vector<T> y(L * m.config().d_output);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> bs(1, max_block);
  for (std::size_t t = 0; t < L;) {
    const int n = int(std::min<std::size_t>(std::size_t(seed ? bs(rng) : max_block), L - t));
    m.process_mono(u.data() + t * m.config().d_input, y.data() + t * m.config().d_output, n);
    t += std::size_t(n);
  }
  return y;
}

// The same model with its float32 parameters in float64.
S4DModelParams<double> to_double(const S4DModelParams<float>& pf) {
  auto d = [](const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); };
  S4DModelParams<double> pd;
  pd.encoder_weight = d(pf.encoder_weight), pd.encoder_bias = d(pf.encoder_bias);
  pd.decoder_weight = d(pf.decoder_weight), pd.decoder_bias = d(pf.decoder_bias);
  for (const auto& l : pf.layers)
    pd.layers.push_back({d(l.log_dt), d(l.log_A_real), d(l.A_imag), d(l.C), d(l.D), d(l.out_weight),
                         d(l.out_bias), d(l.norm_weight), d(l.norm_bias)});
  return pd;
}

}  // namespace

BOOST_AUTO_TEST_CASE(stream_conv_scan_agree_double) {
  for (bool prenorm : {false, true}) {
    auto cfg = config(3, 16, 8, prenorm);
    cfg.d_input = 2;
    cfg.d_output = 3;
    S4DModel<double> m(cfg, random_s4d_model<double>(cfg, 42));
    const int batch = 2, L = 3000;
    const auto u = signal<double>(std::size_t(batch) * L, 2, 1);
    std::vector<double> ys(std::size_t(batch) * L * 3), yc(ys.size()), yn(ys.size());
    m.forward(u.data(), batch, L, ys.data(), Mode::stream);
    m.forward(u.data(), batch, L, yc.data(), Mode::conv);
    m.forward(u.data(), batch, L, yn.data(), Mode::scan);
    BOOST_TEST(test::max_rel_diff(yc, ys) < 1e-9);
    BOOST_TEST(test::max_rel_diff(yn, ys) < 1e-9);
    // the streaming object over random block sizes equals the offline stream, batch item 1
    const std::vector<double> u1(u.begin() + L * 2, u.end());
    const auto yp = stream(m, u1, L, 48000, 100, 7);
    const std::vector<double> ys1(ys.begin() + L * 3, ys.end());
    BOOST_TEST(test::max_rel_diff(yp, ys1) < 1e-12);
  }
}

BOOST_AUTO_TEST_CASE(stream_conv_scan_agree_float_4x64x32) {
  // The model: 4 layers, H = 64, N2 = 32, post-norm; 0.25 s at 48 kHz here, the full
  // 10 s in test_s4d_model_10s_slow.
  const auto cfg = config(4, 64, 32, false);
  S4DModel<float> mf(cfg, random_s4d_model<float>(cfg, 5));
  const int L = 12000;
  const auto u = signal<float>(L, 1, 3);
  std::vector<float> ys(L), yc(L), yn(L);
  mf.forward(u.data(), 1, L, ys.data(), Mode::stream);
  mf.forward(u.data(), 1, L, yc.data(), Mode::conv);
  mf.forward(u.data(), 1, L, yn.data(), Mode::scan);
  BOOST_TEST(test::max_rel_diff(yc, ys) < 2e-4);
  BOOST_TEST(test::max_rel_diff(yn, ys) < 2e-4);
  const auto y64 = stream(mf, u, L, 48000, 64, 0);
  const auto y1 = stream(mf, u, L, 48000, 1, 0);
  {
    // One call of L > max_block frames: processed in pieces of max_block, the same output.
    mf.prepare({48000, 64});
    std::vector<float> yl(y64.size());
    mf.process(u.data(), yl.data(), int(L));
    BOOST_TEST(yl == y64);
  }
  BOOST_TEST(test::max_rel_diff(y64, ys) < 1e-5);
  BOOST_TEST(test::max_rel_diff(y1, y64) < 1e-5);

  // float32 vs a float64 model with the same (rounded) parameters
  S4DModel<double> md(cfg, to_double(mf.params()));
  const std::vector<double> ud(u.begin(), u.end());
  std::vector<double> yd(L);
  md.forward(ud.data(), 1, L, yd.data(), Mode::conv);
  BOOST_TEST(test::max_rel_diff(ys, yd) < 2e-4);
  BOOST_TEST(test::max_rel_diff(yc, yd) < 2e-4);
}

BOOST_AUTO_TEST_CASE(float_stream_at_odd_sizes_is_block_independent) {
  // H = 37 channels (whole vectors, then a partial one, at every vector length), 5 modes: the
  // frame-by-frame kernel (a few frames a call) and the block kernel give the same output bit
  // for bit, and follow the float64 stream.
  for (bool prenorm : {false, true}) {
    const auto cfg = config(2, 37, 5, prenorm);
    S4DModel<float> mf(cfg, random_s4d_model<float>(cfg, 9));
    const int L = 700;
    const auto u = signal<float>(L, 1, 4);
    const auto y1 = stream(mf, u, L, 48000, 1, 0);
    const auto y3 = stream(mf, u, L, 48000, 3, 0);
    const auto yr = stream(mf, u, L, 48000, 64, 11);  // random block sizes 1..64
    BOOST_TEST((y1 == y3));
    BOOST_TEST((y1 == yr));
    S4DModel<double> md(cfg, to_double(mf.params()));
    const std::vector<double> ud(u.begin(), u.end());
    const auto yd = stream(md, ud, L, 48000, 64, 0);
    BOOST_TEST(test::max_rel_diff(y1, yd) < 1e-4);
  }
}

BOOST_AUTO_TEST_CASE(sample_rate_change_rediscretizes_with_scaled_dt) {
  // At fs = 96 kHz the step is dt * 48000 / 96000: the same as a 48 kHz model whose log_dt is
  // log_dt + log(1/2). Checked for stream (prepare) and for conv/scan (forward's sample_rate).
  const auto cfg = config(2, 8, 4, false);
  auto p = random_s4d_model<double>(cfg, 11);
  S4DModel<double> m(cfg, p);
  for (auto& l : p.layers)
    for (auto& v : l.log_dt) v += std::log(0.5);
  S4DModel<double> half(cfg, p);
  const int L = 2000;
  const auto u = signal<double>(L, 1, 9);
  std::vector<double> ref(L), y(L);
  half.forward(u.data(), 1, L, ref.data(), Mode::conv);
  for (Mode mode : {Mode::conv, Mode::scan, Mode::stream}) {
    m.forward(u.data(), 1, L, y.data(), mode, 96000.0);
    BOOST_TEST(test::max_rel_diff(y, ref) < 1e-9, to_string(mode));
  }
  BOOST_TEST(test::max_rel_diff(stream(m, u, L, 96000, 32, 3), ref) < 1e-9);
  std::vector<double> y48(L);
  m.forward(u.data(), 1, L, y48.data(), Mode::conv);
  BOOST_TEST(test::max_rel_diff(y48, ref) > 1e-3);  // and the rate matters
}

BOOST_AUTO_TEST_CASE(process_is_real_time_safe) {
  const auto cfg = config(4, 64, 32, true);
  S4DModel<float> m(cfg, random_s4d_model<float>(cfg, 1));
  m.prepare({48000.0, 64});
  const auto u = signal<float>(256, 1, 2);
  std::vector<float> y(256), y2(256);
  m.process_mono(u.data(), y.data(), 64);
  m.reset();
  test::RtGuard g;
  m.process_mono(u.data(), y.data(), 64);
  for (int t = 64; t < 128; ++t) m.process_mono(u.data() + t, y.data() + t, 1);
  m.process_mono(u.data() + 128, y.data() + 128, 64);
  m.reset();
  m.process_mono(u.data(), y2.data(), 64);
  m.process_mono(u.data(), y2.data() + 64, 65);  // longer than max_block: in pieces, real-time safe too
  const auto v = g.stop();
  BOOST_TEST(v.allocations == 0u);
  BOOST_TEST(v.locks == 0u);
  BOOST_TEST(v.throws == 0u);
  BOOST_TEST(v.clean());
  BOOST_TEST(std::equal(y.begin(), y.begin() + 64, y2.begin()));  // reset restarts exactly
  std::vector<float> y3(256);
  m.reset();
  m.process(u.data(), y3.data(), 64);
  m.process(u.data(), y3.data() + 64, 64);
  m.process(u.data() + 64, y3.data() + 128, 1);
  BOOST_TEST(std::equal(y2.begin() + 64, y2.begin() + 129, y3.begin() + 64));  // = the pieces, never zeros
  BOOST_TEST(std::any_of(y2.begin() + 64, y2.begin() + 129, [](float x) { return x != 0.0f; }));
}

BOOST_AUTO_TEST_CASE(reprepare_at_another_rate_rediscretizes_without_allocation) {
  // Prepared at 44.1 kHz for blocks of 64, re-prepared at 96 kHz (and for shorter blocks):
  // no allocation, lock or throw, and the outputs are those of a model prepared at 96 kHz
  // from scratch, bit for bit.
  const auto cfg = config(3, 32, 16, false);
  const auto p = random_s4d_model<float>(cfg, 8);
  S4DModel<float> m(cfg, p), fresh(cfg, p);
  m.prepare({44100.0, 64});
  const auto u = signal<float>(256, 1, 4);
  std::vector<float> y(256), ref(256);
  m.process(u.data(), y.data(), 64);  // some state at 44.1 kHz: prepare resets it
  test::RtGuard g;
  m.prepare({96000.0, 64});
  m.prepare({96000.0, 32});
  const auto v = g.stop();
  BOOST_TEST(v.clean());
  BOOST_TEST(m.prepared());
  fresh.prepare({96000.0, 32});
  for (int t = 0; t < 256; t += 32) {
    m.process(u.data() + t, y.data() + t, 32);
    fresh.process(u.data() + t, ref.data() + t, 32);
  }
  BOOST_TEST(std::equal(y.begin(), y.end(), ref.begin()));
  std::vector<float> y33(33), r33(33);
  m.process_mono(u.data(), y33.data(), 33);  // beyond the last prepared max_block (32): pieces of 32 and 1
  fresh.process_mono(u.data(), r33.data(), 32);
  fresh.process_mono(u.data() + 32, r33.data() + 32, 1);
  BOOST_TEST(std::equal(y33.begin(), y33.end(), r33.begin()));
  // and at 96 kHz the stream matches the offline model at 96 kHz
  std::vector<float> off(256);
  m.forward(u.data(), 1, 256, off.data(), Mode::stream, 96000.0);
  BOOST_TEST(test::max_rel_diff(ref, off) < 1e-5);
}

BOOST_AUTO_TEST_CASE(streaming_is_the_models_streamer_of_any_channel_count) {
  // make_streamer(): spec.channels streams sharing one weight copy, each equal to the
  // one-stream primitive (prepare + process_mono) on its own signal, also at another rate;
  // the primitive refuses several channels, naming the field.
  const auto cfg = config(2, 8, 4, true);
  S4DModel<float> m(cfg, random_s4d_model<float>(cfg, 2));
  const int L = 50;
  const auto u0 = signal<float>(L, 1, 3), u1 = signal<float>(L, 1, 4);
  std::vector<float> r0(L), r1(L), y0(L), y1(L);
  m.prepare({44100.0, L});
  m.process_mono(u0.data(), r0.data(), L);
  m.reset();
  m.process_mono(u1.data(), r1.data(), L);
  auto s = m.make_streamer();
  s->prepare({44100.0, 16, 1.0, 2});
  for (int t = 0; t < L; t += 16) {
    const int n = std::min(16, L - t);
    const float* in[2] = {u0.data() + t, u1.data() + t};
    float* out[2] = {y0.data() + t, y1.data() + t};
    s->process(in, out, n);
  }
  BOOST_TEST((y0 == r0));
  BOOST_TEST((y1 == r1));
  BOOST_CHECK_EXCEPTION(m.prepare({48000.0, 16, 1.0, 2}), Error, [](const Error& e) {
    return std::string(e.what()).find("'spec.channels'") != std::string::npos;
  });
}

BOOST_AUTO_TEST_CASE(invalid_configs_and_params_throw) {
  auto cfg = config(2, 8, 4, false);
  auto p = random_s4d_model<float>(cfg, 1);
  auto bad = p;
  bad.layers[1].C.pop_back();
  BOOST_CHECK_THROW(S4DModel<float>(cfg, bad), Error);
  bad = p;
  bad.layers[0].log_dt[2] = NAN;
  BOOST_CHECK_THROW(S4DModel<float>(cfg, bad), Error);
  auto c2 = cfg;
  c2.d_state = 7;
  BOOST_CHECK_THROW(random_s4d_model<float>(c2, 1), Error);
  c2 = cfg;
  c2.sample_rate = 0;
  BOOST_CHECK_THROW(S4DModel<float>(c2, p), Error);
  S4DModel<float> m(cfg, p);
  std::vector<float> u(10), y(10);
  BOOST_CHECK_THROW(m.forward(u.data(), 1, 10, y.data(), Mode::conv, -1.0), Error);
  BOOST_CHECK_THROW(m.prepare({0.0, 64}), Error);
  BOOST_CHECK_THROW(m.prepare({48000.0, 0}), Error);
  BOOST_CHECK_THROW(parse_mode("fft"), Error);
  BOOST_CHECK(parse_mode("scan") == Mode::scan);
}
