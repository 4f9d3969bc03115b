// MoE throughput on the CPU, every figure a ratio to a baseline measured in the same run.
//  * MoE FFN, 4096 tokens, 8 experts, d_model 256, d_ff 1024, GELU, top_k 1 and 2, float32:
//    the grouped path (MoEFFN::forward: counting sort by expert, one GEMM pair an expert)
//    against the per-token loop (MoEFFN::forward_token over the same tokens: only the chosen
//    experts, matrix-vector products on the same packed, register-tiled kernel with one row a
//    block). Goal: grouped >= 5x the per-token loop.
//  * MoE-Mamba step cost: MoEMambaModel (d_model 256, 4 layers, d_inner 512, d_state 16,
//    8 experts of d_ff 1024, top_k 1) one token at a time, against a dense MambaModel with the
//    same d_model, layers and d_state whose d_inner is chosen so that its parameter count per
//    layer equals the MoE-Mamba layer's ACTIVE parameters (mixer + router + top_k experts).
//    Goal: MoE-Mamba step time <= 1.3x the dense model's.
//  * Real-time factor of streaming at 48 kHz (audio seconds per second, blocks of 64) of a small
//    mono MoE-Mamba (d_model 32, 2 layers, d_inner 64, d_state 16, 4 experts of d_ff 64, top_k 1),
//    against the dense Mamba of the same active parameter count chosen as above.
// OpenMP runs on one thread unless OMP_NUM_THREADS is set (the ratios are per core); rates are
// in the benchmark thread's CPU time, so a shared machine does not skew them (with more OpenMP
// threads, read the Time column instead).
#include <benchmark/benchmark.h>
#include <omp.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ssm/layers/mamba_model.hpp"
#include "ssm/layers/moe_ffn.hpp"
#include "ssm/layers/moe_mamba_model.hpp"

namespace {

std::map<std::string, double>& results() {
  static std::map<std::string, double> r;
  return r;
}

std::vector<float> signal(std::size_t n) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = std::sin(0.05f * float(i)) + 0.3f * std::cos(0.31f * float(i * i % 977));
  return v;
}

// ---- MoE FFN: grouped vs per-token ------------------------------------------------------------

constexpr int kTokens = 4096, kDm = 256, kDff = 1024, kExperts = 8;

ssm::MoEFFN<float>& moe(int k) {
  static std::map<int, std::unique_ptr<ssm::MoEFFN<float>>> m;
  auto& p = m[k];
  if (!p) {
    ssm::MoEFFNConfig c;
    c.d_model = kDm;
    c.d_ff = kDff;
    c.n_experts = kExperts;
    c.top_k = k;
    c.activation = ssm::Activation::gelu;
    c.router_bias = c.fc1_bias = c.fc2_bias = true;
    p = std::make_unique<ssm::MoEFFN<float>>(c, ssm::random_moe_ffn<float>(c, 7));
  }
  return *p;
}

