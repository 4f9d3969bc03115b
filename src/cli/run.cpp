// ssmkit run: filter files through a model, atomically.
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "commands.hpp"
#include "signals.hpp"
#include "ssm/core/error.hpp"
#include "ssm/io/atomic_file.hpp"
#include "ssm/io/npy.hpp"
#include "ssm/layers/registry.hpp"
#include "model_support.hpp"
#include "tokens.hpp"

namespace fs = std::filesystem;

namespace ssm::cli {

void ModelSource::validate() const {
  require(model_file.empty() || filter_spec.empty(), "ssmkit", "--model/--filter", "give one of them, not both");
  if (!filter_spec.empty()) parse_filter_spec(filter_spec);
  if (!model_file.empty()) check_model_path(model_file, "--model");
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

// Directories a run creates for its outputs (-o DIR/, -o new/dir/file.wav): removed again
// (deepest first, only while empty) unless the run succeeds, so a failed run leaves nothing.
class CreatedDirs {
public:
  CreatedDirs() = default;
  CreatedDirs(const CreatedDirs&) = delete;
  CreatedDirs& operator=(const CreatedDirs&) = delete;
  ~CreatedDirs() {
    std::error_code ec;
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) fs::remove(*it, ec);  // only empty ones
  }
  /// Creates `dir` and its missing parents, remembering each one created.
  void create(const fs::path& dir, const char* what, const std::string& user_path) {
    std::error_code ec;
    std::vector<fs::path> missing;
    for (fs::path p = dir; !p.empty() && !fs::exists(p, ec); p = p.parent_path()) {
      missing.push_back(p);
      if (p == p.parent_path()) break;
    }
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
      if (!fs::create_directory(*it, ec) && !fs::is_directory(*it)) {
        fail("ssmkit", what, "'", user_path, "': cannot create the directory '", it->string(), "'",
             ec ? ": " + ec.message() : std::string());
      }
      dirs_.push_back(*it);
    }
    require(fs::is_directory(dir, ec), "ssmkit", what, "'", user_path, "': '", dir.string(), "' is not a directory");
  }
  void keep() { dirs_.clear(); }

private:
  std::vector<fs::path> dirs_;
};

// Temporary files of a batch (io/atomic_file.hpp): removed unless all are committed.
class PendingOutputs {
public:
  std::string add(const std::string& final_path) {
    try {
      items_.emplace_back(final_path, "ssmkit");
    } catch (const Error& e) {
      throw Error(std::string(e.what()) + " (nothing was written)");
    }
    return items_.back().temp_path();
  }
  /// An error of a writer that wrote `temp`: the message with the temporary's name replaced by
  /// the user's path (the user never sees a temporary name).
  static std::string user_message(std::string m, const std::string& temp = {}, const std::string& final_path = {}) {
    if (!temp.empty())
      for (std::size_t at = m.find(temp); at != std::string::npos; at = m.find(temp, at + final_path.size()))
        m.replace(at, temp.size(), final_path);
    return m;
  }
  void commit() {
    for (auto& f : items_) f.commit();
    items_.clear();
  }

private:
  std::vector<io::AtomicFile> items_;
};

bool ends_with_slash(const std::string& p) { return !p.empty() && (p.back() == '/'); }

