// ssmkit info: what a file (or a filter spec) holds.
#include <cstdio>
#include <filesystem>

#include "commands.hpp"
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
  std::printf("streaming   : %s\n", in.causal ? "yes (causal: ssmkit live, Streamer)" : "no (offline only: ssmkit run on .npy arrays)");
  std::printf("cpu path    : %s\n", ssm::cpu_description().c_str());
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
  require(!std::filesystem::is_directory(path, ec), "ssmkit", "FILE", "'", path, "' is a directory, not a file");
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
