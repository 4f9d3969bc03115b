#pragma once
// Internal: the CPU selective scan's shared pieces. One job per file:
//   selective_scan.cpp          entry points, argument checks, the streaming wrapper
//   selective_scan_chunked.cpp  orchestration: channel tiles, time chunks, the three phases of
//                               the chunked parallel scan, the OpenMP team
//   selective_scan_tasks-inl.hpp  the per-task loops (one task = a batch, a channel tile, a time
//                               range), compiled per SIMD target (Highway) and dispatched by
//                               selective_scan_tasks_f32.cpp / _f64.cpp (one TU a precision)
// Work decomposition (docs/scan.md has the derivation):
//   A task walks its time range in blocks of kBlock steps. Per block it transposes the group's
//   variable B and C from (N, L) to (t, N) once (shared by the tile's channels), then for each
//   channel computes dt (bias, softplus) and dt*u over time, runs the recurrence and applies D
//   and the SiLU gate over time.
//   Real A (float32 and float64): kLanes channels of one B/C group side by side in SIMD lanes,
//   so B_t[n], C_t[n] are broadcast and y needs no horizontal sum.
//   Complex A: the N states of one channel in the lanes, y by a horizontal sum.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "backend/selective_scan_params.hpp"
#include "ssm/scan/selective_scan.hpp"

namespace ssm::detail::sscan {

constexpr int kBlock = 64;  // time steps per block (scratch: O(kBlock * N) per thread)
constexpr int kLanes = 16;  // channels per lane group (real A)

enum class Start : std::uint8_t { h0, zero, buffer };
enum class End : std::uint8_t { last_state, buffer, none };

struct Task {
  int b, d0, d1, t0, t1, k;  // k: time chunk index
  Start start;
  End end;
  bool write_out;
};

template <class T>
struct Ctx {
  const SelectiveScanArgs<T>* a;
  Strides3 su, sd, sz, so;
  int N, NS, G, Dg, K;
  bool cplx;
  // chunked mode: per (b, d, k) the state in split form (NS values) and sum of dt
  T* chunk_state = nullptr;
  double* chunk_sumdt = nullptr;

  std::ptrdiff_t chunk_index(int b, int d, int k) const noexcept {
    return (static_cast<std::ptrdiff_t>(b) * a->dim + d) * K + k;
  }
};

/// Per-thread scratch of a task (allocated once per thread and call, outside the loops).
template <class T>
struct Scratch {
  std::vector<T> dtv, dtu, uv, yv, Bt, Ct, Af, Bf, Cf, hs;
  // channel-lane layout (real A): [t][lane], [n][lane], per lane group [n][lane]
  std::vector<T> dtT, dtuT, yT, AT, BT, CT, hL;
  std::vector<T> uL;  // u of the group's channels over the block, [lane][t]
  void init(int NS, int tile) {
    const int groups = (tile + kLanes - 1) / kLanes;
    uL.assign(static_cast<std::size_t>(kLanes) * kBlock, T(0));
    dtT.assign(static_cast<std::size_t>(kBlock) * kLanes, T(0));
    dtuT.assign(static_cast<std::size_t>(kBlock) * kLanes, T(0));
    yT.assign(static_cast<std::size_t>(kBlock) * kLanes, T(0));
    AT.assign(static_cast<std::size_t>(NS) * kLanes, T(0));
    BT.assign(static_cast<std::size_t>(NS) * kLanes, T(0));
    CT.assign(static_cast<std::size_t>(NS) * kLanes, T(0));
    hL.assign(static_cast<std::size_t>(groups) * NS * kLanes, T(0));
    dtv.assign(kBlock, T(0));
    dtu.assign(kBlock, T(0));
    uv.assign(kBlock, T(0));
    yv.assign(kBlock, T(0));
    Bt.assign(static_cast<std::size_t>(kBlock) * NS, T(0));
    Ct.assign(static_cast<std::size_t>(kBlock) * NS, T(0));
    Af.assign(NS, T(0));
    Bf.assign(NS, T(0));
    Cf.assign(NS, T(0));
    hs.assign(static_cast<std::size_t>(tile) * NS, T(0));
  }
};

/// Runs one task on the SIMD target chosen for the process (core/simd.hpp).
void run_task(const Ctx<float>& c, const Task& k, Scratch<float>& s) noexcept;
void run_task(const Ctx<double>& c, const Task& k, Scratch<double>& s) noexcept;

/// The whole CPU scan (validates a and opts): tiles, chunks, the OpenMP team.
template <class T>
void scan_cpu(const SelectiveScanArgs<T>& a, const ScanCpuOptions& opts);

}  // namespace ssm::detail::sscan
