// What a first user of the ssmkit program meets (issue 22): each case runs the program as a
// user does (std::system) and checks one promise of docs/cli.md — the HiPPO read-outs' unit DC
// gain, up-front validation of --rate/--seconds/--threads/--encoding, failed runs leaving no
// new directory, error lines naming the user's paths and options, the array layouts, model
// files of d_input != d_output and their own sample rate, output levels and encodings, the
// help text, `info` on odd inputs, and the examples writing under the build tree.
#define BOOST_TEST_MODULE cli_first_use
#include <boost/test/unit_test.hpp>


#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <sstream>
#include <string>
#include <vector>

#include "ssm/io/npy.hpp"
#include "ssm/layers/s4d_model.hpp"
#include "ssm/layers/vim_model.hpp"
#include "support/models.hpp"
#include "support/testing.hpp"
#if SSM_WITH_AUDIO
#include "ssm/io/audio_file.hpp"
#endif

namespace fs = std::filesystem;

namespace {

const ssm::test::Ssmkit cli("cli_first_use");
fs::path build_dir() { return ssm::test::build_dir(); }
std::string path(const std::string& name) { return cli.path(name); }
using ssm::test::slurp;
using Result = ssm::test::ProgramResult;
Result ssmkit(const std::string& args) { return cli(args); }
// Any program of the build tree, `<prefix> <exe> <args>`, its output captured like ssmkit's.
Result run_program(const std::string& exe, const std::string& args, const std::string& prefix = "") {
  return ssm::test::run_program(exe, args, cli.dir, prefix);
}

std::string q(const std::string& s) { return "'" + s + "'"; }
int lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }
bool has(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

// One line "ssmkit: error: ..." containing `expect`, exit status 1.
void expect_error(const Result& r, const std::string& expect, const std::string& what) {
  BOOST_TEST(r.status == 1, what << " -> " << r.status);
  BOOST_TEST(r.err.rfind("ssmkit: error: ", 0) == 0, what << " -> " << r.err);
  BOOST_TEST(lines(r.err) == 1, what << " -> " << r.err);
  BOOST_TEST(has(r.err, expect), what << " -> " << r.err);
}

std::vector<float> tone(int channels, std::int64_t frames, double rate, double amp = 0.5) {
  std::vector<float> x(static_cast<std::size_t>(channels * frames));
  for (int c = 0; c < channels; ++c)
    for (std::int64_t t = 0; t < frames; ++t)
      x[static_cast<std::size_t>(c * frames + t)] =
          static_cast<float>(amp * std::sin(2 * std::numbers::pi * (300.0 + 200 * c) * static_cast<double>(t) / rate));
  return x;
}

double peak(const std::vector<float>& a) {
  double m = 0;
  for (float v : a) m = std::max(m, static_cast<double>(std::fabs(v)));
  return m;
}

}  // namespace

// Bug 1: every hippo read-out but legt's delay line is scaled to unit DC gain, at every N. The
// LagT endpoint read-out (C = ones) has DC gain 0 at even N and settles only after seconds.
BOOST_AUTO_TEST_CASE(hippo_filters_pass_dc_with_unit_gain) {
  const std::int64_t L = 48000;  // 1 s of 0.5
  ssm::io::save_npy<float>(path("dc.npy"), {L}, std::vector<float>(L, 0.5f));
  for (const std::string spec : {"hippo:lagt:N=8", "hippo:lagt:N=7", "hippo:lagt", "hippo:lagt:N=128", "hippo:legs:N=8",
                                 "hippo:legs", "hippo:fout:N=8", "hippo:fout"}) {
    const Result r = ssmkit("run --filter " + spec + " " + q(path("dc.npy")) + " -o " + q(path("dc_out.npy")));
    BOOST_TEST_REQUIRE(r.status == 0, spec << ": " << r.err);
    const auto y = ssm::io::load_npy<float>(path("dc_out.npy")).data;
    // settled well before the end: the last 0.2 s sit at 0.5
    double worst = 0;
    for (std::int64_t t = L - 9600; t < L; ++t) worst = std::max(worst, std::fabs(y[static_cast<std::size_t>(t)] - 0.5));
    BOOST_TEST(worst < 1e-3, spec << ": |y - 0.5| up to " << worst << " in the last 0.2 s");
  }
}

