#include "signals.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>
#include <utility>

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

void set_layout(Signal& s, const std::vector<std::int64_t>& shape, Layout layout) {
  const bool first = layout == Layout::time_first;
  require(!shape.empty() && shape.size() <= 3, "ssmkit", "input", "'", s.path, "': expected an array of shape ",
          first ? "(L), (L, C) or (B, L, C)" : "(L), (C, L) or (B, C, L)", " (--layout ",
          first ? "time-first" : "time-last", "), got ", shape.size(), " dimensions");
  std::int64_t rows = 1;
  if (first) {
    for (std::size_t i = 0; i < shape.size(); ++i)
      if (i != (shape.size() == 1 ? 0 : shape.size() - 2)) rows *= shape[i];
    s.frames = shape.size() == 1 ? shape[0] : shape[shape.size() - 2];
  } else {
    for (std::size_t i = 0; i + 1 < shape.size(); ++i) rows *= shape[i];
    s.frames = shape.back();
  }
  s.shape = shape;
  s.layout = layout;
  require(rows >= 1 && rows <= 65536, "ssmkit", "input", "'", s.path, "': ", rows, " channels (expected 1 .. 65536",
          first ? "" : "; for (L, C) or PyTorch's (B, L, C) arrays give --layout time-first", ")");
  s.channels = static_cast<int>(rows);
}

// Time-first (B, L, C) row-major <-> planar channel b*C + c.
std::vector<float> time_first_to_planar(const std::vector<float>& a, std::int64_t B, std::int64_t L, std::int64_t C) {
  std::vector<float> p(a.size());
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t t = 0; t < L; ++t)
      for (std::int64_t c = 0; c < C; ++c)
        p[static_cast<std::size_t>((b * C + c) * L + t)] = a[static_cast<std::size_t>((b * L + t) * C + c)];
  return p;
}
std::vector<float> planar_to_time_first(const std::vector<float>& p, std::int64_t B, std::int64_t L, std::int64_t C) {
  std::vector<float> a(p.size());
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t t = 0; t < L; ++t)
      for (std::int64_t c = 0; c < C; ++c)
        a[static_cast<std::size_t>((b * L + t) * C + c)] = p[static_cast<std::size_t>((b * C + c) * L + t)];
  return a;
}

// (B, C) of an array signal: batch rows and channels per row.
std::pair<std::int64_t, std::int64_t> batch_and_channels(const Signal& s) {
  const auto& sh = s.shape;
  if (sh.size() <= 1) return {1, 1};
  if (sh.size() == 2) return {1, s.layout == Layout::time_first ? sh[1] : sh[0]};
  return {sh[0], s.layout == Layout::time_first ? sh[2] : sh[1]};
}

void check_samples(const Signal& s) {
  require(s.frames >= 1, "ssmkit", "input", "'", s.path, "' holds no samples");
  for (float v : s.data)
    require(std::isfinite(v), "ssmkit", "input", "'", s.path, "' holds a non-finite sample (NaN or Inf)");
}

}  // namespace

Layout parse_layout(const std::string& name) {
  if (name == "time-last") return Layout::time_last;
  if (name == "time-first") return Layout::time_first;
  fail("ssmkit", "--layout", "must be time-last ((L), (C, L), (B, C, L)) or time-first ((L), (L, C), (B, L, C)), got '",
       name, "'");
}

Encoding parse_encoding(const std::string& name) {
  if (name == "auto") return Encoding::automatic;
  if (name == "pcm16") return Encoding::pcm16;
  if (name == "pcm24") return Encoding::pcm24;
  if (name == "float") return Encoding::float32;
  fail("ssmkit", "--encoding", "must be auto, pcm16, pcm24 or float, got '", name, "'");
}

bool is_pcm(const std::string& path, Encoding encoding) {
  if (kind_from_path(path, "-o") != SignalKind::audio) return false;
  if (encoding == Encoding::automatic) return lower_ext(path) == ".flac";
  return encoding != Encoding::float32;
}

void check_output(const std::string& path, Encoding encoding, double rate) {
  const SignalKind kind = kind_from_path(path, "-o");
  if (kind != SignalKind::audio) {
    require(encoding == Encoding::automatic, "ssmkit", "--encoding", "applies to .wav and .flac outputs, not '", path,
            "' (arrays are written as float32)");
    return;
  }
  require(!(lower_ext(path) == ".flac" && encoding == Encoding::float32), "ssmkit", "--encoding",
          "float is not available in FLAC ('", path, "'): use pcm16 or pcm24, or a .wav output");
  require(std::isfinite(rate) && rate >= 1 && rate <= 2147483647.0 && rate == std::floor(rate), "ssmkit", "-o", "'",
          path, "': WAV/FLAC store a whole number of Hz in [1, 2147483647], the signal's rate is ", rate,
          " Hz (write .npy or .safetensors)");
}

