#pragma once
// Helpers every model kind of the ssmkit program uses (model.cpp).
#include <cstdint>
#include <string>

#include "engine.hpp"

namespace ssm::cli {

/// Throws ssm::Error naming --mode and listing the available modes unless m supports mode on device.
void require_supported(const Model& m, Mode mode, Device device);
/// Runs a streamer over a whole planar signal of C channels (into Cout) in blocks of `block` frames.
void run_streamer(Streamer& s, int C, int Cout, const float* in, float* out, std::int64_t frames, int block,
                  Progress& progress);
/// A number as printf's %g writes it.
std::string fmt(double v);

}  // namespace ssm::cli
