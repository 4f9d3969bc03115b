// CUDA backend of ssm::selective_scan (include/ssm/scan/selective_scan.hpp). Two kernels:
//   * the fast kernel (selective_scan_fast.cuh): S states a thread in registers, sequential in
//     time (with time split across blocks for thin problems); for
//     real A, float32 compute (float32 or bf16 storage), dstate in {4, 8, 16, 32}, channel
//     groups that fill whole blocks and time-contiguous rows: the common Mamba case;
//   * the chunked warp scan of scan_kernel.cuh (legacy) for everything else (complex A,
//     double, other dstate, strided time).
// SSM_CUDA_SCAN_KERNEL=legacy|fast|fast1|fast2|fast4|split|auto (read once) overrides the choice
// for A/B timing.
// All pointers are device pointers.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "backend/scan_cuda.hpp"
#include "kernels/scan/scan_kernel.cuh"
#include "backend/selective_scan_ext.hpp"
#include "kernels/scan/selective_scan_fast.cuh"

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
    if (std::strcmp(v, "fast1") == 0) return ScanKernel::fast_s1;
    if (std::strcmp(v, "fast2") == 0) return ScanKernel::fast_s2;
    if (std::strcmp(v, "fast4") == 0) return ScanKernel::fast_s4;
    if (std::strcmp(v, "split") == 0) return ScanKernel::fast_split;
    fail("selective_scan_cuda", "SSM_CUDA_SCAN_KERNEL",
         "must be legacy, fast, fast1, fast2, fast4, split or auto, got '", v, "'");
  }();
  return k;
}

