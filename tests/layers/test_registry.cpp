#define BOOST_TEST_MODULE layers_registry
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>

#include "ssm/core/error.hpp"
#include "ssm/io/safetensors.hpp"
#include "ssm/layers/mamba_model.hpp"
#include "ssm/layers/registry.hpp"
#include "ssm/layers/s4d_model.hpp"
#include "support/models.hpp"
#include "support/rt_guard.hpp"
#include "support/testing.hpp"

using namespace ssm;

namespace {

std::string mamba_file() {
  return test::save_random_model<float>(test::tiny_mamba(2, 3), 5, test::temp_dir() + "/registry_mamba.safetensors");
}

std::string s4d_file() {
  return test::save_random_model<float>(test::tiny_s4d(1, 2), 6, test::temp_dir() + "/registry_s4d.safetensors");
}

// Every mode a loaded model offers agrees with its first one; its streamer reproduces the
// offline output over an uneven split of blocks on two channels, and a saved state restores it.
void check_model(Model<float>& m) {
  const int B = 2, L = 77, di = m.info().d_input, dout = m.info().d_output;
  const std::vector<std::int64_t> shape{B, L, di};
  BOOST_TEST((m.output_shape(shape) == std::vector<std::int64_t>{B, L, dout}));
  const auto x = test::randn_f(std::size_t(B) * L * di, 11);
  const auto ref = m.run(x, shape);
  for (Mode mode : m.info().modes) {
    std::vector<float> y(ref.size());
    m.forward(x.data(), shape, y.data(), mode);
    BOOST_TEST_INFO("mode " << to_string(mode));
    BOOST_TEST(test::max_rel_diff(y, ref) < 2e-4);
  }
  // Streaming: channel c of the streamer = batch row c.
  auto st = m.make_streamer();
  BOOST_TEST(st->input_width() == di);
  BOOST_TEST(st->output_width() == dout);
  StreamSpec spec;
  spec.sample_rate = 16000;  // the s4d file's own rate (mamba ignores it)
  spec.max_block = 16;
  spec.channels = B;
  st->prepare(spec);
  std::vector<float> in(std::size_t(L) * B * di), out(std::size_t(L) * B * dout);
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < L; ++t)
      for (int k = 0; k < di; ++k) in[(std::size_t(t) * B + b) * di + k] = x[(std::size_t(b) * L + t) * di + k];
  std::vector<float> saved;
  std::vector<float> after_save;
  int t = 0, split = 0;
  const int blocks[] = {1, 16, 3, 7, 16, 5};
  while (t < L) {
    const int n = std::min(blocks[split++ % 6], L - t);
    if (t >= 40 && saved.empty()) saved = st->state();
    test::RtGuard g;
    st->process_interleaved(in.data() + std::size_t(t) * B * di, out.data() + std::size_t(t) * B * dout, n);
    const auto v = g.stop();
    BOOST_TEST(v.clean());
    t += n;
  }
  for (int b = 0; b < B; ++b)
    for (int tt = 0; tt < L; ++tt)
      for (int k = 0; k < dout; ++k)
        BOOST_TEST(std::fabs(out[(std::size_t(tt) * B + b) * dout + k] - ref[(std::size_t(b) * L + tt) * dout + k]) <=
                   2e-4 * (1 + std::fabs(ref[(std::size_t(b) * L + tt) * dout + k])));
  BOOST_TEST(saved.size() == st->state_size());
  BOOST_CHECK_THROW(st->set_state(std::vector<float>(saved.size() + 1)), Error);
}

}  // namespace

BOOST_AUTO_TEST_CASE(builtin_families_are_registered) {
  const auto a = model_archs();
  BOOST_TEST((std::find(a.begin(), a.end(), "mamba") != a.end()));
  BOOST_TEST((std::find(a.begin(), a.end(), "s4d") != a.end()));
  BOOST_TEST(find_model_family("mamba") != nullptr);
  BOOST_TEST(find_model_family("nope") == nullptr);
}

BOOST_AUTO_TEST_CASE(load_model_opens_mamba_and_s4d_files) {
  for (const auto& path : {mamba_file(), s4d_file()}) {
    auto m = load_model<float>(path);
    BOOST_TEST_INFO(path);
    BOOST_REQUIRE(m);
    check_model(*m);
    auto md = load_model<double>(path);
    BOOST_TEST(md->info().arch == m->info().arch);
  }
  BOOST_TEST(load_model<float>(mamba_file())->info().arch == "mamba");
  BOOST_TEST(load_model<float>(s4d_file())->info().arch == "s4d");
}

BOOST_AUTO_TEST_CASE(bad_files_and_arguments_are_named) {
  // No ssmkit.arch.
  const std::string plain = test::temp_dir() + "/plain.safetensors";
  io::save_safetensors(plain, {{"x", io::DType::F32, {2}, {1, 2}}}, {});
  try {
    load_model<float>(plain);
    BOOST_FAIL("expected ssm::Error");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("ssmkit.arch") != std::string::npos);
  }
  // Unknown arch: the message lists what is registered.
  const std::string unknown = test::temp_dir() + "/unknown.safetensors";
  io::save_safetensors(unknown, {{"x", io::DType::F32, {2}, {1, 2}}}, {{"ssmkit.arch", "transformer9000"}});
  try {
    load_model<float>(unknown);
    BOOST_FAIL("expected ssm::Error");
  } catch (const Error& e) {
    const std::string w = e.what();
    BOOST_TEST(w.find("transformer9000") != std::string::npos);
    BOOST_TEST(w.find("mamba") != std::string::npos);
  }
  auto m = load_model<float>(mamba_file());
  BOOST_CHECK_THROW(m->output_shape({2, 5, 7}), Error);  // d_input is 2
  BOOST_CHECK_THROW(m->output_shape({2, 5}), Error);
  std::vector<float> x(20), y(30);
  BOOST_CHECK_THROW(m->forward(x.data(), {2, 5, 2}, y.data(), Mode::conv), Error);
  BOOST_CHECK_THROW(register_model_family(*find_model_family("mamba")), Error);
  ModelFamily empty;
  BOOST_CHECK_THROW(register_model_family(empty), Error);
}

BOOST_AUTO_TEST_CASE(streamer_rejects_bad_specs_and_splits_oversized_blocks) {
  auto st = load_model<float>(mamba_file())->make_streamer();
  std::vector<float> in(64 * 2, 1.0f), out(64 * 3, 7.0f);
  st->process_mono(in.data(), out.data(), 4);  // not prepared: zeros
  BOOST_TEST(std::all_of(out.begin(), out.begin() + 12, [](float v) { return v == 0; }));
  StreamSpec bad;
  bad.channels = 0;
  BOOST_CHECK_THROW(st->prepare(bad), Error);
  bad = {};
  bad.max_block = 0;
  BOOST_CHECK_THROW(st->prepare(bad), Error);
  StreamSpec ok;
  ok.max_block = 8;
  st->prepare(ok);
  std::fill(out.begin(), out.end(), 7.0f);
  st->process_mono(in.data(), out.data(), 9);  // n > max_block: pieces of 8 and 1, the same output
  std::vector<float> ref(out.size(), 7.0f);
  st->reset();
  st->process_mono(in.data(), ref.data(), 8);
  st->process_mono(in.data() + 8 * 2, ref.data() + 8 * 3, 1);
  BOOST_TEST(std::equal(out.begin(), out.begin() + 27, ref.begin()));
  BOOST_TEST(std::any_of(out.begin(), out.begin() + 27, [](float v) { return v != 0; }));
}
