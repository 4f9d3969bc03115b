// PartitionedConvolver: streaming (any block size) = offline fftconv = direct convolution,
// for zero-latency / latency-P1 modes and one- / two-stage layouts, f32 and f64; real-time
// safety of process()/reset(); argument checking.
#define BOOST_TEST_MODULE stream_partitioned_convolver
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include "ssm/conv/fftconv.hpp"
#include "ssm/core/error.hpp"
#include "ssm/stream/partitioned_convolver.hpp"
#include "support/rt_guard.hpp"
#include "support/testing.hpp"

using ssm::PartitionedConvolver;
using ssm::PartitionSpec;
using ssm::View3;

namespace {


template <class T>
std::vector<T> kernel(std::ptrdiff_t H, std::ptrdiff_t Lk, std::uint64_t seed) {
  auto k = ssm::test::randn_as<T>(static_cast<std::size_t>(H * Lk), seed);
  const double tau = std::max<double>(Lk / 3.0, 1.0);
  for (std::ptrdiff_t h = 0; h < H; ++h)
    for (std::ptrdiff_t j = 0; j < Lk; ++j) k[h * Lk + j] *= static_cast<T>(std::exp(-j / tau));
  return k;
}

// Streams planar (H, L) input through `c` in blocks cycling through `blocks`; returns (H, L).
template <class T>
std::vector<T> stream(PartitionedConvolver<T>& c, const std::vector<T>& u, std::ptrdiff_t H,
                      std::ptrdiff_t L, const std::vector<std::ptrdiff_t>& blocks) {
  std::vector<T> y(u.size());
  std::vector<const T*> in(static_cast<std::size_t>(H));
  std::vector<T*> out(static_cast<std::size_t>(H));
  std::ptrdiff_t t = 0;
  for (std::size_t i = 0; t < L; ++i) {
    const std::ptrdiff_t n = std::min(blocks[i % blocks.size()], L - t);
    for (std::ptrdiff_t h = 0; h < H; ++h) {
      in[static_cast<std::size_t>(h)] = u.data() + h * L + t;
      out[static_cast<std::size_t>(h)] = y.data() + h * L + t;
    }
    c.process(in.data(), out.data(), static_cast<std::size_t>(n));
    t += n;
  }
  return y;
}

template <class T, class R>
double rel_err_delayed(const std::vector<T>& y, const std::vector<R>& ref, std::ptrdiff_t H,
                       std::ptrdiff_t L, int latency) {
  double err = 0, scale = 1e-30;
  for (std::ptrdiff_t h = 0; h < H; ++h)
    for (std::ptrdiff_t t = 0; t < L; ++t) {
      const double expect = t >= latency ? static_cast<double>(ref[h * L + t - latency]) : 0.0;
      err = std::max(err, std::fabs(static_cast<double>(y[h * L + t]) - expect));
      scale = std::max(scale, std::fabs(expect));
    }
  return err / std::max(scale, 1.0);
}

struct Layout {
  int head, tail;
  bool zero_latency;
};

template <class T>
void check_stream_equals_offline(double tol) {
  const std::ptrdiff_t H = 3, L = 6000;
  const Layout layouts[] = {{64, 0, true}, {64, 0, false}, {16, 256, true}, {16, 256, false},
                            {7, 0, true},  {1, 4, true},   {128, 1024, true}};
  const std::vector<std::vector<std::ptrdiff_t>> block_sets = {{1}, {7}, {64}, {1024}, {5, 1, 130, 64, 33}};
  std::uint64_t seed = 7;
  for (std::ptrdiff_t Lk : {1, 50, 1000, 5000}) {
    const auto k = kernel<T>(H, Lk, ++seed);
    const auto D = ssm::test::randn_as<T>(static_cast<std::size_t>(H), ++seed);
    const auto u = ssm::test::randn_as<T>(static_cast<std::size_t>(H * L), ++seed);
    std::vector<T> offline(u.size()), direct(u.size());
    ssm::fftconv<T>(View3<const T>(u.data(), 1, H, L), k.data(), Lk, D.data(), View3<T>(offline.data(), 1, H, L));
    ssm::direct_conv<T>(View3<const T>(u.data(), 1, H, L), k.data(), Lk, D.data(), View3<T>(direct.data(), 1, H, L));
    BOOST_TEST(rel_err_delayed(offline, direct, H, L, 0) < tol);
    for (const Layout& lay : layouts) {
      PartitionSpec spec;
      spec.head_partition = lay.head;
      spec.tail_partition = lay.tail;
      spec.zero_latency = lay.zero_latency;
      spec.max_block = 1024;  // the largest block of block_sets
      PartitionedConvolver<T> c;
      c.prepare(H, k.data(), Lk, D.data(), spec);
      BOOST_TEST(c.latency() == (lay.zero_latency ? 0 : lay.head));
      for (const auto& blocks : block_sets) {
        c.reset();
        const auto y = stream(c, u, H, L, blocks);
        BOOST_TEST_INFO("Lk=" << Lk << " head=" << lay.head << " tail=" << lay.tail << " zl=" << lay.zero_latency
                              << " block0=" << blocks[0]);
        BOOST_TEST(rel_err_delayed(y, offline, H, L, c.latency()) < tol);
        BOOST_TEST(rel_err_delayed(y, direct, H, L, c.latency()) < tol);
      }
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(stream_equals_offline_f64) { check_stream_equals_offline<double>(1e-11); }
BOOST_AUTO_TEST_CASE(stream_equals_offline_f32) { check_stream_equals_offline<float>(3e-5); }

BOOST_AUTO_TEST_CASE(f32_stream_tracks_f64_stream) {
  const std::ptrdiff_t H = 2, L = 20000, Lk = 12000;
  const auto kd = kernel<double>(H, Lk, 70);
  const auto ud = ssm::test::randn_as<double>(static_cast<std::size_t>(H * L), 71);
  const std::vector<float> kf(kd.begin(), kd.end()), uf(ud.begin(), ud.end());
  const std::vector<double> kr(kf.begin(), kf.end()), ur(uf.begin(), uf.end());
  PartitionSpec spec;
  spec.head_partition = 32;
  spec.tail_partition = 512;
  PartitionedConvolver<float> cf;
  PartitionedConvolver<double> cd;
  cf.prepare(H, kf.data(), Lk, nullptr, spec);
  cd.prepare(H, kr.data(), Lk, nullptr, spec);
  BOOST_TEST(cf.partitions(0) == (512 - 32) / 32);
  BOOST_TEST(cf.partitions(1) == (Lk - 512 + 511) / 512);
  const auto yf = stream(cf, uf, H, L, {97});
  const auto yd = stream(cd, ur, H, L, {97});
  BOOST_TEST(rel_err_delayed(yf, yd, H, L, 0) < 3e-5);
}

BOOST_AUTO_TEST_CASE(interleaved_single_channel_and_in_place_agree) {
  const std::ptrdiff_t H = 2, L = 3000, Lk = 700;
  const auto k = kernel<float>(H, Lk, 80);
  const float D[2] = {0.5f, -1.f};
  const auto u = ssm::test::randn_as<float>(static_cast<std::size_t>(H * L), 81);
  PartitionSpec spec;
  spec.head_partition = 64;
  PartitionedConvolver<float> c;
  c.prepare(H, k.data(), Lk, D, spec);
  const auto planar = stream(c, u, H, L, {100});
  // Interleaved, in place.
  std::vector<float> il(u.size());
  for (std::ptrdiff_t h = 0; h < H; ++h)
    for (std::ptrdiff_t t = 0; t < L; ++t) il[t * H + h] = u[h * L + t];
  c.reset();
  for (std::ptrdiff_t t = 0; t < L; t += 100) c.process_interleaved(il.data() + t * H, il.data() + t * H, 100);
  double err = 0;
  for (std::ptrdiff_t h = 0; h < H; ++h)
    for (std::ptrdiff_t t = 0; t < L; ++t) err = std::max(err, std::fabs(double(il[t * H + h]) - planar[h * L + t]));
  BOOST_TEST(err == 0.0);
  // Single-channel convolver on row 1, in place, sample by sample.
  PartitionedConvolver<float> c1;
  c1.prepare(1, k.data() + Lk, Lk, D + 1, spec);
  std::vector<float> row(u.begin() + L, u.end());
  for (std::ptrdiff_t t = 0; t < L; ++t) c1.process_mono(row.data() + t, row.data() + t, 1);
  BOOST_TEST(ssm::test::max_abs_diff(row, std::vector<float>(planar.begin() + L, planar.end())) == 0.0);
}

BOOST_AUTO_TEST_CASE(impulse_response_and_latency) {
  const std::ptrdiff_t Lk = 300;
  const auto k = kernel<double>(1, Lk, 90);
  for (bool zl : {true, false}) {
    PartitionSpec spec;
    spec.head_partition = 32;
    spec.tail_partition = 128;
    spec.zero_latency = zl;
    spec.max_block = 600;
    PartitionedConvolver<double> c;
    c.prepare(1, k.data(), Lk, nullptr, spec);
    const int lat = c.latency();
    BOOST_TEST(lat == (zl ? 0 : 32));
    std::vector<double> x(600, 0.0), y(600);
    x[0] = 1.0;
    c.process_mono(x.data(), y.data(), static_cast<int>(x.size()));
    for (std::ptrdiff_t t = 0; t < 600; ++t) {
      const std::ptrdiff_t j = t - lat;
      const double expect = j >= 0 && j < Lk ? k[static_cast<std::size_t>(j)] : 0.0;
      BOOST_TEST_REQUIRE(std::fabs(y[static_cast<std::size_t>(t)] - expect) < 1e-12);
    }
  }
}

BOOST_AUTO_TEST_CASE(process_and_reset_are_real_time_safe) {
  const std::ptrdiff_t H = 4, Lk = 20000;
  const auto k = kernel<float>(H, Lk, 100);
  const auto D = ssm::test::randn_as<float>(static_cast<std::size_t>(H), 101);
  for (const Layout lay : {Layout{64, 0, true}, Layout{32, 1024, true}, Layout{128, 2048, false}, Layout{5, 0, true}}) {
    PartitionSpec spec;
    spec.head_partition = lay.head;
    spec.tail_partition = lay.tail;
    spec.zero_latency = lay.zero_latency;
    spec.max_block = 2048;
    PartitionedConvolver<float> c;
    c.prepare(H, k.data(), Lk, D.data(), spec);
    const std::ptrdiff_t L = 8192;
    const auto u = ssm::test::randn_as<float>(static_cast<std::size_t>(H * L), 102);
    std::vector<float> y(u.size()), il(u.size());
    std::vector<const float*> in(H);
    std::vector<float*> out(H);
    ssm::test::RtGuard guard;
    std::ptrdiff_t t = 0;
    const std::ptrdiff_t blocks[] = {1, 7, 64, 1024, 333, 2048};
    for (std::size_t i = 0; t < L; ++i) {
      const std::ptrdiff_t n = std::min(blocks[i % 6], L - t);
      for (std::ptrdiff_t h = 0; h < H; ++h) {
        in[static_cast<std::size_t>(h)] = u.data() + h * L + t;
        out[static_cast<std::size_t>(h)] = y.data() + h * L + t;
      }
      c.process(in.data(), out.data(), static_cast<std::size_t>(n));
      t += n;
    }
    c.reset();
    c.process_interleaved(u.data(), il.data(), static_cast<std::size_t>(L / H));
    const auto v = guard.stop();
    BOOST_TEST_INFO("head=" << lay.head << " tail=" << lay.tail);
    BOOST_TEST(v.allocations == 0u);
    BOOST_TEST(v.locks == 0u);
    BOOST_TEST(v.throws == 0u);
    BOOST_TEST(v.writes == 0u);
    // And the guarded run computed the right thing.
    std::vector<float> ref(u.size());
    ssm::fftconv<float>(View3<const float>(u.data(), 1, H, L), k.data(), Lk, D.data(), View3<float>(ref.data(), 1, H, L));
    BOOST_TEST(rel_err_delayed(y, ref, H, L, c.latency()) < 3e-5);
  }
}

BOOST_AUTO_TEST_CASE(bad_arguments_throw) {
  const std::vector<float> k(100, 0.1f);
  PartitionedConvolver<float> c;
  PartitionSpec spec;
  BOOST_CHECK_THROW(c.prepare(0, k.data(), 50, nullptr, spec), ssm::Error);
  BOOST_CHECK_THROW(c.prepare(1, k.data(), 0, nullptr, spec), ssm::Error);
  BOOST_CHECK_THROW(c.prepare(1, nullptr, 50, nullptr, spec), ssm::Error);
  auto kn = k;
  kn[10] = NAN;
  BOOST_CHECK_THROW(c.prepare(2, kn.data(), 50, nullptr, spec), ssm::Error);
  const float Dbad[1] = {INFINITY};
  BOOST_CHECK_THROW(c.prepare(1, k.data(), 50, Dbad, spec), ssm::Error);
  spec.head_partition = 64;
  spec.tail_partition = 96;  // not a multiple
  BOOST_CHECK_THROW(c.prepare(1, k.data(), 50, nullptr, spec), ssm::Error);
  spec.tail_partition = 64;  // not greater
  BOOST_CHECK_THROW(c.prepare(1, k.data(), 50, nullptr, spec), ssm::Error);
  spec.tail_partition = 0;
  spec.head_partition = -1;
  BOOST_CHECK_THROW(c.prepare(1, k.data(), 50, nullptr, spec), ssm::Error);
  spec.head_partition = 0;
  spec.max_block = 0;
  BOOST_CHECK_THROW(c.prepare(1, k.data(), 50, nullptr, spec), ssm::Error);
  BOOST_TEST(!c.prepared());
  // Unprepared single-channel process writes silence.
  std::vector<float> x(10, 1.f), y(10, 5.f);
  c.process_mono(x.data(), y.data(), static_cast<int>(x.size()));
  BOOST_TEST(ssm::test::max_abs_diff(y, std::vector<float>(10, 0.f)) == 0.0);
  // Auto partition from max_block.
  spec.max_block = 300;
  c.prepare(1, k.data(), 100, nullptr, spec);
  BOOST_TEST(c.head_partition() == 512);
}
