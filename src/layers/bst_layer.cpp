#include "ssm/layers/bst_layer.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>
#include <type_traits>

#include <Eigen/Dense>

#include "core/complex_diag_step.hpp"
#include "layers/model_io.hpp"
#include "layers/nn_ops.hpp"
#include "layers/s4d_kernel.hpp"
#include "layers/tensor_names.hpp"
#include "ssm/conv/diag_kernel.hpp"
#include "ssm/conv/fftconv.hpp"
#include "ssm/core/denormals.hpp"
#include "ssm/core/error.hpp"
#include "ssm/layers/bst_layer_cuda.hpp"
#include "ssm/layers/model_file.hpp"

namespace ssm {

using layers_detail::gelu;
using layers_detail::layer_norm;
using layers_detail::linear_gemm;
using layers_detail::linear_rows_t;
template <class T>
using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

namespace {
template <class T>
const T* bias_ptr(const std::vector<T>& v) noexcept {
  return v.empty() ? nullptr : v.data();
}
}  // namespace

// ---- config ---------------------------------------------------------------------------------

void BSTLayerConfig::validate(const char* where) const {
  require(d_model >= 1, where, "d_model", "must be >= 1, got ", d_model);
  require(modes >= 1, where, "modes", "must be >= 1 (complex modes of the context SSM), got ", modes);
  require(d_ff >= 1, where, "d_ff", "must be >= 1, got ", d_ff);
  require(block_size >= 1, where, "block_size", "must be >= 1 (W rows a block), got ", block_size);
  require(context >= 0, where, "context", "must be >= 0 (S context rows before a block), got ", context);
  require(n_heads >= 1, where, "n_heads", "must be >= 1, got ", n_heads);
  require(d_model % n_heads == 0, where, "n_heads", "must divide d_model = ", d_model, ", got ", n_heads);
  require(norm_eps > 0 && std::isfinite(norm_eps), where, "norm_eps", "must be finite and > 0, got ", norm_eps);
}

BSTLayerConfig infer_bst_layer_config(const io::SafeTensors& file, const std::string& prefix) {
  TensorReader r(file, "infer_bst_layer_config");
  auto dims = [&](const std::string& n, std::size_t rank) { return r.shape(prefix + n, rank); };
  const auto a = dims("ssm.kernel.log_A_real", 2);
  const auto f = dims("ffn.fc1.weight", 2);
  BSTLayerConfig c;
  c.d_model = static_cast<int>(a[0]);
  c.modes = static_cast<int>(a[1]);
  c.d_ff = static_cast<int>(f[0]);
  if (f[1] != a[0])
    throw Error("infer_bst_layer_config: tensor '" + prefix + "ffn.fc1.weight' has shape " + shape_string(f) +
                ", expected (d_ff, " + std::to_string(a[0]) + ") with d_model from '" + prefix +
                "ssm.kernel.log_A_real'");
  return c;
}

template <class T>
BSTLayerParams<T> read_bst_layer(TensorReader& r, const std::string& pre, const BSTLayerConfig& c) {
  c.validate("read_bst_layer");
  return layers_detail::read_tensors<T, BSTLayerParams<T>>(
      r, [&](auto& m, auto& p) { layers_detail::bst_layer_tensors(m, pre, c, p); });
}

template <class T>
void append_bst_layer_tensors(const BSTLayerParams<T>& p, const BSTLayerConfig& c, const std::string& pre,
                              std::vector<io::TensorOut>& out) {
  layers_detail::TensorWriter<T> w;
  layers_detail::WriteTensors<T> m(w);
  layers_detail::bst_layer_tensors(m, pre, c, p);
  for (auto& t : w.tensors()) out.push_back(std::move(t));
}

template <class T>
BSTLayerParams<T> random_bst_layer(const BSTLayerConfig& c, std::uint64_t seed) {
  c.validate("random_bst_layer");
  layers_detail::UniformInit<T> draw(seed);
  const std::size_t d = c.d_model, F = c.d_ff;
  BSTLayerParams<T> p;
  p.norm1_weight.assign(d, T(1));
  p.norm1_bias.assign(d, T(0));
  layers_detail::random_s4d_kernel(p, d, std::size_t(c.modes), draw);
  draw.linear(d, d, p.q_weight, p.q_bias);
  draw.linear(d, d, p.k_weight, p.k_bias);
  draw.linear(d, d, p.v_weight, p.v_bias);
  draw.linear(d, d, p.out_weight, p.out_bias);
  p.norm2_weight.assign(d, T(1));
  p.norm2_bias.assign(d, T(0));
  draw.linear(F, d, p.fc1_weight, p.fc1_bias);
  draw.linear(d, F, p.fc2_weight, p.fc2_bias);
  return p;
}

// ---- construction ---------------------------------------------------------------------------

template <class T>
BSTLayer<T>::BSTLayer(const BSTLayerConfig& c, BSTLayerParams<T> p) : cfg_(c), p_(std::move(p)) {
  c.validate("BSTLayer");
  const std::size_t d = c.d_model, N2 = c.modes, F = c.d_ff;
  layers_detail::CheckTensors<T> check("BSTLayer");
  layers_detail::bst_layer_tensors(check, "", c, p_);
  ssm_ = layers_detail::s4d_kernel_ssm(p_, c.d_model, c.modes, DiagonalSSM().reference_rate, "BSTLayer");

  // Streaming coefficients of the context SSM at its own step (the attention blocks are counted
  // in samples, so the layer is not re-discretized for another rate).
  const DiagonalDiscrete dd = discretize(ssm_, Method::zoh);
  const std::size_t n = d * N2;
  ad_re_.resize(n), ad_im_.resize(n), bd_re_.resize(n), bd_im_.resize(n), c2_re_.resize(n), c2_im_.resize(n);
  for (std::size_t k = 0; k < n; ++k) {
    ad_re_[k] = static_cast<T>(dd.Ad.re[k]);
    ad_im_[k] = static_cast<T>(dd.Ad.im[k]);
    bd_re_[k] = static_cast<T>(dd.Bd.re[k]);
    bd_im_[k] = static_cast<T>(dd.Bd.im[k]);
    c2_re_[k] = static_cast<T>(2 * ssm_.C.re[k]);
    c2_im_[k] = static_cast<T>(2 * ssm_.C.im[k]);
  }
  const std::ptrdiff_t di = std::ptrdiff_t(d), Fi = std::ptrdiff_t(F);
  qt_ = layers_detail::transpose(p_.q_weight, di, di);
  kt_ = layers_detail::transpose(p_.k_weight, di, di);
  vt_ = layers_detail::transpose(p_.v_weight, di, di);
  ot_ = layers_detail::transpose(p_.out_weight, di, di);
  fc1t_ = layers_detail::transpose(p_.fc1_weight, Fi, di);
  fc2t_ = layers_detail::transpose(p_.fc2_weight, di, Fi);
}

// ---- offline forward ------------------------------------------------------------------------

template <class T>
void BSTLayer<T>::forward(const T* x, int batch, int length, T* y, T* context, Device device) const {
  constexpr const char* w = "BSTLayer::forward";
  require(!ssm_.D.empty(), w, "this", "must be a constructed layer");
  require(batch >= 1, w, "batch", "must be >= 1, got ", batch);
  require(length >= 1, w, "length", "must be >= 1, got ", length);
  require(x != nullptr && y != nullptr, w, "x/y", "must not be null");
  if (device == Device::cuda) {
    if constexpr (std::is_same_v<T, float>) {
      CudaBSTLayer(*this).forward_host(x, batch, length, y, context);
      return;
    } else {
      fail(w, "device", "cuda runs the layer in float32 only (use BSTLayer<float>)");
    }
  }
  const std::ptrdiff_t d = cfg_.d_model, F = cfg_.d_ff, L = length, M = std::ptrdiff_t(batch) * L;
  const std::ptrdiff_t W = cfg_.block_size, S = cfg_.context, H = cfg_.n_heads, dh = d / H;
  const std::size_t md = std::size_t(M * d);
  {
    const T *ylo = y, *yhi = y + md, *xlo = x, *xhi = x + md;
    require(yhi <= xlo || xhi <= ylo, w, "y", "must not overlap x");
    if (context) {
      const T *clo = context, *chi = context + md;
      require(chi <= xlo || xhi <= clo, w, "context", "must not overlap x");
      require(chi <= ylo || yhi <= clo, w, "context", "must not overlap y");
    }
  }

  // xn = LayerNorm1(x); c = S4D(xn) by the zoh kernel and the FFT convolution.
  std::vector<T> xn(md), c_own;
  layer_norm(x, M, d, p_.norm1_weight.data(), p_.norm1_bias.data(), cfg_.norm_eps, xn.data());
  T* c = context;
  if (!c) {
    c_own.resize(md);
    c = c_own.data();
  }
  {
    const std::vector<T> K = diag_kernel<T>(ssm_, Method::zoh, L);
    const View3<const T> uv(xn.data(), batch, d, L, L * d, 1, d);
    const View3<T> cv(c, batch, d, L, L * d, 1, d);
    fftconv<T>(uv, K.data(), L, p_.D.data(), cv);
  }

  // Projections over all rows: Q, K, V of the block rows, K, V of the context rows.
  std::vector<T> Q(md), Kx(md), Vx(md), Kc(S > 0 ? md : 0), Vc(S > 0 ? md : 0);
  linear_gemm(xn.data(), M, d, p_.q_weight.data(), bias_ptr(p_.q_bias), d, Q.data());
  linear_gemm(xn.data(), M, d, p_.k_weight.data(), bias_ptr(p_.k_bias), d, Kx.data());
  linear_gemm(xn.data(), M, d, p_.v_weight.data(), bias_ptr(p_.v_bias), d, Vx.data());
  if (S > 0) {
    linear_gemm(c, M, d, p_.k_weight.data(), bias_ptr(p_.k_bias), d, Kc.data());
    linear_gemm(c, M, d, p_.v_weight.data(), bias_ptr(p_.v_bias), d, Vc.data());
  }

  // Block attention; the result of block j replaces its Q rows (read only by block j).
  const std::ptrdiff_t nblocks = (L + W - 1) / W, jobs = std::ptrdiff_t(batch) * nblocks;
  const T scale = T(1) / std::sqrt(T(dh));
  using MapC = Eigen::Map<const RowMat<T>, 0, Eigen::OuterStride<>>;
  using MapM = Eigen::Map<RowMat<T>, 0, Eigen::OuterStride<>>;
  const Eigen::OuterStride<> rs(d);
#pragma omp parallel
  {
    RowMat<T> sc, out;
#pragma omp for schedule(static)
    for (std::ptrdiff_t job = 0; job < jobs; ++job) {
      const std::ptrdiff_t b = job / nblocks, j = job % nblocks;
      const std::ptrdiff_t t0 = j * W, wb = std::min(W, L - t0), c0 = std::max<std::ptrdiff_t>(0, t0 - S);
      const std::ptrdiff_t nc = t0 - c0, r0 = b * L + t0, rc = b * L + c0;
      sc.resize(wb, nc + wb);
      for (std::ptrdiff_t h = 0; h < H; ++h) {
        const std::ptrdiff_t col = h * dh;
        MapM q(Q.data() + r0 * d + col, wb, dh, rs);
        const MapC kx(Kx.data() + r0 * d + col, wb, dh, rs), vx(Vx.data() + r0 * d + col, wb, dh, rs);
        sc.rightCols(wb).noalias() = q * kx.transpose();
        if (nc > 0) {
          const MapC kc(Kc.data() + rc * d + col, nc, dh, rs);
          sc.leftCols(nc).noalias() = q * kc.transpose();
        }
        for (std::ptrdiff_t i = 0; i < wb; ++i) {
          T* row = sc.data() + i * (nc + wb);
          const std::ptrdiff_t seen = nc + i + 1;  // context rows, then block rows 0..i
          T m = -std::numeric_limits<T>::infinity();
          for (std::ptrdiff_t k = 0; k < seen; ++k) m = std::max(m, row[k] * scale);
          T sum = 0;
          for (std::ptrdiff_t k = 0; k < seen; ++k) {
            row[k] = std::exp(row[k] * scale - m);
            sum += row[k];
          }
          const T inv = T(1) / sum;
          for (std::ptrdiff_t k = 0; k < seen; ++k) row[k] *= inv;
          for (std::ptrdiff_t k = seen; k < nc + wb; ++k) row[k] = T(0);
        }
        out.noalias() = sc.rightCols(wb) * vx;
        if (nc > 0) {
          const MapC vc(Vc.data() + rc * d + col, nc, dh, rs);
          out.noalias() += sc.leftCols(nc) * vc;
        }
        q = out;
      }
    }
  }

  // h = x + out_proj(attention)  (into Kx);  z = LayerNorm2(h)  (into Vx);  y = h + FFN(z).
  T* hres = Kx.data();
  T* z = Vx.data();
  linear_gemm(Q.data(), M, d, p_.out_weight.data(), bias_ptr(p_.out_bias), d, hres);
  for (std::size_t k = 0; k < md; ++k) hres[k] += x[k];
  layer_norm(hres, M, d, p_.norm2_weight.data(), p_.norm2_bias.data(), cfg_.norm_eps, z);
  const std::ptrdiff_t chunk = std::min<std::ptrdiff_t>(M, 4096);
  std::vector<T> ff(std::size_t(chunk * F));
  for (std::ptrdiff_t r0 = 0; r0 < M; r0 += chunk) {
    const std::ptrdiff_t rows = std::min(chunk, M - r0);
    linear_gemm(z + r0 * d, rows, d, p_.fc1_weight.data(), bias_ptr(p_.fc1_bias), F, ff.data());
    for (std::ptrdiff_t k = 0; k < rows * F; ++k) ff[std::size_t(k)] = gelu(ff[std::size_t(k)]);
    linear_gemm(ff.data(), rows, F, p_.fc2_weight.data(), bias_ptr(p_.fc2_bias), d, y + r0 * d);
  }
  for (std::size_t k = 0; k < md; ++k) y[k] += hres[k];
}

// ---- streaming ------------------------------------------------------------------------------

template <class T>
void BSTLayerState<T>::reset() noexcept {
  for (auto* v : {&h_re_, &h_im_, &ring_, &kc_, &vc_, &kb_, &vb_}) std::fill(v->begin(), v->end(), T(0));
  ring_next_ = filled_ = n_ctx_ = pos_ = 0;
}

template <class T>
std::size_t BSTLayerState<T>::state_size() const noexcept {
  return h_re_.size() + h_im_.size() + ring_.size() + kc_.size() + vc_.size() + kb_.size() + vb_.size() + 4;
}

template <class T>
bool BSTLayerState<T>::save(std::span<T> out) const noexcept {
  if (max_rows_ == 0 || out.size() != state_size()) return false;
  T* o = out.data();
  for (const auto* v : {&h_re_, &h_im_, &ring_, &kc_, &vc_, &kb_, &vb_}) o = std::copy(v->begin(), v->end(), o);
  *o++ = T(ring_next_);
  *o++ = T(filled_);
  *o++ = T(n_ctx_);
  *o++ = T(pos_);
  return true;
}

template <class T>
bool BSTLayerState<T>::load(std::span<const T> in) noexcept {
  if (max_rows_ == 0 || in.size() != state_size()) return false;
  const T* tail = in.data() + in.size() - 4;
  const T rn = tail[0], fi = tail[1], nc = tail[2], po = tail[3];
  auto is_int_in = [](T v, int lo, int hi) { return v >= T(lo) && v <= T(hi) && v == std::floor(v); };
  // ring_next is a slot index (< S, or 0 when S = 0); n_ctx <= filled <= S; pos <= W.
  if (!is_int_in(rn, 0, std::max(S_ - 1, 0)) || !is_int_in(fi, 0, S_) || !is_int_in(nc, 0, int(fi)) ||
      !is_int_in(po, 0, W_))
    return false;
  const T* p = in.data();
  for (auto* v : {&h_re_, &h_im_, &ring_, &kc_, &vc_, &kb_, &vb_}) {
    std::copy(p, p + v->size(), v->begin());
    p += v->size();
  }
  ring_next_ = int(rn);
  filled_ = int(fi);
  n_ctx_ = int(nc);
  pos_ = int(po);
  return true;
}

template <class T>
BSTLayerState<T> BSTLayer<T>::make_state(int max_rows) const {
  require(!ssm_.D.empty(), "BSTLayer::make_state", "this", "must be a constructed layer");
  require(max_rows >= 1, "BSTLayer::make_state", "max_rows", "must be >= 1, got ", max_rows);
  BSTLayerState<T> s;
  const std::size_t d = cfg_.d_model, N2 = cfg_.modes, W = cfg_.block_size, S = cfg_.context;
  const std::size_t R = std::size_t(std::min(max_rows, cfg_.block_size));  // a piece never crosses a block
  s.d_ = cfg_.d_model;
  s.N2_ = cfg_.modes;
  s.W_ = cfg_.block_size;
  s.S_ = cfg_.context;
  s.dff_ = cfg_.d_ff;
  s.max_rows_ = int(R);
  s.h_re_.assign(d * N2, T(0));
  s.h_im_.assign(d * N2, T(0));
  s.ring_.assign(S * d, T(0));
  s.kc_.assign(S * d, T(0));
  s.vc_.assign(S * d, T(0));
  s.kb_.assign(W * d, T(0));
  s.vb_.assign(W * d, T(0));
  s.xn_.assign(R * d, T(0));
  s.q_.assign(R * d, T(0));
  s.att_.assign(R * d, T(0));
  s.hres_.assign(R * d, T(0));
  s.z_.assign(R * d, T(0));
  s.ff_.assign(R * std::size_t(cfg_.d_ff), T(0));
  s.p_.assign(S + W, T(0));
  return s;
}

// Keys/values of the next block's context rows: the ring's rows, oldest first, through k_proj/v_proj.
template <class T>
void BSTLayer<T>::start_block(BSTLayerState<T>& s) const noexcept {
  const std::ptrdiff_t d = cfg_.d_model, S = cfg_.context;
  s.n_ctx_ = s.filled_;
  s.pos_ = 0;
  if (s.filled_ == 0) return;
  // Oldest row: slot 0 while the ring is filling, slot ring_next once it is full.
  const std::ptrdiff_t first = s.filled_ < S ? 0 : s.ring_next_;
  const std::ptrdiff_t n1 = std::min<std::ptrdiff_t>(s.filled_, S - first), n2 = s.filled_ - n1;
  const T* ring = s.ring_.data();
  linear_rows_t(ring + first * d, n1, d, kt_.data(), bias_ptr(p_.k_bias), d, s.kc_.data());
  linear_rows_t(ring + first * d, n1, d, vt_.data(), bias_ptr(p_.v_bias), d, s.vc_.data());
  if (n2 > 0) {
    linear_rows_t(ring, n2, d, kt_.data(), bias_ptr(p_.k_bias), d, s.kc_.data() + n1 * d);
    linear_rows_t(ring, n2, d, vt_.data(), bias_ptr(p_.v_bias), d, s.vc_.data() + n1 * d);
  }
}

// n rows (n <= max_rows) all inside the current block (pos + n <= W).
template <class T>
void BSTLayer<T>::step_piece(const T* x, int n, T* y, BSTLayerState<T>& s, T* context) const noexcept {
  const std::ptrdiff_t d = cfg_.d_model, F = cfg_.d_ff, N2 = cfg_.modes, S = cfg_.context;
  const std::ptrdiff_t H = cfg_.n_heads, dh = d / H, nc = s.n_ctx_, pos = s.pos_;
  T* xn = s.xn_.data();
  layer_norm(x, n, d, p_.norm1_weight.data(), p_.norm1_bias.data(), cfg_.norm_eps, xn);
  linear_rows_t(xn, n, d, qt_.data(), bias_ptr(p_.q_bias), d, s.q_.data());
  linear_rows_t(xn, n, d, kt_.data(), bias_ptr(p_.k_bias), d, s.kb_.data() + pos * d);
  linear_rows_t(xn, n, d, vt_.data(), bias_ptr(p_.v_bias), d, s.vb_.data() + pos * d);

  // Attention of each new row over the context rows and the block rows up to itself.
  const T scale = T(1) / std::sqrt(T(dh));
  T* pr = s.p_.data();
  for (std::ptrdiff_t i = 0; i < n; ++i) {
    const std::ptrdiff_t nb = pos + i + 1;
    for (std::ptrdiff_t h = 0; h < H; ++h) {
      const T* q = s.q_.data() + i * d + h * dh;
      T m = -std::numeric_limits<T>::infinity();
      for (std::ptrdiff_t k = 0; k < nc + nb; ++k) {
        const T* kr = k < nc ? s.kc_.data() + k * d + h * dh : s.kb_.data() + (k - nc) * d + h * dh;
        T acc = 0;
        for (std::ptrdiff_t e = 0; e < dh; ++e) acc += q[e] * kr[e];
        pr[k] = acc * scale;
        m = std::max(m, pr[k]);
      }
      T sum = 0;
      for (std::ptrdiff_t k = 0; k < nc + nb; ++k) {
        pr[k] = std::exp(pr[k] - m);
        sum += pr[k];
      }
      const T inv = T(1) / sum;
      T* o = s.att_.data() + i * d + h * dh;
      std::fill(o, o + dh, T(0));
      for (std::ptrdiff_t k = 0; k < nc + nb; ++k) {
        const T* vr = k < nc ? s.vc_.data() + k * d + h * dh : s.vb_.data() + (k - nc) * d + h * dh;
        const T wk = pr[k] * inv;
        for (std::ptrdiff_t e = 0; e < dh; ++e) o[e] += wk * vr[e];
      }
    }
  }

  // Context SSM over the new rows (zoh recurrence), each c row pushed into the ring.
  for (std::ptrdiff_t i = 0; i < n; ++i) {
    T* cr = context ? context + i * d : nullptr;
    T* slot = S > 0 ? s.ring_.data() + std::ptrdiff_t(s.ring_next_) * d : nullptr;
    for (std::ptrdiff_t ch = 0; ch < d; ++ch) {
      const std::ptrdiff_t o = ch * N2;
      const T u = xn[i * d + ch];
      const T v = detail::complex_diag_step(ad_re_.data() + o, ad_im_.data() + o, bd_re_.data() + o,
                                            bd_im_.data() + o, c2_re_.data() + o, c2_im_.data() + o,
                                            s.h_re_.data() + o, s.h_im_.data() + o, int(N2), u) +
                  p_.D[std::size_t(ch)] * u;
      if (slot) slot[ch] = v;
      if (cr) cr[ch] = v;
    }
    if (S > 0) {
      s.ring_next_ = (s.ring_next_ + 1) % int(S);
      s.filled_ = std::min(s.filled_ + 1, int(S));
    }
  }

  // h = x + out_proj(att); y = h + fc2(gelu(fc1(LayerNorm2(h)))). x is not read after this.
  T* hres = s.hres_.data();
  linear_rows_t(s.att_.data(), n, d, ot_.data(), bias_ptr(p_.out_bias), d, hres);
  for (std::ptrdiff_t k = 0; k < n * d; ++k) hres[k] += x[k];
  layer_norm(hres, n, d, p_.norm2_weight.data(), p_.norm2_bias.data(), cfg_.norm_eps, s.z_.data());
  linear_rows_t(s.z_.data(), n, d, fc1t_.data(), bias_ptr(p_.fc1_bias), F, s.ff_.data());
  for (std::ptrdiff_t k = 0; k < n * F; ++k) s.ff_[std::size_t(k)] = gelu(s.ff_[std::size_t(k)]);
  linear_rows_t(s.ff_.data(), n, F, fc2t_.data(), bias_ptr(p_.fc2_bias), d, s.z_.data());
  for (std::ptrdiff_t k = 0; k < n * d; ++k) y[k] = hres[k] + s.z_[std::size_t(k)];
  s.pos_ += n;
}

template <class T>
void BSTLayer<T>::step(const T* x, int n, T* y, BSTLayerState<T>& s, T* context) const noexcept {
  if (s.max_rows_ == 0 || s.d_ != cfg_.d_model || s.N2_ != cfg_.modes || s.W_ != cfg_.block_size ||
      s.S_ != cfg_.context || s.dff_ != cfg_.d_ff || n <= 0)
    return;
  ScopedFlushDenormals ftz;
  const std::ptrdiff_t d = cfg_.d_model;
  while (n > 0) {
    if (s.pos_ == cfg_.block_size) start_block(s);
    const int m = std::min({n, cfg_.block_size - s.pos_, s.max_rows_});
    step_piece(x, m, y, s, context);
    x += m * d;
    y += m * d;
    if (context) context += m * d;
    n -= m;
  }
}

// ---- Streamer ----------------------------------------------------------------------------------

template <class T>
BSTStreamer<T>::BSTStreamer(BSTLayer<T> layer) : layer_(std::move(layer)) {
  require(layer_.config().d_model >= 1, "BSTStreamer", "layer", "must be a constructed layer");
}

template <class T>
BSTLayerState<T> BSTStreamer<T>::make_channel(const StreamSpec& spec) const {
  return layer_.make_state(spec.max_block);
}

template <class T>
void BSTStreamer<T>::do_process(const T* const* in, T* const* out, int n) noexcept {
  for (std::size_t c = 0; c < this->ch_.size(); ++c) layer_.step(in[c], n, out[c], this->ch_[c]);
}

template class BSTLayer<float>;
template class BSTLayer<double>;
template class BSTLayerState<float>;
template class BSTLayerState<double>;
template class BSTStreamer<float>;
template class BSTStreamer<double>;
template BSTLayerParams<float> read_bst_layer<float>(TensorReader&, const std::string&, const BSTLayerConfig&);
template BSTLayerParams<double> read_bst_layer<double>(TensorReader&, const std::string&, const BSTLayerConfig&);
template void append_bst_layer_tensors<float>(const BSTLayerParams<float>&, const BSTLayerConfig&,
                                              const std::string&, std::vector<io::TensorOut>&);
template void append_bst_layer_tensors<double>(const BSTLayerParams<double>&, const BSTLayerConfig&,
                                               const std::string&, std::vector<io::TensorOut>&);
template BSTLayerParams<float> random_bst_layer<float>(const BSTLayerConfig&, std::uint64_t);
template BSTLayerParams<double> random_bst_layer<double>(const BSTLayerConfig&, std::uint64_t);

}  // namespace ssm
