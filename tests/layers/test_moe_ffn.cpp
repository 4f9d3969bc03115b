// MoEFFN: the grouped path (counting sort by expert, one GEMM pair an expert) and the per-token
// path agree with each other and with a dense reference written here (every expert evaluated
// for every token, softmax over the logits, experts chosen by a stable sort); ties, E = 1,
// top_k = E, argument errors and real-time safety of the token path.
#define BOOST_TEST_MODULE layers_moe_ffn
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "ssm/core/error.hpp"
#include "ssm/layers/moe_ffn.hpp"
#include "support/rt_guard.hpp"
#include "support/models.hpp"
#include "support/testing.hpp"

using namespace ssm;
namespace tt = boost::test_tools;

namespace {

MoEFFNConfig config(int dm, int df, int E, int k, Activation a, bool biases) {
  return test::moe_ffn_config(dm, df, E, k, a, biases);
}

double act(double v, Activation a) {
  switch (a) {
    case Activation::gelu: return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
    case Activation::relu: return v > 0 ? v : 0;
    case Activation::silu: return v / (1 + std::exp(-v));
  }
  return 0;
}

// Dense reference in double: all experts for every token.
void reference(const MoEFFNConfig& c, const MoEFFNParams<double>& p, const std::vector<double>& x,
               std::vector<double>& y, std::vector<std::int64_t>& idx) {
  const int dm = c.d_model, df = c.d_ff, E = c.n_experts, k = c.top_k;
  const std::size_t rows = x.size() / dm;
  y.assign(x.size(), 0);
  idx.assign(rows * k, -1);
  for (std::size_t r = 0; r < rows; ++r) {
    const double* xr = &x[r * dm];
    std::vector<double> lg(E);
    for (int e = 0; e < E; ++e) {
      double s = p.router_bias.empty() ? 0 : p.router_bias[e];
      for (int i = 0; i < dm; ++i) s += p.router_weight[e * dm + i] * xr[i];
      lg[e] = s;
    }
    std::vector<int> ord(E);
    std::iota(ord.begin(), ord.end(), 0);
    std::stable_sort(ord.begin(), ord.end(), [&](int a, int b) { return lg[a] > lg[b]; });
    const double mx = lg[ord[0]];
    double all = 0, chosen_sum = 0;
    for (int e = 0; e < E; ++e) all += std::exp(lg[e] - mx);
    for (int j = 0; j < k; ++j) chosen_sum += std::exp(lg[ord[j]] - mx);
    for (int j = 0; j < k; ++j) {
      const int e = ord[j];
      idx[r * k + j] = e;
      const double g = std::exp(lg[e] - mx) / (k == 1 ? all : chosen_sum);
      const auto& ex = p.experts[e];
      std::vector<double> h(df);
      for (int f = 0; f < df; ++f) {
        double s = ex.fc1_bias.empty() ? 0 : ex.fc1_bias[f];
        for (int i = 0; i < dm; ++i) s += ex.fc1_weight[f * dm + i] * xr[i];
        h[f] = act(s, c.activation);
      }
      for (int o = 0; o < dm; ++o) {
        double s = ex.fc2_bias.empty() ? 0 : ex.fc2_bias[o];
        for (int f = 0; f < df; ++f) s += ex.fc2_weight[o * df + f] * h[f];
        y[r * dm + o] += g * s;
      }
    }
  }
}

MoEFFNParams<float> to_float(const MoEFFNParams<double>& p) {
  auto cv = [](const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); };
  MoEFFNParams<float> q;
  q.router_weight = cv(p.router_weight);
  q.router_bias = cv(p.router_bias);
  for (const auto& e : p.experts) q.experts.push_back({cv(e.fc1_weight), cv(e.fc1_bias), cv(e.fc2_weight), cv(e.fc2_bias)});
  return q;
}

template <class T>
std::vector<double> dbl(const std::vector<T>& v) { return {v.begin(), v.end()}; }

}  // namespace