// The output paths, one per input; creates missing directories (remembered in `dirs`) and checks
// that each can be written, all before any input is read.
std::vector<std::string> resolve_outputs(const RunOptions& o, CreatedDirs& dirs) {
  require(!o.inputs.empty(), "ssmkit", "IN", "at least one input file is required");
  require(!o.outputs.empty(), "ssmkit", "-o", "an output (file, or directory for several inputs) is required");
  std::vector<std::string> out;
  std::error_code ec;
  const bool one_dir = o.outputs.size() == 1 && (o.inputs.size() > 1 || fs::is_directory(o.outputs[0], ec) ||
                                                 ends_with_slash(o.outputs[0]));
  if (one_dir) {
    const fs::path dir(o.outputs[0]);
    if (!fs::is_directory(dir, ec)) {
      require(!fs::exists(dir, ec), "ssmkit", "-o", "'", dir.string(), "' is a file, not a directory (",
              o.inputs.size(), " inputs need one output each or a directory)");
    }
    for (const auto& in : o.inputs) out.push_back((dir / fs::path(in).filename()).string());
  } else {
    require(o.outputs.size() == o.inputs.size(), "ssmkit", "-o", "give one output per input (", o.inputs.size(),
            " inputs, ", o.outputs.size(), " outputs) or one directory");
    out = o.outputs;
  }
  for (std::size_t i = 0; i < out.size(); ++i) {
    kind_from_path(out[i], "-o");
    require(!fs::is_directory(out[i], ec), "ssmkit", "-o", "'", out[i], "' is a directory");
    for (std::size_t j = 0; j < i; ++j)
      require(fs::weakly_canonical(out[i], ec) != fs::weakly_canonical(out[j], ec), "ssmkit", "-o", "'", out[i],
              "' would be written twice (two inputs with the same file name?)");
  }
  for (const auto& path : out) {
    const fs::path parent = fs::path(path).parent_path();
    if (!parent.empty() && !fs::is_directory(parent, ec)) dirs.create(parent, "-o", path);
    const std::string d = parent.empty() ? std::string(".") : parent.string();
    if (::access(d.c_str(), W_OK | X_OK) != 0)
      fail("ssmkit", "-o", "'", path, "': cannot write in the directory '", d, "': ", std::strerror(errno));
  }
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The first option given that only applies to signals, or nullptr.
const char* signal_only_option(const RunOptions& o) {
  return o.normalize ? "--normalize" : o.gain_db != 0 ? "--gain" : o.encoding != "auto" ? "--encoding"
         : o.layout != "time-last" ? "--layout" : o.rate_given ? "--rate" : nullptr;
}

// Offline-only models (not causal: bidirectional or 2D scans) map whole arrays to arrays:
// each input .npy is one model input of the shape the model asks for (output_shape says so or
// names the expectation); the output array has the model's output shape.
RunReport run_tensor_job(const RunOptions& o, const ssm::Model<float>& model, Device device) {
  if (const char* signal_only = signal_only_option(o))
    fail("ssmkit", signal_only, "applies to signals; the ", model.info().arch, " model '", o.source.model_file,
         "' is offline only and maps arrays of its own shape");
  CreatedDirs dirs;
  const std::vector<std::string> outputs = resolve_outputs(o, dirs);
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
  rep.mode = mode;
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
    const std::string temp = pending.add(outputs[i]);
    try {
      io::save_npy<float>(temp, jobs[i].out_shape, results[i]);
    } catch (const Error& e) {
      throw Error("output '" + outputs[i] + "' (nothing was written): " +
                  PendingOutputs::user_message(e.what(), temp, outputs[i]));
    }
  }
  pending.commit();
  dirs.keep();
  rep.written = outputs;
  return rep;
}

