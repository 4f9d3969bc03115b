// ssmkit info: what a file (or a filter spec) holds.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "commands.hpp"
#include "engine.hpp"
#include "ssm/layers/registry.hpp"
#include "signals.hpp"
#include "ssm/core/cpu.hpp"
#include "ssm/core/error.hpp"
#include "ssm/io/npy.hpp"
#include "ssm/io/safetensors.hpp"
#if SSM_WITH_AUDIO
#include "ssm/io/audio/audio_file.hpp"
#endif

namespace ssm::cli {
namespace {

std::string shape_str(const std::vector<std::int64_t>& s) {
  std::string r = "(";
  for (std::size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + (s.size() == 1 ? ",)" : ")");
}

void print_model(const Model& m) {
  std::printf("model       : %s\n", m.describe().c_str());
  for (const auto& [k, v] : m.details()) std::printf("%-12s: %s\n", k.c_str(), v.c_str());
  std::string modes;
  for (Mode x : m.modes(Device::cpu)) modes += std::string(modes.empty() ? "" : ", ") + to_string(x);
  std::printf("modes (cpu) : %s\n", modes.c_str());
  std::printf("cpu path    : %s\n", ssm::cpu_description().c_str());
}

// Any model file, through the registry: what ModelInfo says (also for offline-only models,
// which ssmkit run takes arrays for and ssmkit live cannot host).
void print_model_info(const ssm::ModelInfo& in) {
  std::printf("model       : %s (%s)\n", in.arch.c_str(), in.description.c_str());
  std::printf("widths      : d_input %d, d_output %d\n", in.d_input, in.d_output);
  for (const auto& [k, v] : in.details) std::printf("%-12s: %s\n", k.c_str(), v.c_str());
  std::string modes;
  for (Mode x : in.modes) modes += std::string(modes.empty() ? "" : ", ") + to_string(x);
  std::printf("modes       : %s\n", modes.c_str());
  const char* streaming = !in.causal                  ? "no (offline only: ssmkit run on .npy arrays)"
                          : model_file_vocab(in) > 0 ? "yes (causal: a Streamer of token ids; ssmkit run --mode stream)"
                                                     : "yes (causal: ssmkit live, Streamer)";
  std::printf("streaming   : %s\n", streaming);
  std::printf("cpu path    : %s\n", ssm::cpu_description().c_str());
}

// A Hugging Face checkpoint directory: what config.json says, what the tensors are, then what
// ssm::load_model made of it (the same ModelInfo as for a model file). Architecture, sizes, the
// vocabulary and the LM head come from the loaded model's config (the loader's reading of
// config.json and of the tensors), so the lines say what `ssmkit run` will compute.
void print_checkpoint(const std::string& dir) {
  namespace fs = std::filesystem;
  const std::unique_ptr<ssm::Model<float>> model = open_model(dir, "FILE");
  const fs::path weights = fs::path(dir) / "model.safetensors", config = fs::path(dir) / "config.json";
  const io::SafeTensors f = io::SafeTensors::load(weights.string());
  nlohmann::json hf;
  {
    std::ifstream in(config, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    hf = nlohmann::json::parse(text.str(), nullptr, false);  // parsed by the loader already
  }
  std::error_code ec;
  std::printf("file        : %s (Hugging Face checkpoint directory)\n", dir.c_str());
  std::printf("format      : config.json + model.safetensors (%zu tensor(s), %llu bytes)\n", f.names().size(),
              static_cast<unsigned long long>(fs::file_size(weights, ec)));
  auto hf_string = [&](const char* key) -> std::string {
    if (!hf.is_object() || !hf.contains(key)) return "";
    const auto& v = hf[key];
    if (v.is_string()) return v.get<std::string>();
    if (v.is_array()) {
      std::string r;
      for (const auto& x : v) r += (r.empty() ? "" : ", ") + (x.is_string() ? x.get<std::string>() : x.dump());
      return r;
    }
    return v.dump();
  };
  std::string line = "model_type " + (hf_string("model_type").empty() ? "(none)" : hf_string("model_type"));
  if (!hf_string("architectures").empty()) line += ", architectures " + hf_string("architectures");
  if (!hf_string("transformers_version").empty()) line += ", transformers " + hf_string("transformers_version");
  std::printf("hf config   : %s\n", line.c_str());

  const ModelInfo& in = model->info();
  const nlohmann::json cfg = nlohmann::json::parse(in.config_json, nullptr, false);
  auto number = [&](const char* key) -> std::string {
    return cfg.is_object() && cfg.contains(key) && cfg[key].is_number() ? cfg[key].dump() : std::string("?");
  };
  const int vocab = model_file_vocab(in);
  const bool logits = vocab > 0 && in.d_output == vocab;
  const bool tied = logits && cfg.is_object() && cfg.value("tie_embeddings", true);
  std::string head;
  bool stored_head = false;
  for (const auto& n : f.names()) stored_head = stored_head || n == "lm_head.weight" || n.ends_with(".lm_head.weight");
  if (!logits) head = "no (the last hidden states come out, d_output = d_model)";
  else if (!tied) head = "yes, untied (its own lm_head.weight)";
  else head = stored_head ? "yes, tied to the token embedding (lm_head.weight is stored and equal to it)"
                          : "yes, tied to the token embedding (no lm_head.weight stored)";
  std::printf("arch        : %s (%s)\n", in.arch.c_str(),
              vocab == 0 ? "signals in" : logits ? "token ids in, logits out" : "token ids in, hidden states out");
  std::printf("d_model     : %s\n", number("d_model").c_str());
  std::printf("n_layer     : %s\n", number("n_layers").c_str());
  std::printf("vocab       : %s\n", vocab > 0 ? std::to_string(vocab).c_str() : "none (not a token model)");
  std::printf("lm head     : %s\n", head.c_str());
  std::int64_t total = 0;
  for (const auto& n : f.names()) total += f.info(n).numel();
  std::printf("parameters  : %lld values\n", static_cast<long long>(total));
  for (const auto& n : f.names()) {
    const auto& t = f.info(n);
    std::printf("  %-40s %-5s %s\n", n.c_str(), io::to_string(t.dtype), shape_str(t.shape).c_str());
  }
  print_model_info(in);
  if (vocab > 0)
    std::printf("run         : ssmkit run --model %s IDS.npy -o OUT.npy  (token ids (L) or (B, L) -> (L, %d) or (B, L, %d))\n",
                dir.c_str(), in.d_output, in.d_output);
}

}  // namespace

int cmd_info(const std::string& path, const ModelSource& source) {
  if (path.empty()) {
    // A spec (or the default filter) on its own.
    source.validate();
    require(source.model_file.empty(), "ssmkit", "FILE", "give the model file as FILE");
    print_model(*source.make(1));
    return 0;
  }
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    require(std::filesystem::exists(std::filesystem::path(path) / "config.json", ec), "ssmkit", "FILE", "'", path,
            "' is a directory without config.json: info takes a file, or a Hugging Face checkpoint directory "
            "(config.json + model.safetensors)");
    print_checkpoint(path);
    return 0;
  }
  require(std::filesystem::is_regular_file(path, ec), "ssmkit", "FILE", "'", path, "': no such file");
  const SignalKind kind = kind_from_path(path, "FILE");
  std::printf("file        : %s (%llu bytes)\n", path.c_str(),
              static_cast<unsigned long long>(std::filesystem::file_size(path, ec)));
  if (kind == SignalKind::audio) {
#if SSM_WITH_AUDIO
    const io::AudioFileInfo a = io::audio_info(path);
    std::printf("format      : %s, %s (%s)\n", io::to_string(a.container), io::to_string(a.encoding), a.subtype.c_str());
    std::printf("channels    : %d\n", a.channels);
    std::printf("frames      : %lld (%.3f s at %g Hz)\n", static_cast<long long>(a.frames),
                a.sample_rate > 0 ? static_cast<double>(a.frames) / a.sample_rate : 0.0, a.sample_rate);
#else
    fail("ssmkit", "FILE", "'", path, "': this build has no audio file support");
#endif
    return 0;
  }
  if (kind == SignalKind::npy) {
    const io::NpyHeader h = io::npy_info(path);
    std::printf("format      : NumPy .npy, %s%s\n", h.dtype == io::NpyDType::f32 ? "float32" : "float64",
                h.big_endian ? " big-endian" : "");
    std::printf("shape       : %s (%lld elements)\n", shape_str(h.shape).c_str(), static_cast<long long>(h.numel()));
    return 0;
  }
  const io::SafeTensors f = io::SafeTensors::load(path);
  const std::string arch = f.meta("ssmkit.arch", "");
  std::printf("format      : safetensors, %zu tensor(s)%s\n", f.names().size(),
              arch.empty() ? " (no ssmkit.arch: a plain tensor file)" : "");
  if (!arch.empty()) {
    const std::string cfg = f.meta("ssmkit.config", "");
    if (!cfg.empty()) std::printf("config      : %s\n", cfg.c_str());
  }
  std::int64_t total = 0;
  for (const auto& n : f.names()) {
    const auto& t = f.info(n);
    total += t.numel();
  }
  // A model file holds parameters; any other tensor file (a signal) just values.
  std::printf("%s: %lld values\n", arch.empty() ? "values      " : "parameters  ", static_cast<long long>(total));
  for (const auto& [k, v] : f.metadata())
    if (k != "ssmkit.arch" && k != "ssmkit.config") std::printf("metadata    : %s = %s\n", k.c_str(), v.c_str());
  for (const auto& n : f.names()) {
    const auto& t = f.info(n);
    std::printf("  %-40s %-5s %s\n", n.c_str(), io::to_string(t.dtype), shape_str(t.shape).c_str());
  }
  if (!arch.empty()) print_model_info(ssm::load_model<float>(f, path)->info());
  return 0;
}

}  // namespace ssm::cli
