// CUDA helpers of the conformance handlers (see op_cuda.hpp).
#include "conformance/op_cuda.hpp"

#include <complex>
#include <vector>

#include "ssm/conv/diag_kernel.hpp"
#include "ssm/conv/fftconv.hpp"
#include "ssm/core/device_buffer.hpp"
#include "ssm/core/error.hpp"
#ifdef SSM_WITH_CUDA
#include "backend/fftconv_device.hpp"
#endif

namespace ssm::conformance {

#ifdef SSM_WITH_CUDA

Outputs cuda_diag_kernel(const DiagonalSSM& model, Method method, std::ptrdiff_t L) {
  DeviceBuffer<float> K(static_cast<std::size_t>(model.H) * static_cast<std::size_t>(L));
  diag_kernel(model, method, L, K.data(), Device::cuda);  // the public entry point, device output
  Outputs o;
  o["K"] = out_real(K.to_host());
  return o;
}

Outputs cuda_fftconv(const io::SafeTensors& st) {
  const auto us = shape(st, "u"), ks = shape(st, "k");
  const std::ptrdiff_t B = us.at(0), H = us.at(1), L = us.at(2), Lk = ks.at(1);
  DeviceBuffer<float> u(cast<float>(st.to_double("u"))), k(cast<float>(st.to_double("k")));
  DeviceBuffer<float> D;
  if (st.has("D")) D = DeviceBuffer<float>(cast<float>(st.to_double("D")));
  DeviceBuffer<float> y(u.size());
  fftconv<float>(View3<const float>(u.data(), B, H, L), k.data(), Lk, D.empty() ? nullptr : D.data(),
                 View3<float>(y.data(), B, H, L), Device::cuda);  // device pointers
  Outputs o;
  o["y"] = out_real(y.to_host());
  return o;
}

Outputs cuda_fftconv_unfused(const io::SafeTensors& st) {
  const auto us = shape(st, "u"), ks = shape(st, "k");
  const int B = static_cast<int>(us.at(0)), H = static_cast<int>(us.at(1));
  const std::ptrdiff_t L = us.at(2), Lk = ks.at(1);
  DeviceBuffer<float> u(cast<float>(st.to_double("u"))), k(cast<float>(st.to_double("k")));
  DeviceBuffer<float> D;
  if (st.has("D")) D = DeviceBuffer<float>(cast<float>(st.to_double("D")));
  DeviceBuffer<float> y(u.size());
  detail::fftconv_cuda_unfused(u.data(), k.data(), Lk, D.empty() ? nullptr : D.data(), y.data(), B, H, L);
  Outputs o;
  o["y"] = out_real(y.to_host());
  return o;
}

Outputs cuda_diag_filter_conv(const io::SafeTensors& st, const DiagonalSSM& m, Method method) {
  const auto s = shape(st, "u");
  if (s.size() != 3 || s[1] != m.H) throw Error("diag_filter case: 'u' must be (Bt, H, L)");
  const std::ptrdiff_t Bt = s[0], H = s[1], L = s[2];
  // Kernel, convolution and output stay on the GPU (device pointers throughout).
  DeviceBuffer<float> K(static_cast<std::size_t>(H * L));
  diag_kernel(m, method, L, K.data(), Device::cuda);
  const auto u = cast<float>(st.to_double("u"));
  DeviceBuffer<float> ud(u), Dd(std::vector<float>(m.D.begin(), m.D.end())), yd(u.size());
  fftconv<float>(View3<const float>(ud.data(), Bt, H, L), K.data(), L, Dd.data(),
                 View3<float>(yd.data(), Bt, H, L), Device::cuda);
  const std::vector<float> y = yd.to_host();
  const DiagonalDiscrete d = discretize(m, method);
  std::vector<double> state(static_cast<std::size_t>(Bt * H * m.N2 * 2));
  for (std::ptrdiff_t b = 0; b < Bt; ++b)
    for (std::ptrdiff_t h = 0; h < H; ++h)
      for (int n = 0; n < m.N2; ++n) {
        const std::size_t i = m.index(static_cast<int>(h), n);
        const std::complex<double> la = d.log_Ad.get(i);
        std::complex<double> acc = 0;
        for (std::ptrdiff_t t = 0; t < L; ++t) {
          const double e = static_cast<double>(L - 1 - t);
          acc += (e == 0 ? 1.0 : std::exp(e * la)) * static_cast<double>(u[(b * H + h) * L + t]);
        }
        acc *= d.Bd.get(i);
        const std::size_t o = 2 * (static_cast<std::size_t>(b * H) * m.N2 + i);
        state[o] = static_cast<float>(acc.real());
        state[o + 1] = static_cast<float>(acc.imag());
      }
  Outputs o;
  o["y"] = out_real(y);
  o["h"].values = std::move(state);
  o["h"].complex = true;
  return o;
}

#else

namespace {
[[noreturn]] void no_cuda(const char* what) {
  throw Error(std::string(what) + ": CUDA not compiled in (SSM_WITH_CUDA=OFF)");
}
}  // namespace
Outputs cuda_diag_kernel(const DiagonalSSM&, Method, std::ptrdiff_t) { no_cuda("cuda_diag_kernel"); }
Outputs cuda_fftconv_unfused(const io::SafeTensors&) { no_cuda("cuda_fftconv_unfused"); }
Outputs cuda_fftconv(const io::SafeTensors&) { no_cuda("cuda_fftconv"); }
Outputs cuda_diag_filter_conv(const io::SafeTensors&, const DiagonalSSM&, Method) {
  no_cuda("cuda_diag_filter_conv");
}

#endif

}  // namespace ssm::conformance