// Bug 2: --rate is validated before anything runs (0 used to mean 48000 silently).
BOOST_AUTO_TEST_CASE(rate_and_other_numbers_are_validated_up_front) {
  ssm::io::save_npy<float>(path("x.npy"), {480}, tone(1, 480, 48000));
  const std::string out = path("never_rate.npy");
  for (const std::string rate : {"0", "1e-300", "1e300", "-48000", "0.5"})
    expect_error(ssmkit("run --rate " + rate + " " + q(path("x.npy")) + " -o " + q(out)), "--rate", "--rate " + rate);
  expect_error(ssmkit("run --threads -1 " + q(path("x.npy")) + " -o " + q(out)), "--threads", "--threads -1");
  expect_error(ssmkit("run --gain 1e9 " + q(path("x.npy")) + " -o " + q(out)), "--gain", "--gain 1e9");
  // --encoding on an array, float in FLAC: refused before computing
  expect_error(ssmkit("run --encoding pcm16 " + q(path("x.npy")) + " -o " + q(out)), "--encoding", "npy pcm16");
  expect_error(ssmkit("run --encoding float " + q(path("x.npy")) + " -o " + q(path("never.flac"))), "--encoding",
               "flac float");
  // an array at a fractional rate cannot become a WAV (whole Hz)
  expect_error(ssmkit("run --rate 44100.5 " + q(path("x.npy")) + " -o " + q(path("never.wav"))), "whole number",
               "wav at 44100.5 Hz");
  BOOST_TEST(!fs::exists(out));
  BOOST_TEST(!fs::exists(path("never.flac")));
  BOOST_TEST(!fs::exists(path("never.wav")));
}

// Bug 3: a failed run leaves no directory it created (docs/cli.md: a failed run leaves nothing).
BOOST_AUTO_TEST_CASE(failed_runs_leave_no_new_directory) {
  ssm::io::save_npy<float>(path("d.npy"), {480}, tone(1, 480, 48000));
  ssm::io::save_npy<float>(path("bad.npy"), {480}, std::vector<float>(480, NAN));
  const std::string base = path("fresh");
  fs::remove_all(base);
  // the same input twice into one directory: two outputs of the same name
  expect_error(ssmkit("run " + q(path("d.npy")) + " " + q(path("d.npy")) + " -o " + q(base + "/dup")), "twice", "dup");
  BOOST_TEST(!fs::exists(base));
  // an input that fails after the directory was made
  expect_error(ssmkit("run " + q(path("d.npy")) + " " + q(path("bad.npy")) + " -o " + q(base + "/a/b")), "non-finite",
               "nan");
  BOOST_TEST(!fs::exists(base));
  // a missing parent of a single output is created (as demo --figure does), and removed on failure
  expect_error(ssmkit("run " + q(path("bad.npy")) + " -o " + q(base + "/c/out.npy")), "non-finite", "nan, file");
  BOOST_TEST(!fs::exists(base));
  const Result r = ssmkit("run " + q(path("d.npy")) + " -o " + q(base + "/c/out.npy"));
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  BOOST_TEST(fs::is_regular_file(base + "/c/out.npy"));
  // -o DIR/ with one input is a directory, not "unsupported file type ''"
  const Result r2 = ssmkit("run " + q(path("d.npy")) + " -o " + q(base + "/newdir/"));
  BOOST_TEST_REQUIRE(r2.status == 0, r2.err);
  BOOST_TEST(fs::is_regular_file(base + "/newdir/d.npy"));
#if SSM_WITH_AUDIO
  // a FLAC whose output would clip: refused before anything is written, directory removed
  ssm::io::AudioBuffer a(1, 4800, 48000);
  a.samples = tone(1, 4800, 48000, 0.9);
  ssm::io::write_audio(path("loud.wav"), a);
  expect_error(ssmkit("run --gain 12 " + q(path("loud.wav")) + " -o " + q(base + "/flac/x.flac")), "--normalize",
               "flac clip");
  BOOST_TEST(!fs::exists(base + "/flac"));
#endif
}