BOOST_AUTO_TEST_CASE(grouped_token_and_dense_reference_agree) {
  struct Case { int dm, df, E, k; Activation a; bool bias; std::size_t rows; };
  const Case cases[] = {
      {16, 40, 4, 1, Activation::gelu, true, 37},    // Switch
      {12, 24, 8, 2, Activation::silu, false, 50},   // Mixtral-style top-2
      {8, 16, 3, 3, Activation::relu, true, 21},     // top_k = E: softmax over all
      {8, 16, 1, 1, Activation::gelu, true, 9},      // one expert: gate 1
      {32, 64, 8, 2, Activation::gelu, true, 2500},  // enough rows for the OpenMP branches
  };
  for (const auto& cs : cases) {
    const auto cfg = config(cs.dm, cs.df, cs.E, cs.k, cs.a, cs.bias);
    const auto pd = random_moe_ffn<double>(cfg, 100 + cs.E);
    MoEFFN<double> md(cfg, pd);
    const auto x = test::randn(cs.rows * cs.dm, 7 + cs.k);
    std::vector<double> y_ref;
    std::vector<std::int64_t> i_ref;
    reference(cfg, pd, x, y_ref, i_ref);

    std::vector<double> yg(x.size()), yt(x.size());
    std::vector<std::int64_t> ig(i_ref.size(), -1), it(i_ref.size(), -1);
    md.forward(x.data(), std::ptrdiff_t(cs.rows), yg.data(), ig.data());
    auto s = md.make_scratch();
    md.forward_token(x.data(), yt.data(), it.data(), s, std::ptrdiff_t(cs.rows));
    BOOST_TEST(ig == i_ref, "E " << cs.E << " k " << cs.k);
    BOOST_TEST(it == i_ref);
    BOOST_TEST(test::max_rel_diff(yg, y_ref) < 1e-12, "E " << cs.E << " k " << cs.k);
    BOOST_TEST(test::max_rel_diff(yt, y_ref) < 1e-12);
    BOOST_TEST(*std::max_element(y_ref.begin(), y_ref.end()) > 1e-3);  // not trivially zero
    if (cs.E > 1) {  // several experts are really used
      std::vector<int> used(cs.E, 0);
      for (auto e : i_ref) used[std::size_t(e)] = 1;
      BOOST_TEST(std::accumulate(used.begin(), used.end(), 0) > 1);
    }

    // float32 of the same model
    MoEFFN<float> mf(cfg, to_float(pd));
    const std::vector<float> xf(x.begin(), x.end());
    std::vector<float> yf(xf.size()), ytf(xf.size());
    std::vector<std::int64_t> igf(i_ref.size()), itf(i_ref.size());
    mf.forward(xf.data(), std::ptrdiff_t(cs.rows), yf.data(), igf.data());
    auto sf = mf.make_scratch();
    mf.forward_token(xf.data(), ytf.data(), itf.data(), sf, std::ptrdiff_t(cs.rows));
    BOOST_TEST(test::max_rel_diff(dbl(yf), y_ref) < 1e-4);
    BOOST_TEST(test::max_rel_diff(dbl(ytf), y_ref) < 1e-4);
    BOOST_TEST(igf == itf);  // both float paths route with the same code
  }
}

BOOST_AUTO_TEST_CASE(ties_go_to_the_lowest_index) {
  // a zero router: every logit equal, so the first k experts win, gates 1/E (top-1) or 1/k
  for (int k : {1, 2, 3}) {
    auto cfg = config(6, 10, 5, k, Activation::relu, false);
    auto p = random_moe_ffn<double>(cfg, 3);
    std::fill(p.router_weight.begin(), p.router_weight.end(), 0.0);
    MoEFFN<double> m(cfg, p);
    const auto x = test::randn(4 * 6, 2);
    std::vector<double> y(x.size()), y_ref;
    std::vector<std::int64_t> idx(4 * k), i_ref;
    m.forward(x.data(), 4, y.data(), idx.data());
    reference(cfg, p, x, y_ref, i_ref);
    for (int r = 0; r < 4; ++r)
      for (int j = 0; j < k; ++j) BOOST_TEST(idx[r * k + j] == j);
    BOOST_TEST(test::max_rel_diff(y, y_ref) < 1e-12);
    int chosen[3];
    double gates[3];
    double lg[5] = {0, 0, 0, 0, 0};
    MoEFFN<double>::route(lg, 5, k, chosen, gates);
    BOOST_TEST(gates[0] == (k == 1 ? 0.2 : 1.0 / k), tt::tolerance(1e-15));
  }
  // a tie between two maxima after a smaller logit: index order decides, not position
  int chosen[2];
  double gates[2];
  double lg[4] = {0.5, 2.0, -1.0, 2.0};
  MoEFFN<double>::route(lg, 4, 2, chosen, gates);
  BOOST_TEST(chosen[0] == 1);
  BOOST_TEST(chosen[1] == 3);
  BOOST_TEST(gates[0] == 0.5, tt::tolerance(1e-15));
  // NaN is never preferred over a number
  double ln[3] = {NAN, 1.0, 0.0};
  MoEFFN<double>::route(ln, 3, 2, chosen, gates);
  BOOST_TEST(chosen[0] == 1);
  BOOST_TEST(chosen[1] == 2);
}

