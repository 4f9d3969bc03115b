// One decoding step of the selective SSM on the CPU (see state_update.hpp for the formula).
// Runs on the calling thread; no allocation, lock or throw after validation.
#include "ssm/scan/state_update.hpp"

#include <cmath>
#include <cstddef>

#include "backend/scan_cuda.hpp"
#include "core/activations.hpp"
#include "core/dispatch.hpp"
#include "ssm/core/error.hpp"

namespace ssm {

template <class T>
void SelectiveStateUpdateArgs<T>::validate() const {
  constexpr const char* w = "selective_state_update";
  require(batch >= 1, w, "batch", "must be >= 1, got ", batch);
  require(dim >= 1, w, "dim", "must be >= 1, got ", dim);
  require(dstate >= 1, w, "dstate", "must be >= 1, got ", dstate);
  require(groups >= 1 && dim % groups == 0, w, "groups", "must be >= 1 and divide dim = ", dim,
          ", got ", groups);
  require(state != nullptr, w, "state", "must not be null");
  require(x != nullptr, w, "x", "must not be null");
  require(dt != nullptr, w, "dt", "must not be null");
  require(A != nullptr, w, "A", "must not be null");
  require(B != nullptr, w, "B", "must not be null");
  require(C != nullptr, w, "C", "must not be null");
  require(out != nullptr, w, "out", "must not be null");
}

template struct SelectiveStateUpdateArgs<float>;
template struct SelectiveStateUpdateArgs<double>;

namespace {

using namespace detail::math;

template <class T>
void step_cpu(const SelectiveStateUpdateArgs<T>& a) noexcept {
  const int N = a.dstate, Dg = a.dim / a.groups;
  for (int b = 0; b < a.batch; ++b) {
    for (int d = 0; d < a.dim; ++d) {
      const std::ptrdiff_t bd = static_cast<std::ptrdiff_t>(b) * a.dim + d;
      const int g = d / Dg;
      T dt = a.dt[bd] + (a.dt_bias ? a.dt_bias[d] : T(0));
      if (a.dt_softplus) dt = softplus(dt);
      const T x = a.x[bd];
      const T dx = dt * x;
      const std::ptrdiff_t goff = (static_cast<std::ptrdiff_t>(b) * a.groups + g) * N;
      T acc = T(0);
      if (!a.complex_A) {
        T* h = a.state + bd * N;
        const T* A = a.A + static_cast<std::ptrdiff_t>(d) * N;
        const T* B = a.B + goff;
        const T* C = a.C + goff;
#pragma omp simd reduction(+ : acc)
        for (int n = 0; n < N; ++n) {
          const T hn = exp_t(dt * A[n]) * h[n] + dx * B[n];
          h[n] = hn;
          acc += C[n] * hn;
        }
      } else {
        T* h = a.state + bd * N * 2;
        const T* A = a.A + static_cast<std::ptrdiff_t>(d) * N * 2;
        const T* B = a.B + goff * 2;
        const T* C = a.C + goff * 2;
        for (int n = 0; n < N; ++n) {
          const T m = exp_t(dt * A[2 * n]);
          const T th = dt * A[2 * n + 1];
          const T ar = m * std::cos(th), ai = m * std::sin(th);
          const T hr = h[2 * n], hi = h[2 * n + 1];
          const T nr = ar * hr - ai * hi + dx * B[2 * n];
          const T ni = ar * hi + ai * hr + dx * B[2 * n + 1];
          h[2 * n] = nr;
          h[2 * n + 1] = ni;
          acc += C[2 * n] * nr - C[2 * n + 1] * ni;
        }
        acc *= T(2);
      }
      T y = acc + (a.D ? a.D[d] * x : T(0));
      if (a.z) y *= silu(a.z[bd]);
      a.out[bd] = y;
    }
  }
}

template <class T>
void step_entry(const SelectiveStateUpdateArgs<T>& a, Device device) {
  a.validate();
  detail::dispatch(
      "selective_state_update", device, [&] { step_cpu(a); },
      [&] { detail::selective_state_update_cuda(a); });
}

template <class T>
void step_on_stream(const SelectiveStateUpdateArgs<T>& a, const CudaStream& stream) {
  a.validate();
  detail::require_cuda("selective_state_update", "stream");
#ifdef SSM_WITH_CUDA
  detail::selective_state_update_cuda(a, stream);
#else
  (void)stream;
#endif
}

}  // namespace

void selective_state_update(const SelectiveStateUpdateArgs<float>& a, Device d) { step_entry(a, d); }
void selective_state_update(const SelectiveStateUpdateArgs<double>& a, Device d) { step_entry(a, d); }
void selective_state_update(const SelectiveStateUpdateArgs<float>& a, const CudaStream& s) { step_on_stream(a, s); }
void selective_state_update(const SelectiveStateUpdateArgs<double>& a, const CudaStream& s) { step_on_stream(a, s); }
void selective_state_update_cpu(const SelectiveStateUpdateArgs<float>& a) noexcept { step_cpu(a); }
void selective_state_update_cpu(const SelectiveStateUpdateArgs<double>& a) noexcept { step_cpu(a); }

}  // namespace ssm