// Bug 6: errors name the user's path and the cause, never a temporary file.
BOOST_AUTO_TEST_CASE(output_errors_name_the_users_path) {
  ssm::io::save_npy<float>(path("e.npy"), {480}, tone(1, 480, 48000));
  const Result r = ssmkit("run " + q(path("e.npy")) + " -o /proc/ssmkit-test/a.npy");
  BOOST_TEST(r.status == 1);
  BOOST_TEST(lines(r.err) == 1, r.err);
  BOOST_TEST(has(r.err, "/proc/ssmkit-test/a.npy"), r.err);
  BOOST_TEST(!has(r.err, ".tmp-"), r.err);
  const Result r2 = ssmkit("run " + q(path("e.npy")) + " -o /proc/a.npy");
  BOOST_TEST(r2.status == 1);
  BOOST_TEST(lines(r2.err) == 1, r2.err);
  BOOST_TEST(has(r2.err, "'/proc/a.npy'"), r2.err);
  BOOST_TEST(!has(r2.err, ".tmp-"), r2.err);
}

// Layouts: (L, C) and PyTorch's (B, L, C) with --layout time-first; a time-last read of a
// (48000, 2) array warns.
BOOST_AUTO_TEST_CASE(layouts_time_first_and_the_warning) {
  const std::int64_t B = 2, L = 1200, C = 3;
  const auto planar = tone(static_cast<int>(B * C), L, 48000);  // channel b*C + c
  std::vector<float> tf(planar.size());
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t t = 0; t < L; ++t)
      for (std::int64_t c = 0; c < C; ++c)
        tf[static_cast<std::size_t>((b * L + t) * C + c)] = planar[static_cast<std::size_t>((b * C + c) * L + t)];
  ssm::io::save_npy<float>(path("bcl.npy"), {B, C, L}, planar);
  ssm::io::save_npy<float>(path("blc.npy"), {B, L, C}, tf);
  const std::string spec = "--filter s4d:lin:N=8:H=1 ";
  Result r = ssmkit("run " + spec + q(path("bcl.npy")) + " -o " + q(path("bcl_out.npy")));
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  BOOST_TEST(r.err.empty(), r.err);
  r = ssmkit("run " + spec + "--layout time-first " + q(path("blc.npy")) + " -o " + q(path("blc_out.npy")));
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  const auto y1 = ssm::io::load_npy<float>(path("bcl_out.npy"));
  const auto y2 = ssm::io::load_npy<float>(path("blc_out.npy"));
  BOOST_TEST((y2.shape == std::vector<std::int64_t>{B, L, C}));
  double worst = 0;
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t t = 0; t < L; ++t)
      for (std::int64_t c = 0; c < C; ++c)
        worst = std::max(worst, static_cast<double>(std::fabs(y2.data[static_cast<std::size_t>((b * L + t) * C + c)] -
                                                             y1.data[static_cast<std::size_t>((b * C + c) * L + t)])));
  BOOST_TEST(worst == 0.0);
  BOOST_TEST(peak(y1.data) > 1e-3);
  // (L, C) read time-last: more channels than frames -> a warning naming --layout
  ssm::io::save_npy<float>(path("lc.npy"), {4800, 2}, std::vector<float>(9600, 0.1f));
  r = ssmkit("run " + q(path("lc.npy")) + " -o " + q(path("lc_out.npy")) + " --filter s4d:lin:N=8:H=1");
  BOOST_TEST(r.status == 0, r.err);
  BOOST_TEST(has(r.err, "warning"), r.err);
  BOOST_TEST(has(r.err, "--layout time-first"), r.err);
  r = ssmkit("run " + q(path("lc.npy")) + " -o " + q(path("lc_out.npy")) + " --layout time-first");
  BOOST_TEST(r.status == 0, r.err);
  BOOST_TEST(has(r.out, "0.100 s of signal"), r.out);
  // command-line syntax: CLI11's message, non-zero exit
  r = ssmkit("run --layout sideways " + q(path("lc.npy")) + " -o " + q(path("lc_out.npy")));
  BOOST_TEST(r.status != 0);
  BOOST_TEST(has(r.err, "--layout"), r.err);
}