/// Streaming multiprocessors of the current device (queried per call: the current device may
/// change between calls; the attribute query is a host-side lookup).
int sm_count() {
  int dev = 0, v = 0;
  if (cudaGetDevice(&dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess || v <= 0) {
    cudaGetLastError();  // clear; the launch reports a real failure
    v = 1;
  }
  return v;
}

/// How the fast kernel runs a call: S states a thread (0: the legacy kernel runs instead) and
/// the time split into `segments` (1: none).
struct FastConfig {
  int S = 0, segments = 1;
};

long long fast_blocks(const SelectiveScanArgs<float>& a, int S) {
  return static_cast<long long>(a.batch) * a.dim / scan_fast::channels_per_block(a.dstate, S);
}

/// The time split for S states a thread: enough segments for about four blocks an SM, each of at
/// least four chunks; `at_least` segments where the sequence has that many chunks.
int split_segments(const SelectiveScanArgs<float>& a, int S, int at_least) {
  const long long chunks = (a.length + scan_fast::chunk_steps(a.dstate, S) - 1) / scan_fast::chunk_steps(a.dstate, S);
  const long long blocks = fast_blocks(a, S);
  long long k = (4LL * sm_count() + blocks - 1) / blocks;
  k = std::min(k, chunks / 4);
  k = std::max<long long>(k, std::min<long long>(at_least, chunks));
  return static_cast<int>(std::clamp<long long>(k, 1, 1024));
}

/// The automatic choice (the measurements behind each threshold: docs/cuda.md, "Choosing the
/// variant"):
///   * S = 4 in one pass when it gives at least 3 blocks an SM;
///   * else S = 2 in one pass with at least 1.5 blocks an SM;
///   * else S = 4 (the largest S that applies) with the time split, when the sequence has enough
///     chunks;
///   * else the smallest S (the most threads) in one pass.
FastConfig choose_fast(const SelectiveScanArgs<float>& a) {
  int largest = 0, smallest = 0;
  for (int S : {4, 2, 1}) {
    if (!selective_scan_fast_applies(a, S)) continue;
    if (!largest) largest = S;
    smallest = S;
    if (S == 4 && fast_blocks(a, S) >= 3LL * sm_count()) return {S, 1};
    if (S == 2 && 2 * fast_blocks(a, S) >= 3LL * sm_count()) return {S, 1};
  }
  if (!largest) return {};
  if (const int k = split_segments(a, largest, 1); k >= 2) return {largest, k};
  return {smallest, 1};
}

int forced_states(ScanKernel k) {
  return k == ScanKernel::fast_s1 ? 1 : k == ScanKernel::fast_s2 ? 2 : k == ScanKernel::fast_s4 ? 4 : 0;
}

/// The fast kernel's configuration for this call (S = 0: the legacy kernel). `choice`
/// automatic defers to the environment; an explicit fast choice on unsupported args throws;
/// the environment's choice falls back silently (to the automatic one where it does not apply).
FastConfig fast_config(const SelectiveScanArgs<float>& a, ScanKernel choice, const char* where) {
  if (choice == ScanKernel::legacy) return {};
  if (choice == ScanKernel::fast || choice == ScanKernel::fast_split) {
    require(selective_scan_fast_applies(a), where, "kernel",
            "fast needs real A, dstate in {4, 8, 16, 32}, (dim/groups) % (128/dstate) == 0 "
            "and time stride 1");
    if (choice == ScanKernel::fast) return choose_fast(a);
    int S = 1;
    for (int s : {4, 2})
      if (selective_scan_fast_applies(a, s)) { S = s; break; }
    return {S, split_segments(a, S, 3)};
  }
  if (const int S = forced_states(choice)) {
    require(selective_scan_fast_applies(a, S), where, "kernel",
            "fast with ", S, " states a thread needs real A, dstate in {4, 8, 16, 32} (>= ", S,
            "), (dim/groups) % (128*", S, "/dstate) == 0 and time stride 1");
    return {S, 1};
  }
  const ScanKernel env = env_choice();
  if (env == ScanKernel::legacy || !selective_scan_fast_applies(a)) return {};
  if (const int S = forced_states(env))
    return selective_scan_fast_applies(a, S) ? FastConfig{S, 1} : choose_fast(a);
  if (env == ScanKernel::fast_split) return fast_config(a, env, where);  // applies: no throw
  return choose_fast(a);
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
  p.B_var = a.B_variable;
  p.C_var = a.C_variable;
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

void launch_float(const SelectiveScanArgs<float>& a, ScanKernel choice, const char* where,
                  cudaStream_t stream = nullptr) {
  if (const FastConfig f = fast_config(a, choice, where); f.S) {
    scan_fast::launch<float>(make_fast<float>(a, a.u, a.delta, a.z, a.B, a.C, a.out), a.dstate, f.S,
                             f.segments, where, stream);
    return;
  }
  auto p = make_params<float, float>(a);
  p.u = a.u; p.delta = a.delta; p.z = a.z; p.B = a.B; p.C = a.C; p.out = a.out;
  scan::launch<float, float>(p, a.complex_A, /*lti=*/false, where, stream);
}

void launch_double(const SelectiveScanArgs<double>& a, const char* where, cudaStream_t stream = nullptr) {
  auto p = make_params<double, double>(a);
  p.u = a.u; p.delta = a.delta; p.z = a.z; p.B = a.B; p.C = a.C; p.out = a.out;
  scan::launch<double, double>(p, a.complex_A, /*lti=*/false, where, stream);
}

}  // namespace

bool selective_scan_fast_applies(const SelectiveScanArgs<float>& a, int states_per_thread) {
  if (states_per_thread == 0)  // S = 1 has the fewest channels a block, which the others' divide
    return selective_scan_fast_applies(a, 1);
  const int ch = scan_fast::channels_per_block(a.dstate, states_per_thread);
  if (a.complex_A || ch == 0 || a.groups <= 0 || a.dim % a.groups != 0) return false;
  if ((a.dim / a.groups) % ch != 0) return false;
  auto time_contiguous = [&](const Strides3& s) { return s.resolved(a.dim, a.length).l == 1; };
  return time_contiguous(a.u_strides) && time_contiguous(a.delta_strides) &&
         time_contiguous(a.out_strides) && (!a.z || time_contiguous(a.z_strides));
}

const char* selective_scan_kernel_name(const SelectiveScanArgs<float>& args, ScanKernel choice) {
  const FastConfig f = fast_config(args, choice, "selective_scan_kernel_name");
  const bool split = f.segments > 1;
  switch (f.S) {
    case 1: return split ? "fast1-split" : "fast1";
    case 2: return split ? "fast2-split" : "fast2";
    case 4: return split ? "fast4-split" : "fast4";
    default: return "legacy";
  }
}

void selective_scan_cuda(const SelectiveScanArgs<float>& args) {
  launch_float(args, ScanKernel::automatic, "selective_scan_cuda");
  SSM_CUDA_CHECK(cudaDeviceSynchronize(), "selective_scan_cuda");
}
void selective_scan_cuda(const SelectiveScanArgs<double>& args) {
  launch_double(args, "selective_scan_cuda");
  SSM_CUDA_CHECK(cudaDeviceSynchronize(), "selective_scan_cuda");
}
void selective_scan_cuda(const SelectiveScanArgs<float>& args, const CudaStream& stream) {
  const char* where = "selective_scan";
  const cudaStream_t s = stream_of(stream, where);
  const DeviceGuard on_device(stream.device(), where);
  launch_float(args, ScanKernel::automatic, where, s);
}
void selective_scan_cuda(const SelectiveScanArgs<double>& args, const CudaStream& stream) {
  const char* where = "selective_scan";
  const cudaStream_t s = stream_of(stream, where);
  const DeviceGuard on_device(stream.device(), where);
  launch_double(args, where, s);
}

void selective_scan_cuda_with(const SelectiveScanArgs<float>& args, ScanKernel kernel) {
  args.validate();
  launch_float(args, kernel, "selective_scan_cuda_with");
  SSM_CUDA_CHECK(cudaDeviceSynchronize(), "selective_scan_cuda_with");
}

void selective_scan_cuda_bf16(const SelectiveScanArgs<float>& args, const SelectiveScanBf16& io,
                              bool synchronize, ScanKernel kernel, const CudaStream* stream) {
  const char* where = "selective_scan_cuda_bf16";
  const cudaStream_t st = stream ? stream_of(*stream, where) : nullptr;
  const DeviceGuard on_device(stream ? stream->device() : current_device(where), where);
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
  if (const FastConfig f = fast_config(shape, kernel, where); f.S) {
    scan_fast::launch<__nv_bfloat16>(make_fast<__nv_bfloat16>(args, u, delta, z, B, C, out),
                                     args.dstate, f.S, f.segments, where, st);
  } else {
    auto p = make_params<__nv_bfloat16, float>(args);
    p.u = u; p.delta = delta; p.z = z; p.B = B; p.C = C; p.out = out;
    scan::launch<__nv_bfloat16, float>(p, args.complex_A, /*lti=*/false, where, st);
  }
  if (synchronize) SSM_CUDA_CHECK(cudaStreamSynchronize(st), where);
}

void selective_scan_cuda_async(const SelectiveScanArgs<float>& args, ScanKernel kernel) {
  launch_float(args, kernel, "selective_scan_cuda_async");
}

}  // namespace ssm::detail
