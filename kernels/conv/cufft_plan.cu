// cuFFT plan owner and the per-device plan cache (kernels/conv/cufft_plan.cuh).
#include "kernels/conv/cufft_plan.cuh"

#include <cstdint>
#include <map>
#include <tuple>


namespace ssm::detail {

CufftPlan::CufftPlan(long long n, long long batch, bool forward, bool in_place, const char* where) {
  SSM_CUFFT_CHECK(cufftCreate(&h_), where);
  long long nn[1] = {n};
  const long long cpx = n / 2 + 1;
  long long real_embed[1] = {in_place ? 2 * cpx : n};
  long long cpx_embed[1] = {cpx};
  const long long real_dist = in_place ? 2 * cpx : n;
  std::size_t ws = 0;
  cufftResult r;
  if (forward)
    r = cufftMakePlanMany64(h_, 1, nn, real_embed, 1, real_dist, cpx_embed, 1, cpx, CUFFT_R2C,
                            batch, &ws);
  else
    r = cufftMakePlanMany64(h_, 1, nn, cpx_embed, 1, cpx, real_embed, 1, real_dist, CUFFT_C2R,
                            batch, &ws);
  if (r != CUFFT_SUCCESS) {
    cufftDestroy(h_);
    h_ = 0;
    throw_cufft(r, where, "cufftMakePlanMany64");
  }
}

std::mutex& cufft_plan_mutex() {
  static std::mutex m;
  return m;
}

cufftHandle cached_cufft_plan(long long n, long long batch, bool forward, bool in_place,
                              cudaStream_t stream) {
  constexpr const char* where = "fftconv_cuda";
  static std::map<int, std::map<std::tuple<long long, long long, bool, bool, std::uintptr_t>, CufftPlan>>
      per_device;
  auto& cache = per_device[current_device(where)];
  const auto key = std::make_tuple(n, batch, forward, in_place, reinterpret_cast<std::uintptr_t>(stream));
  auto it = cache.find(key);
  if (it == cache.end()) {
    // Bound the plans' workspace; cleared while their own device is current.
    if (cache.size() >= 16) cache.clear();
    it = cache.emplace(key, CufftPlan(n, batch, forward, in_place, where)).first;
  }
  SSM_CUFFT_CHECK(cufftSetStream(it->second.get(), stream), where);
  return it->second.get();
}

}  // namespace ssm::detail