// Token models (vocab_size > 0: a language model, e.g. a Hugging Face MambaForCausalLM /
// MambaModel directory): each input .npy holds token ids, (L) or (B, L) (tokens.hpp); each output
// is the model's float32 output for every token, (L, d_output) or (B, L, d_output): logits for a
// model with an LM head, the last hidden states without. The mode is the model's first (scan)
// unless --mode says otherwise; stream mode runs the model's Streamer over blocks of --block
// tokens, one stream a sequence (the real-time path; the same numbers as scan to float rounding).
RunReport run_token_job(const RunOptions& o, const ssm::Model<float>& model, Device device) {
  const ModelInfo& info = model.info();
  const int vocab = model_file_vocab(info), d_out = info.d_output;
  const std::string what = info.arch + " model '" + o.source.model_file + "' is a token model (token ids in, " +
                           (d_out == vocab ? "logits" : "hidden states") + " out)";
  if (const char* signal_only = signal_only_option(o))
    fail("ssmkit", signal_only, "applies to signals; the ", what, " and takes .npy arrays of token ids");
  Mode mode = info.modes.at(0);
  if (o.mode_given) {
    require(std::find(info.modes.begin(), info.modes.end(), o.mode) != info.modes.end(), "ssmkit", "--mode", "'",
            to_string(o.mode), "' is not available for the ", info.arch, " model '", o.source.model_file, "'");
    mode = o.mode;
  }
  require(!(mode == Mode::stream && device != Device::cpu), "ssmkit", "--device",
          "stream mode runs on the CPU (give --mode scan for the GPU)");
  CreatedDirs dirs;
  const std::vector<std::string> outputs = resolve_outputs(o, dirs);
  for (const auto& out : outputs)
    require(kind_from_path(out, "-o") == SignalKind::npy, "ssmkit", "-o", "'", out, "': the ", what,
            "; its output is an array: use .npy");
  std::vector<TokenIds> inputs;
  for (const auto& path : o.inputs) {
    require(kind_from_path(path, "IN") == SignalKind::npy, "ssmkit", "IN", "'", path, "': the ", what,
            " and takes .npy arrays of token ids ((L) or (B, L) integers in [0, ", vocab, ")), not signals");
    inputs.push_back(read_token_ids(path, vocab));
  }

  // out (B, L, d_out) for ids (B, L) in `m`.
  auto compute = [&](const TokenIds& t, Mode m, std::vector<float>& y) {
    y.resize(static_cast<std::size_t>(t.batch * t.length * d_out));
    if (m != Mode::stream) {
      model.forward(t.ids.data(), {t.batch, t.length, 1}, y.data(), m, device);
      return;
    }
    auto st = model.make_streamer();
    StreamSpec spec;
    spec.max_block = o.block;
    spec.channels = static_cast<int>(t.batch);
    st->prepare(spec);
    std::vector<const float*> ip(static_cast<std::size_t>(t.batch));
    std::vector<float*> op(ip.size());
    for (std::int64_t at = 0; at < t.length; at += o.block) {
      const int n = static_cast<int>(std::min<std::int64_t>(o.block, t.length - at));
      for (std::int64_t s = 0; s < t.batch; ++s) {
        ip[std::size_t(s)] = t.ids.data() + s * t.length + at;
        op[std::size_t(s)] = y.data() + (s * t.length + at) * d_out;
      }
      st->process(ip.data(), op.data(), n);
    }
  };

  RunReport rep;
  rep.model = info.arch + " model from '" + o.source.model_file + "' (" + info.description + ")";
  rep.mode = mode;
  std::vector<std::vector<float>> results;
  for (const TokenIds& t : inputs) {
    std::vector<float> y;
    const auto t0 = std::chrono::steady_clock::now();
    compute(t, mode, y);
    rep.compute_seconds += seconds_since(t0);
    rep.tokens += t.batch * t.length;
    rep.sequences += t.batch;
    for (float v : y) {
      require(std::isfinite(v), "ssmkit", "model", "produced a non-finite output for '", t.path,
              "'; nothing was written");
      rep.max_abs_output = std::max(rep.max_abs_output, static_cast<double>(std::fabs(v)));
    }
    if (o.check) {
      for (Mode other : info.modes) {
        if (other == mode || (other == Mode::stream && device != Device::cpu)) continue;
        std::vector<float> z;
        compute(t, other, z);
        double d = 0;
        for (std::size_t i = 0; i < y.size(); ++i) d = std::max(d, static_cast<double>(std::fabs(y[i] - z[i])));
        const std::string key = std::string(to_string(mode)) + " vs " + to_string(other);
        rep.max_diff[key] = std::max(rep.max_diff[key], d);
      }
    }
    results.push_back(std::move(y));
  }
  PendingOutputs pending;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const std::string temp = pending.add(outputs[i]);
    try {
      io::save_npy<float>(temp, inputs[i].output_shape(d_out), results[i]);
    } catch (const Error& e) {
      throw Error("output '" + outputs[i] + "' (nothing was written): " +
                  PendingOutputs::user_message(e.what(), temp, outputs[i]));
    }
  }
  pending.commit();
  dirs.keep();
  rep.written = outputs;
  return rep;
}

}  // namespace

