#pragma once
// Internal: offline forward of a sequence model through its streamer (the `stream` mode of
// Model<T>::forward): each batch row is one stream, run from a fresh state in blocks.
#include <algorithm>
#include <cstdint>
#include <memory>

#include "ssm/stream/streamer.hpp"

namespace ssm::detail {

template <class T>
void forward_by_streaming(Streamer<T>& s, const T* in, std::int64_t batch, std::int64_t length, T* out,
                          double sample_rate) {
  constexpr int kBlock = 4096;
  StreamSpec spec;
  spec.sample_rate = sample_rate;
  spec.max_block = static_cast<int>(std::min<std::int64_t>(length, kBlock));
  spec.channels = 1;
  s.prepare(spec);
  const std::int64_t wi = s.input_width(), wo = s.output_width();
  for (std::int64_t b = 0; b < batch; ++b) {
    s.reset();
    for (std::int64_t t = 0; t < length; t += spec.max_block) {
      const int n = static_cast<int>(std::min<std::int64_t>(spec.max_block, length - t));
      s.process_mono(in + (b * length + t) * wi, out + (b * length + t) * wo, n);
    }
  }
}

}  // namespace ssm::detail
