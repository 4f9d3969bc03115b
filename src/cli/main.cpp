// ssmkit: put signals through state space models, from files or live. See docs/cli.md.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <string>

#include "commands.hpp"
#include "ssm/core/error.hpp"

int main(int argc, char** argv) {
  using namespace ssm::cli;
  CLI::App app{"ssmkit: streaming signal processing with continuous-time state space models"};
  app.require_subcommand(1);
  app.option_defaults()->always_capture_default();  // --help shows every default
  const std::string spec_help =
      "Filter specs (--filter; docs/cli.md):\n"
      "  hippo:<legt|legs|lagt|fout>[:N=64][:theta=0.01][:delay=theta/2][:method=bilinear|zoh]\n"
      "  s4d:<lin|inv|legs|real>[:H=<channels>][:N=64][:seed=0][:dt_min=0.001][:dt_max=0.1][:method=zoh|bilinear]\n"
      "  butter:lowpass[:order=8][:cutoff=1000][:method=zoh|bilinear]   (Butterworth, as a diagonal SSM)\n"
      "Without --model or --filter: " + std::string(kDefaultFilter) + " (demo: " + kDemoFilter + ").\n"
      "Real-time factor: seconds of signal per second of compute (1 = just real time; higher is faster).";
  app.footer(spec_help);
  app.set_version_flag("--version", "ssmkit 0.1.0");

  auto add_source = [](CLI::App* cmd, ModelSource& src) {
    auto* m = cmd->add_option("--model", src.model_file,
                              "Model file (safetensors with ssmkit.arch metadata) or Hugging Face checkpoint directory "
                              "(config.json + model.safetensors; token models: run takes token-id .npy arrays)");
    auto* f = cmd->add_option("--filter", src.filter_spec,
                              std::string("Filter spec, e.g. hippo:legt:N=64:theta=0.01 or s4d:lin:N=64 (grammar "
                                          "below; default ") + kDefaultFilter + ")");
    m->excludes(f);
  };

  RunOptions run;
  std::string mode = "stream";
  auto* cmd_r = app.add_subcommand("run", "Filter audio files (WAV/FLAC) or time series (.npy/.safetensors); token models: "
                                          "token ids (.npy) to logits / hidden states");
  add_source(cmd_r, run.source);
  cmd_r->add_option("IN", run.inputs, "Input files (several: processed as one batch)")->required();
  cmd_r->add_option("-o,--output", run.outputs, "Output file, one per input, or a directory")->required();
  cmd_r->add_option("--mode", mode, "stream | conv | scan (`ssmkit info` lists a model's modes)")
      ->check(CLI::IsMember({"stream", "conv", "scan"}));
  cmd_r->add_option("--device", run.device, "cpu | cuda");
  cmd_r->add_option("--block", run.block, "Block size of the stream mode (frames)");
  cmd_r->add_option("--rate", run.rate,
                    "Sample rate of array inputs in Hz (default: the model file's own rate, else 48000; audio "
                    "files carry theirs)")
      ->default_str("model's or 48000");
  cmd_r->add_option("--layout", run.layout,
                    "Array layout: time-last ((L), (C, L), (B, C, L)) or time-first ((L), (L, C), PyTorch's (B, L, C))")
      ->check(CLI::IsMember({"time-last", "time-first"}));
  cmd_r->add_option("--threads", run.threads, "OpenMP threads of conv/scan (0: OpenMP's default, OMP_NUM_THREADS)");
  cmd_r->add_option("--encoding", run.encoding, "Audio outputs: auto (float .wav, pcm24 .flac) | pcm16 | pcm24 | float")
      ->check(CLI::IsMember({"auto", "pcm16", "pcm24", "float"}));
  auto* gain = cmd_r->add_option("--gain", run.gain_db, "Output gain in dB");
  cmd_r->add_flag("--normalize", run.normalize, "Scale each output to a peak of -1 dBFS")->excludes(gain);
  cmd_r->add_flag("--check", run.check, "Also run the other modes and print the largest difference");

  ModelSource live_src;
  std::string in_dev, out_dev;
  int live_block = 64, live_channels = 1;
  double live_rate = 0, live_seconds = 0;
  bool list_devices = false;
  auto* cmd_l = app.add_subcommand("live", "Live audio through a model (PortAudio duplex stream)");
  add_source(cmd_l, live_src);
  cmd_l->add_option("--in", in_dev, "Input device (index or name; default: the host API's default)");
  cmd_l->add_option("--out", out_dev, "Output device (index or name)");
  cmd_l->add_option("--block", live_block, "Frames per callback");
  cmd_l->add_option("--channels", live_channels, "Channels in and out");
  cmd_l->add_option("--rate", live_rate, "Sample rate in Hz (0: the device's)");
  cmd_l->add_option("--seconds", live_seconds, "Stop after this many seconds (0: run until Ctrl-C)");
  cmd_l->add_flag("--list-devices", list_devices, "List the audio devices and exit");

  ModelSource info_src;
  std::string info_file;
  auto* cmd_i = app.add_subcommand(
      "info", "What a model, safetensors, .npy or audio file or a Hugging Face checkpoint directory holds (or a --filter spec)");
  add_source(cmd_i, info_src);
  cmd_i->add_option("FILE", info_file, "The file (or checkpoint directory)");

  ModelSource demo_src;
  std::string demo_out = "ssmkit-demo", demo_figure;
  auto* cmd_d = app.add_subcommand("demo", "Generate a clip, run it in every mode, write WAVs and a figure");
  add_source(cmd_d, demo_src);
  cmd_d->add_option("--out", demo_out, "Directory for the WAV files");
  cmd_d->add_option("--figure", demo_figure, "PNG figure path (empty: <out>/demo.png)");

  SpectrogramOptions spec;
  auto* cmd_s = app.add_subcommand("spectrogram",
                                   "Log-magnitude STFT of an audio file through a 2D (VMamba SS2D) model; .npy + figure");
  cmd_s->add_option("IN", spec.input, "Input audio file (WAV/FLAC; channels are averaged)")->required();
  cmd_s->add_option("-o,--output", spec.output, "Output .npy (frames, bins, d_output)")->required();
  cmd_s->add_option("--figure", spec.figure, "PNG figure of the input and output grids");
  cmd_s->add_option("--model", spec.model_file, "Grid model file (ssmkit.arch vmamba, d_input 1); default: random");
  cmd_s->add_option("--seed", spec.seed, "Seed of the random model");
  cmd_s->add_option("--size", spec.size, "STFT size in samples (bins = size/2 + 1)");
  cmd_s->add_option("--hop", spec.hop, "STFT hop in samples");
  cmd_s->add_option("--device", spec.device, "cpu | cuda");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (*cmd_r) {
      run.mode = ssm::parse_mode(mode, "ssmkit", "--mode");
      run.mode_given = cmd_r->count("--mode") > 0;
      run.rate_given = cmd_r->count("--rate") > 0;
      return cmd_run(run);
    }
    if (*cmd_l) return cmd_live(live_src, in_dev, out_dev, live_block, live_channels, live_rate, live_seconds, list_devices);
    if (*cmd_i) {
      if (info_file.empty() && !info_src.model_file.empty()) std::swap(info_file, info_src.model_file);
      return cmd_info(info_file, info_src);
    }
    if (*cmd_s) return cmd_spectrogram(spec);
    if (*cmd_d) return cmd_demo(demo_out, demo_figure.empty() ? demo_out + "/demo.png" : demo_figure, demo_src);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    // One line: "ssmkit: error: <what>" (messages raised here start with "ssmkit: " already).
    std::string what = e.what();
    if (what.rfind("ssmkit: ", 0) == 0) what.erase(0, 8);
    for (char& ch : what)
      if (ch == '\n') ch = ' ';
    std::fprintf(stderr, "ssmkit: error: %s\n", what.c_str());
    return 1;
  }
  return 0;
}
