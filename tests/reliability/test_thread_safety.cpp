#define BOOST_TEST_MODULE thread_safety
// Concurrent use from several threads of everything ssmkit documents as thread-safe:
//   - ssm::fftconv (free function): FFTW plans created on first use under the planner mutex,
//     the kernel-spectrum cache (mutex + shared_ptr), FFTW's new-array execute;
//   - FFTConv<T>::apply() const on one shared object;
//   - FFTW planning by the application itself while ssmkit plans and executes;
//   - independent instances (DenseFilter, PartitionedConvolver) prepared and run on separate
//     threads (prepare() plans FFTW; instances share no mutable state);
//   - const reads of one SafeTensors object.
// Every thread's result is compared with a single-threaded reference computed first, so a race
// that corrupts data fails here; ThreadSanitizer (docs/reliability.md) reports the races that
// happen not to corrupt anything.
#include <boost/test/unit_test.hpp>

#include <fftw3.h>

#include <atomic>
#include <cmath>
#include <thread>
#include <vector>

#include "ssm/continuous/hippo.hpp"
#include "ssm/conv/fftconv.hpp"
#include "ssm/io/safetensors.hpp"
#include "ssm/stream/dense_filter.hpp"
#include "ssm/stream/partitioned_convolver.hpp"
#include "support/testing.hpp"

using namespace ssm;

namespace {

constexpr int kThreads = 4;

template <class F>
void run_threads(int n, F&& body) {
  std::vector<std::thread> ts;
  std::atomic<int> ready{0};
  for (int t = 0; t < n; ++t)
    ts.emplace_back([&, t] {
      ++ready;
      while (ready.load() < n) std::this_thread::yield();  // start together: maximise overlap
      body(t);
    });
  for (auto& th : ts) th.join();
}


template <class T>
double rel_err(const std::vector<T>& a, const std::vector<T>& ref) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    num = std::fmax(num, std::fabs(static_cast<double>(a[i]) - static_cast<double>(ref[i])));
    den = std::fmax(den, std::fabs(static_cast<double>(ref[i])));
  }
  return a.size() == ref.size() ? num / (den > 0 ? den : 1) : INFINITY;
}

// One fftconv problem per thread: lengths differ so that several threads plan FFTW sizes
// for the first time at once; half the threads share one kernel (spectrum cache hits while
// others insert).
template <class T>
void concurrent_fftconv(double tol) {
  const std::ptrdiff_t B = 2, H = 3;
  struct Problem {
    std::ptrdiff_t L, Lk;
    std::vector<T> u, k, D, ref;
  };
  std::vector<Problem> ps;
  const auto shared_k = test::randn_as<T>(static_cast<std::size_t>(H * 300), 99);
  for (int t = 0; t < 2 * kThreads; ++t) {
    Problem p;
    p.L = 500 + 97 * t;  // distinct FFT sizes
    p.Lk = t % 2 ? 300 : 50 + 31 * t;
    p.u = test::randn_as<T>(static_cast<std::size_t>(B * H * p.L), 10 + t);
    p.k = t % 2 ? shared_k : test::randn_as<T>(static_cast<std::size_t>(H * p.Lk), 200 + t);
    p.D = test::randn_as<T>(H, 300 + t);
    p.ref.resize(p.u.size());
    direct_conv<T>(View3<const T>(p.u.data(), B, H, p.L), p.k.data(), p.Lk, p.D.data(),
                   View3<T>(p.ref.data(), B, H, p.L));
    ps.push_back(std::move(p));
  }
  std::vector<double> err(ps.size(), INFINITY);
  run_threads(kThreads, [&](int t) {
    for (int rep = 0; rep < 3; ++rep)
      for (std::size_t i = static_cast<std::size_t>(t); i < ps.size(); i += kThreads) {
        auto& p = ps[i];
        std::vector<T> y(p.u.size());
        fftconv<T>(View3<const T>(p.u.data(), B, H, p.L), p.k.data(), p.Lk, p.D.data(),
                   View3<T>(y.data(), B, H, p.L));
        err[i] = rep == 0 ? rel_err(y, p.ref) : std::fmax(err[i], rel_err(y, p.ref));
      }
  });
  for (std::size_t i = 0; i < ps.size(); ++i) BOOST_TEST(err[i] < tol, "problem " << i << ": " << err[i]);
}

}  // namespace

BOOST_AUTO_TEST_CASE(fftconv_concurrent_calls_float) { concurrent_fftconv<float>(1e-4); }
BOOST_AUTO_TEST_CASE(fftconv_concurrent_calls_double) { concurrent_fftconv<double>(1e-11); }

BOOST_AUTO_TEST_CASE(fftconv_object_apply_is_const_thread_safe) {
  const std::ptrdiff_t B = 1, H = 2, L = 1000, Lk = 400;
  const auto k = test::randn_as<float>(H * Lk, 1), D = test::randn_as<float>(H, 2);
  const FFTConv<float> conv(H, L, k.data(), Lk, D.data());
  std::vector<std::vector<float>> u(kThreads), ref(kThreads), y(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    u[t] = test::randn_as<float>(B * H * L, 50 + t);
    ref[t].resize(u[t].size());
    y[t].resize(u[t].size());
    direct_conv<float>(View3<const float>(u[t].data(), B, H, L), k.data(), Lk, D.data(),
                       View3<float>(ref[t].data(), B, H, L));
  }
  // Thread t convolves the first L - 37 t samples of each row (strided views into the
  // full-length arrays), so the threads also use different transform lengths.
  run_threads(kThreads, [&](int t) {
    const std::ptrdiff_t Lt = L - 37 * t;
    for (int rep = 0; rep < 5; ++rep)
      conv.apply(View3<const float>(u[t].data(), B, H, Lt, H * L, L, 1), View3<float>(y[t].data(), B, H, Lt, H * L, L, 1));
  });
  for (int t = 0; t < kThreads; ++t) {
    const std::ptrdiff_t Lt = L - 37 * t;
    std::vector<float> yt, rt;  // the causal output's prefix equals the full reference's prefix
    for (std::ptrdiff_t h = 0; h < H; ++h) {
      yt.insert(yt.end(), y[t].begin() + h * L, y[t].begin() + h * L + Lt);
      rt.insert(rt.end(), ref[t].begin() + h * L, ref[t].begin() + h * L + Lt);
    }
    BOOST_TEST(rel_err(yt, rt) < 1e-4);
  }
}

