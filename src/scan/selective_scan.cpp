// Selective scan (S6): the entry points, their argument checks and the streaming wrapper.
// The CPU scan itself: selective_scan_cpu.hpp (its files, each with one job).
#include "ssm/scan/selective_scan.hpp"

#include <algorithm>
#include <vector>

#include "backend/scan_cuda.hpp"
#include "backend/selective_scan_params.hpp"
#include "core/dispatch.hpp"
#include "scan/selective_scan_cpu.hpp"
#include "ssm/core/error.hpp"

namespace ssm {

// ---- validation -----------------------------------------------------------------------------

namespace {

void check_strides(const Strides3& s, const char* name, bool output, int batch, int dim, int length) {
  constexpr const char* where = "selective_scan";
  require(s.b >= 0 && s.d >= 0 && s.l >= 0, where, name, "strides must be non-negative, got (", s.b,
          ", ", s.d, ", ", s.l, ")");
  if (output && !s.is_default())
    require((s.b > 0 || batch == 1) && (s.d > 0 || dim == 1) && (s.l > 0 || length == 1), where,
            name, "is an output: a zero stride along an axis of size > 1 would write one element "
                  "twice, got strides (", s.b, ", ", s.d, ", ", s.l, ")");
}

}  // namespace

template <class T>
void SelectiveScanArgs<T>::validate() const {
  constexpr const char* w = "selective_scan";
  require(batch >= 1, w, "batch", "must be >= 1, got ", batch);
  require(dim >= 1, w, "dim", "must be >= 1, got ", dim);
  require(dstate >= 1, w, "dstate", "must be >= 1, got ", dstate);
  require(length >= 1, w, "length", "must be >= 1, got ", length);
  require(groups >= 1 && dim % groups == 0, w, "groups",
          "must be >= 1 and divide dim = ", dim, ", got ", groups);
  require(u != nullptr, w, "u", "must not be null");
  require(delta != nullptr, w, "delta", "must not be null");
  require(A != nullptr, w, "A", "must not be null");
  require(B != nullptr, w, "B", "must not be null");
  require(C != nullptr, w, "C", "must not be null");
  require(out != nullptr, w, "out", "must not be null");
  check_strides(u_strides, "u", false, batch, dim, length);
  check_strides(delta_strides, "delta", false, batch, dim, length);
  check_strides(z_strides, "z", false, batch, dim, length);
  check_strides(out_strides, "out", true, batch, dim, length);
}

template struct SelectiveScanArgs<float>;
template struct SelectiveScanArgs<double>;

namespace {

template <class T>
void scan_entry(const SelectiveScanArgs<T>& a, Device device) {
  if (device == Device::cuda) a.validate();  // the CPU path validates inside scan_cpu
  detail::dispatch(
      "selective_scan", device, [&] { detail::sscan::scan_cpu(a, ScanCpuOptions{}); },
      [&] { detail::selective_scan_cuda(a); });
}

}  // namespace

void selective_scan(const SelectiveScanArgs<float>& a, Device device) { scan_entry(a, device); }
void selective_scan(const SelectiveScanArgs<double>& a, Device device) { scan_entry(a, device); }

namespace {
template <class T>
void scan_on_stream(const SelectiveScanArgs<T>& a, const CudaStream& stream) {
  a.validate();
  detail::require_cuda("selective_scan", "stream");
#ifdef SSM_WITH_CUDA
  detail::selective_scan_cuda(a, stream);
#else
  (void)stream;
#endif
}
}  // namespace
void selective_scan(const SelectiveScanArgs<float>& a, const CudaStream& s) { scan_on_stream(a, s); }
void selective_scan(const SelectiveScanArgs<double>& a, const CudaStream& s) { scan_on_stream(a, s); }
void selective_scan_cpu(const SelectiveScanArgs<float>& a, const ScanCpuOptions& o) { detail::sscan::scan_cpu(a, o); }
void selective_scan_cpu(const SelectiveScanArgs<double>& a, const ScanCpuOptions& o) { detail::sscan::scan_cpu(a, o); }

}  // namespace ssm