BOOST_AUTO_TEST_CASE(token_path_is_real_time_safe_and_may_alias) {
  const auto cfg = config(24, 48, 6, 2, Activation::gelu, true);
  MoEFFN<float> m(cfg, random_moe_ffn<float>(cfg, 5));
  auto s = m.make_scratch();
  BOOST_TEST(s.made_for(24, 48, 6, 2));
  BOOST_TEST(!s.made_for(24, 48, 6, 1));
  const auto x = test::randn_f(3 * 24, 4);
  std::vector<float> y(x.size()), y2(x);
  std::vector<std::int64_t> idx(6);
  m.forward_token(x.data(), y.data(), idx.data(), s, 3);  // warm
  {
    test::RtGuard g;
    m.forward_token(x.data(), y.data(), idx.data(), s, 3);
    m.forward_token(y2.data(), y2.data(), nullptr, s, 3);  // in place
    const auto v = g.stop();
    BOOST_TEST(v.allocations == 0u);
    BOOST_TEST(v.locks == 0u);
    BOOST_TEST(v.throws == 0u);
    BOOST_TEST(v.clean());
  }
  BOOST_TEST(test::max_abs_diff(y, y2) == 0.0);
}

BOOST_AUTO_TEST_CASE(invalid_arguments_throw_naming_them) {
  auto what = [](auto&& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no throw");
  };
  auto cfg = config(8, 16, 4, 5, Activation::gelu, false);  // top_k > E
  BOOST_TEST(what([&] { cfg.validate("t"); }).find("top_k") != std::string::npos);
  BOOST_TEST(what([&] { random_moe_ffn<float>(cfg, 1); }).find("top_k") != std::string::npos);
  cfg.top_k = 0;
  BOOST_TEST(what([&] { cfg.validate("t"); }).find("top_k") != std::string::npos);
  cfg.top_k = 2;
  auto p = random_moe_ffn<float>(cfg, 1);
  auto q = p;
  q.experts[2].fc2_weight.pop_back();
  BOOST_TEST(what([&] { MoEFFN<float>(cfg, q); }).find("experts.2.fc2.weight") != std::string::npos);
  q = p;
  q.experts.pop_back();
  BOOST_TEST(what([&] { MoEFFN<float>(cfg, q); }).find("experts") != std::string::npos);
  q = p;
  q.router_weight[3] = NAN;
  BOOST_TEST(what([&] { MoEFFN<float>(cfg, q); }).find("router.weight") != std::string::npos);
  q = p;
  q.experts[1].fc1_bias.assign(16, 0.f);  // only one expert with a bias
  BOOST_TEST(what([&] { MoEFFN<float>(cfg, q); }).find("experts.1.fc1.bias") != std::string::npos);
  MoEFFN<float> m(cfg, p);
  std::vector<float> x(3 * 8), y(x.size());
  BOOST_TEST(what([&] { m.forward(x.data(), 0, y.data()); }).find("rows") != std::string::npos);
  BOOST_TEST(what([&] { m.forward(x.data(), 3, x.data()); }).find("'y'") != std::string::npos);
  BOOST_TEST(what([&] { parse_activation("tanh", "t"); }).find("activation") != std::string::npos);
  MoEFFN<float> empty;
  BOOST_CHECK_THROW(empty.forward(x.data(), 3, y.data()), Error);
  if (!cuda_compiled()) BOOST_CHECK_THROW(m.forward(x.data(), 3, y.data(), nullptr, Device::cuda), Error);
}
