// BiMambaBlock (Vim bidirectional block): the fused path (in-place anti-causal conv +
// bidirectional scan) against the unfused recipe (explicit flips + two Mamba inner parts),
// float and double, with and without biases and if_divide_out, L = 1 and lengths that are not
// a multiple of the scan block; time reversal symmetry; files missing a backward-branch tensor
// or with a d_inner that disagrees with the weights; bad arguments.
#define BOOST_TEST_MODULE layers_bimamba_block
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "ssm/core/error.hpp"
#include "ssm/io/safetensors.hpp"
#include "ssm/layers/bimamba_block.hpp"
#include "ssm/layers/model_file.hpp"
#include "support/testing.hpp"

using namespace ssm;

namespace {

BiMambaBlockConfig small_config(bool biases, bool divide) {
  BiMambaBlockConfig c;
  c.d_model = 12;
  c.d_inner = 24;
  c.d_state = 8;
  c.d_conv = 4;
  c.dt_rank = 2;
  c.in_proj_bias = c.out_proj_bias = biases;
  c.conv_bias = true;
  c.if_divide_out = divide;
  return c;
}



template <class T>
void fused_vs_unfused() {
  const double tol = std::is_same_v<T, float> ? 2e-5 : 1e-12;
  for (bool biases : {false, true})
    for (bool divide : {false, true}) {
      const auto cfg = small_config(biases, divide);
      BiMambaBlock<T> block(cfg, random_bimamba_block<T>(cfg, 7 + biases + 2 * divide));
      for (int L : {1, 2, 17, 70}) {
        const int batch = 2;
        const auto x = test::randn_as<T>(std::size_t(batch) * L * cfg.d_model, 100 + L);
        std::vector<T> yf(x.size()), yu(x.size());
        block.forward(x.data(), batch, L, yf.data(), Device::cpu, BiMambaPath::fused);
        block.forward(x.data(), batch, L, yu.data(), Device::cpu, BiMambaPath::unfused);
        BOOST_TEST_CONTEXT("biases " << biases << " divide " << divide << " L " << L) {
          BOOST_TEST(test::max_rel_diff(yf, yu) <= tol);
          BOOST_TEST(std::all_of(yf.begin(), yf.end(), [](T v) { return std::isfinite(double(v)); }));
        }
      }
    }
}

/// Tensors of a block under Vim's names (optionally leaving one out or replacing its shape).
template <class T>
std::vector<io::TensorOut> tensors(const BiMambaBlockConfig& c, const BiMambaBlockParams<T>& p,
                                   const std::string& drop = "", const std::string& reshape = "") {
  const std::int64_t dm = c.d_model, di = c.d_inner, N = c.d_state, K = c.d_conv, R = c.dt_rank;
  std::vector<io::TensorOut> t;
  auto add = [&](const std::string& n, std::vector<std::int64_t> s, const std::vector<T>& v) {
    if (n == drop || v.empty()) return;
    std::vector<double> d(v.begin(), v.end());
    if (n == reshape) {  // one extra row: a d_inner that disagrees
      s[0] += 1;
      std::int64_t per = 1;
      for (std::size_t i = 1; i < s.size(); ++i) per *= s[i];
      d.resize(std::size_t(s[0] * per), 0.0);
    }
    t.push_back({n, io::DType::F32, s, d});
  };
  add("in_proj.weight", {2 * di, dm}, p.fwd.in_proj_weight);
  add("in_proj.bias", {2 * di}, p.fwd.in_proj_bias);
  add("conv1d.weight", {di, 1, K}, p.fwd.conv1d_weight);
  add("conv1d.bias", {di}, p.fwd.conv1d_bias);
  add("x_proj.weight", {R + 2 * N, di}, p.fwd.x_proj_weight);
  add("dt_proj.weight", {di, R}, p.fwd.dt_proj_weight);
  add("dt_proj.bias", {di}, p.fwd.dt_proj_bias);
  add("A_log", {di, N}, p.fwd.A_log);
  add("D", {di}, p.fwd.D);
  add("out_proj.weight", {dm, di}, p.fwd.out_proj_weight);
  add("out_proj.bias", {dm}, p.fwd.out_proj_bias);
  add("conv1d_b.weight", {di, 1, K}, p.conv1d_b_weight);
  add("conv1d_b.bias", {di}, p.conv1d_b_bias);
  add("x_proj_b.weight", {R + 2 * N, di}, p.x_proj_b_weight);
  add("dt_proj_b.weight", {di, R}, p.dt_proj_b_weight);
  add("dt_proj_b.bias", {di}, p.dt_proj_b_bias);
  add("A_b_log", {di, N}, p.A_b_log);
  add("D_b", {di}, p.D_b);
  return t;
}

std::string load_error(const std::vector<io::TensorOut>& t) {
  try {
    const auto st = io::SafeTensors::parse(io::serialize_safetensors(t, {}));
    const auto cfg = infer_bimamba_block_config(st);
    TensorReader r(st, "test");
    BiMambaBlock<float> b(cfg, read_bimamba_block<float>(r, "", cfg));
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

BOOST_AUTO_TEST_CASE(fused_equals_unfused_float) { fused_vs_unfused<float>(); }
BOOST_AUTO_TEST_CASE(fused_equals_unfused_double) { fused_vs_unfused<double>(); }

// With both branches given the same parameters, y(x) = f(x) + flip(f(flip x)), so
// y(flip x) = flip y(x): a symmetry that checks the reversal maps of the fused path.
BOOST_AUTO_TEST_CASE(identical_branches_commute_with_time_reversal) {
  const auto cfg = small_config(true, true);
  auto p = random_bimamba_block<double>(cfg, 3);
  p.conv1d_b_weight = p.fwd.conv1d_weight;
  p.conv1d_b_bias = p.fwd.conv1d_bias;
  p.x_proj_b_weight = p.fwd.x_proj_weight;
  p.dt_proj_b_weight = p.fwd.dt_proj_weight;
  p.dt_proj_b_bias = p.fwd.dt_proj_bias;
  p.A_b_log = p.fwd.A_log;
  p.D_b = p.fwd.D;
  BiMambaBlock<double> block(cfg, p);
  const int batch = 1, L = 23, dm = cfg.d_model;
  const auto x = test::randn_as<double>(std::size_t(L) * dm, 5);
  std::vector<double> xr(x.size()), y(x.size()), yr(x.size()), yrr(x.size());
  for (int t = 0; t < L; ++t) std::copy_n(x.data() + t * dm, dm, xr.data() + (L - 1 - t) * dm);
  block.forward(x.data(), batch, L, y.data());
  block.forward(xr.data(), batch, L, yr.data());
  for (int t = 0; t < L; ++t) std::copy_n(yr.data() + t * dm, dm, yrr.data() + (L - 1 - t) * dm);
  BOOST_TEST(test::max_rel_diff(yrr, y) <= 1e-12);
  // and with different branches it is not (the test can tell the branches apart)
  BiMambaBlock<double> other(cfg, random_bimamba_block<double>(cfg, 3));
  other.forward(x.data(), batch, L, y.data());
  other.forward(xr.data(), batch, L, yr.data());
  for (int t = 0; t < L; ++t) std::copy_n(yr.data() + t * dm, dm, yrr.data() + (L - 1 - t) * dm);
  BOOST_TEST(test::max_rel_diff(yrr, y) > 1e-3);
}

BOOST_AUTO_TEST_CASE(file_round_trip_and_named_errors) {
  const auto cfg = small_config(true, false);
  const auto p = random_bimamba_block<float>(cfg, 11);
  BOOST_TEST(load_error(tensors(cfg, p)) == "");
  for (const char* name : {"conv1d_b.weight", "x_proj_b.weight", "dt_proj_b.weight", "dt_proj_b.bias", "A_b_log",
                           "D_b", "conv1d_b.bias"}) {
    const std::string m = load_error(tensors(cfg, p, name));
    BOOST_TEST_INFO(m);
    BOOST_TEST(m.find(std::string("'") + name + "'") != std::string::npos);
  }
  for (const char* name : {"A_b_log", "D_b", "in_proj.weight", "conv1d_b.weight", "x_proj_b.weight"}) {
    const std::string m = load_error(tensors(cfg, p, "", name));
    BOOST_TEST_INFO(m);
    BOOST_TEST(m.find(std::string("'") + name + "'") != std::string::npos);
    BOOST_TEST(m.find("d_inner") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(bad_parameters_and_arguments) {
  const auto cfg = small_config(false, false);
  auto p = random_bimamba_block<float>(cfg, 1);
  p.D_b.pop_back();
  try {
    BiMambaBlock<float> b(cfg, p);
    BOOST_ERROR("no error");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("'D_b'") != std::string::npos);
  }
  auto q = random_bimamba_block<float>(cfg, 1);
  q.A_b_log[3] = NAN;
  BOOST_CHECK_THROW(BiMambaBlock<float>(cfg, q), Error);
  BiMambaBlock<float> block(cfg, random_bimamba_block<float>(cfg, 1));
  std::vector<float> x(std::size_t(3) * cfg.d_model), y(x.size());
  try {
    block.forward(x.data(), 0, 3, y.data());
    BOOST_ERROR("no error");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("'batch'") != std::string::npos);
  }
  BOOST_CHECK_THROW(block.forward(x.data(), 1, 3, x.data()), Error);  // y overlaps x
  BOOST_CHECK_THROW(block.forward(x.data(), 1, 0, y.data()), Error);
}
