// The one streaming contract (include/ssm/stream/streamer.hpp), checked the same way over every
// streamer type: DenseFilter, DiagFilter, PartitionedConvolver (zero-latency two-stage and
// latency-P1 layouts) and the streamers of every model family opened by ssm::load_model
// (s4d, mamba, bst; every_registered_family_is_covered fails for a family without a line).
//
// For each subject, over a random multi-channel signal, against a reference run in blocks of
// max_block:
//   - random splits (sizes in [1, max_block], 1 and max_block included) give the same output;
//   - per-sample (blocks of 1) = block, within the subject's documented tolerance (0: bit-exact);
//   - save -> process -> load -> process is bit-exact, also loaded into a fresh streamer;
//   - reset() == a fresh prepare();
//   - channels are independent (changing channel 1's input leaves channel 0 bit-identical);
//   - planar == interleaved (process_interleaved), bit-exact;
//   - n > max_block is processed in pieces (the reference output); calls before prepare()
//     write silence;
//   - process, process_interleaved, reset, save_state, load_state under an RtGuard: no
//     allocation, lock, throw or write.
//
// A new streamer type (a new model family: moe_mamba, bst, ...) joins with one line in
// subjects() below (for a model family: one model file written by model_file()).
#define BOOST_TEST_MODULE stream_streamer_contract
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "ssm/continuous/hippo.hpp"
#include "ssm/continuous/s4d_init.hpp"
#include "ssm/core/error.hpp"
#include "ssm/layers/bst_model.hpp"
#include "ssm/layers/moe_mamba_model.hpp"
#include "ssm/layers/mamba_model.hpp"
#include "ssm/layers/registry.hpp"
#include "ssm/layers/s4d_model.hpp"
#include "ssm/stream/dense_filter.hpp"
#include "ssm/stream/diag_filter.hpp"
#include "ssm/stream/partitioned_convolver.hpp"
#include "ssm/stream/streamer.hpp"
#include "support/rt_guard.hpp"
#include "support/models.hpp"
#include "support/testing.hpp"

using namespace ssm;