RunReport run_job(const RunOptions& o) {
  o.source.validate();
  // Everything that can be checked before reading any input.
  require(o.block >= 1 && o.block <= (1 << 20), "ssmkit", "--block", "must be in [1, 1048576], got ", o.block);
  require(!(o.rate_given || o.rate != 0) || (std::isfinite(o.rate) && o.rate >= 1 && o.rate <= 2147483647.0), "ssmkit",
          "--rate", "must be in [1, 2147483647] Hz (leave it out for the model's or the file's own rate), got ", o.rate);
  require(o.threads >= 0 && o.threads <= 1024, "ssmkit", "--threads", "must be in [1, 1024] (0: OpenMP's default), got ",
          o.threads);
  require(std::isfinite(o.gain_db) && std::fabs(o.gain_db) <= 200, "ssmkit", "--gain", "must be in [-200, 200] dB, got ",
          o.gain_db);
  require(!(o.normalize && o.gain_db != 0), "ssmkit", "--normalize", "and --gain exclude each other");
  const Layout layout = parse_layout(o.layout);
  const Encoding encoding = parse_encoding(o.encoding);
  const Device device = resolve_device(o.device);
  if (o.threads > 0) omp_set_num_threads(o.threads);
  double model_rate = 0;
  if (!o.source.model_file.empty()) {
    const std::unique_ptr<ssm::Model<float>> model = open_model(o.source.model_file, "--model");
    if (!model->info().causal) return run_tensor_job(o, *model, device);
    if (model_file_vocab(model->info()) > 0) return run_token_job(o, *model, device);
    model_rate = model_file_rate(model->info());
  }
  CreatedDirs dirs;
  const std::vector<std::string> outputs = resolve_outputs(o, dirs);

  // Read and check every input before any work.
  const double default_rate = o.rate > 0 ? o.rate : model_rate > 0 ? model_rate : 48000.0;
  std::vector<Signal> signals;
  for (const auto& path : o.inputs) signals.push_back(read_signal(path, default_rate, layout));
  for (const Signal& s : signals) {
    if (o.rate > 0 && s.rate_from_file)
      require(s.rate == o.rate, "ssmkit", "--rate", "sample-rate mismatch: '", s.path, "' is at ", s.rate,
              " Hz but --rate is ", o.rate, " Hz (ssmkit does not resample)");
    require(s.rate == signals[0].rate, "ssmkit", "IN", "sample-rate mismatch: '", s.path, "' is at ", s.rate,
            " Hz but '", signals[0].path, "' is at ", signals[0].rate, " Hz (a batch needs one rate)");
    if (s.kind != SignalKind::audio && layout == Layout::time_last && s.shape.size() >= 2 && s.frames < s.channels)
      std::fprintf(stderr,
                   "ssmkit: warning: '%s' is read as %d channel(s) of %lld frame(s) (time is the last axis); "
                   "for (L, C) or (B, L, C) arrays give --layout time-first\n",
                   s.path.c_str(), s.channels, static_cast<long long>(s.frames));
  }
  if (model_rate > 0 && signals[0].rate != model_rate)
    std::fprintf(stderr,
                 "ssmkit: note: the signal is at %g Hz (%s), the model file's own rate is %g Hz: continuous-time "
                 "families (s4d) re-discretize, families with learned steps (mamba, ...) see the samples as they are\n",
                 signals[0].rate, o.rate > 0 ? "--rate" : "its file", model_rate);
  for (std::size_t i = 0; i < signals.size(); ++i) check_output(outputs[i], encoding, signals[i].rate);

  RunReport rep;
  rep.mode = o.mode;
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
  // Resolve models, output layouts and mode support up front.
  std::vector<Signal> shapes;  // output signals (no data)
  for (const Signal& s : signals) {
    const Model& m = model_for(s.channels);
    require_supported(m, o.mode, device);
    shapes.push_back(output_like(s, m.output_channels(), m.input_group()));
    if (rep.model.empty()) rep.model = m.describe();
  }

  double total = 0;
  for (const Signal& s : signals) total += static_cast<double>(s.frames) * s.channels;
  Progress progress(total, "ssmkit run");

  std::vector<std::vector<float>> results;
  for (const Signal& s : signals) {
    const Model& m = model_for(s.channels);
    std::vector<float> y(static_cast<std::size_t>(m.output_channels()) * static_cast<std::size_t>(s.frames));
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
        std::vector<float> z(y.size());
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

  // Level: --gain / --normalize, then every PCM output must fit [-1, 1] (checked for all before
  // any is written).
  for (std::size_t i = 0; i < results.size(); ++i) {
    double peak = 0;
    for (float v : results[i]) peak = std::max(peak, static_cast<double>(std::fabs(v)));
    double scale = std::pow(10.0, o.gain_db / 20);
    if (o.normalize) scale = peak > 0 ? kNormalizePeak / peak : 1.0;
    if (scale != 1.0)
      for (float& v : results[i]) v = static_cast<float>(v * scale);
    const double out_peak = peak * scale;
    if (is_pcm(outputs[i], encoding) && out_peak > 1.0)
      fail("ssmkit", "-o", "'", outputs[i], "': the output peaks at ", out_peak, " (", 20 * std::log10(out_peak),
           " dBFS) but ", encoding == Encoding::pcm16 ? "pcm16" : "pcm24",
           " stores samples in [-1, 1]: give --normalize, --gain ", std::floor(-20 * std::log10(out_peak) - 1),
           " or a float .wav output (nothing was written)");
  }

  PendingOutputs pending;
  for (std::size_t i = 0; i < signals.size(); ++i) {
    const std::string temp = pending.add(outputs[i]);
    try {
      write_signal(temp, shapes[i], results[i], encoding);
    } catch (const Error& e) {
      throw Error("output '" + outputs[i] + "' (nothing was written): " +
                  PendingOutputs::user_message(e.what(), temp, outputs[i]));
    }
  }
  pending.commit();
  dirs.keep();
  rep.written = outputs;
  return rep;
}

int cmd_run(const RunOptions& o) {
  const RunReport r = run_job(o);
  std::printf("model           : %s\n", r.model.c_str());
  if (r.tokens > 0)
    std::printf("processed       : %zu file(s), %lld token(s) in %lld sequence(s), mode %s on %s%s\n", r.written.size(),
                static_cast<long long>(r.tokens), static_cast<long long>(r.sequences), to_string(r.mode),
                o.device.c_str(), r.mode == Mode::stream ? (", block " + std::to_string(o.block)).c_str() : "");
  else
    std::printf("processed       : %zu file(s), %.3f s of signal, mode %s on %s, block %d\n", r.written.size(),
                r.audio_seconds, to_string(r.mode), o.device.c_str(), o.block);
  if (r.tokens > 0)
    std::printf("compute         : %.3f s (%.0f tokens/s)\n", r.compute_seconds,
                r.compute_seconds > 0 ? static_cast<double>(r.tokens) / r.compute_seconds : 0.0);
  else if (r.audio_seconds > 0)
    std::printf("real-time factor: %.1fx (%.3f s of signal per %.3f s of compute, file I/O excluded)\n",
                r.real_time_factor, r.audio_seconds, r.compute_seconds);
  else
    std::printf("compute         : %.3f s (arrays, not signals)\n", r.compute_seconds);
  for (const auto& [k, v] : r.max_diff)
    std::printf("check           : max |%s| = %.3g (max |y| = %.3g, relative %.3g)\n", k.c_str(), v, r.max_abs_output,
                r.max_abs_output > 0 ? v / r.max_abs_output : 0.0);
  for (const auto& w : r.written) std::printf("wrote           : %s\n", w.c_str());
  return 0;
}

}  // namespace ssm::cli
