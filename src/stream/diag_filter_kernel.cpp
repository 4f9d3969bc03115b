// The DiagFilter recurrence per SIMD target (diag_filter_kernel.hpp has the layouts).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "stream/diag_filter_kernel.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/highway.h>

#include "stream/diag_filter_kernel.hpp"

HWY_BEFORE_NAMESPACE();
namespace ssm::detail::diagf::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// modes layout: per channel, per sample, the modes in vectors of up to kModePad lanes.
template <class T>
HWY_INLINE void modes(const Coeffs<T>& k, const T* u, T* y, std::size_t frames, std::ptrdiff_t cs,
                      std::ptrdiff_t fs) {
  const hn::CappedTag<T, kModePad> d;
  const int L = static_cast<int>(hn::Lanes(d));
  for (int h = 0; h < k.H; ++h) {
    const std::size_t o = static_cast<std::size_t>(h) * k.stride;
    const T *ar = k.ar + o, *ai = k.ai + o, *br = k.br + o, *bi = k.bi + o, *cr = k.cr + o, *ci = k.ci + o;
    T* HWY_RESTRICT xr = k.xr + o;
    T* HWY_RESTRICT xi = k.xi + o;
    const T dh = k.d[h];
    for (std::size_t t = 0; t < frames; ++t) {
      const std::ptrdiff_t at = h * cs + static_cast<std::ptrdiff_t>(t) * fs;
      const T uu = u[at];
      const auto vu = hn::Set(d, uu);
      auto acc = hn::Zero(d);
      for (int n = 0; n < k.M; n += L) {
        const auto a_r = hn::LoadU(d, ar + n), a_i = hn::LoadU(d, ai + n);
        const auto x_r = hn::LoadU(d, xr + n), x_i = hn::LoadU(d, xi + n);
        const auto r = hn::MulAdd(a_r, x_r, hn::NegMulAdd(a_i, x_i, hn::Mul(hn::LoadU(d, br + n), vu)));
        const auto i = hn::MulAdd(a_r, x_i, hn::MulAdd(a_i, x_r, hn::Mul(hn::LoadU(d, bi + n), vu)));
        hn::StoreU(r, d, xr + n);
        hn::StoreU(i, d, xi + n);
        acc = hn::NegMulAdd(hn::LoadU(d, ci + n), i, hn::MulAdd(hn::LoadU(d, cr + n), r, acc));
      }
      y[at] = hn::GetLane(hn::SumOfLanes(d, acc)) + dh * uu;
    }
  }
}