namespace {

template <class T>
struct Subject {
  std::string name;
  std::function<std::unique_ptr<Streamer<T>>()> make;  // a fresh, unprepared streamer
  int channels = 2;                                    // spec.channels
  int max_block = 64;
  double per_sample_tol = 0;  // |per-sample - block| / (1 + |block|); 0 = bit-exact (all today)
};

// ---- model files, written once per run ------------------------------------------------------
std::string contract_file(const std::string& name) { return test::temp_dir() + "/contract_" + name + ".safetensors"; }
std::string mamba_file() {
  static const std::string p = test::save_random_model<double>(test::tiny_mamba(2, 3), 3, contract_file("mamba"));
  return p;
}
std::string s4d_file() {
  static const std::string p = test::save_random_model<double>(test::tiny_s4d(1, 2), 4, contract_file("s4d"));
  return p;
}
std::string moe_mamba_file() {
  static const std::string p =
      test::save_random_model<double>(test::tiny_moe_mamba(1, 2, 2, 2), 7, contract_file("moe_mamba"));
  return p;
}
std::string bst_file() {  // blocks of 8 samples, 3 context rows: the splits cross block edges anywhere
  static const std::string p = test::save_random_model<double>(test::tiny_bst(2, 1, 2, 8, 3), 6, contract_file("bst"));
  return p;
}

template <class T>
std::function<std::unique_ptr<Streamer<T>>()> from_file(std::string (*file)()) {
  return [file] { return load_model<T>(file())->make_streamer(); };
}

template <class T>
std::vector<T> kernel(std::ptrdiff_t H, std::ptrdiff_t Lk) {
  const auto r = test::randn(static_cast<std::size_t>(H * Lk), 21);
  std::vector<T> k(r.size());
  for (std::size_t i = 0; i < k.size(); ++i)
    k[i] = static_cast<T>(r[i] * std::exp(-3.0 * static_cast<double>(i % static_cast<std::size_t>(Lk)) / Lk));
  return k;
}

// ---- the list of streamer types --------------------------------------------------------------
template <class T>
std::vector<Subject<T>> subjects() {
  std::vector<Subject<T>> v;
  v.push_back({"DenseFilter (HiPPO-LegT N=8, 2 copies)", [] {
                 return std::make_unique<DenseFilter<T>>(
                     hippo::system(hippo::Measure::legt, 8, Eigen::RowVectorXd::Ones(8), 0.5, 0.01),
                     Discretization{Method::bilinear, Convention::ssm, 0.5});
               }});
  v.push_back({"DenseFilter (MIMO 2 in 3 out, control convention)", [] {
                 ContinuousSystem s;
                 s.A = Eigen::MatrixXd{{-3, 1, 0}, {0, -2, 1}, {0.5, 0, -4}} * 100.0;
                 s.B = Eigen::MatrixXd{{1, 0}, {0, 1}, {1, 1}};
                 s.C = Eigen::MatrixXd{{1, 0, 0}, {0, 1, 0}, {1, 1, 1}};
                 s.D = Eigen::MatrixXd{{0.1, 0}, {0, 0.2}, {0, 0}};
                 return std::make_unique<DenseFilter<T>>(s, Discretization{Method::zoh, Convention::control, 0.5});
               }});
  v.push_back({"DiagFilter (S4D-Lin H=2 N2=20)", [] {
                 S4DInitOptions o;
                 o.seed = 5;
                 return std::make_unique<DiagFilter<T>>(s4d_init(S4DInit::lin, 2, 20, o), Method::zoh);
               }});
  v.push_back({"PartitionedConvolver (zero latency, head 16, tail 64)", [] {
                 const auto k = kernel<T>(2, 300);
                 const T D[2] = {T(0.5), T(-0.25)};
                 PartitionSpec p;
                 p.head_partition = 16;
                 p.tail_partition = 64;
                 return std::make_unique<PartitionedConvolver<T>>(2, k.data(), 300, D, p);
               }});
  v.push_back({"PartitionedConvolver (latency 32, single stage)", [] {
                 const auto k = kernel<T>(2, 200);
                 PartitionSpec p;
                 p.head_partition = 32;
                 p.zero_latency = false;
                 return std::make_unique<PartitionedConvolver<T>>(2, k.data(), 200, nullptr, p);
               }});
  // Model families through the registry: one line a family.
  v.push_back({"load_model s4d", from_file<T>(s4d_file)});
  v.push_back({"load_model mamba", from_file<T>(mamba_file)});
  v.push_back({"load_model bst", from_file<T>(bst_file)});
  v.push_back({"load_model moe_mamba", from_file<T>(moe_mamba_file)});
  return v;
}

// ---- the checks -------------------------------------------------------------------------------
constexpr int kL = 300;  // frames of the test signal

template <class T>
struct Signal {
  int C = 0, wi = 0, wo = 0;
  std::vector<std::vector<T>> in, out;  // planar: channel c, (kL, width) row-major
};

template <class T>
Signal<T> make_signal(const Streamer<T>& s, int C, std::uint64_t seed) {
  Signal<T> g;
  g.C = C;
  g.wi = s.input_width();
  g.wo = s.output_width();
  for (int c = 0; c < C; ++c) {
    const auto r = test::randn(static_cast<std::size_t>(kL) * g.wi, seed + static_cast<std::uint64_t>(c));
    g.in.emplace_back(r.begin(), r.end());
    g.out.emplace_back(static_cast<std::size_t>(kL) * g.wo, T(0));
  }
  return g;
}

// Processes frames [t0, t1) of g in blocks given by next_block() (planar).
template <class T, class Next>
void run_planar(Streamer<T>& s, Signal<T>& g, int t0, int t1, Next&& next_block) {
  std::vector<const T*> ip(static_cast<std::size_t>(g.C));
  std::vector<T*> op(static_cast<std::size_t>(g.C));
  for (int t = t0; t < t1;) {
    const int n = std::min(next_block(), t1 - t);
    for (int c = 0; c < g.C; ++c) {
      ip[static_cast<std::size_t>(c)] = g.in[static_cast<std::size_t>(c)].data() + static_cast<std::size_t>(t) * g.wi;
      op[static_cast<std::size_t>(c)] = g.out[static_cast<std::size_t>(c)].data() + static_cast<std::size_t>(t) * g.wo;
    }
    s.process(ip.data(), op.data(), n);
    t += n;
  }
}

template <class T>
std::function<int()> random_blocks(int max_block, std::uint64_t seed) {
  auto rng = std::make_shared<std::mt19937_64>(seed);
  auto count = std::make_shared<int>(0);
  return [=] {
    const int i = (*count)++;
    if (i % 5 == 0) return 1;          // 1 and max_block appear in every split
    if (i % 5 == 1) return max_block;
    return std::uniform_int_distribution<int>(1, max_block)(*rng);
  };
}

template <class T>
std::unique_ptr<Streamer<T>> prepared(const Subject<T>& sub) {
  auto s = sub.make();
  StreamSpec spec;
  spec.sample_rate = 16000;
  spec.max_block = sub.max_block;
  spec.channels = sub.channels;
  s->prepare(spec);
  return s;
}

double rel_diff(const std::vector<std::vector<double>>& a, const std::vector<std::vector<double>>& b) {
  double worst = 0;
  for (std::size_t c = 0; c < a.size(); ++c)
    for (std::size_t i = 0; i < a[c].size(); ++i)
      worst = std::max(worst, std::fabs(a[c][i] - b[c][i]) / (1 + std::fabs(b[c][i])));
  return worst;
}

template <class T>
std::vector<std::vector<double>> as_double(const std::vector<std::vector<T>>& v) {
  std::vector<std::vector<double>> r;
  for (const auto& x : v) r.emplace_back(x.begin(), x.end());
  return r;
}

template <class T>
bool same(const std::vector<std::vector<T>>& a, const std::vector<std::vector<T>>& b) {
  return a == b;
}

template <class T>
void check(const Subject<T>& sub) {
  BOOST_TEST_CONTEXT(sub.name << (std::is_same_v<T, float> ? " f32" : " f64")) {
    const int C = sub.channels, nb = sub.max_block;
    auto s = prepared(sub);
    BOOST_TEST(s->prepared());
    BOOST_TEST(s->spec().channels == C);
    const std::size_t S = s->state_size();

    // Reference: blocks of max_block.
    Signal<T> ref = make_signal(*s, C, 100);
    run_planar(*s, ref, 0, kL, [nb] { return nb; });
    double peak = 0;
    for (const auto& ch : ref.out)
      for (T v : ch) {
        BOOST_TEST_REQUIRE(std::isfinite(static_cast<double>(v)));
        peak = std::max(peak, std::fabs(static_cast<double>(v)));
      }
    BOOST_TEST(peak > 0);  // the signal reaches the output (a silent streamer would pass the rest)

    // Random splits: identical.
    for (std::uint64_t seed : {1u, 2u, 3u}) {
      auto s2 = prepared(sub);
      Signal<T> g = make_signal(*s2, C, 100);
      run_planar(*s2, g, 0, kL, random_blocks<T>(nb, seed));
      BOOST_TEST(same(g.out, ref.out), "random split " << seed << " differs from blocks of max_block");
    }

    // Per sample = block.
    {
      auto s2 = prepared(sub);
      Signal<T> g = make_signal(*s2, C, 100);
      run_planar(*s2, g, 0, kL, [] { return 1; });
      const double d = rel_diff(as_double(g.out), as_double(ref.out));
      BOOST_TEST_MESSAGE(sub.name << ": per-sample vs block max rel diff " << d);
      if (sub.per_sample_tol == 0) BOOST_TEST(same(g.out, ref.out));
      else BOOST_TEST(d <= sub.per_sample_tol);
    }

    // Save -> process -> load -> process, bit-exact; the state moves to a fresh streamer too.
    {
      auto s2 = prepared(sub);
      Signal<T> g = make_signal(*s2, C, 100);
      const int half = kL / 2 + 3;
      run_planar(*s2, g, 0, half, random_blocks<T>(nb, 9));
      std::vector<T> st(S, T(-7));
      BOOST_TEST(s2->state_size() == S);
      {
        test::RtGuard guard;
        s2->save_state(st.data());
        const auto v = guard.stop();
        BOOST_TEST(v.clean(), "save_state is not real-time safe");
      }
      run_planar(*s2, g, half, kL, random_blocks<T>(nb, 10));
      const auto first = g.out;
      BOOST_TEST(same(first, ref.out));
      {
        test::RtGuard guard;
        s2->load_state(st.data());
        const auto v = guard.stop();
        BOOST_TEST(v.clean(), "load_state is not real-time safe");
      }
      for (auto& ch : g.out) std::fill(ch.begin(), ch.end(), T(0));
      run_planar(*s2, g, half, kL, random_blocks<T>(nb, 11));
      for (int c = 0; c < C; ++c)
        BOOST_TEST(std::equal(g.out[c].begin() + static_cast<std::ptrdiff_t>(half) * g.wo, g.out[c].end(),
                              first[c].begin() + static_cast<std::ptrdiff_t>(half) * g.wo),
                   "after load_state, channel " << c << " differs");
      auto s3 = prepared(sub);
      s3->set_state(st);
      Signal<T> g3 = make_signal(*s3, C, 100);
      run_planar(*s3, g3, half, kL, random_blocks<T>(nb, 12));
      for (int c = 0; c < C; ++c)
        BOOST_TEST(std::equal(g3.out[c].begin() + static_cast<std::ptrdiff_t>(half) * g.wo, g3.out[c].end(),
                              first[c].begin() + static_cast<std::ptrdiff_t>(half) * g.wo),
                   "state loaded into a fresh streamer, channel " << c << " differs");
      BOOST_CHECK_THROW(s3->set_state(std::vector<T>(S + 1)), Error);
    }

    // reset() == fresh prepare().
    {
      Signal<T> g = make_signal(*s, C, 100);
      s->reset();
      run_planar(*s, g, 0, kL, random_blocks<T>(nb, 13));
      BOOST_TEST(same(g.out, ref.out), "reset() is not a fresh prepare()");
    }

    // Channels are independent.
    if (C > 1) {
      auto s2 = prepared(sub);
      Signal<T> g = make_signal(*s2, C, 100);
      for (auto& v : g.in[1]) v = -v * T(2);
      run_planar(*s2, g, 0, kL, [nb] { return nb; });
      BOOST_TEST((g.out[0] == ref.out[0]), "channel 0 depends on channel 1's input");
      BOOST_TEST((g.out[1] != ref.out[1]), "channel 1 ignores its input");
    }

    // Planar == interleaved.
    {
      auto s2 = prepared(sub);
      const int wi = s2->input_width(), wo = s2->output_width();
      std::vector<T> il(static_cast<std::size_t>(kL) * C * wi), ol(static_cast<std::size_t>(kL) * C * wo);
      for (int t = 0; t < kL; ++t)
        for (int c = 0; c < C; ++c)
          for (int k = 0; k < wi; ++k)
            il[(static_cast<std::size_t>(t) * C + c) * wi + k] = ref.in[c][static_cast<std::size_t>(t) * wi + k];
      auto next = random_blocks<T>(nb, 14);
      for (int t = 0; t < kL;) {
        const int n = std::min(next(), kL - t);
        s2->process_interleaved(il.data() + static_cast<std::size_t>(t) * C * wi,
                                ol.data() + static_cast<std::size_t>(t) * C * wo, n);
        t += n;
      }
      bool eq = true;
      for (int t = 0; t < kL; ++t)
        for (int c = 0; c < C; ++c)
          for (int k = 0; k < wo; ++k)
            eq = eq && ol[(static_cast<std::size_t>(t) * C + c) * wo + k] == ref.out[c][static_cast<std::size_t>(t) * wo + k];
      BOOST_TEST(eq, "process_interleaved differs from planar process");
    }

    // Oversized blocks: processed in pieces of max_block, the output of the reference (any
    // length, planar and interleaved); unprepared streamers: silence.
    {
      for (int big : {nb + 1, 2 * nb + 3, kL}) {
        auto s2 = prepared(sub);
        Signal<T> g = make_signal(*s2, C, 100);
        run_planar(*s2, g, 0, kL, [big] { return big; });
        BOOST_TEST(same(g.out, ref.out), "blocks of " << big << " (max_block " << nb << ") differ from the reference");
        auto s3 = prepared(sub);
        std::vector<T> il(static_cast<std::size_t>(kL) * C * g.wi), ol(static_cast<std::size_t>(kL) * C * g.wo);
        for (int t = 0; t < kL; ++t)
          for (int c = 0; c < C; ++c)
            std::copy_n(g.in[static_cast<std::size_t>(c)].data() + static_cast<std::size_t>(t) * g.wi, g.wi,
                        il.data() + (static_cast<std::size_t>(t) * C + c) * g.wi);
        for (int t = 0; t < kL; t += big)
          s3->process_interleaved(il.data() + static_cast<std::size_t>(t) * C * g.wi,
                                  ol.data() + static_cast<std::size_t>(t) * C * g.wo, std::min(big, kL - t));
        bool eq = true;
        for (int t = 0; t < kL; ++t)
          for (int c = 0; c < C; ++c)
            for (int k = 0; k < g.wo; ++k)
              eq = eq && ol[(static_cast<std::size_t>(t) * C + c) * g.wo + k] ==
                             ref.out[static_cast<std::size_t>(c)][static_cast<std::size_t>(t) * g.wo + k];
        BOOST_TEST(eq, "interleaved blocks of " << big << " differ from the reference");
      }
      auto fresh = sub.make();
      BOOST_TEST(fresh->state_size() == 0u);
      std::vector<T> o1(static_cast<std::size_t>(4) * fresh->output_width(), T(5)),
          i1(static_cast<std::size_t>(4) * fresh->input_width(), T(1));
      fresh->process_mono(i1.data(), o1.data(), 4);
      BOOST_TEST(std::all_of(o1.begin(), o1.end(), [](T v) { return v == T(0); }));
    }

    // Real-time safety of process / process_interleaved / reset.
    {
      auto s2 = prepared(sub);
      Signal<T> g = make_signal(*s2, C, 100);
      std::vector<T> il(static_cast<std::size_t>(nb) * C * g.wi, T(0.5)), ol(static_cast<std::size_t>(nb) * C * g.wo);
      run_planar(*s2, g, 0, 8, [] { return 8; });  // warm-up (SIMD dispatch resolution)
      std::vector<const T*> ip(static_cast<std::size_t>(C));
      std::vector<T*> op(static_cast<std::size_t>(C));
      for (int c = 0; c < C; ++c) {
        ip[static_cast<std::size_t>(c)] = g.in[static_cast<std::size_t>(c)].data();
        op[static_cast<std::size_t>(c)] = g.out[static_cast<std::size_t>(c)].data();
      }
      test::RtGuard guard;
      for (int n : {1, nb, 7, nb / 2 + 1}) {
        s2->process(ip.data(), op.data(), n);
        s2->process_interleaved(il.data(), ol.data(), n);
      }
      s2->reset();
      s2->process(ip.data(), op.data(), nb);
      const auto v = guard.stop();
      BOOST_TEST(v.allocations == 0u);
      BOOST_TEST(v.locks == 0u);
      BOOST_TEST(v.throws == 0u);
      BOOST_TEST(v.writes == 0u);
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_streamer_honours_the_contract_f32) {
  for (const auto& sub : subjects<float>()) check(sub);
}

BOOST_AUTO_TEST_CASE(every_streamer_honours_the_contract_f64) {
  for (const auto& sub : subjects<double>()) check(sub);
}

BOOST_AUTO_TEST_CASE(every_registered_family_is_covered) {
  // A family registered without a line in subjects() fails here, unless it is one of the
  // offline-only families (not causal: bidirectional / 2D scans), which have no streamer: for
  // those, tests/cli/test_cli.cpp's run_model_works_for_every_registered_arch checks that
  // make_streamer() refuses by name.
  const std::vector<std::string> offline_only = {"vim", "vmamba"};
  const auto subs = subjects<float>();
  for (const auto& arch : model_archs()) {
    if (std::find(offline_only.begin(), offline_only.end(), arch) != offline_only.end()) continue;
    const bool covered = std::any_of(subs.begin(), subs.end(),
                                     [&](const Subject<float>& s) { return s.name == "load_model " + arch; });
    BOOST_TEST(covered, "model family '" << arch << "' has no line in subjects()");
  }
}

BOOST_AUTO_TEST_CASE(specs_that_do_not_fit_are_named) {
  S4DInitOptions o;
  DiagFilter<float> d(s4d_init(S4DInit::lin, 3, 4, o));
  try {
    d.prepare({48000.0, 64, 1.0, 2});
    BOOST_FAIL("expected ssm::Error");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("'spec.channels'") != std::string::npos);
  }
  const auto k = kernel<float>(2, 10);
  PartitionedConvolver<float> pc(2, k.data(), 10, nullptr);
  BOOST_CHECK_THROW(pc.prepare({48000.0, 64, 1.0, 3}), Error);
  // A new kernel unprepares until the next prepare(): silence, no stale partition layout.
  PartitionedConvolver<float> pk(1, k.data(), 10, nullptr);
  pk.prepare({48000.0, 16, 1.0, 1});
  BOOST_TEST(pk.prepared());
  pk.set_kernel(2, k.data(), 10, nullptr);
  BOOST_TEST(!pk.prepared());
  BOOST_TEST(pk.state_size() == 0u);
  std::vector<float> one(4, 1.0f), out(4, 5.0f);
  pk.process_interleaved(one.data(), out.data(), 2);
  BOOST_TEST((out[0] == 0.0f && out[1] == 0.0f));
  pk.prepare({48000.0, 16, 1.0, 2});
  BOOST_TEST(pk.channels() == 2);
  PartitionedConvolver<float> none;
  BOOST_CHECK_THROW(none.prepare(StreamSpec{}), Error);  // no kernel
  StreamSpec bad;
  bad.channels = 0;
  DenseFilter<float> f(hippo::system(hippo::Measure::legs, 4, Eigen::RowVectorXd::Ones(4), 0.0, 0.01), {});
  BOOST_CHECK_THROW(f.prepare(bad), Error);
  BOOST_TEST(!f.prepared());
}
