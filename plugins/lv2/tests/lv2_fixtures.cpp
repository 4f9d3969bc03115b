// Fixtures of the LV2 host tests (lv2_hosts.sh):
//   lv2_fixtures write DIR        model files, input WAVs and a preset bundle DIR/lv2/presets.lv2 whose
//                                 presets point the plugin at them (one line per preset on stdout:
//                                 label plugin-uri input-wav kind source)
//   lv2_fixtures compare A B TOL  max |A - B| over two audio files of the same shape; exit 0 when
//                                 it is <= TOL (prints the difference and whether it is exact)
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "ssm/core/error.hpp"
#include "ssm/io/audio/audio_file.hpp"
#include "support/models.hpp"  // header-only: this program links no test support

namespace fs = std::filesystem;
using namespace ssm;

namespace {

struct Preset {
  std::string label, plugin, input, kind, source;  // kind: model | filter
};

std::string file_uri(const std::string& path) {
  std::string u = "file://";
  for (unsigned char ch : path) {
    if (std::isalnum(ch) || ch == '/' || ch == '.' || ch == '_' || ch == '-' || ch == '~') {
      u += static_cast<char>(ch);
    } else {
      char b[4];
      std::snprintf(b, sizeof b, "%%%02X", ch);
      u += b;
    }
  }
  return u;
}

// 1 s at 48 kHz: a chirp plus a little noise per channel, peak 0.14: lv2file clips its output to [-1, 1], and the random models here stay below 1 on it.
void write_input(const std::string& path, int channels) {
  io::AudioBuffer a;
  a.channels = channels;
  a.frames = 48000;
  a.sample_rate = 48000;
  a.samples.resize(static_cast<std::size_t>(channels * a.frames));
  std::uint64_t s = 12345;
  for (int c = 0; c < channels; ++c)
    for (std::int64_t i = 0; i < a.frames; ++i) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      const double noise = static_cast<double>(s >> 11) / 9007199254740992.0 - 0.5;
      const double t = static_cast<double>(i) / 48000;
      a.samples[static_cast<std::size_t>(c * a.frames + i)] =
          static_cast<float>(0.12 * std::sin(2 * M_PI * (110 * (c + 1) + 900 * t) * t) + 0.04 * noise);
    }
  io::write_audio(path, a);
}

int write_all(const fs::path& dir) {
  fs::create_directories(dir / "lv2" / "presets.lv2");
  const std::string d = fs::absolute(dir).lexically_normal().string();
  write_input(d + "/mono.wav", 1);
  write_input(d + "/stereo.wav", 2);
  test::save_random_model<double>(test::tiny_mamba(1, 1), 3, d + "/mamba_mono.safetensors");
  test::save_random_model<double>(test::tiny_mamba(2, 2), 4, d + "/mamba_stereo.safetensors");
  test::save_random_model<double>(test::tiny_s4d(1, 1, 2, 48000), 5, d + "/s4d_mono.safetensors");
  test::save_random_model<double>(test::tiny_bst(2, 2, 2, 8, 3), 6, d + "/bst_stereo.safetensors");
  const std::string mono = "urn:ssmkit:lv2:mono", stereo = "urn:ssmkit:lv2:stereo";
  const std::vector<Preset> presets = {
      {"mamba_mono", mono, d + "/mono.wav", "model", d + "/mamba_mono.safetensors"},
      {"s4d_mono", mono, d + "/mono.wav", "model", d + "/s4d_mono.safetensors"},
      {"hippo_mono", mono, d + "/mono.wav", "filter", "hippo:legt:N=32:theta=0.01"},
      {"mamba_stereo", stereo, d + "/stereo.wav", "model", d + "/mamba_stereo.safetensors"},
      {"mamba_mono_on_stereo", stereo, d + "/stereo.wav", "model", d + "/mamba_mono.safetensors"},
      {"bst_stereo", stereo, d + "/stereo.wav", "model", d + "/bst_stereo.safetensors"},
      {"s4d_filter_stereo", stereo, d + "/stereo.wav", "filter", "s4d:lin:N=16"},
      {"hippo_stereo", stereo, d + "/stereo.wav", "filter", "hippo:legt:N=32:theta=0.01"},
      {"s4d_mono_on_stereo", stereo, d + "/stereo.wav", "model", d + "/s4d_mono.safetensors"},
  };
  const std::string prefixes =
      "@prefix lv2:   <http://lv2plug.in/ns/lv2core#> .\n"
      "@prefix pset:  <http://lv2plug.in/ns/ext/presets#> .\n"
      "@prefix rdfs:  <http://www.w3.org/2000/01/rdf-schema#> .\n"
      "@prefix state: <http://lv2plug.in/ns/ext/state#> .\n"
      "@prefix ssmk:  <urn:ssmkit:lv2:> .\n\n";
  std::ofstream manifest(dir / "lv2" / "presets.lv2" / "manifest.ttl"), body(dir / "lv2" / "presets.lv2" / "presets.ttl");
  manifest << prefixes;
  body << prefixes;
  for (const auto& p : presets) {
    const std::string uri = "urn:ssmkit:test:" + p.label;
    manifest << "<" << uri << ">\n\ta pset:Preset ;\n\tlv2:appliesTo <" << p.plugin << "> ;\n\trdfs:seeAlso <presets.ttl> .\n\n";
    body << "<" << uri << ">\n\ta pset:Preset ;\n\tlv2:appliesTo <" << p.plugin << "> ;\n\trdfs:label \"" << p.label
         << "\" ;\n\tstate:state [\n\t\tssmk:" << p.kind << " "
         << (p.kind == "model" ? "<" + file_uri(p.source) + ">" : "\"" + p.source + "\"") << "\n\t] .\n\n";
    std::printf("%s %s %s %s %s\n", p.label.c_str(), p.plugin.c_str(), p.input.c_str(), p.kind.c_str(), p.source.c_str());
  }
  return manifest && body ? 0 : 1;
}

int compare(const std::string& a_path, const std::string& b_path, double tol) {
  const io::AudioBuffer a = io::read_audio(a_path), b = io::read_audio(b_path);
  if (a.channels != b.channels || a.frames != b.frames) {
    std::printf("shape differs: %d x %lld vs %d x %lld\n", a.channels, static_cast<long long>(a.frames), b.channels,
                static_cast<long long>(b.frames));
    return 1;
  }
  double diff = 0, peak = 0;
  std::size_t unequal = 0;
  for (std::size_t i = 0; i < a.samples.size(); ++i) {
    diff = std::max(diff, std::fabs(static_cast<double>(a.samples[i]) - b.samples[i]));
    peak = std::max(peak, std::fabs(static_cast<double>(b.samples[i])));
    unequal += a.samples[i] != b.samples[i];
  }
  std::printf("max |a - b| = %.3g over %zu samples (%zu not bit-identical), peak |b| = %.3g\n", diff, a.samples.size(),
              unequal, peak);
  if (!(peak > 1e-4)) {
    std::printf("reference is silent: nothing was compared\n");
    return 1;
  }
  return diff <= tol ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string cmd = argc > 1 ? argv[1] : "";
    if (cmd == "write" && argc == 3) return write_all(argv[2]);
    if (cmd == "compare" && argc == 5) return compare(argv[2], argv[3], std::atof(argv[4]));
    std::fprintf(stderr, "usage: lv2_fixtures write DIR | compare A B TOL\n");
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lv2_fixtures: %s\n", e.what());
    return 1;
  }
}
