// The CPU selective scan's orchestration (selective_scan_cpu.hpp): channel tiles, time
// chunks and the OpenMP team. Tasks run on the team with a dynamic schedule. When batch*dim
// channels cannot fill the team, time is split into K chunks (chunked parallel scan):
//   phase 1  chunk 0 from h0 with outputs; chunks 1..K-2 from a zero state, end state only;
//   phase 2  carry: H_k = exp(A * sum_{t in chunk k} dt_t) H_{k-1} + E_k   (the (a, b) rule)
//   phase 3  chunks 1..K-1 rescanned from the true start state H_{k-1}, with outputs.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <vector>

#include "core/simd.hpp"
#include "scan/selective_scan_cpu.hpp"
#include "ssm/core/error.hpp"

namespace ssm::detail::sscan {

template <class T>
void scan_cpu(const SelectiveScanArgs<T>& a, const ScanCpuOptions& opts) {
  a.validate();
  require_cpu_isa("selective_scan");
  require(opts.threads >= 0, "selective_scan", "opts.threads", "must be >= 0, got ", opts.threads);
  require(opts.time_chunk >= 0, "selective_scan", "opts.time_chunk", "must be >= 0, got ",
          opts.time_chunk);
  Ctx<T> c;
  c.a = &a;
  c.su = a.u_strides.resolved(a.dim, a.length);
  c.sd = a.delta_strides.resolved(a.dim, a.length);
  c.sz = a.z_strides.resolved(a.dim, a.length);
  c.so = a.out_strides.resolved(a.dim, a.length);
  c.N = a.dstate;
  c.cplx = a.complex_A;
  c.NS = a.complex_A ? 2 * a.dstate : a.dstate;
  c.G = (a.B_variable || a.C_variable) ? a.groups : 1;
  c.Dg = a.dim / c.G;
  const int threads = opts.threads > 0 ? opts.threads : std::max(1, omp_get_max_threads());
  const int L = a.length;

  // Channel tile: the largest power-of-two-ish size <= 32 that still gives every thread
  // several tasks.
  int tile = std::min(c.Dg, 32);
  auto n_tiles = [&](int t) {
    return static_cast<long long>(a.batch) * c.G * ((c.Dg + t - 1) / t);
  };
  while (tile > 1 && n_tiles(tile) < 4LL * threads) tile = (tile + 1) / 2;

  // Time chunks.
  int K = 1, chunk = L;
  if (opts.time_chunk > 0) {
    chunk = std::min(opts.time_chunk, L);
    K = (L + chunk - 1) / chunk;
  } else if (threads > 1 && static_cast<long long>(a.batch) * a.dim < threads && L >= 4 * kBlock) {
    const long long channels = static_cast<long long>(a.batch) * a.dim;
    K = static_cast<int>((threads + channels - 1) / channels) + 1;
    chunk = (L + K - 1) / K;
    K = (L + chunk - 1) / chunk;
  }
  c.K = K;

  auto run_tasks = [&](const std::vector<Task>& tasks) {
    const int nt = static_cast<int>(std::clamp<std::size_t>(tasks.size(), 1, threads));
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
      Scratch<T> s;
      s.init(c.NS, tile);
#pragma omp for schedule(dynamic, 1)
      for (std::ptrdiff_t i = 0; i < static_cast<std::ptrdiff_t>(tasks.size()); ++i)
        run_task(c, tasks[static_cast<std::size_t>(i)], s);
    }
  };
  auto for_tiles = [&](auto&& f) {
    for (int b = 0; b < a.batch; ++b)
      for (int g = 0; g < c.G; ++g)
        for (int d0 = g * c.Dg; d0 < (g + 1) * c.Dg; d0 += tile) f(b, d0, std::min(d0 + tile, (g + 1) * c.Dg));
  };

  std::vector<Task> tasks;
  if (K == 1) {
    for_tiles([&](int b, int d0, int d1) {
      tasks.push_back(Task{b, d0, d1, 0, L, 0, Start::h0, End::last_state, true});
    });
    run_tasks(tasks);
    return;
  }

  // Chunked parallel scan.
  std::vector<T> chunk_state(static_cast<std::size_t>(a.batch) * a.dim * K * c.NS);
  std::vector<double> chunk_sumdt(static_cast<std::size_t>(a.batch) * a.dim * K);
  c.chunk_state = chunk_state.data();
  c.chunk_sumdt = chunk_sumdt.data();
  auto t_begin = [&](int k) { return k * chunk; };
  auto t_end = [&](int k) { return std::min(L, (k + 1) * chunk); };

  // Phase 1: chunk 0 exactly (from h0, with outputs); chunks 1..K-2 from zero, end state only.
  for_tiles([&](int b, int d0, int d1) {
    tasks.push_back(Task{b, d0, d1, t_begin(0), t_end(0), 0, Start::h0, End::buffer, true});
    for (int k = 1; k < K - 1; ++k)
      tasks.push_back(Task{b, d0, d1, t_begin(k), t_end(k), k, Start::zero, End::buffer, false});
  });
  run_tasks(tasks);
  c.chunk_sumdt = nullptr;  // phase 3 must not overwrite the sums

  // Phase 2: carry the chunk-end states forward. Composition of h -> P h + E over a chunk:
  // P = prod_t exp(dt_t A) = exp(A sum_t dt_t); computed in double.
  const int N = c.N;
#pragma omp parallel for num_threads(threads) if (threads > 1 && a.batch * a.dim > 1) schedule(static)
  for (std::ptrdiff_t bd = 0; bd < static_cast<std::ptrdiff_t>(a.batch) * a.dim; ++bd) {
    const int b = static_cast<int>(bd / a.dim), d = static_cast<int>(bd % a.dim);
    for (int k = 1; k < K - 1; ++k) {
      const T* prev = chunk_state.data() + c.chunk_index(b, d, k - 1) * c.NS;
      T* cur = chunk_state.data() + c.chunk_index(b, d, k) * c.NS;
      const double S = chunk_sumdt[static_cast<std::size_t>(c.chunk_index(b, d, k))];
      if (!c.cplx) {
        const T* Ad = a.A + static_cast<std::ptrdiff_t>(d) * N;
        for (int n = 0; n < N; ++n)
          cur[n] = static_cast<T>(std::exp(static_cast<double>(Ad[n]) * S) * prev[n] + cur[n]);
      } else {
        const T* Ad = a.A + static_cast<std::ptrdiff_t>(d) * N * 2;
        for (int n = 0; n < N; ++n) {
          const std::complex<double> P =
              std::exp(std::complex<double>(Ad[2 * n], Ad[2 * n + 1]) * S);
          const std::complex<double> h =
              P * std::complex<double>(prev[n], prev[N + n]) + std::complex<double>(cur[n], cur[N + n]);
          cur[n] = static_cast<T>(h.real());
          cur[N + n] = static_cast<T>(h.imag());
        }
      }
    }
  }

  // Phase 3: chunks 1..K-1 from their true start states, with outputs.
  tasks.clear();
  for_tiles([&](int b, int d0, int d1) {
    for (int k = 1; k < K; ++k)
      tasks.push_back(Task{b, d0, d1, t_begin(k), t_end(k), k, Start::buffer,
                           k == K - 1 ? End::last_state : End::none, true});
  });
  run_tasks(tasks);
}

template void scan_cpu(const SelectiveScanArgs<float>&, const ScanCpuOptions&);
template void scan_cpu(const SelectiveScanArgs<double>&, const ScanCpuOptions&);

}  // namespace ssm::detail::sscan
