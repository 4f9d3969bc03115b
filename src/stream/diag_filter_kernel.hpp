#pragma once
// Internal: the DiagFilter recurrence (src/stream/diag_filter.cpp), compiled per SIMD target in
// diag_filter_kernel.cpp and dispatched (core/simd.hpp). Per channel h and mode n (complex,
// split re/im; c holds 2 C so that y = sum_n Re(c_n x_n) + d u):
//   x_n <- a_n x_n + b_n u,   y = sum_n (cr_n Re x_n - ci_n Im x_n) + d u
// Two layouts, chosen by prepare() from the channel count:
//   modes   channel h's mode n at h * stride + n (stride: modes padded to kModePad); the modes
//           of one channel in lanes, y by a horizontal sum per sample (few channels);
//   lanes   mode n of channel h at n * stride + h (stride: channels padded to kChannelPad,
//           modes padded to kModeGroup); kChannelPad channels in lanes, a tile of frames at a
//           time (U, Y: [t][stride]), kModeGroup modes per pass: no horizontal sums, the
//           coefficients of a pass stay in registers while the frames stream through.
// Both sum y over the modes in the same order whatever the block size, so a signal cut into
// blocks of any sizes gives the same output bit for bit. Real-time safe.
#include <cstddef>

namespace ssm::detail::diagf {

constexpr int kModePad = 16;
constexpr int kChannelPad = 16;
constexpr int kModeGroup = 4;
constexpr int kTile = 64;        // frames per pass of the lanes layout (U, Y scratch)
constexpr int kLanesMinH = 8;    // channels from which the lanes layout is used

template <class T>
struct Coeffs {
  const T *ar, *ai, *br, *bi, *cr, *ci, *d;
  T *xr, *xi;
  int H;       // channels
  int M;       // modes (padded)
  int stride;  // see above
};

/// modes layout: sample (h, t) at u[h * cs + t * fs], y alike.
void run_modes(const Coeffs<float>& k, const float* u, float* y, std::size_t frames, std::ptrdiff_t cs,
               std::ptrdiff_t fs) noexcept;
void run_modes(const Coeffs<double>& k, const double* u, double* y, std::size_t frames, std::ptrdiff_t cs,
               std::ptrdiff_t fs) noexcept;
/// lanes layout: U, Y are [t][stride], frames <= kTile.
void run_lanes(const Coeffs<float>& k, const float* U, float* Y, int frames) noexcept;
void run_lanes(const Coeffs<double>& k, const double* U, double* Y, int frames) noexcept;

}  // namespace ssm::detail::diagf
