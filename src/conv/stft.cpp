#include "ssm/conv/stft.hpp"

#include <cmath>
#include <complex>
#include <numbers>

#include "core/fftw_plan_cache.hpp"
#include "ssm/core/error.hpp"

namespace ssm {

LogSpectrogram log_stft(const float* x, std::int64_t n, int size, int hop, double floor) {
  constexpr const char* w = "log_stft";
  require(x != nullptr && n >= 1, w, "x", "must be a non-empty signal, got ", n, " samples");
  require(size >= 2, w, "size", "must be >= 2, got ", size);
  require(hop >= 1, w, "hop", "must be >= 1, got ", hop);
  require(floor > 0 && std::isfinite(floor), w, "floor", "must be finite and > 0, got ", floor);
  LogSpectrogram s;
  s.bins = size / 2 + 1;
  const std::int64_t extra = n > size ? n - size : 0;
  const std::int64_t frames = 1 + (extra + hop - 1) / hop;
  require(frames <= 0x7fffffff, w, "hop", "gives too many frames (", frames, ")");
  s.frames = static_cast<int>(frames);
  s.values.resize(static_cast<std::size_t>(frames) * s.bins);
  std::vector<double> win(static_cast<std::size_t>(size));
  for (int i = 0; i < size; ++i) win[std::size_t(i)] = 0.5 - 0.5 * std::cos(2 * std::numbers::pi * i / size);
  const auto& plan = detail::real_plan<double>(size, 1);
  detail::FftwBuffer<double> in(static_cast<std::size_t>(size));
  detail::FftwBuffer<std::complex<double>> out(static_cast<std::size_t>(s.bins));
  for (std::int64_t t = 0; t < frames; ++t) {
    for (int i = 0; i < size; ++i) {
      const std::int64_t at = t * hop + i;
      in[std::size_t(i)] = at < n ? win[std::size_t(i)] * double(x[at]) : 0.0;
    }
    plan.r2c(in.data(), out.data());
    float* row = s.values.data() + t * s.bins;
    for (int f = 0; f < s.bins; ++f) row[f] = static_cast<float>(std::log(std::abs(out[std::size_t(f)]) + floor));
  }
  return s;
}

}  // namespace ssm