Signal output_like(const Signal& in, int channels, int group) {
  Signal o = in;
  o.data.clear();
  o.channels = channels;
  if (in.kind == SignalKind::audio || in.shape.empty()) return o;
  const auto [B, C] = batch_and_channels(in);
  require(C % group == 0, "ssmkit", "IN", "'", in.path, "': rows of ", C, " channel(s) do not split into streams of ",
          group, " (the model's d_input)", in.layout == Layout::time_last ? "; for (B, L, C) arrays give --layout time-first" : "");
  if (channels == in.channels) return o;
  require(channels % B == 0, "ssmkit", "IN", "'", in.path, "': ", channels, " output channels do not split into ", B,
          " batch rows");
  const std::int64_t Co = channels / B, L = in.frames;
  const bool first = in.layout == Layout::time_first;
  switch (in.shape.size()) {
    case 1: o.shape = first ? std::vector<std::int64_t>{L, Co} : std::vector<std::int64_t>{Co, L}; break;
    case 2: o.shape = first ? std::vector<std::int64_t>{L, Co} : std::vector<std::int64_t>{Co, L}; break;
    default: o.shape = first ? std::vector<std::int64_t>{B, L, Co} : std::vector<std::int64_t>{B, Co, L}; break;
  }
  return o;
}

SignalKind kind_from_path(const std::string& path, const char* what) {
  const std::string e = lower_ext(path);
  if (e == ".wav" || e == ".flac") return SignalKind::audio;
  if (e == ".npy") return SignalKind::npy;
  if (e == ".safetensors") return SignalKind::safetensors;
  fail("ssmkit", what, "'", path, "': unsupported file type '", e, "' (expected .wav, .flac, .npy or .safetensors)");
}

Signal read_signal(const std::string& path, double default_rate, Layout layout) {
  Signal s;
  s.path = path;
  s.kind = kind_from_path(path, "input");
  std::error_code ec;
  require(!std::filesystem::is_directory(path, ec), "ssmkit", "input", "'", path, "' is a directory, not a file");
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
      set_layout(s, a.shape, layout);
      s.data = std::move(a.data);
      if (layout == Layout::time_first && a.shape.size() > 1) {
        const auto [B, C] = batch_and_channels(s);
        s.data = time_first_to_planar(s.data, B, s.frames, C);
      }
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
      set_layout(s, f.info(s.tensor).shape, layout);
      s.data = f.to_float(s.tensor);
      if (layout == Layout::time_first && s.shape.size() > 1) {
        const auto [B, C] = batch_and_channels(s);
        s.data = time_first_to_planar(s.data, B, s.frames, C);
      }
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

void write_signal(const std::string& path, const Signal& like, const std::vector<float>& data, Encoding encoding) {
  require(data.size() == static_cast<std::size_t>(like.channels) * static_cast<std::size_t>(like.frames), "ssmkit",
          "output", "'", path, "': internal size mismatch");
  const SignalKind kind = kind_from_path(path, "output");
  std::vector<std::int64_t> shape = like.shape;
  if (shape.empty()) {
    shape = {like.channels, like.frames};
    if (like.channels == 1) shape = {like.frames};
  }
  const bool transpose = like.layout == Layout::time_first && shape.size() > 1 && kind != SignalKind::audio;
  const std::vector<float> first =
      transpose ? planar_to_time_first(data, batch_and_channels(like).first, like.frames, batch_and_channels(like).second)
                : std::vector<float>();
  const std::vector<float>& values = transpose ? first : data;
  switch (kind) {
    case SignalKind::audio: {
#if SSM_WITH_AUDIO
      io::AudioBuffer a;
      a.channels = like.channels;
      a.frames = like.frames;
      a.sample_rate = like.rate;
      a.samples = data;
      io::AudioWriteOptions w;
      w.encoding = encoding == Encoding::pcm16   ? io::AudioEncoding::pcm16
                   : encoding == Encoding::pcm24 ? io::AudioEncoding::pcm24
                   : encoding == Encoding::float32 ? io::AudioEncoding::float32
                                                   : io::AudioEncoding::automatic;
      io::write_audio(path, a, w);
#else
      fail("ssmkit", "output", "'", path, "': this build of ssmkit has no audio file support (SSM_WITH_AUDIO=OFF)");
#endif
      break;
    }
    case SignalKind::npy:
      io::save_npy<float>(path, shape, values);
      break;
    case SignalKind::safetensors: {
      io::TensorOut t;
      t.name = like.tensor.empty() ? "y" : like.tensor;
      t.dtype = io::DType::F32;
      t.shape = shape;
      t.values.assign(values.begin(), values.end());
      char rate[64];
      std::snprintf(rate, sizeof rate, "%.17g", like.rate);
      io::save_safetensors(path, {t}, {{"sample_rate", rate}, {"producer", "ssmkit run"}});
      break;
    }
  }
}

}  // namespace ssm::cli
