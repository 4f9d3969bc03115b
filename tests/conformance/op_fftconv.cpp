// Conformance handler for `fftconv`: the offline FFT convolution (ssm::fftconv) and the
// streaming PartitionedConvolver (zero latency, two stages, odd block size) on the same case.
#include <algorithm>

#include "conformance/conformance.hpp"
#include "conformance/op_cuda.hpp"
#include "ssm/conv/fftconv.hpp"
#include "ssm/stream/partitioned_convolver.hpp"

namespace ssm::conformance {
namespace {

template <class T>
Outputs run_fftconv(const io::SafeTensors& st, const Run& r) {
  const auto us = shape(st, "u"), ks = shape(st, "k");
  const std::ptrdiff_t B = us.at(0), H = us.at(1), L = us.at(2), Lk = ks.at(1);
  const auto u = cast<T>(st.to_double("u"));
  const auto k = cast<T>(st.to_double("k"));
  const bool has_d = st.has("D");
  const auto D = has_d ? cast<T>(st.to_double("D")) : std::vector<T>{};
  const T* Dp = has_d ? D.data() : nullptr;
  std::vector<T> y(u.size());
  if (r.path == "fft") {
    fftconv<T>(View3<const T>(u.data(), B, H, L), k.data(), Lk, Dp, View3<T>(y.data(), B, H, L), r.device);
  } else {  // "partitioned" (CPU streaming path): one stream per batch element, blocks of 37
    PartitionSpec spec;
    spec.head_partition = 16;
    spec.tail_partition = 128;
    spec.zero_latency = true;
    PartitionedConvolver<T> c;
    c.prepare(H, k.data(), Lk, Dp, spec);
    std::vector<const T*> in(static_cast<std::size_t>(H));
    std::vector<T*> out(static_cast<std::size_t>(H));
    for (std::ptrdiff_t b = 0; b < B; ++b) {
      c.reset();
      for (std::ptrdiff_t t = 0; t < L; t += 37) {
        const std::ptrdiff_t n = std::min<std::ptrdiff_t>(37, L - t);
        for (std::ptrdiff_t h = 0; h < H; ++h) {
          in[static_cast<std::size_t>(h)] = u.data() + (b * H + h) * L + t;
          out[static_cast<std::size_t>(h)] = y.data() + (b * H + h) * L + t;
        }
        c.process(in.data(), out.data(), static_cast<std::size_t>(n));
      }
    }
  }
  Outputs o;
  o["y"] = out_real(y);
  return o;
}

OpHandler fftconv_handler() {
  OpHandler h;
  h.paths = {"fft", "partitioned"};
  h.has_f64 = true;
  h.has_cuda = true;
  h.run = [](const io::SafeTensors& st, const Run& r) {
    if (r.device == Device::cuda && r.path == "partitioned") return cuda_fftconv_unfused(st);
    if (r.device == Device::cuda) return cuda_fftconv(st);
    return r.precision == Precision::f32 ? run_fftconv<float>(st, r) : run_fftconv<double>(st, r);
  };
  return h;
}

}  // namespace

SSM_CONFORMANCE_OP("fftconv", fftconv_handler());

}  // namespace ssm::conformance