void BM_MoEGrouped(benchmark::State& st) {
  auto& m = moe(int(st.range(0)));
  const auto x = signal(std::size_t(kTokens) * kDm);
  std::vector<float> y(x.size());
  for (auto _ : st) {
    m.forward(x.data(), kTokens, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  st.counters["tokens_per_s"] = benchmark::Counter(double(kTokens) * double(st.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_MoEGrouped)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->MinTime(1.0);

void BM_MoEPerToken(benchmark::State& st) {
  auto& m = moe(int(st.range(0)));
  const auto x = signal(std::size_t(kTokens) * kDm);
  std::vector<float> y(x.size());
  auto s = m.make_scratch();
  for (auto _ : st) {
    m.forward_token(x.data(), y.data(), nullptr, s, kTokens);
    benchmark::DoNotOptimize(y.data());
  }
  st.counters["tokens_per_s"] = benchmark::Counter(double(kTokens) * double(st.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_MoEPerToken)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->MinTime(1.0);

// ---- MoE-Mamba step vs dense Mamba of the same active parameters ------------------------------

double mixer_params(const ssm::MambaBlockConfig& b) {
  const double dm = b.d_model, di = b.d_inner, N = b.d_state, K = b.d_conv, R = b.dt_rank;
  return 2 * di * dm + di * K + di + (R + 2 * N) * di + di * R + di + di * N + di + dm * di;
}
double active_moe_params(const ssm::MoEFFNConfig& e) {
  const double per_expert = 2.0 * e.d_model * e.d_ff + e.d_ff + e.d_model;
  return double(e.n_experts) * e.d_model + e.n_experts + e.top_k * per_expert;
}

ssm::MoEMambaModelConfig moe_mamba_config(int dm, int layers, int di, int E, int dff, int k) {
  ssm::MoEMambaModelConfig c;
  c.n_layers = layers;
  auto& b = c.layer.mixer;
  b.d_model = dm;
  b.d_inner = di;
  b.d_state = 16;
  b.d_conv = 4;
  b.dt_rank = (dm + 15) / 16;
  auto& e = c.layer.moe;
  e.d_model = dm;
  e.d_ff = dff;
  e.n_experts = E;
  e.top_k = k;
  e.activation = ssm::Activation::gelu;
  e.fc1_bias = e.fc2_bias = true;
  return c;
}

// The dense MambaModel whose layer has as many parameters as the MoE-Mamba layer has active ones.
ssm::MambaModelConfig dense_equivalent(const ssm::MoEMambaModelConfig& m) {
  ssm::MambaModelConfig c;
  c.n_layers = m.n_layers;
  c.block = m.layer.mixer;
  // a MoE-Mamba layer has two norms (2 d_model), a Mamba layer one (d_model)
  const double target = mixer_params(m.layer.mixer) + active_moe_params(m.layer.moe) + m.layer.mixer.d_model;
  int best = 8;
  double best_err = INFINITY;
  for (int di = 8; di <= 64 * m.layer.mixer.d_model; di += 8) {
    c.block.d_inner = di;
    const double err = std::fabs(mixer_params(c.block) + c.block.d_model - target);
    if (err < best_err) {
      best_err = err;
      best = di;
    }
  }
  c.block.d_inner = best;
  return c;
}

struct StepPair {
  std::unique_ptr<ssm::MoEMambaModel<float>> moe;
  std::unique_ptr<ssm::MambaModel<float>> dense;
};

StepPair& pair(int which) {  // 0: d_model 256 x 4 (tokens), 1: small audio model
  static std::map<int, StepPair> p;
  auto& s = p[which];
  if (!s.moe) {
    const auto mc = which == 0 ? moe_mamba_config(256, 4, 512, 8, 1024, 1) : moe_mamba_config(32, 2, 64, 4, 64, 1);
    const auto dc = dense_equivalent(mc);
    s.moe = std::make_unique<ssm::MoEMambaModel<float>>(mc, ssm::random_moe_mamba_model<float>(mc, 1));
    s.dense = std::make_unique<ssm::MambaModel<float>>(dc, ssm::random_mamba_model<float>(dc, 1));
    results()["dense_d_inner_" + std::to_string(which)] = dc.block.d_inner;
    results()["active_params_" + std::to_string(which)] =
        mixer_params(mc.layer.mixer) + active_moe_params(mc.layer.moe) + mc.layer.mixer.d_model;
    results()["dense_params_" + std::to_string(which)] = mixer_params(dc.block) + dc.block.d_model;
  }
  return s;
}

template <class M>
void run_stream(benchmark::State& st, M& m, int n, int block) {
  m.prepare({48000.0, block});
  const auto u = signal(std::size_t(n));
  std::vector<float> y(static_cast<std::size_t>(n));
  for (auto _ : st) {
    for (int t = 0; t < n; t += block) m.process_mono(u.data() + t, y.data() + t, std::min(block, n - t));
    benchmark::DoNotOptimize(y.data());
  }
}

void BM_Step(benchmark::State& st) {  // arg 0: MoE-Mamba, 1: dense Mamba; d_model 256 x 4, one token a call
  auto& p = pair(0);
  const int n = 256;
  if (st.range(0) == 0) run_stream(st, *p.moe, n, 1);
  else run_stream(st, *p.dense, n, 1);
  st.counters["tokens_per_s"] = benchmark::Counter(double(n) * double(st.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Step)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->MinTime(1.0);

void BM_Stream48k(benchmark::State& st) {  // arg 0: MoE-Mamba, 1: dense Mamba; small audio model, blocks of 64
  auto& p = pair(1);
  const int n = 48000;  // one second of audio an iteration
  if (st.range(0) == 0) run_stream(st, *p.moe, n, 64);
  else run_stream(st, *p.dense, n, 64);
  st.counters["rtf"] = benchmark::Counter(double(st.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Stream48k)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->MinTime(1.0);

class Collector : public benchmark::ConsoleReporter {
public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs)
      for (const auto& [k, v] : r.counters) results()[r.benchmark_name() + ":" + k] = v.value;
    ConsoleReporter::ReportRuns(runs);
  }
};

}  // namespace

int main(int argc, char** argv) {
  // libgomp reads OMP_NUM_THREADS when it is loaded, before main: set the team size itself
  if (!std::getenv("OMP_NUM_THREADS")) {
    setenv("OMP_NUM_THREADS", "1", 0);
    omp_set_num_threads(1);
  }
  benchmark::Initialize(&argc, argv);
  Collector rep;
  benchmark::RunSpecifiedBenchmarks(&rep);
  auto get = [](const std::string& k) {
    auto it = results().find(k);
    return it == results().end() ? NAN : it->second;
  };
  std::printf("\nsummary (OMP_NUM_THREADS=%s; every ratio against a baseline of this run)\n", std::getenv("OMP_NUM_THREADS"));
  for (int k : {1, 2}) {
    const std::string a = "/" + std::to_string(k) + "/min_time:1.000:tokens_per_s";
    const double g = get("BM_MoEGrouped" + a), t = get("BM_MoEPerToken" + a);
    std::printf("  MoE FFN 4096 tok, E 8, 256x1024, top_%d: grouped %9.0f tok/s, per-token %9.0f tok/s, "
                "grouped/per-token = %.2f x (goal >= 5)\n",
                k, g, t, g / t);
  }
  const double sm = get("BM_Step/0/min_time:1.000:tokens_per_s");
  const double sd = get("BM_Step/1/min_time:1.000:tokens_per_s");
  std::printf("  step, d_model 256 x 4 layers: MoE-Mamba (E 8, d_ff 1024, top_1; %.0f active params/layer) "
              "%8.0f tok/s; dense Mamba d_inner %.0f (%.0f params/layer) %8.0f tok/s; "
              "MoE/dense step time = %.2f x (goal <= 1.3)\n",
              get("active_params_0"), sm, get("dense_d_inner_0"), get("dense_params_0"), sd, sd / sm);
  const double rm = get("BM_Stream48k/0/min_time:1.000:rtf");
  const double rd = get("BM_Stream48k/1/min_time:1.000:rtf");
  std::printf("  stream @48 kHz, blocks of 64, d_model 32 x 2 layers: MoE-Mamba (E 4, d_ff 64, top_1) "
              "real-time factor %.2f x; dense Mamba d_inner %.0f %.2f x; MoE/dense time = %.2f x\n",
              rm, get("dense_d_inner_1"), rd, rd / rm);
  benchmark::Shutdown();
  return 0;
}