// Models in the CLI: d_input != d_output, batches of multi-channel signals, and the model file's
// own sample rate as the default --rate (a different one is said on stderr).
BOOST_AUTO_TEST_CASE(model_files_of_other_widths_and_their_rate) {
  const ssm::S4DModelConfig cfg = ssm::test::tiny_s4d(2, 3, 1);
  const auto model = ssm::test::random_model<float>(cfg, 9);
  const std::string mf = path("w23.safetensors");
  model.save(mf);
  const std::int64_t B = 2, L = 800;
  // (B, L, 2) time-first, as PyTorch holds it; the reference is the library's forward at 16 kHz
  const auto u = ssm::test::randn_f(static_cast<std::size_t>(B * L * 2), 4);
  ssm::io::save_npy<float>(path("w_in.npy"), {B, L, 2}, u);
  std::vector<float> ref(static_cast<std::size_t>(B * L * 3));
  model.forward(u.data(), static_cast<int>(B), static_cast<int>(L), ref.data(), ssm::Mode::conv, 16000);
  for (const std::string mode : {"stream", "scan"}) {
    const Result r = ssmkit("run --model " + q(mf) + " --layout time-first --mode " + mode + " " + q(path("w_in.npy")) +
                            " -o " + q(path("w_out.npy")));
    BOOST_TEST_REQUIRE(r.status == 0, mode << ": " << r.err);
    BOOST_TEST(r.err.empty(), r.err);  // no --rate: the model's own 16 kHz, nothing to say
    const auto y = ssm::io::load_npy<float>(path("w_out.npy"));
    BOOST_TEST((y.shape == std::vector<std::int64_t>{B, L, 3}), mode);
    BOOST_TEST(ssm::test::max_abs_diff(y.data, ref) <= 1e-4 * std::max(1.0, peak(ref)), mode);
  }
  // (B, 2, L) time-last: the same result, transposed; a different --rate is said on stderr
  std::vector<float> bcl(u.size());
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t t = 0; t < L; ++t)
      for (std::int64_t c = 0; c < 2; ++c)
        bcl[static_cast<std::size_t>((b * 2 + c) * L + t)] = u[static_cast<std::size_t>((b * L + t) * 2 + c)];
  ssm::io::save_npy<float>(path("w_bcl.npy"), {B, 2, L}, bcl);
  Result r = ssmkit("run --model " + q(mf) + " " + q(path("w_bcl.npy")) + " -o " + q(path("w_bcl_out.npy")));
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  const auto y = ssm::io::load_npy<float>(path("w_bcl_out.npy"));
  BOOST_TEST((y.shape == std::vector<std::int64_t>{B, 3, L}));
  double worst = 0;
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t t = 0; t < L; ++t)
      for (std::int64_t c = 0; c < 3; ++c)
        worst = std::max(worst, static_cast<double>(std::fabs(y.data[static_cast<std::size_t>((b * 3 + c) * L + t)] -
                                                             ref[static_cast<std::size_t>((b * L + t) * 3 + c)])));
  BOOST_TEST(worst <= 1e-4 * std::max(1.0, peak(ref)));
  r = ssmkit("run --model " + q(mf) + " --rate 48000 " + q(path("w_bcl.npy")) + " -o " + q(path("w_bcl_out.npy")));
  BOOST_TEST(r.status == 0, r.err);
  BOOST_TEST(has(r.err, "16000 Hz"), r.err);
  BOOST_TEST(has(r.err, "48000 Hz"), r.err);
  // rows of 3 channels do not split into streams of 2
  ssm::io::save_npy<float>(path("w_bad.npy"), {2, 3, L}, std::vector<float>(static_cast<std::size_t>(6 * L), 0.f));
  expect_error(ssmkit("run --model " + q(mf) + " " + q(path("w_bad.npy")) + " -o " + q(path("w_bad_out.npy"))), "d_input",
               "rows of 3");
}

