#include "ssm/layers/s4d_model.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <numbers>
#include <random>
#include <type_traits>

#include "layers/config_json.hpp"
#include "core/complex_diag_step.hpp"
#include "core/dispatch.hpp"
#include "layers/nn_ops.hpp"
#include "layers/resident_weights.hpp"
#include "ssm/conv/diag_kernel.hpp"
#include "ssm/conv/fftconv.hpp"
#include "ssm/core/denormals.hpp"
#include "ssm/core/device_buffer.hpp"
#include "ssm/core/error.hpp"
#include "ssm/layers/model_file.hpp"
#include "ssm/scan/diag_scan.hpp"

namespace ssm {

using layers_detail::linear_gemm;
using layers_detail::linear_rows;

// ---- config ---------------------------------------------------------------------------------

void S4DModelConfig::validate(const char* where) const {
  require(d_input >= 1, where, "d_input", "must be >= 1, got ", d_input);
  require(d_output >= 1, where, "d_output", "must be >= 1, got ", d_output);
  require(d_model >= 1, where, "d_model", "must be >= 1, got ", d_model);
  require(n_layers >= 1, where, "n_layers", "must be >= 1, got ", n_layers);
  require(d_state >= 2 && d_state % 2 == 0, where, "d_state", "must be even and >= 2 (N2 = d_state/2 complex modes), got ",
          d_state);
  require(norm_eps > 0 && std::isfinite(norm_eps), where, "norm_eps", "must be finite and > 0, got ", norm_eps);
  require(sample_rate > 0 && std::isfinite(sample_rate), where, "sample_rate", "must be finite and > 0 Hz, got ",
          sample_rate);
}

S4DModelConfig S4DModelConfig::from_json(const std::string& text) {
  layers_detail::ConfigJson j(text, "S4DModelConfig");
  S4DModelConfig c;
  c.d_model = j.integer("d_model");
  c.n_layers = j.integer("n_layers");
  c.d_state = j.integer("d_state");
  c.d_input = j.integer("d_input", 1);
  c.d_output = j.integer("d_output", 1);
  c.prenorm = j.boolean("prenorm", false);
  const std::string act = j.string("activation", "gelu");
  if (act == "gelu") c.activation = Activation::gelu;
  else if (act == "silu") c.activation = Activation::silu;
  else if (act == "relu") c.activation = Activation::relu;
  else if (act == "identity") c.activation = Activation::identity;
  else j.bad("activation", "must be \"gelu\", \"silu\", \"relu\" or \"identity\", got \"" + act + "\"");
  if (j.has("norm") && j.string("norm") != "layernorm") j.bad("norm", "must be \"layernorm\" (the S4 example's norm)");
  c.norm_eps = j.number("norm_eps", 1e-5);
  c.sample_rate = j.number("sample_rate", 48000.0);
  c.validate("S4DModelConfig");
  return c;
}

std::string S4DModelConfig::to_json() const {
  nlohmann::ordered_json j;
  j["d_model"] = d_model;
  j["n_layers"] = n_layers;
  j["d_state"] = d_state;
  j["d_input"] = d_input;
  j["d_output"] = d_output;
  j["prenorm"] = prenorm;
  j["activation"] = to_string(activation);
  j["norm"] = "layernorm";
  j["norm_eps"] = norm_eps;
  j["sample_rate"] = sample_rate;
  return j.dump();
}

// ---- parameters -----------------------------------------------------------------------------

template <class T>
S4DModelParams<T> random_s4d_model(const S4DModelConfig& c, std::uint64_t seed) {
  c.validate("random_s4d_model");
  std::mt19937_64 rng(seed);
  auto uniform = [&](std::size_t n, double lo, double hi) {
    std::uniform_real_distribution<double> d(lo, hi);
    std::vector<T> v(n);
    for (auto& x : v) x = static_cast<T>(d(rng));
    return v;
  };
  auto normal = [&](std::size_t n, double sd) {
    std::normal_distribution<double> d(0, sd);
    std::vector<T> v(n);
    for (auto& x : v) x = static_cast<T>(d(rng));
    return v;
  };
  const std::size_t H = c.d_model, N2 = c.modes();
  const double bi = 1 / std::sqrt(double(c.d_input)), bh = 1 / std::sqrt(double(H));
  S4DModelParams<T> p;
  p.encoder_weight = uniform(H * c.d_input, -bi, bi);
  p.encoder_bias = uniform(H, -bi, bi);
  for (int i = 0; i < c.n_layers; ++i) {
    S4DLayerParams<T> l;
    l.log_dt = uniform(H, std::log(1e-3), std::log(1e-1));
    l.log_A_real.assign(H * N2, static_cast<T>(std::log(0.5)));
    l.A_imag.resize(H * N2);
    for (std::size_t h = 0; h < H; ++h)
      for (std::size_t n = 0; n < N2; ++n) l.A_imag[h * N2 + n] = static_cast<T>(std::numbers::pi * double(n));
    l.C = normal(H * N2 * 2, std::sqrt(0.5));
    l.D = normal(H, 1.0);
    l.out_weight = uniform(2 * H * H, -bh, bh);
    l.out_bias = uniform(2 * H, -bh, bh);
    l.norm_weight.assign(H, T(1));
    l.norm_bias.assign(H, T(0));
    p.layers.push_back(std::move(l));
  }
  p.decoder_weight = uniform(std::size_t(c.d_output) * H, -bh, bh);
  p.decoder_bias = uniform(c.d_output, -bh, bh);
  return p;
}

namespace {
template <class T>
void check_vec(const std::vector<T>& v, std::size_t n, const std::string& name) {
  if (v.size() != n)
    throw Error("S4DModel: parameter '" + name + "' must have " + std::to_string(n) + " elements, got " +
                std::to_string(v.size()));
  for (const T& x : v)
    if (!std::isfinite(static_cast<double>(x))) throw Error("S4DModel: parameter '" + name + "' must be finite");
}
}  // namespace

template <class T>
S4DModel<T>::S4DModel(const S4DModelConfig& c, S4DModelParams<T> p)
    : cfg_(c), p_(std::move(p)), gpu_(std::make_shared<detail::ResidentWeights<T>>()) {
  c.validate("S4DModel");
  const std::size_t H = c.d_model, N2 = c.modes();
  check_vec(p_.encoder_weight, H * c.d_input, "encoder.weight");
  check_vec(p_.encoder_bias, H, "encoder.bias");
  check_vec(p_.decoder_weight, H * c.d_output, "decoder.weight");
  check_vec(p_.decoder_bias, std::size_t(c.d_output), "decoder.bias");
  if (p_.layers.size() != std::size_t(c.n_layers))
    throw Error("S4DModel: parameters must hold n_layers = " + std::to_string(c.n_layers) + " layers, got " +
                std::to_string(p_.layers.size()));
  for (std::size_t i = 0; i < p_.layers.size(); ++i) {
    const auto& l = p_.layers[i];
    const std::string pre = "s4_layers." + std::to_string(i) + ".";
    check_vec(l.log_dt, H, pre + "kernel.log_dt");
    check_vec(l.log_A_real, H * N2, pre + "kernel.log_A_real");
    check_vec(l.A_imag, H * N2, pre + "kernel.A_imag");
    check_vec(l.C, H * N2 * 2, pre + "kernel.C");
    check_vec(l.D, H, pre + "D");
    check_vec(l.out_weight, 2 * H * H, pre + "output_linear.weight");
    check_vec(l.out_bias, 2 * H, pre + "output_linear.bias");
    check_vec(l.norm_weight, H, "norms." + std::to_string(i) + ".weight");
    check_vec(l.norm_bias, H, "norms." + std::to_string(i) + ".bias");
    DiagonalSSM s(static_cast<int>(H), static_cast<int>(N2));
    for (std::size_t k = 0; k < H * N2; ++k) {
      s.A.re[k] = -std::exp(double(l.log_A_real[k]));
      s.A.im[k] = double(l.A_imag[k]);
      s.B.re[k] = 1.0;
      s.B.im[k] = 0.0;
      s.C.re[k] = double(l.C[2 * k]);
      s.C.im[k] = double(l.C[2 * k + 1]);
    }
    for (std::size_t h = 0; h < H; ++h) {
      s.D[h] = double(l.D[h]);
      s.log_dt[h] = double(l.log_dt[h]);
    }
    s.reference_rate = c.sample_rate;
    out_wt_.push_back(layers_detail::transpose(l.out_weight, 2 * std::ptrdiff_t(H), std::ptrdiff_t(H)));
    s.validate("S4DModel");
    ssm_.push_back(std::move(s));
  }
}

template <class T>
S4DModel<T> S4DModel<T>::from_file(const io::SafeTensors& f) {
  const std::string arch = model_arch(f);
  if (arch != "s4d")
    throw Error("S4DModel: model file '" + f.origin() + "' has ssmkit.arch \"" + arch + "\", expected \"s4d\"");
  auto cit = f.metadata().find("ssmkit.config");
  if (cit == f.metadata().end())
    throw Error("S4DModel: model file '" + f.origin() + "': __metadata__ key 'ssmkit.config' is missing");
  S4DModelConfig c;
  try {
    c = S4DModelConfig::from_json(cit->second);
  } catch (const Error& e) {
    throw Error("model file '" + f.origin() + "': " + e.what());
  }
  TensorReader r(f, "S4DModel");
  const std::int64_t H = c.d_model, N2 = c.modes();
  S4DModelParams<T> p;
  p.encoder_weight = r.read<T>("encoder.weight", {H, c.d_input});
  p.encoder_bias = r.read<T>("encoder.bias", {H});
  for (int i = 0; i < c.n_layers; ++i) {
    const std::string pre = "s4_layers." + std::to_string(i) + ".";
    const std::string nrm = "norms." + std::to_string(i) + ".";
    S4DLayerParams<T> l;
    l.log_dt = r.read<T>(pre + "kernel.log_dt", {H});
    l.log_A_real = r.read<T>(pre + "kernel.log_A_real", {H, N2});
    l.A_imag = r.read<T>(pre + "kernel.A_imag", {H, N2});
    l.C = r.read<T>(pre + "kernel.C", {H, N2, 2});
    l.D = r.read<T>(pre + "D", {H});
    l.out_weight = r.read_any<T>({pre + "output_linear.0.weight", pre + "output_linear.weight"},
                                 {{2 * H, H, 1}, {2 * H, H}});
    l.out_bias = r.read_any<T>({pre + "output_linear.0.bias", pre + "output_linear.bias"}, {{2 * H}});
    l.norm_weight = r.read<T>(nrm + "weight", {H});
    l.norm_bias = r.read<T>(nrm + "bias", {H});
    p.layers.push_back(std::move(l));
  }
  p.decoder_weight = r.read<T>("decoder.weight", {c.d_output, H});
  p.decoder_bias = r.read<T>("decoder.bias", {c.d_output});
  r.finish();
  return S4DModel(c, std::move(p));
}

template <class T>
S4DModel<T> S4DModel<T>::load(const std::string& path) {
  return from_file(io::SafeTensors::load(path));
}

template <class T>
void S4DModel<T>::save(const std::string& path) const {
  const io::DType dt = sizeof(T) == 4 ? io::DType::F32 : io::DType::F64;
  std::vector<io::TensorOut> out;
  auto add = [&](const std::string& name, std::vector<std::int64_t> shape, const std::vector<T>& v) {
    out.push_back({name, dt, std::move(shape), std::vector<double>(v.begin(), v.end())});
  };
  const std::int64_t H = cfg_.d_model, N2 = cfg_.modes();
  add("encoder.weight", {H, cfg_.d_input}, p_.encoder_weight);
  add("encoder.bias", {H}, p_.encoder_bias);
  for (std::size_t i = 0; i < p_.layers.size(); ++i) {
    const auto& l = p_.layers[i];
    const std::string pre = "s4_layers." + std::to_string(i) + ".";
    const std::string nrm = "norms." + std::to_string(i) + ".";
    add(pre + "kernel.log_dt", {H}, l.log_dt);
    add(pre + "kernel.log_A_real", {H, N2}, l.log_A_real);
    add(pre + "kernel.A_imag", {H, N2}, l.A_imag);
    add(pre + "kernel.C", {H, N2, 2}, l.C);
    add(pre + "D", {H}, l.D);
    add(pre + "output_linear.0.weight", {2 * H, H, 1}, l.out_weight);
    add(pre + "output_linear.0.bias", {2 * H}, l.out_bias);
    add(nrm + "weight", {H}, l.norm_weight);
    add(nrm + "bias", {H}, l.norm_bias);
  }
  add("decoder.weight", {cfg_.d_output, H}, p_.decoder_weight);
  add("decoder.bias", {cfg_.d_output}, p_.decoder_bias);
  io::save_safetensors(path, out, {{"ssmkit.arch", "s4d"}, {"ssmkit.config", cfg_.to_json()}});
}

// ---- compute --------------------------------------------------------------------------------

template <class T>
std::vector<typename S4DModel<T>::Discrete> S4DModel<T>::discretize_all(double dt_scale) const {
  std::vector<Discrete> out;
  for (const auto& s : ssm_) {
    const DiagonalDiscrete dd = discretize(s, Method::zoh, dt_scale);
    Discrete d;
    const std::size_t n = dd.Ad.size();
    d.ad_re.resize(n);
    d.ad_im.resize(n);
    d.w_re.resize(n);
    d.w_im.resize(n);
    d.b_re.assign(n, T(1));  // s = h / Bd is driven by z itself
    d.b_im.assign(n, T(0));
    for (std::size_t k = 0; k < n; ++k) {
      const std::complex<double> w = s.C.get(k) * dd.Bd.get(k);  // fold Bd into the read-out
      d.ad_re[k] = static_cast<T>(dd.Ad.re[k]);
      d.ad_im[k] = static_cast<T>(dd.Ad.im[k]);
      d.w_re[k] = static_cast<T>(w.real());
      d.w_im[k] = static_cast<T>(w.imag());
    }
    out.push_back(std::move(d));
  }
  return out;
}

// s_t = Ad s_{t-1} + z_t (s = h / Bd), y_t = 2 Re(sum_n W s_t) + D z_t with W = C Bd: the same
// outputs as h_t = Ad h_{t-1} + Bd z_t, y_t = 2 Re(C h_t) + D z_t. z, y: (n, H) time-major.
// The step is the one complex diagonal step of DiagFilter and the CPU diag_scan
// (src/core/complex_diag_step.hpp) with b = 1 + 0i (b_re, b_im of Discrete).
namespace {
template <class T>
__attribute__((always_inline)) inline void recurrence_impl(const T* ad_re, const T* ad_im, const T* b_re,
                                                           const T* b_im, const T* w_re, const T* w_im,
                                                           const T* D, int H, int N2, T* h_re, T* h_im,
                                                           const T* z, T* y, std::ptrdiff_t n) noexcept {
  for (int h = 0; h < H; ++h) {
    const std::ptrdiff_t o = std::ptrdiff_t(h) * N2;
    for (std::ptrdiff_t t = 0; t < n; ++t) {
      const T u = z[t * H + h];
      y[t * H + h] = T(2) * detail::complex_diag_step(ad_re + o, ad_im + o, b_re + o, b_im + o, w_re + o,
                                                      w_im + o, h_re + o, h_im + o, N2, u) +
                     D[h] * u;
    }
  }
}
#if defined(SSM_ISA_VARIANTS)
template <class T>
SSM_TARGET_AVX512 void recurrence_avx512(const T* a, const T* b, const T* br, const T* bi, const T* c,
                                                const T* d, const T* D, int H, int N2, T* hr, T* hi, const T* z,
                                                T* y, std::ptrdiff_t n) noexcept {
  recurrence_impl(a, b, br, bi, c, d, D, H, N2, hr, hi, z, y, n);
}
template <class T>
SSM_TARGET_AVX2 void recurrence_avx2(const T* a, const T* b, const T* br, const T* bi, const T* c,
                                            const T* d, const T* D, int H, int N2, T* hr, T* hi, const T* z,
                                            T* y, std::ptrdiff_t n) noexcept {
  recurrence_impl(a, b, br, bi, c, d, D, H, N2, hr, hi, z, y, n);
}
#endif
}  // namespace

template <class T>
void S4DModel<T>::recurrence(const Discrete& d, const T* D, int H, int N2, T* h_re, T* h_im, const T* z, T* y,
                             std::ptrdiff_t n) noexcept {
  const T *a = d.ad_re.data(), *b = d.ad_im.data(), *c = d.w_re.data(), *e = d.w_im.data();
  const T *br = d.b_re.data(), *bi = d.b_im.data();
#if defined(SSM_ISA_VARIANTS)
  using detail::Isa;
  if (detail::cpu_isa() == Isa::avx512)
    return recurrence_avx512(a, b, br, bi, c, e, D, H, N2, h_re, h_im, z, y, n);
  if (detail::cpu_isa() == Isa::avx2) return recurrence_avx2(a, b, br, bi, c, e, D, H, N2, h_re, h_im, z, y, n);
#endif
  recurrence_impl(a, b, br, bi, c, e, D, H, N2, h_re, h_im, z, y, n);
}

template <class T>
void S4DModel<T>::layer_tail(std::size_t i, T* ys, std::ptrdiff_t rows, T* x, T* glu, bool offline) const noexcept {
  const auto& l = p_.layers[i];
  const std::ptrdiff_t H = cfg_.d_model, n = rows * H;
  switch (cfg_.activation) {
    case Activation::gelu: for (std::ptrdiff_t k = 0; k < n; ++k) ys[k] = layers_detail::gelu(ys[k]); break;
    case Activation::silu: for (std::ptrdiff_t k = 0; k < n; ++k) ys[k] = layers_detail::silu(ys[k]); break;
    case Activation::relu: for (std::ptrdiff_t k = 0; k < n; ++k) ys[k] = std::max(ys[k], T(0)); break;
    case Activation::identity: break;
  }
  if (offline) linear_gemm(ys, rows, H, l.out_weight.data(), l.out_bias.data(), 2 * H, glu);
  else layers_detail::linear_rows_t(ys, rows, H, out_wt_[i].data(), l.out_bias.data(), 2 * H, glu);
  for (std::ptrdiff_t r = 0; r < rows; ++r) {
    const T* g = glu + r * 2 * H;
    T* xr = x + r * H;
    for (std::ptrdiff_t c = 0; c < H; ++c) xr[c] += g[c] * layers_detail::sigmoid(g[H + c]);  // GLU
  }
  if (!cfg_.prenorm)
    layers_detail::layer_norm(x, rows, H, l.norm_weight.data(), l.norm_bias.data(), cfg_.norm_eps, x);
}

template <class T>
void S4DModel<T>::forward(const T* u, int batch, int length, T* y, Mode mode, double sample_rate,
                          Device device) const {
  constexpr const char* w = "S4DModel::forward";
  require(!ssm_.empty(), w, "this", "must be a constructed model");
  require(batch >= 1, w, "batch", "must be >= 1, got ", batch);
  require(length >= 1, w, "length", "must be >= 1, got ", length);
  require(u != nullptr && y != nullptr, w, "u/y", "must not be null");
  require(sample_rate >= 0 && std::isfinite(sample_rate), w, "sample_rate",
          "must be finite and > 0 (or 0: the model's rate), got ", sample_rate);
  require(mode != Mode::stream || device == Device::cpu, w, "device", "must be cpu for the stream mode");
  const double rate = sample_rate > 0 ? sample_rate : cfg_.sample_rate;
  const double dt_scale = cfg_.sample_rate / rate;
  const std::ptrdiff_t H = cfg_.d_model, N2 = cfg_.modes(), L = length, M = std::ptrdiff_t(batch) * L;
  std::vector<T> x(std::size_t(M * H)), z(x.size()), ys(x.size()), glu(std::size_t(M * 2 * H));
  linear_gemm(u, M, cfg_.d_input, p_.encoder_weight.data(), p_.encoder_bias.data(), H, x.data());
  std::vector<Discrete> disc;
  if (mode == Mode::stream) disc = discretize_all(dt_scale);
  std::vector<T> hr(std::size_t(H * N2)), hi(hr.size()), K;
  // Device::cuda: per layer A, B, C, D resident on the GPU (uploaded on the first cuda forward).
  const std::vector<DeviceBuffer<T>>* gw = nullptr;
  if (device == Device::cuda) {
    detail::require_cuda(w, "device");
    gw = &gpu_->get([&] {
      std::vector<std::vector<T>> host;
      for (std::size_t i = 0; i < ssm_.size(); ++i) {
        std::vector<T> A(std::size_t(H * N2 * 2)), B(A.size());
        for (std::ptrdiff_t k = 0; k < H * N2; ++k) {
          A[std::size_t(2 * k)] = static_cast<T>(ssm_[i].A.re[std::size_t(k)]);
          A[std::size_t(2 * k + 1)] = static_cast<T>(ssm_[i].A.im[std::size_t(k)]);
          B[std::size_t(2 * k)] = T(1);
        }
        host.push_back(std::move(A));
        host.push_back(std::move(B));
        host.push_back(p_.layers[i].C);
        host.push_back(p_.layers[i].D);
      }
      return host;
    });
  }

  for (std::size_t i = 0; i < ssm_.size(); ++i) {
    const auto& l = p_.layers[i];
    if (cfg_.prenorm)
      layers_detail::layer_norm(x.data(), M, H, l.norm_weight.data(), l.norm_bias.data(), cfg_.norm_eps, z.data());
    else
      z = x;
    const View3<const T> zv(z.data(), batch, H, L, L * H, 1, H);
    const View3<T> yv(ys.data(), batch, H, L, L * H, 1, H);
    switch (mode) {
      case Mode::stream:
        for (int b = 0; b < batch; ++b) {
          std::fill(hr.begin(), hr.end(), T(0));
          std::fill(hi.begin(), hi.end(), T(0));
          recurrence(disc[i], l.D.data(), int(H), int(N2), hr.data(), hi.data(), z.data() + b * L * H,
                     ys.data() + b * L * H, L);
        }
        break;
      case Mode::conv:
        if (device == Device::cpu) {
          K = diag_kernel<T>(ssm_[i], Method::zoh, L, dt_scale);
          fftconv<T>(zv, K.data(), L, l.D.data(), yv, device);
        } else if constexpr (std::is_same_v<T, float>) {
          // Kernel, convolution and output on the GPU (device pointers), D resident.
          DeviceBuffer<float> dK(std::size_t(H * L)), du(z), dy(ys.size());
          diag_kernel(ssm_[i], Method::zoh, L, dK.data(), Device::cuda, dt_scale);
          fftconv<float>(View3<const float>(du.data(), batch, H, L, L * H, 1, H), dK.data(), L,
                         (*gw)[4 * i + 3].data(), View3<float>(dy.data(), batch, H, L, L * H, 1, H),
                         Device::cuda);
          dy.download(ys.data(), ys.size());
        } else {
          fail(w, "device", "cuda runs the conv mode in float32 only (use S4DModel<float>)");
        }
        break;
      case Mode::scan: {
        std::vector<T> dt(static_cast<std::size_t>(H));
        for (std::ptrdiff_t h = 0; h < H; ++h) dt[std::size_t(h)] = static_cast<T>(ssm_[i].dt(int(h)) * dt_scale);
        DiagScanArgs<T> a;
        a.batch = batch;
        a.channels = int(H);
        a.modes = int(N2);
        a.length = length;
        a.method = Method::zoh;
        a.u_strides = a.y_strides = Strides3{L * H, 1, H};
        if (device == Device::cpu) {
          std::vector<T> A(std::size_t(H * N2 * 2)), B(A.size());
          for (std::ptrdiff_t k = 0; k < H * N2; ++k) {
            A[std::size_t(2 * k)] = static_cast<T>(ssm_[i].A.re[std::size_t(k)]);
            A[std::size_t(2 * k + 1)] = static_cast<T>(ssm_[i].A.im[std::size_t(k)]);
            B[std::size_t(2 * k)] = T(1);
          }
          a.A = A.data();
          a.B = B.data();
          a.C = l.C.data();
          a.D = l.D.data();
          a.dt = dt.data();
          a.u = z.data();
          a.y = ys.data();
          diag_scan(a, Device::cpu);
        } else {
          DeviceBuffer<T> ddt(dt), du(z), dy(ys.size());  // dt depends on the call's rate
          a.A = (*gw)[4 * i].data();
          a.B = (*gw)[4 * i + 1].data();
          a.C = (*gw)[4 * i + 2].data();
          a.D = (*gw)[4 * i + 3].data();
          a.dt = ddt.data();
          a.u = du.data();
          a.y = dy.data();
          diag_scan(a, device);
          dy.download(ys.data(), ys.size());
        }
        break;
      }
    }
    layer_tail(i, ys.data(), M, x.data(), glu.data(), true);
  }
  linear_gemm(x.data(), M, H, p_.decoder_weight.data(), p_.decoder_bias.data(), cfg_.d_output, y);
}

template <class T>
void S4DModel<T>::prepare(const StreamSpec& spec) {
  require(!ssm_.empty(), "S4DModel::prepare", "this", "must be a constructed model");
  require(spec.max_block >= 1, "S4DModel::prepare", "spec.max_block", "must be >= 1, got ", spec.max_block);
  require(spec.channels == 1, "S4DModel::prepare", "spec.channels",
          "must be 1 (one stream; make_streamer() streams any number of channels), got ", spec.channels);
  require(spec.sample_rate > 0 && std::isfinite(spec.sample_rate), "S4DModel::prepare", "spec.sample_rate",
          "must be finite and > 0 Hz, got ", spec.sample_rate);
  prepared_ = false;
  disc_ = discretize_all(cfg_.sample_rate / spec.sample_rate);
  const std::size_t H = cfg_.d_model, N2 = cfg_.modes(), B = spec.max_block;
  h_re_.assign(ssm_.size(), std::vector<T>(H * N2, T(0)));
  h_im_.assign(ssm_.size(), std::vector<T>(H * N2, T(0)));
  x_.assign(B * H, T(0));
  z_.assign(B * H, T(0));
  y_.assign(B * H, T(0));
  glu_.assign(B * 2 * H, T(0));
  max_block_ = spec.max_block;
  prepared_ = true;
}

template <class T>
void S4DModel<T>::reset() noexcept {
  for (auto& v : h_re_) std::fill(v.begin(), v.end(), T(0));
  for (auto& v : h_im_) std::fill(v.begin(), v.end(), T(0));
}

template <class T>
void S4DModel<T>::process_mono(const T* in, T* out, int n) noexcept {
  if (!prepared_ || n > max_block_ || n < 0) {
    if (n > 0) std::fill(out, out + std::ptrdiff_t(n) * cfg_.d_output, T(0));
    return;
  }
  ScopedFlushDenormals ftz;
  const std::ptrdiff_t H = cfg_.d_model;
  linear_rows(in, n, cfg_.d_input, p_.encoder_weight.data(), p_.encoder_bias.data(), H, x_.data());
  for (std::size_t i = 0; i < disc_.size(); ++i) {
    const auto& l = p_.layers[i];
    if (cfg_.prenorm)
      layers_detail::layer_norm(x_.data(), n, H, l.norm_weight.data(), l.norm_bias.data(), cfg_.norm_eps, z_.data());
    else
      std::copy_n(x_.data(), n * H, z_.data());
    recurrence(disc_[i], l.D.data(), int(H), cfg_.modes(), h_re_[i].data(), h_im_[i].data(), z_.data(), y_.data(), n);
    layer_tail(i, y_.data(), n, x_.data(), glu_.data(), false);
  }
  linear_rows(x_.data(), n, H, p_.decoder_weight.data(), p_.decoder_bias.data(), cfg_.d_output, out);
}

template <class T>
std::size_t S4DModel<T>::state_size() const noexcept {
  std::size_t n = 0;
  for (std::size_t i = 0; i < h_re_.size(); ++i) n += h_re_[i].size() + h_im_[i].size();
  return n;
}

template <class T>
void S4DModel<T>::save_state(T* dst) const noexcept {
  for (std::size_t i = 0; i < h_re_.size(); ++i) {
    dst = std::copy(h_re_[i].begin(), h_re_[i].end(), dst);
    dst = std::copy(h_im_[i].begin(), h_im_[i].end(), dst);
  }
}

template <class T>
void S4DModel<T>::load_state(const T* src) noexcept {
  for (std::size_t i = 0; i < h_re_.size(); ++i) {
    std::copy_n(src, h_re_[i].size(), h_re_[i].begin());
    src += h_re_[i].size();
    std::copy_n(src, h_im_[i].size(), h_im_[i].begin());
    src += h_im_[i].size();
  }
}

template class S4DModel<float>;
template class S4DModel<double>;
template S4DModelParams<float> random_s4d_model<float>(const S4DModelConfig&, std::uint64_t);
template S4DModelParams<double> random_s4d_model<double>(const S4DModelConfig&, std::uint64_t);

}  // namespace ssm
