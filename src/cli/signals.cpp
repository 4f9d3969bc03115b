#include "signals.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>

#include "ssm/core/error.hpp"
#include "ssm/io/npy.hpp"
#include "ssm/io/safetensors.hpp"
#if SSM_WITH_AUDIO
#include "ssm/io/audio/audio_file.hpp"
#endif

namespace ssm::cli {
namespace {

std::string lower_ext(const std::string& path) {
  std::string e = std::filesystem::path(path).extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return e;
}

void set_layout(Signal& s, const std::vector<std::int64_t>& shape) {
  require(!shape.empty() && shape.size() <= 3, "ssmkit", "input",
          "'", s.path, "': expected an array of shape (L), (C, L) or (B, C, L), got ", shape.size(), " dimensions");
  std::int64_t rows = 1;
  for (std::size_t i = 0; i + 1 < shape.size(); ++i) rows *= shape[i];
  s.shape = shape;
  s.frames = shape.back();
  require(rows >= 1 && rows <= 65536, "ssmkit", "input", "'", s.path, "': ", rows, " channels (expected 1 .. 65536)");
  s.channels = static_cast<int>(rows);
}

void check_samples(const Signal& s) {
  require(s.frames >= 1, "ssmkit", "input", "'", s.path, "' holds no samples");
  for (float v : s.data)
    require(std::isfinite(v), "ssmkit", "input", "'", s.path, "' holds a non-finite sample (NaN or Inf)");
}

}  // namespace

SignalKind kind_from_path(const std::string& path, const char* what) {
  const std::string e = lower_ext(path);
  if (e == ".wav" || e == ".flac") return SignalKind::audio;
  if (e == ".npy") return SignalKind::npy;
  if (e == ".safetensors") return SignalKind::safetensors;
  fail("ssmkit", what, "'", path, "': unsupported file type '", e, "' (expected .wav, .flac, .npy or .safetensors)");
}

Signal read_signal(const std::string& path, double default_rate) {
  Signal s;
  s.path = path;
  s.kind = kind_from_path(path, "input");
  std::error_code ec;
  require(std::filesystem::is_regular_file(path, ec), "ssmkit", "input", "'", path, "': no such file");
  switch (s.kind) {
    case SignalKind::audio: {
#if SSM_WITH_AUDIO
      io::AudioBuffer a = io::read_audio(path);
      s.channels = a.channels;
      s.frames = a.frames;
      s.rate = a.sample_rate;
      s.rate_from_file = true;
      s.data = std::move(a.samples);
#else
      fail("ssmkit", "input", "'", path, "': this build of ssmkit has no audio file support (SSM_WITH_AUDIO=OFF)");
#endif
      break;
    }
    case SignalKind::npy: {
      io::NpyArray<float> a = io::load_npy<float>(path);
      set_layout(s, a.shape);
      s.data = std::move(a.data);
      s.rate = default_rate;
      break;
    }
    case SignalKind::safetensors: {
      const io::SafeTensors f = io::SafeTensors::load(path);
      const auto names = f.names();
      if (names.size() == 1) {
        s.tensor = names[0];
      } else {
        for (const char* n : {"u", "x", "signal", "audio"})
          if (f.has(n)) {
            s.tensor = n;
            break;
          }
      }
      if (s.tensor.empty()) {
        std::string list;
        for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
        fail("ssmkit", "input", "'", path, "': cannot tell which tensor is the signal (tensors: ", list,
             "; name it u, x, signal or audio)");
      }
      set_layout(s, f.info(s.tensor).shape);
      s.data = f.to_float(s.tensor);
      const std::string r = f.meta("sample_rate", "");
      if (!r.empty()) {
        s.rate = f.meta_double("sample_rate");
        require(std::isfinite(s.rate) && s.rate > 0, "ssmkit", "input", "'", path, "': sample_rate metadata must be > 0");
        s.rate_from_file = true;
      } else {
        s.rate = default_rate;
      }
      break;
    }
  }
  check_samples(s);
  return s;
}

void write_signal(const std::string& path, const Signal& like, const std::vector<float>& data) {
  require(data.size() == static_cast<std::size_t>(like.channels) * static_cast<std::size_t>(like.frames), "ssmkit",
          "output", "'", path, "': internal size mismatch");
  const SignalKind kind = kind_from_path(path, "output");
  std::vector<std::int64_t> shape = like.shape;
  if (shape.empty()) {
    shape = {like.channels, like.frames};
    if (like.channels == 1) shape = {like.frames};
  }
  switch (kind) {
    case SignalKind::audio: {
#if SSM_WITH_AUDIO
      io::AudioBuffer a;
      a.channels = like.channels;
      a.frames = like.frames;
      a.sample_rate = like.rate;
      a.samples = data;
      io::write_audio(path, a);
#else
      fail("ssmkit", "output", "'", path, "': this build of ssmkit has no audio file support (SSM_WITH_AUDIO=OFF)");
#endif
      break;
    }
    case SignalKind::npy:
      io::save_npy<float>(path, shape, data);
      break;
    case SignalKind::safetensors: {
      io::TensorOut t;
      t.name = like.tensor.empty() ? "y" : like.tensor;
      t.dtype = io::DType::F32;
      t.shape = shape;
      t.values.assign(data.begin(), data.end());
      char rate[64];
      std::snprintf(rate, sizeof rate, "%.17g", like.rate);
      io::save_safetensors(path, {t}, {{"sample_rate", rate}, {"producer", "ssmkit run"}});
      break;
    }
  }
}

}  // namespace ssm::cli
