// The models of filter specs (spec_models.hpp): a dense HiPPO filter and an S4D diagonal model.
#include "spec_models.hpp"

#include <algorithm>
#include <cmath>

#include "model_support.hpp"
#include "ssm/conv/diag_kernel.hpp"
#include "ssm/conv/fftconv.hpp"
#include "ssm/core/error.hpp"
#include "ssm/scan/diag_scan.hpp"
#include "ssm/stream/dense_filter.hpp"
#include "ssm/stream/diag_filter.hpp"

namespace ssm::cli {
namespace {

// ---- dense HiPPO filter ---------------------------------------------------------------------

class HippoModel final : public Model {
public:
  HippoModel(hippo::Measure measure, int N, double theta, double delay, Method method, int channels)
      : measure_(measure), N_(N), theta_(theta), delay_(delay), channels_(channels) {
    how_ = {method, Convention::ssm, 0.5};
    Eigen::RowVectorXd C(N);
    if (measure == hippo::Measure::legt) {
      // Delay-line read-out: the Legendre reconstruction of u(t - delay) over the window
      // [t - theta, t]; S4's LegT spans 2 time units, hence the time scale theta / 2.
      sys_ = hippo::system(measure, N, hippo::legt_delay_readout(N, delay, theta), 0.0, theta / 2);
    } else {
      // legs, fout: the reconstruction of the most recent input. lagt: the 0-th Laguerre
      // coefficient, x_0' = (u - x_0 / 2) / theta, an exponential average over about 2 theta
      // seconds (the endpoint reconstruction, C = ones, has no DC path: the DC state alternates
      // +-2, so its gain is 0 for even N, and the Jordan chain of the repeated eigenvalue -1/2
      // makes the higher states settle only after ~2 N theta seconds). Scaled to unit DC gain.
      const auto tr = hippo::transition(measure, N);
      C.setZero();
      for (int n = 0; n < N; ++n)
        C(n) = measure == hippo::Measure::legs ? std::sqrt(2.0 * n + 1) : measure == hippo::Measure::lagt ? 0.0 : tr.B(n);
      if (measure == hippo::Measure::lagt) C(0) = 1.0;
      sys_ = hippo::system(measure, N, C, 0.0, theta);
      const double g = -(sys_.C * sys_.A.fullPivLu().solve(sys_.B))(0, 0);
      require(std::isfinite(g) && std::fabs(g) > 1e-9, "ssmkit", "--filter", "hippo:", hippo::to_string(measure),
              " with N=", N, " has no DC path (DC gain ", g, "): its read-out cannot be normalized");
      sys_.C /= g;
    }
  }
  std::string describe() const override {
    std::string s = std::string("HiPPO-") + hippo::to_string(measure_) + " dense filter, N=" + std::to_string(N_) +
                    ", theta=" + fmt(theta_) + " s";
    if (measure_ == hippo::Measure::legt) s += ", delay-line read-out at " + fmt(delay_) + " s";
    return s + ", " + ssm::to_string(how_.method) + ", " + std::to_string(channels_) + " channel(s)";
  }
  std::vector<std::pair<std::string, std::string>> details() const override {
    return {{"arch", std::string("hippo-") + hippo::to_string(measure_)},
            {"channels", std::to_string(channels_) + " (the same SISO filter on each)"},
            {"state size", std::to_string(N_) + " real states per channel"},
            {"parameters", std::to_string(N_ * N_ + 2 * N_ + 1) + " (A, B, C, D)"},
            {"latency", "0 samples (recurrent)"}};
  }
  int channels() const override { return channels_; }
  bool supports(Mode mode, Device device) const override {
    if (mode == Mode::stream) return device == Device::cpu;
    if (mode == Mode::conv) return true;
    return false;  // dense A: no diagonal scan
  }
  void run(Mode mode, Device device, const float* in, float* out, std::int64_t frames, double rate, int block,
           Progress& progress) const override {
    require_supported(*this, mode, device);
    if (mode == Mode::stream) {
      auto s = streamer(rate, block);
      run_streamer(*s, channels_, channels_, in, out, frames, block, progress);
      return;
    }
    // conv: K[l] = C Ad^l Bd in float64, cut once the state v_l = Ad^l Bd has decayed below
    // 1e-10 of its peak (the rest is below float32 resolution of the output).
    const DiscreteSystem d = discretize(sys_, 1.0 / rate, how_);
    std::vector<float> K;
    Eigen::VectorXd v = d.Bd.col(0);
    double peak = v.norm();
    for (std::int64_t l = 0; l < frames; ++l) {
      K.push_back(static_cast<float>((sys_.C * v)(0, 0)));
      v = d.Ad * v;
      const double nv = v.norm();
      peak = std::max(peak, nv);
      if (nv < 1e-10 * peak) break;
    }
    const float D = static_cast<float>(sys_.D(0, 0));
    std::vector<float> Dv(static_cast<std::size_t>(channels_), D);
    // Same kernel for every channel: treat channels as the batch.
    fftconv<float>(View3<const float>(in, channels_, 1, frames), K.data(), static_cast<std::ptrdiff_t>(K.size()),
                   Dv.data(), View3<float>(out, channels_, 1, frames), device);
    progress.advance(static_cast<double>(frames) * channels_);
  }
  std::unique_ptr<ssm::Streamer<float>> make_streamer() const override {
    // One DenseFilter streams every channel (spec.channels copies of the SISO system).
    return std::make_unique<DenseFilter<float>>(sys_, how_);
  }

private:
  hippo::Measure measure_;
  int N_;
  double theta_, delay_;
  int channels_;
  ContinuousSystem sys_;
  Discretization how_;
};

// ---- S4D diagonal model ---------------------------------------------------------------------
// Streams through the library's DiagFilter (ssm convention, split re/im, SIMD over modes):
//   x_t = Ad x_{t-1} + Bd u_t,   y_t = 2 Re(sum_n C x_t) + D u_t,
// channel h of the signal = channel h of the model, planar buffers passed through as they are.
class DiagSpecModel final : public Model {
public:
  DiagSpecModel(DiagonalSSM m, Method method, std::string origin) : m_(std::move(m)), method_(method), origin_(std::move(origin)) {}