// An offline-only model maps arrays of its own shape: the signal options are refused, not ignored.
BOOST_AUTO_TEST_CASE(signal_options_are_refused_for_offline_models) {
  const std::string mf =
      ssm::test::save_random_model<float>(ssm::test::tiny_vim(8, 8, 1, 1, 3), 2, path("vim.safetensors"));
  ssm::io::save_npy<float>(path("img.npy"), {1, 8, 8, 1}, std::vector<float>(64, 0.5f));
  const Result ok = ssmkit("run --model " + q(mf) + " " + q(path("img.npy")) + " -o " + q(path("img_out.npy")));
  BOOST_TEST_REQUIRE(ok.status == 0, ok.err);
  for (const std::string opt : {"--normalize", "--gain 3", "--encoding pcm16", "--layout time-first", "--rate 16000"})
    expect_error(ssmkit("run --model " + q(mf) + " " + opt + " " + q(path("img.npy")) + " -o " + q(path("img_x.npy"))),
                 opt.substr(0, opt.find(' ')), opt);
  BOOST_TEST(!fs::exists(path("img_x.npy")));
}

// --threads sets the OpenMP team of conv and scan; the result does not depend on it.
BOOST_AUTO_TEST_CASE(threads_change_the_team_not_the_result) {
  ssm::io::save_npy<float>(path("th.npy"), {2, 20000}, tone(2, 20000, 48000));
  std::vector<std::vector<float>> ys;
  for (const std::string t : {"1", "2", "3"}) {
    const Result r = ssmkit("run --mode scan --threads " + t + " " + q(path("th.npy")) + " -o " + q(path("th_out.npy")));
    BOOST_TEST_REQUIRE(r.status == 0, r.err);
    ys.push_back(ssm::io::load_npy<float>(path("th_out.npy")).data);
  }
  BOOST_TEST(peak(ys[0]) > 1e-3);
  BOOST_TEST(ssm::test::max_abs_diff(ys[0], ys[1]) <= 1e-5 * peak(ys[0]));
  BOOST_TEST(ssm::test::max_abs_diff(ys[0], ys[2]) <= 1e-5 * peak(ys[0]));
}

// Output level and encoding: --normalize, --gain, --encoding pcm16 (audio builds).
#if SSM_WITH_AUDIO
BOOST_AUTO_TEST_CASE(output_level_and_encoding) {
  ssm::io::AudioBuffer a(1, 4800, 48000);
  a.samples = tone(1, 4800, 48000, 0.5);
  ssm::io::write_audio(path("lvl.wav"), a);
  const std::string f = "--filter butter:lowpass:order=4:cutoff=4000 ";
  Result r = ssmkit("run " + f + q(path("lvl.wav")) + " -o " + q(path("lvl_plain.wav")));
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  r = ssmkit("run " + f + "--gain -6.0206 " + q(path("lvl.wav")) + " -o " + q(path("lvl_gain.wav")));
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  r = ssmkit("run " + f + "--normalize --encoding pcm16 " + q(path("lvl.wav")) + " -o " + q(path("lvl_norm.wav")));
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  const auto plain = ssm::io::read_audio(path("lvl_plain.wav")).samples;
  const auto gain = ssm::io::read_audio(path("lvl_gain.wav")).samples;
  BOOST_TEST(std::fabs(peak(gain) - peak(plain) / 2) < 1e-4);
  BOOST_TEST(std::fabs(peak(ssm::io::read_audio(path("lvl_norm.wav")).samples) - 0.8912509) < 1e-4);
  BOOST_TEST((ssm::io::audio_info(path("lvl_norm.wav")).encoding == ssm::io::AudioEncoding::pcm16));
  BOOST_TEST((ssm::io::audio_info(path("lvl_plain.wav")).encoding == ssm::io::AudioEncoding::float32));
  r = ssmkit("run --gain 1 --normalize " + q(path("lvl.wav")) + " -o " + q(path("lvl_x.wav")));
  BOOST_TEST(r.status != 0);
  BOOST_TEST(has(r.err, "--normalize"), r.err);
  BOOST_TEST(!fs::exists(path("lvl_x.wav")));
}