BOOST_AUTO_TEST_CASE(application_fftw_planning_beside_ssmkit) {
  // ssmkit calls fftw_make_planner_thread_safe() on its first plan; an application that plans
  // FFTW itself afterwards, concurrently with ssmkit, must not race. (Before ssmkit's first FFT
  // call the application must make FFTW thread-safe itself: docs/reliability.md.)
  {
    std::vector<float> u(64, 1.0f), k(8, 0.5f), y(64);
    fftconv<float>(View3<const float>(u.data(), 1, 1, 64), k.data(), 8, nullptr, View3<float>(y.data(), 1, 1, 64));
  }
  std::atomic<bool> ok{true};
  run_threads(kThreads, [&](int t) {
    for (int rep = 0; rep < 20; ++rep) {
      const int n = 64 + 2 * (rep * kThreads + t);
      if (t % 2 == 0) {  // "application" thread: its own planner calls on fresh arrays
        float* in = fftwf_alloc_real(static_cast<std::size_t>(n));
        fftwf_complex* out = fftwf_alloc_complex(static_cast<std::size_t>(n / 2 + 1));
        fftwf_plan p = fftwf_plan_dft_r2c_1d(n, in, out, FFTW_ESTIMATE);
        for (int i = 0; i < n; ++i) in[i] = 1.0f;
        fftwf_execute(p);
        if (std::fabs(out[0][0] - static_cast<float>(n)) > 1e-3f * n) ok = false;
        fftwf_destroy_plan(p);
        fftwf_free(in);
        fftwf_free(out);
      } else {  // ssmkit thread: new sizes force new plans
        std::vector<float> u(static_cast<std::size_t>(n), 1.0f), k(3, 1.0f), y(u.size());
        fftconv<float>(View3<const float>(u.data(), 1, 1, n), k.data(), 3, nullptr, View3<float>(y.data(), 1, 1, n));
        if (std::fabs(y[0] - 1.0f) > 1e-4f || std::fabs(y[n - 1] - 3.0f) > 1e-4f) ok = false;
      }
    }
  });
  BOOST_TEST(ok.load());
}

BOOST_AUTO_TEST_CASE(independent_stream_instances_on_separate_threads) {
  // Each thread prepares its own PartitionedConvolver (FFTW planning inside prepare) and
  // DenseFilter and streams a signal; results must equal the single-threaded run bit for bit.
  const std::ptrdiff_t Lk = 2048;
  const auto k = test::randn_as<float>(Lk, 7);
  const auto x = test::randn_as<float>(1 << 14, 8);
  const auto sys = hippo::system(hippo::Measure::legt, 8, Eigen::RowVectorXd::Ones(8), 0.1, 0.01);
  auto run_one = [&](int head) {
    PartitionedConvolver<float> pc;
    PartitionSpec spec;
    spec.max_block = 128;
    spec.head_partition = head;
    pc.prepare(1, k.data(), Lk, nullptr, spec);
    DenseFilter<float> df(sys, {Method::bilinear, Convention::ssm});
    df.prepare({48000.0, 128});
    std::vector<float> a(x.size()), b(x.size());
    for (std::size_t i = 0; i < x.size(); i += 128) {
      pc.process_mono(x.data() + i, a.data() + i, 128);
      df.process_mono(x.data() + i, b.data() + i, 128);
    }
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  std::vector<std::vector<float>> ref(kThreads), got(kThreads);
  for (int t = 0; t < kThreads; ++t) ref[t] = run_one(32 << (t % 3));
  run_threads(kThreads, [&](int t) { got[t] = run_one(32 << (t % 3)); });
  for (int t = 0; t < kThreads; ++t) BOOST_TEST(got[t] == ref[t]);
}

BOOST_AUTO_TEST_CASE(safetensors_const_reads_are_thread_safe) {
  std::vector<io::TensorOut> ts;
  for (int i = 0; i < 8; ++i) {
    const auto v = ssm::test::randn(1000, static_cast<std::uint64_t>(i));
    ts.push_back({"t" + std::to_string(i), i % 2 ? io::DType::F32 : io::DType::F64, {10, 100}, v});
  }
  const auto st = io::SafeTensors::parse(io::serialize_safetensors(ts, {{"k", "v"}}));
  std::vector<std::vector<double>> ref;
  for (int i = 0; i < 8; ++i) ref.push_back(st.to_double("t" + std::to_string(i)));
  std::atomic<int> mismatches{0};
  run_threads(kThreads, [&](int t) {
    for (int rep = 0; rep < 50; ++rep) {
      const int i = (rep + t) % 8;
      if (st.to_double("t" + std::to_string(i)) != ref[i] || st.meta("k") != "v") ++mismatches;
    }
  });
  BOOST_TEST(mismatches.load() == 0);
}
