#pragma once
// Log-magnitude short-time Fourier transform of a real signal (FFTW), the (time x frequency)
// grid that 2D models (VMamba's SS2D, include/ssm/layers/vmamba_model.hpp) run over.
//
//   frame t covers samples [t hop, t hop + size) (zeros past the end of the signal);
//   window: periodic Hann, w[i] = 0.5 - 0.5 cos(2 pi i / size);
//   S[t][f] = ln( | sum_{i < size} w[i] x[t hop + i] e^{-2 pi j f i / size} | + floor ),
//             f = 0 .. size/2 (bins = size/2 + 1);
//   frames  = 1 + ceil(max(0, n - size) / hop)   (every sample is in some frame).
// Layout: values (frames, bins) row-major, i.e. a (H = frames, W = bins) grid, channels-last
// with one channel. Offline (allocates; FFTW plans are cached and shared process-wide).
#include <cstdint>
#include <vector>

namespace ssm {

struct LogSpectrogram {
  int frames = 0, bins = 0;
  std::vector<float> values;  // (frames, bins)
};

/// Throws ssm::Error naming 'x' (null or n < 1), 'size' (< 2), 'hop' (< 1) or 'floor' (<= 0).
LogSpectrogram log_stft(const float* x, std::int64_t n, int size, int hop, double floor = 1e-6);

}  // namespace ssm