// Bug 4: live validates its options before PortAudio, says which option, keeps the host
// libraries' diagnostics off stderr, and never lists nothing with exit status 0.
BOOST_AUTO_TEST_CASE(live_errors_are_one_line_naming_the_option) {
  expect_error(ssmkit("live --seconds -1"), "--seconds", "--seconds -1");
  expect_error(ssmkit("live --rate 1e300 --seconds 1"), "--rate", "--rate 1e300");
  const Result r = ssmkit("live --in 'no such device 42' --seconds 0.1");
  BOOST_TEST(r.status == 1);
  BOOST_TEST(lines(r.err) == 1, r.err);
  BOOST_TEST(r.err.rfind("ssmkit: error: ", 0) == 0, r.err);
  BOOST_TEST(!has(r.err, "input_device"), r.err);
  const Result l = ssmkit("live --list-devices");
  if (l.status == 0) {
    BOOST_TEST(!l.out.empty(), "exit status 0 with no device listed");
  } else {
    expect_error(l, "no audio device", "--list-devices");
  }
}
#endif

// Friction: --help shows defaults and the spec grammar; an unavailable mode lists the others;
// info on a directory, a signal tensor file, a text file named .safetensors.
BOOST_AUTO_TEST_CASE(help_modes_and_info) {
  Result r = ssmkit("run --help");
  BOOST_TEST(r.status == 0);
  BOOST_TEST(has(r.out, "512"), r.out);             // --block's default
  BOOST_TEST(has(r.out, "s4d:lin:N=64"), r.out);    // the default filter
  BOOST_TEST(has(r.out, "butter:lowpass"), r.out);  // the grammar
  BOOST_TEST(has(r.out, "time-first"), r.out);
  ssm::io::save_npy<float>(path("m.npy"), {480}, tone(1, 480, 48000));
  expect_error(ssmkit("run --filter hippo:legt --mode scan " + q(path("m.npy")) + " -o " + q(path("m_out.npy"))),
               "available: stream, conv", "hippo scan");
  expect_error(ssmkit("info " + q(cli.dir)), "is a directory", "info DIR");
  { std::ofstream(path("text.safetensors")) << "this is a text file, not tensors\n"; }
  expect_error(ssmkit("info " + q(path("text.safetensors"))), "not a safetensors file", "info text");
  // a tensor file holding a signal: values, not parameters
  r = ssmkit("run " + q(path("m.npy")) + " -o " + q(path("m_sig.safetensors")));
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  r = ssmkit("info " + q(path("m_sig.safetensors")));
  BOOST_TEST(r.status == 0, r.err);
  BOOST_TEST(has(r.out, "values      : 480 values"), r.out);
  BOOST_TEST(!has(r.out, "parameters"), r.out);
#if SSM_WITH_AUDIO
  // a WAV whose data chunk claims far more than the file holds: info and run both refuse it
  ssm::io::AudioBuffer a(1, 100, 48000);
  a.samples.assign(100, 0.1f);
  ssm::io::write_audio(path("claims.wav"), a);
  {
    std::fstream w(path("claims.wav"), std::ios::in | std::ios::out | std::ios::binary);
    const std::string bytes = slurp(path("claims.wav"));
    const auto at = bytes.find("data");
    BOOST_TEST_REQUIRE(at != std::string::npos);
    w.seekp(static_cast<std::streamoff>(at + 4));
    const unsigned char len[4] = {0x00, 0x00, 0x00, 0xF0};  // 4026531840 bytes
    w.write(reinterpret_cast<const char*>(len), 4);
  }
  expect_error(ssmkit("info " + q(path("claims.wav"))), "truncated", "info claims.wav");
  expect_error(ssmkit("run " + q(path("claims.wav")) + " -o " + q(path("claims_out.wav"))), "truncated", "run claims.wav");
#endif
}