// lanes layout: channels in lanes, kModeGroup modes per pass over the frames of the tile.
template <class T>
HWY_INLINE void lanes(const Coeffs<T>& k, const T* HWY_RESTRICT U, T* HWY_RESTRICT Y, int frames) {
  const hn::CappedTag<T, kChannelPad> d;
  const int L = static_cast<int>(hn::Lanes(d));
  const std::ptrdiff_t S = k.stride;
  for (int hg = 0; hg < S; hg += L) {
    const auto dv = hn::LoadU(d, k.d + hg);
    for (int t = 0; t < frames; ++t) hn::StoreU(hn::Mul(dv, hn::LoadU(d, U + t * S + hg)), d, Y + t * S + hg);
    for (int n = 0; n < k.M; n += kModeGroup) {
      // Mode m of the pass: its coefficients and state for this group of channels.
#define SSM_DIAG_LOAD(m)                                                                 \
  const std::ptrdiff_t o##m = (n + m) * S + hg;                                          \
  const auto ar##m = hn::LoadU(d, k.ar + o##m), ai##m = hn::LoadU(d, k.ai + o##m);       \
  const auto br##m = hn::LoadU(d, k.br + o##m), bi##m = hn::LoadU(d, k.bi + o##m);       \
  const auto cr##m = hn::LoadU(d, k.cr + o##m), ci##m = hn::LoadU(d, k.ci + o##m);       \
  auto xr##m = hn::LoadU(d, k.xr + o##m);                                                \
  auto xi##m = hn::LoadU(d, k.xi + o##m);
      SSM_DIAG_LOAD(0)
      SSM_DIAG_LOAD(1)
      SSM_DIAG_LOAD(2)
      SSM_DIAG_LOAD(3)
#undef SSM_DIAG_LOAD
      for (int t = 0; t < frames; ++t) {
        const auto u = hn::LoadU(d, U + t * S + hg);
        auto y = hn::LoadU(d, Y + t * S + hg);
#define SSM_DIAG_STEP(m)                                                                     \
  {                                                                                          \
    const auto r = hn::MulAdd(ar##m, xr##m, hn::NegMulAdd(ai##m, xi##m, hn::Mul(br##m, u))); \
    const auto i = hn::MulAdd(ar##m, xi##m, hn::MulAdd(ai##m, xr##m, hn::Mul(bi##m, u)));    \
    xr##m = r;                                                                               \
    xi##m = i;                                                                               \
  }
        SSM_DIAG_STEP(0)
        SSM_DIAG_STEP(1)
        SSM_DIAG_STEP(2)
        SSM_DIAG_STEP(3)
#undef SSM_DIAG_STEP
        // Read-out in mode order (the same order for any block size).
        y = hn::NegMulAdd(ci0, xi0, hn::MulAdd(cr0, xr0, y));
        y = hn::NegMulAdd(ci1, xi1, hn::MulAdd(cr1, xr1, y));
        y = hn::NegMulAdd(ci2, xi2, hn::MulAdd(cr2, xr2, y));
        y = hn::NegMulAdd(ci3, xi3, hn::MulAdd(cr3, xr3, y));
        hn::StoreU(y, d, Y + t * S + hg);
      }
      hn::StoreU(xr0, d, k.xr + o0);
      hn::StoreU(xi0, d, k.xi + o0);
      hn::StoreU(xr1, d, k.xr + o1);
      hn::StoreU(xi1, d, k.xi + o1);
      hn::StoreU(xr2, d, k.xr + o2);
      hn::StoreU(xi2, d, k.xi + o2);
      hn::StoreU(xr3, d, k.xr + o3);
      hn::StoreU(xi3, d, k.xi + o3);
    }
  }
}

void ModesF32(const Coeffs<float>& k, const float* u, float* y, std::size_t f, std::ptrdiff_t cs, std::ptrdiff_t fs) {
  modes(k, u, y, f, cs, fs);
}
void ModesF64(const Coeffs<double>& k, const double* u, double* y, std::size_t f, std::ptrdiff_t cs,
              std::ptrdiff_t fs) {
  modes(k, u, y, f, cs, fs);
}
void LanesF32(const Coeffs<float>& k, const float* U, float* Y, int frames) { lanes(k, U, Y, frames); }
void LanesF64(const Coeffs<double>& k, const double* U, double* Y, int frames) { lanes(k, U, Y, frames); }

}  // namespace ssm::detail::diagf::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace ssm::detail::diagf {
HWY_EXPORT(ModesF32);
HWY_EXPORT(ModesF64);
HWY_EXPORT(LanesF32);
HWY_EXPORT(LanesF64);

void run_modes(const Coeffs<float>& k, const float* u, float* y, std::size_t f, std::ptrdiff_t cs,
               std::ptrdiff_t fs) noexcept {
  HWY_DYNAMIC_DISPATCH(ModesF32)(k, u, y, f, cs, fs);
}
void run_modes(const Coeffs<double>& k, const double* u, double* y, std::size_t f, std::ptrdiff_t cs,
               std::ptrdiff_t fs) noexcept {
  HWY_DYNAMIC_DISPATCH(ModesF64)(k, u, y, f, cs, fs);
}
void run_lanes(const Coeffs<float>& k, const float* U, float* Y, int frames) noexcept {
  HWY_DYNAMIC_DISPATCH(LanesF32)(k, U, Y, frames);
}
void run_lanes(const Coeffs<double>& k, const double* U, double* Y, int frames) noexcept {
  HWY_DYNAMIC_DISPATCH(LanesF64)(k, U, Y, frames);
}
}  // namespace ssm::detail::diagf
#endif
