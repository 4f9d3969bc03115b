#pragma once
// The three ways ssmkit runs a state space model (DESIGN.md), one vocabulary for the library,
// the CLI and every model family:
//   stream  a stateful recurrent filter, sample by sample or block by block (real-time safe)
//   conv    the impulse response computed once, then FFT convolution (offline, LTI models)
//   scan    a parallel scan over time (offline batches, LTI diagonal and selective models)
// A model says which modes it offers (Model<T>::modes()); all offered modes agree to the
// conformance tolerance.
#include <string>
#include <string_view>

#include "ssm/core/error.hpp"

namespace ssm {

enum class Mode { stream, conv, scan };

constexpr const char* to_string(Mode m) noexcept {
  switch (m) {
    case Mode::stream: return "stream";
    case Mode::conv: return "conv";
    case Mode::scan: return "scan";
  }
  return "?";
}

/// "stream" | "conv" | "scan"; otherwise throws ssm::Error("<where>: argument '<what>' must be
/// stream, conv or scan, got '<s>'").
inline Mode parse_mode(std::string_view s, const char* where = "parse_mode", const char* what = "mode") {
  if (s == "stream") return Mode::stream;
  if (s == "conv") return Mode::conv;
  if (s == "scan") return Mode::scan;
  fail(where, what, "must be stream, conv or scan, got '", s, "'");
}

}  // namespace ssm