// Bug 5: the examples run from any directory, write under the build tree (or the path given)
// and report errors in one line instead of aborting.
BOOST_AUTO_TEST_CASE(examples_run_anywhere_and_report_errors) {
  const fs::path exe = build_dir() / "examples" / "example_hippo_memory";
  if (!fs::exists(exe)) {
    BOOST_TEST_MESSAGE("examples not built (SSM_BUILD_EXAMPLES=OFF): nothing to check");
    BOOST_TEST(!fs::exists(exe));
    return;
  }
  const bool have_matplotlib = std::system("/usr/bin/python3 -c 'import matplotlib' 2>/dev/null") == 0;
  const fs::path cwd = path("elsewhere");
  fs::create_directories(cwd);
  const fs::path fig = exe.parent_path() / "hippo_memory.png";
  fs::remove(fig);
  Result r = run_program(exe.string(), "", "cd " + q(cwd.string()) + " &&");
  if (have_matplotlib) {
    BOOST_TEST(r.status == 0, r.err);
    BOOST_TEST(fs::is_regular_file(fig));
  } else {
    BOOST_TEST(r.status == 1, r.err);
  }
  BOOST_TEST(!fs::exists(cwd / "docs"));
  r = run_program(exe.string(), "/proc/no/such/dir/f.png", "cd " + q(cwd.string()) + " &&");
  BOOST_TEST(r.status == 1, r.err);
  BOOST_TEST(r.err.rfind("example_hippo_memory: error: ", 0) == 0, r.err);
}

#if SSM_WITH_AUDIO
// The demo shows a filter a listener can name and defines the real-time factor it prints.
BOOST_AUTO_TEST_CASE(demo_names_its_filter_and_defines_the_real_time_factor) {
  const std::string d = path("demo_named");
  const Result r = ssmkit("demo --out " + q(d) + " --figure " + q(d + "/f.png"));
  BOOST_TEST(has(r.out, "Butterworth"), r.out);
  BOOST_TEST(has(r.out, "real-time factor = seconds of signal per second of compute"), r.out);
  BOOST_TEST(fs::is_regular_file(d + "/output_stream.wav"));
  // the named behaviour: a 300 Hz tone passes, a 5 kHz tone is attenuated by far more than 40 dB
  ssm::io::AudioBuffer a(1, 48000, 48000);
  a.samples.resize(48000);
  for (int t = 0; t < 48000; ++t)
    a.samples[static_cast<std::size_t>(t)] =
        static_cast<float>(0.5 * std::sin(2 * std::numbers::pi * (t < 24000 ? 300.0 : 5000.0) * t / 48000.0));
  ssm::io::write_audio(path("two_tones.wav"), a);
  const Result r2 = ssmkit("run --filter butter:lowpass:order=8:cutoff=1000 " + q(path("two_tones.wav")) + " -o " +
                           q(path("two_tones_out.wav")));
  BOOST_TEST_REQUIRE(r2.status == 0, r2.err);
  const auto y = ssm::io::read_audio(path("two_tones_out.wav")).samples;
  const std::vector<float> low(y.begin() + 12000, y.begin() + 24000), high(y.begin() + 36000, y.end());
  BOOST_TEST(std::fabs(peak(low) - 0.5) < 0.01, peak(low));
  BOOST_TEST(peak(high) < 0.5 * 1e-2, peak(high));  // 8th order: ~ -57 dB at 5 kHz
}
#endif
