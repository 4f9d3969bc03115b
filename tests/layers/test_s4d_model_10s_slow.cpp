// The acceptance check at full size: a random S4D model of 4 layers, H = 64, N2 = 32
// on 10 s of audio at 48 kHz (480000 samples): stream = convolution = scan, and the streaming
// object (blocks of 64) = the offline recurrence. float32 throughout.
#define BOOST_TEST_MODULE layers_s4d_model_10s
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "ssm/layers/s4d_model.hpp"
#include "support/testing.hpp"

using namespace ssm;

namespace {
}  // namespace

BOOST_AUTO_TEST_CASE(stream_conv_scan_agree_on_10s_at_48k) {
  S4DModelConfig cfg;
  cfg.n_layers = 4;
  cfg.d_model = 64;
  cfg.d_state = 64;
  cfg.sample_rate = 48000;
  for (bool prenorm : {false, true}) {
    cfg.prenorm = prenorm;
    S4DModel<float> m(cfg, random_s4d_model<float>(cfg, prenorm ? 2 : 1));
    const int L = 480000;
    const auto r = test::randn(L, 17);
    std::vector<float> u(L);
    for (int t = 0; t < L; ++t)  // noise with a slow envelope plus a sweep
      u[t] = float(r[t] * (0.55 + 0.45 * std::sin(2e-4 * t)) + 0.3 * std::sin(1e-6 * double(t) * t));
    std::vector<float> ys(L), yc(L), yn(L), yp(L);
    m.forward(u.data(), 1, L, ys.data(), Mode::stream);
    m.forward(u.data(), 1, L, yc.data(), Mode::conv);
    m.forward(u.data(), 1, L, yn.data(), Mode::scan);
    m.prepare({48000.0, 64});
    for (int t = 0; t < L; t += 64) m.process_mono(u.data() + t, yp.data() + t, std::min(64, L - t));
    BOOST_TEST_MESSAGE("prenorm " << prenorm << ": conv/stream " << test::max_rel_diff(yc, ys) << ", scan/stream " << test::max_rel_diff(yn, ys)
                                  << ", process/stream " << test::max_rel_diff(yp, ys));
    BOOST_TEST(test::max_rel_diff(yc, ys) < 1e-3);
    BOOST_TEST(test::max_rel_diff(yn, ys) < 1e-3);
    BOOST_TEST(test::max_rel_diff(yp, ys) < 1e-4);
  }
}
