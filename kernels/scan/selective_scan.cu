// CUDA backend of ssm::selective_scan (include/ssm/scan/selective_scan.hpp). Two kernels:
//   * the fast kernel (selective_scan_fast.cuh): one thread a state, sequential in time; for
//     real A, float32 compute (float32 or bf16 storage), dstate in {4, 8, 16, 32}, channel
//     groups that fill whole blocks and time-contiguous rows: the common Mamba case;
//   * the chunked warp scan of scan_kernel.cuh (legacy) for everything else (complex A,
//     double, other dstate, strided time).
// SSM_CUDA_SCAN_KERNEL=legacy|fast|auto (read once) overrides the choice for A/B timing.
// All pointers are device pointers.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "scan/scan_cuda.hpp"
#include "scan/scan_kernel.cuh"
#include "scan/selective_scan_ext.hpp"
#include "scan/selective_scan_fast.cuh"

namespace ssm::detail {
namespace {

template <class Tin, class T>
scan::Params<Tin, T> make_params(const SelectiveScanArgs<T>& a) {
  scan::Params<Tin, T> p{};
  p.batch = a.batch;
  p.dim = a.dim;
  p.dstate = a.dstate;
  p.length = a.length;
  p.groups = a.groups;
  p.dim_per_group = a.dim / a.groups;
  p.softplus = a.delta_softplus;
  p.B_variable = a.B_variable;
  p.C_variable = a.C_variable;
  p.A = a.A;
  p.D = a.D;
  p.delta_bias = a.delta_bias;
  p.h0 = a.h0;
  p.last_state = a.last_state;
  const Strides3 su = a.u_strides.resolved(a.dim, a.length);
  const Strides3 sd = a.delta_strides.resolved(a.dim, a.length);
  const Strides3 sz = a.z_strides.resolved(a.dim, a.length);
  const Strides3 so = a.out_strides.resolved(a.dim, a.length);
  p.su_b = su.b; p.su_d = su.d; p.su_l = su.l;
  p.sd_b = sd.b; p.sd_d = sd.d; p.sd_l = sd.l;
  p.sz_b = sz.b; p.sz_d = sz.d; p.sz_l = sz.l;
  p.so_b = so.b; p.so_d = so.d; p.so_l = so.l;
  return p;
}

/// Reads SSM_CUDA_SCAN_KERNEL once (thread-safe static initialization).
ScanKernel env_choice() {
  static const ScanKernel k = [] {
    const char* v = std::getenv("SSM_CUDA_SCAN_KERNEL");
    if (!v || !*v || std::strcmp(v, "auto") == 0) return ScanKernel::automatic;
    if (std::strcmp(v, "legacy") == 0) return ScanKernel::legacy;
    if (std::strcmp(v, "fast") == 0) return ScanKernel::fast;
    fail("selective_scan_cuda", "SSM_CUDA_SCAN_KERNEL", "must be legacy, fast or auto, got '", v, "'");
  }();
  return k;
}

/// true: run the fast kernel. `choice` automatic defers to the environment; an explicit
/// fast choice on unsupported args throws; the environment's "fast" falls back silently.
bool use_fast(const SelectiveScanArgs<float>& a, ScanKernel choice, const char* where) {
  const bool applies = selective_scan_fast_applies(a);
  if (choice == ScanKernel::fast) {
    require(applies, where, "kernel",
            "fast needs real A, dstate in {4, 8, 16, 32}, (dim/groups) % (128/dstate) == 0 "
            "and time stride 1");
    return true;
  }
  if (choice == ScanKernel::legacy) return false;
  return env_choice() != ScanKernel::legacy && applies;
}

bool aligned(const void* ptr, std::size_t bytes) {
  return (reinterpret_cast<std::uintptr_t>(ptr) % bytes) == 0;
}

template <class Tin>
scan_fast::FastParams<Tin> make_fast(const SelectiveScanArgs<float>& a, const Tin* u, const Tin* delta,
                                     const Tin* z, const Tin* B, const Tin* C, Tin* out) {
  scan_fast::FastParams<Tin> p{};
  p.batch = a.batch;
  p.dim = a.dim;
  p.length = a.length;
  p.groups = a.groups;
  p.dim_per_group = a.dim / a.groups;
  p.softplus = a.delta_softplus;
  p.u = u; p.delta = delta; p.z = z; p.B = B; p.C = C; p.out = out;
  p.A = a.A; p.D = a.D; p.delta_bias = a.delta_bias; p.h0 = a.h0; p.last_state = a.last_state;
  const Strides3 su = a.u_strides.resolved(a.dim, a.length);
  const Strides3 sd = a.delta_strides.resolved(a.dim, a.length);
  const Strides3 sz = a.z_strides.resolved(a.dim, a.length);
  const Strides3 so = a.out_strides.resolved(a.dim, a.length);
  p.su_b = su.b; p.su_d = su.d;
  p.sd_b = sd.b; p.sd_d = sd.d;
  p.sz_b = sz.b; p.sz_d = sz.d;
  p.so_b = so.b; p.so_d = so.d;
  // Vector access of 4 elements needs every row start aligned to 4 elements: base pointer
  // aligned and batch/channel strides multiples of 4 (time offsets are multiples of 4).
  constexpr std::size_t kVec = 4 * sizeof(Tin);
  auto row_ok = [&](const void* ptr, const Strides3& s) {
    return aligned(ptr, kVec) && s.b % 4 == 0 && s.d % 4 == 0;
  };
  p.vec_rows = row_ok(u, su) && row_ok(delta, sd) && row_ok(out, so) && (!z || row_ok(z, sz));
  p.vec_bc = a.length % 4 == 0 && (!a.B_variable || aligned(B, kVec)) &&
             (!a.C_variable || aligned(C, kVec));
  return p;
}

void launch_float(const SelectiveScanArgs<float>& a, ScanKernel choice, const char* where) {
  if (use_fast(a, choice, where)) {
    scan_fast::launch<float>(make_fast<float>(a, a.u, a.delta, a.z, a.B, a.C, a.out), a.dstate,
                             a.B_variable, a.C_variable, where);
    return;
  }
  auto p = make_params<float, float>(a);
  p.u = a.u; p.delta = a.delta; p.z = a.z; p.B = a.B; p.C = a.C; p.out = a.out;
  scan::launch<float, float>(p, a.complex_A, /*lti=*/false, where);
}

void run(const SelectiveScanArgs<double>& a) {
  auto p = make_params<double, double>(a);
  p.u = a.u; p.delta = a.delta; p.z = a.z; p.B = a.B; p.C = a.C; p.out = a.out;
  scan::launch<double, double>(p, a.complex_A, /*lti=*/false, "selective_scan_cuda");
  SSM_CUDA_CHECK(cudaDeviceSynchronize(), "selective_scan_cuda");
}

}  // namespace

bool selective_scan_fast_applies(const SelectiveScanArgs<float>& a) {
  const int ch = scan_fast::channels_per_block(a.dstate);
  if (a.complex_A || ch == 0 || a.groups <= 0 || a.dim % a.groups != 0) return false;
  if ((a.dim / a.groups) % ch != 0) return false;
  auto time_contiguous = [&](const Strides3& s) { return s.resolved(a.dim, a.length).l == 1; };
  return time_contiguous(a.u_strides) && time_contiguous(a.delta_strides) &&
         time_contiguous(a.out_strides) && (!a.z || time_contiguous(a.z_strides));
}

const char* selective_scan_kernel_name(const SelectiveScanArgs<float>& args, ScanKernel choice) {
  return use_fast(args, choice, "selective_scan_kernel_name") ? "fast" : "legacy";
}

void selective_scan_cuda(const SelectiveScanArgs<float>& args) {
  launch_float(args, ScanKernel::automatic, "selective_scan_cuda");
  SSM_CUDA_CHECK(cudaDeviceSynchronize(), "selective_scan_cuda");
}
void selective_scan_cuda(const SelectiveScanArgs<double>& args) { run(args); }

void selective_scan_cuda_with(const SelectiveScanArgs<float>& args, ScanKernel kernel) {
  args.validate();
  launch_float(args, kernel, "selective_scan_cuda_with");
  SSM_CUDA_CHECK(cudaDeviceSynchronize(), "selective_scan_cuda_with");
}

void selective_scan_cuda_bf16(const SelectiveScanArgs<float>& args, const SelectiveScanBf16& io,
                              bool synchronize, ScanKernel kernel) {
  const char* where = "selective_scan_cuda_bf16";
  require(io.u && io.delta && io.B && io.C && io.out, where, "io",
          "must give device pointers u, delta, B, C and out");
  // The shapes, with the bf16 pointers standing in for the float ones.
  SelectiveScanArgs<float> shape = args;
  shape.u = reinterpret_cast<const float*>(io.u);
  shape.delta = reinterpret_cast<const float*>(io.delta);
  shape.z = reinterpret_cast<const float*>(io.z);
  shape.B = reinterpret_cast<const float*>(io.B);
  shape.C = reinterpret_cast<const float*>(io.C);
  shape.out = reinterpret_cast<float*>(io.out);
  shape.validate();
  const auto* u = reinterpret_cast<const __nv_bfloat16*>(io.u);
  const auto* delta = reinterpret_cast<const __nv_bfloat16*>(io.delta);
  const auto* z = reinterpret_cast<const __nv_bfloat16*>(io.z);
  const auto* B = reinterpret_cast<const __nv_bfloat16*>(io.B);
  const auto* C = reinterpret_cast<const __nv_bfloat16*>(io.C);
  auto* out = reinterpret_cast<__nv_bfloat16*>(io.out);
  if (use_fast(shape, kernel, where)) {
    scan_fast::launch<__nv_bfloat16>(make_fast<__nv_bfloat16>(args, u, delta, z, B, C, out),
                                     args.dstate, args.B_variable, args.C_variable, where);
  } else {
    auto p = make_params<__nv_bfloat16, float>(args);
    p.u = u; p.delta = delta; p.z = z; p.B = B; p.C = C; p.out = out;
    scan::launch<__nv_bfloat16, float>(p, args.complex_A, /*lti=*/false, where);
  }
  if (synchronize) SSM_CUDA_CHECK(cudaDeviceSynchronize(), where);
}

void selective_scan_cuda_async(const SelectiveScanArgs<float>& args, ScanKernel kernel) {
  launch_float(args, kernel, "selective_scan_cuda_async");
}

}  // namespace ssm::detail
