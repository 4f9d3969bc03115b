// ssmkit_check_export: does ssmkit compute what PyTorch computed for an exported model?
//
//   ssmkit_check_export FILE.check.safetensors... [--rtol R] [--block N]
//
// A check file (written by tools/export_*.py next to the model file it checks) holds
//   u  the input, any shape the model takes (sequence models: (batch, length, d_input))
//   y  PyTorch's output for u (float64 reference)
// and metadata `model` (the model file's name, relative to the check file's folder) and
// optionally `rtol`. The model is opened with ssm::load_model<double> (any registered
// family), run offline in every mode it lists, and, when it is causal, streamed: every batch
// item one channel of a Streamer, in blocks of --block frames (default 7, so that block
// boundaries fall everywhere), at the model's own rate (its config's `sample_rate`; 48 kHz
// when it has none: families with learned steps ignore the rate). Each run must satisfy
//   max |got - y| <= rtol * max |y|      (rtol: --rtol, else the file's, else 1e-9)
// One line per run; exit status 0 when every run of every file passed, 1 otherwise, 2 for a
// file that cannot be read or a model that cannot be loaded (the error on stderr).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ssm/io/safetensors.hpp"
#include "ssm/layers/registry.hpp"

namespace {

double rel_err(const std::vector<double>& got, const std::vector<double>& want) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const double d = std::fabs(got[i] - want[i]);
    num = std::isnan(d) ? INFINITY : std::max(num, d);
    den = std::max(den, std::fabs(want[i]));
  }
  return den > 0 ? num / den : num;
}

// Streams u (batch, length, d_in) with one channel per batch item, in blocks of `block`.
std::vector<double> stream(const ssm::Model<double>& m, const std::vector<double>& u,
                           const std::vector<std::int64_t>& shape, int block) {
  const int batch = static_cast<int>(shape.at(0)), L = static_cast<int>(shape.at(1));
  const std::size_t di = static_cast<std::size_t>(m.info().d_input), dout = static_cast<std::size_t>(m.info().d_output);
  std::vector<double> out(static_cast<std::size_t>(batch) * L * dout);
  double rate = 48000.0;
  if (const auto cfg = nlohmann::json::parse(m.info().config_json, nullptr, false);
      cfg.is_object() && cfg.contains("sample_rate") && cfg["sample_rate"].is_number() && cfg["sample_rate"].get<double>() > 0)
    rate = cfg["sample_rate"].get<double>();
  auto s = m.make_streamer();
  s->prepare({rate, block, 1.0, batch});
  std::vector<const double*> in_ptr(batch);
  std::vector<double*> out_ptr(batch);
  for (int t = 0; t < L; t += block) {
    const int n = std::min(block, L - t);
    for (int b = 0; b < batch; ++b) {
      in_ptr[b] = u.data() + (static_cast<std::size_t>(b) * L + t) * di;
      out_ptr[b] = out.data() + (static_cast<std::size_t>(b) * L + t) * dout;
    }
    s->process(in_ptr.data(), out_ptr.data(), n);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> files;
  double rtol_arg = 0;
  int block = 7;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--rtol" && i + 1 < argc) {
      rtol_arg = std::atof(argv[++i]);
    } else if (a == "--block" && i + 1 < argc) {
      block = std::atoi(argv[++i]);
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "usage: %s FILE.check.safetensors... [--rtol R] [--block N]\n", argv[0]);
      return 2;
    } else {
      files.push_back(a);
    }
  }
  if (files.empty() || block < 1 || rtol_arg < 0) {
    std::fprintf(stderr, "usage: %s FILE.check.safetensors... [--rtol R > 0] [--block N >= 1]\n", argv[0]);
    return 2;
  }
  int failed = 0, passed = 0;
  for (const std::string& path : files) {
    try {
      const auto chk = ssm::io::SafeTensors::load(path);
      const std::string model_path = (std::filesystem::path(path).parent_path() / chk.meta("model")).string();
      const double rtol = rtol_arg > 0 ? rtol_arg : std::stod(chk.meta("rtol", "1e-9"));
      const auto m = ssm::load_model<double>(model_path);
      const auto shape = chk.info("u").shape;
      const auto u = chk.to_double("u"), y = chk.to_double("y");
      const auto oshape = m->output_shape(shape);
      std::int64_t n = 1;
      for (auto s : oshape) n *= s;
      ssm::require(static_cast<std::size_t>(n) == y.size(), "ssmkit_check_export", "y",
                   "has ", y.size(), " values but the model's output for u has ", n);
      auto report = [&](const std::string& run, const std::vector<double>& got) {
        const double e = rel_err(got, y);
        const bool ok = e <= rtol;
        std::printf("%s %s [%s] %s: rel err %.3g (rtol %.3g)\n", ok ? "ok  " : "FAIL", path.c_str(),
                    m->info().arch.c_str(), run.c_str(), e, rtol);
        (ok ? passed : failed)++;
      };
      for (ssm::Mode mode : m->info().modes) {
        std::vector<double> got(y.size());
        m->forward(u.data(), shape, got.data(), mode);
        report(std::string("forward ") + ssm::to_string(mode), got);
      }
      if (m->info().causal && shape.size() == 3)
        report("stream block " + std::to_string(block), stream(*m, u, shape, block));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "ssmkit_check_export: %s: %s\n", path.c_str(), e.what());
      return 2;
    }
  }
  std::printf("check_export: %d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