  std::string describe() const override {
    return origin_ + " diagonal SSM (S4D), H=" + std::to_string(m_.H) + ", N=" + std::to_string(2 * m_.N2) + " (" +
           std::to_string(m_.N2) + " complex modes), " + ssm::to_string(method_);
  }
  std::vector<std::pair<std::string, std::string>> details() const override {
    double lo = INFINITY, hi = 0;
    for (int h = 0; h < m_.H; ++h) {
      lo = std::min(lo, m_.dt(h));
      hi = std::max(hi, m_.dt(h));
    }
    return {{"arch", "s4d"},
            {"channels", std::to_string(m_.H)},
            {"state size", std::to_string(2 * m_.N2) + " real states per channel (" + std::to_string(m_.N2) + " complex modes)"},
            {"parameters", std::to_string(m_.H * (6 * m_.N2 + 2)) + " (A, B, C complex; D, log_dt)"},
            {"dt", fmt(lo) + " .. " + fmt(hi) + " at " + fmt(m_.reference_rate) + " Hz"},
            {"latency", "0 samples (recurrent)"}};
  }
  int channels() const override { return m_.H; }
  bool supports(Mode mode, Device device) const override {
    if (mode == Mode::stream) return device == Device::cpu;
    return true;
  }
  void run(Mode mode, Device device, const float* in, float* out, std::int64_t frames, double rate, int block,
           Progress& progress) const override {
    require_supported(*this, mode, device);
    const int H = m_.H;
    if (mode == Mode::stream) {
      auto s = streamer(rate, block);
      run_streamer(*s, H, H, in, out, frames, block, progress);
    } else if (mode == Mode::conv) {
      std::vector<float> K(static_cast<std::size_t>(H) * static_cast<std::size_t>(frames));
      diag_kernel<float>(m_, method_, frames, K.data(), m_.reference_rate / rate);
      const std::vector<float> D(m_.D.begin(), m_.D.end());
      fftconv<float>(View3<const float>(in, 1, H, frames), K.data(), frames, D.data(),
                     View3<float>(out, 1, H, frames), device);
      progress.advance(static_cast<double>(frames) * H);
    } else {
      // Scan in time chunks, carrying the complex state between chunks.
      const std::size_t n = static_cast<std::size_t>(H) * static_cast<std::size_t>(m_.N2);
      std::vector<float> A(2 * n), B(2 * n), C(2 * n), state(2 * n, 0.f);
      for (std::size_t i = 0; i < n; ++i) {
        A[2 * i] = static_cast<float>(m_.A.re[i]);
        A[2 * i + 1] = static_cast<float>(m_.A.im[i]);
        B[2 * i] = static_cast<float>(m_.B.re[i]);
        B[2 * i + 1] = static_cast<float>(m_.B.im[i]);
        C[2 * i] = static_cast<float>(m_.C.re[i]);
        C[2 * i + 1] = static_cast<float>(m_.C.im[i]);
      }
      std::vector<float> D(m_.D.begin(), m_.D.end()), dt(static_cast<std::size_t>(H));
      for (int h = 0; h < H; ++h) dt[static_cast<std::size_t>(h)] = static_cast<float>(m_.dt(h) * m_.reference_rate / rate);
      constexpr std::int64_t kChunk = 1 << 16;
      for (std::int64_t t = 0; t < frames; t += kChunk) {
        const int len = static_cast<int>(std::min(kChunk, frames - t));
        DiagScanArgs<float> a;
        a.batch = 1;
        a.channels = H;
        a.modes = m_.N2;
        a.length = len;
        a.method = method_;
        a.A = A.data();
        a.B = B.data();
        a.C = C.data();
        a.D = D.data();
        a.dt = dt.data();
        a.u = in + t;
        a.y = out + t;
        a.h0 = state.data();
        a.last_state = state.data();
        a.u_strides = Strides3{H * frames, frames, 1};
        a.y_strides = a.u_strides;
        diag_scan(a, device);
        progress.advance(static_cast<double>(len) * H);
      }
    }
  }
  std::unique_ptr<ssm::Streamer<float>> make_streamer() const override {
    return std::make_unique<DiagFilter<float>>(m_, method_);
  }

private:
  DiagonalSSM m_;
  Method method_;
  std::string origin_;
};

}  // namespace

std::unique_ptr<Model> make_hippo_model(hippo::Measure measure, int N, double theta, double delay, Method method,
                                        int channels) {
  return std::make_unique<HippoModel>(measure, N, theta, delay, method, channels);
}

std::unique_ptr<Model> make_diag_model(DiagonalSSM m, Method method, std::string origin) {
  return std::make_unique<DiagSpecModel>(std::move(m), method, std::move(origin));
}

}  // namespace ssm::cli
