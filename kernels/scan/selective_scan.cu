// CUDA backend of ssm::selective_scan (include/ssm/scan/selective_scan.hpp): the chunked
// warp scan of scan_kernel.cuh in selective mode. All pointers are device pointers.
#include "scan/scan_cuda.hpp"
#include "scan/scan_kernel.cuh"
#include "scan/selective_scan_ext.hpp"

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

template <class T>
void run(const SelectiveScanArgs<T>& a) {
  auto p = make_params<T, T>(a);
  p.u = a.u;
  p.delta = a.delta;
  p.z = a.z;
  p.B = a.B;
  p.C = a.C;
  p.out = a.out;
  scan::launch<T, T>(p, a.complex_A, /*lti=*/false, "selective_scan_cuda");
  SSM_CUDA_CHECK(cudaDeviceSynchronize(), "selective_scan_cuda");
}

}  // namespace

void selective_scan_cuda(const SelectiveScanArgs<float>& args) { run(args); }
void selective_scan_cuda(const SelectiveScanArgs<double>& args) { run(args); }

void selective_scan_cuda_bf16(const SelectiveScanArgs<float>& args, const SelectiveScanBf16& io,
                              bool synchronize) {
  require(io.u && io.delta && io.B && io.C && io.out, "selective_scan_cuda_bf16", "io",
          "must give device pointers u, delta, B, C and out");
  {  // validate the shapes with the bf16 pointers standing in for the float ones
    SelectiveScanArgs<float> shape = args;
    shape.u = reinterpret_cast<const float*>(io.u);
    shape.delta = reinterpret_cast<const float*>(io.delta);
    shape.z = reinterpret_cast<const float*>(io.z);
    shape.B = reinterpret_cast<const float*>(io.B);
    shape.C = reinterpret_cast<const float*>(io.C);
    shape.out = reinterpret_cast<float*>(io.out);
    shape.validate();
  }
  auto p = make_params<__nv_bfloat16, float>(args);
  p.u = reinterpret_cast<const __nv_bfloat16*>(io.u);
  p.delta = reinterpret_cast<const __nv_bfloat16*>(io.delta);
  p.z = reinterpret_cast<const __nv_bfloat16*>(io.z);
  p.B = reinterpret_cast<const __nv_bfloat16*>(io.B);
  p.C = reinterpret_cast<const __nv_bfloat16*>(io.C);
  p.out = reinterpret_cast<__nv_bfloat16*>(io.out);
  scan::launch<__nv_bfloat16, float>(p, args.complex_A, /*lti=*/false, "selective_scan_cuda_bf16");
  if (synchronize) SSM_CUDA_CHECK(cudaDeviceSynchronize(), "selective_scan_cuda_bf16");
}

void selective_scan_cuda_async(const SelectiveScanArgs<float>& args) {
  auto p = make_params<float, float>(args);
  p.u = args.u;
  p.delta = args.delta;
  p.z = args.z;
  p.B = args.B;
  p.C = args.C;
  p.out = args.out;
  scan::launch<float, float>(p, args.complex_A, /*lti=*/false, "selective_scan_cuda_async");
}

}  // namespace ssm::detail
