// ssmkit run: filter files through a model, atomically.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "commands.hpp"
#include "signals.hpp"
#include "ssm/core/error.hpp"
#include "ssm/io/npy.hpp"
#include "ssm/layers/registry.hpp"

namespace fs = std::filesystem;

namespace ssm::cli {

void ModelSource::validate() const {
  require(model_file.empty() || filter_spec.empty(), "ssmkit", "--model/--filter", "give one of them, not both");
  if (!filter_spec.empty()) parse_filter_spec(filter_spec);
  if (!model_file.empty()) {
    std::error_code ec;
    require(fs::is_regular_file(model_file, ec), "ssmkit", "--model", "'", model_file, "': no such file");
  }
}

std::unique_ptr<Model> ModelSource::make(int channels) const {
  if (!model_file.empty()) return load_model_file(model_file, channels);
  return make_model(parse_filter_spec(filter_spec.empty() ? kDefaultFilter : filter_spec), channels);
}

namespace {

Device resolve_device(const std::string& name) {
  require(name == "cpu" || name == "cuda", "ssmkit", "--device", "must be cpu or cuda, got '", name, "'");
  const Device d = parse_device(name);
  if (d == Device::cuda)
    require(cuda_available(), "ssmkit", "--device", "cuda is not available: ", cuda_description());
  return d;
}

// Temporary files of a batch: removed unless committed.
class PendingOutputs {
public:
  ~PendingOutputs() {
    for (const auto& [tmp, final_path] : items_) {
      std::error_code ec;
      fs::remove(tmp, ec);
    }
  }
  std::string add(const std::string& final_path) {
    const fs::path p(final_path);
    std::string name(1, '.');
    name += p.stem().string();
    name += ".ssmkit-tmp-" + std::to_string(::getpid()) + "-" + std::to_string(items_.size());
    name += p.extension().string();
    const std::string tmp = (p.parent_path() / name).string();
    items_.emplace_back(tmp, final_path);
    return tmp;
  }
  void commit() {
    for (const auto& [tmp, final_path] : items_) {
      std::error_code ec;
      fs::rename(tmp, final_path, ec);
      require(!ec, "ssmkit", "output", "'", final_path, "': cannot rename the finished file into place: ", ec.message());
    }
    items_.clear();
  }

private:
  std::vector<std::pair<std::string, std::string>> items_;
};

std::vector<std::string> resolve_outputs(const RunOptions& o) {
  require(!o.inputs.empty(), "ssmkit", "IN", "at least one input file is required");
  require(!o.outputs.empty(), "ssmkit", "-o", "an output (file, or directory for several inputs) is required");
  std::vector<std::string> out;
  std::error_code ec;
  const bool one_dir = o.outputs.size() == 1 && (o.inputs.size() > 1 || fs::is_directory(o.outputs[0], ec));
  if (one_dir) {
    const fs::path dir(o.outputs[0]);
    fs::create_directories(dir, ec);
    require(fs::is_directory(dir, ec), "ssmkit", "-o", "'", dir.string(), "' is not a directory and cannot be created");
    for (const auto& in : o.inputs) out.push_back((dir / fs::path(in).filename()).string());
  } else {
    require(o.outputs.size() == o.inputs.size(), "ssmkit", "-o", "give one output per input (", o.inputs.size(),
            " inputs, ", o.outputs.size(), " outputs) or one directory");
    out = o.outputs;
  }
  for (std::size_t i = 0; i < out.size(); ++i) {
    kind_from_path(out[i], "-o");
    const fs::path parent = fs::path(out[i]).parent_path();
    require(parent.empty() || fs::is_directory(parent, ec), "ssmkit", "-o", "'", out[i], "': directory '",
            parent.string(), "' does not exist");
    for (std::size_t j = 0; j < i; ++j)
      require(fs::weakly_canonical(out[i], ec) != fs::weakly_canonical(out[j], ec), "ssmkit", "-o", "'", out[i],
              "' would be written twice (two inputs with the same file name?)");
  }
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Offline-only models (not causal: bidirectional or 2D scans) map whole arrays to arrays:
// each input .npy is one model input of the shape the model asks for (output_shape says so or
// names the expectation); the output array has the model's output shape.
RunReport run_tensor_job(const RunOptions& o, const ssm::Model<float>& model, Device device,
                         const std::vector<std::string>& outputs) {
  const ModelInfo& info = model.info();
  Mode mode = info.modes.at(0);
  if (o.mode_given) {
    require(std::find(info.modes.begin(), info.modes.end(), o.mode) != info.modes.end(), "ssmkit", "--mode", "'",
            to_string(o.mode), "' is not available for the ", info.arch, " model '", o.source.model_file,
            "' (it is offline only: ", to_string(info.modes.at(0)), ")");
    mode = o.mode;
  }
  struct Job {
    io::NpyArray<float> in;
    std::vector<std::int64_t> out_shape;
  };
  std::vector<Job> jobs;
  for (const auto& path : o.inputs) {
    require(kind_from_path(path, "IN") == SignalKind::npy, "ssmkit", "IN", "'", path, "': the ", info.arch,
            " model is offline only and takes .npy arrays (shape as its input), not signals");
    Job j{io::load_npy<float>(path), {}};
    try {
      j.out_shape = model.output_shape(j.in.shape);
    } catch (const Error& e) {
      throw Error("ssmkit: argument 'IN' '" + path + "': " + e.what());
    }
    jobs.push_back(std::move(j));
  }
  RunReport rep;
  rep.model = info.arch + " model from '" + o.source.model_file + "' (" + info.description + ")";
  std::vector<std::vector<float>> results;
  for (const Job& j : jobs) {
    std::int64_t n = 1;
    for (auto v : j.out_shape) n *= v;
    std::vector<float> y(static_cast<std::size_t>(n));
    const auto t0 = std::chrono::steady_clock::now();
    model.forward(j.in.data.data(), j.in.shape, y.data(), mode, device);
    rep.compute_seconds += seconds_since(t0);
    for (float v : y) {
      require(std::isfinite(v), "ssmkit", "model", "produced a non-finite output; nothing was written");
      rep.max_abs_output = std::max(rep.max_abs_output, static_cast<double>(std::fabs(v)));
    }
    results.push_back(std::move(y));
  }
  rep.real_time_factor = 0;  // arrays, not signals: no duration
  PendingOutputs pending;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    require(kind_from_path(outputs[i], "-o") == SignalKind::npy, "ssmkit", "-o", "'", outputs[i],
            "': an offline model's output is an array: use .npy");
    try {
      io::save_npy<float>(pending.add(outputs[i]), jobs[i].out_shape, results[i]);
    } catch (const Error& e) {
      throw Error("output '" + outputs[i] + "' (nothing was written): " + e.what());
    }
  }
  pending.commit();
  rep.written = outputs;
  return rep;
}

}  // namespace

RunReport run_job(const RunOptions& o) {
  o.source.validate();
  const Device device = resolve_device(o.device);
  if (!o.source.model_file.empty()) {
    const auto model = ssm::load_model<float>(o.source.model_file);
    if (!model->info().causal) return run_tensor_job(o, *model, device, resolve_outputs(o));
  }
  require(o.block >= 1 && o.block <= (1 << 20), "ssmkit", "--block", "must be in [1, 1048576], got ", o.block);
  require(o.rate == 0 || (std::isfinite(o.rate) && o.rate > 0), "ssmkit", "--rate", "must be > 0 Hz, got ", o.rate);
  const std::vector<std::string> outputs = resolve_outputs(o);

  // Read and check every input before any work.
  std::vector<Signal> signals;
  for (const auto& path : o.inputs) signals.push_back(read_signal(path, o.rate > 0 ? o.rate : 48000.0));
  for (const Signal& s : signals) {
    if (o.rate > 0 && s.rate_from_file)
      require(s.rate == o.rate, "ssmkit", "--rate", "sample-rate mismatch: '", s.path, "' is at ", s.rate,
              " Hz but --rate is ", o.rate, " Hz (ssmkit does not resample)");
    require(s.rate == signals[0].rate, "ssmkit", "IN", "sample-rate mismatch: '", s.path, "' is at ", s.rate,
            " Hz but '", signals[0].path, "' is at ", signals[0].rate, " Hz (a batch needs one rate)");
  }

  RunReport rep;
  std::map<int, std::unique_ptr<Model>> models;  // by channel count
  auto model_for = [&](int channels) -> const Model& {
    auto it = models.find(channels);
    if (it == models.end()) {
      auto m = o.source.make(channels);
      require(m->channels() == channels, "ssmkit", "IN", "the model has ", m->channels(), " channels but the input has ",
              channels);
      it = models.emplace(channels, std::move(m)).first;
    }
    return *it->second;
  };
  // Resolve models (and mode support) up front.
  for (const Signal& s : signals) {
    const Model& m = model_for(s.channels);
    require(m.supports(o.mode, device), "ssmkit", "--mode", "'", to_string(o.mode), "' is not available for ",
            m.describe(), " on ", to_string(device));
    if (rep.model.empty()) rep.model = m.describe();
  }

  double total = 0;
  for (const Signal& s : signals) total += static_cast<double>(s.frames) * s.channels;
  Progress progress(total, "ssmkit run");

  std::vector<std::vector<float>> results;
  for (const Signal& s : signals) {
    const Model& m = model_for(s.channels);
    std::vector<float> y(s.data.size());
    const auto t0 = std::chrono::steady_clock::now();
    m.run(o.mode, device, s.data.data(), y.data(), s.frames, s.rate, o.block, progress);
    rep.compute_seconds += seconds_since(t0);
    rep.audio_seconds += static_cast<double>(s.frames) / s.rate;
    for (float v : y) {
      require(std::isfinite(v), "ssmkit", "model", "produced a non-finite output for '", s.path,
              "' (unstable at ", s.rate, " Hz?); nothing was written");
      rep.max_abs_output = std::max(rep.max_abs_output, static_cast<double>(std::fabs(v)));
    }
    if (o.check) {
      for (Mode other : m.modes(device)) {
        if (other == o.mode) continue;
        std::vector<float> z(s.data.size());
        Progress quiet;
        m.run(other, device, s.data.data(), z.data(), s.frames, s.rate, o.block, quiet);
        double d = 0;
        for (std::size_t i = 0; i < y.size(); ++i) d = std::max(d, static_cast<double>(std::fabs(y[i] - z[i])));
        const std::string key = std::string(to_string(o.mode)) + " vs " + to_string(other);
        rep.max_diff[key] = std::max(rep.max_diff[key], d);
      }
    }
    results.push_back(std::move(y));
  }
  progress.finish();
  rep.real_time_factor = rep.compute_seconds > 0 ? rep.audio_seconds / rep.compute_seconds : INFINITY;

  PendingOutputs pending;
  for (std::size_t i = 0; i < signals.size(); ++i) {
    try {
      write_signal(pending.add(outputs[i]), signals[i], results[i]);
    } catch (const Error& e) {
      throw Error("output '" + outputs[i] + "' (nothing was written): " + e.what());
    }
  }
  pending.commit();
  rep.written = outputs;
  return rep;
}

int cmd_run(const RunOptions& o) {
  const RunReport r = run_job(o);
  std::printf("model           : %s\n", r.model.c_str());
  std::printf("processed       : %zu file(s), %.3f s of signal, mode %s on %s, block %d\n", r.written.size(),
              r.audio_seconds, to_string(o.mode), o.device.c_str(), o.block);
  if (r.audio_seconds > 0)
    std::printf("real-time factor: %.1fx (%.3f s of compute)\n", r.real_time_factor, r.compute_seconds);
  else
    std::printf("compute         : %.3f s (arrays, not signals)\n", r.compute_seconds);
  for (const auto& [k, v] : r.max_diff)
    std::printf("check           : max |%s| = %.3g (max |y| = %.3g, relative %.3g)\n", k.c_str(), v, r.max_abs_output,
                r.max_abs_output > 0 ? v / r.max_abs_output : 0.0);
  for (const auto& w : r.written) std::printf("wrote           : %s\n", w.c_str());
  return 0;
}

}  // namespace ssm::cli
