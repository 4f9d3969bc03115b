#include "ssm/io/png.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "ssm/core/error.hpp"
#include "ssm/io/atomic_file.hpp"

namespace ssm::io {

// ---- checksums ------------------------------------------------------------------------------
namespace {
const std::array<std::uint32_t, 256>& crc_table() {
  static const std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t n = 0; n < 256; ++n) {
      std::uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  return table;
}
void put_u32be(std::vector<std::uint8_t>& out, std::uint32_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 24));
  out.push_back(static_cast<std::uint8_t>(v >> 16));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}
void put_chunk(std::vector<std::uint8_t>& out, const char type[4], const std::uint8_t* data, std::size_t n) {
  require(n <= 0x7FFFFFFFu, "encode_png", "chunk", "must be shorter than 2^31 bytes");
  put_u32be(out, static_cast<std::uint32_t>(n));
  const std::size_t type_at = out.size();
  out.insert(out.end(), type, type + 4);
  if (n) out.insert(out.end(), data, data + n);
  put_u32be(out, crc32(out.data() + type_at, n + 4));
}
}  // namespace

std::uint32_t crc32(const std::uint8_t* data, std::size_t n, std::uint32_t crc) noexcept {
  const auto& t = crc_table();
  std::uint32_t c = crc ^ 0xFFFFFFFFu;
  for (std::size_t i = 0; i < n; ++i) c = t[(c ^ data[i]) & 0xFFu] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::uint32_t adler32(const std::uint8_t* data, std::size_t n, std::uint32_t adler) noexcept {
  constexpr std::uint32_t kMod = 65521;
  std::uint32_t a = adler & 0xFFFFu, b = adler >> 16;
  while (n > 0) {
    // 5552 is the largest run for which b cannot overflow 32 bits before the modulo.
    const std::size_t run = std::min<std::size_t>(n, 5552);
    for (std::size_t i = 0; i < run; ++i) {
      a += data[i];
      b += a;
    }
    a %= kMod;
    b %= kMod;
    data += run;
    n -= run;
  }
  return (b << 16) | a;
}

std::vector<std::uint8_t> zlib_stored(const std::uint8_t* data, std::size_t n) {
  std::vector<std::uint8_t> out;
  out.reserve(n + 6 + 5 * (n / 65535 + 1));
  out.push_back(0x78);  // CMF: deflate, 32 KiB window
  out.push_back(0x01);  // FLG: no dictionary, fastest; (0x78 * 256 + 0x01) % 31 == 0
  std::size_t at = 0;
  do {
    const std::size_t len = std::min<std::size_t>(n - at, 65535);
    const bool last = at + len == n;
    out.push_back(last ? 1 : 0);  // BFINAL, BTYPE = 00 (stored)
    out.push_back(static_cast<std::uint8_t>(len & 0xFF));
    out.push_back(static_cast<std::uint8_t>(len >> 8));
    out.push_back(static_cast<std::uint8_t>(~len & 0xFF));
    out.push_back(static_cast<std::uint8_t>((~len >> 8) & 0xFF));
    if (len) out.insert(out.end(), data + at, data + at + len);
    at += len;
  } while (at < n);
  put_u32be(out, adler32(data, n));
  return out;
}

namespace {
std::vector<std::uint8_t> encode_png(int width, int height, int colour_type, int bytes_per_pixel,
                                     const std::uint8_t* pixels, const std::vector<Rgb>* palette) {
  require(width >= 1 && width <= (1 << 24), "encode_png", "width", "must be in [1, 2^24], got ", width);
  require(height >= 1 && height <= (1 << 24), "encode_png", "height", "must be in [1, 2^24], got ", height);
  require(pixels != nullptr, "encode_png", "pixels", "must not be null");
  const std::size_t row = static_cast<std::size_t>(width) * bytes_per_pixel;
  std::vector<std::uint8_t> raw;
  raw.reserve((row + 1) * static_cast<std::size_t>(height));
  for (int y = 0; y < height; ++y) {
    raw.push_back(0);  // filter type None
    const std::uint8_t* src = pixels + row * static_cast<std::size_t>(y);
    raw.insert(raw.end(), src, src + row);
  }
  std::vector<std::uint8_t> out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  std::vector<std::uint8_t> ihdr;
  put_u32be(ihdr, static_cast<std::uint32_t>(width));
  put_u32be(ihdr, static_cast<std::uint32_t>(height));
  ihdr.push_back(8);  // bit depth
  ihdr.push_back(static_cast<std::uint8_t>(colour_type));
  ihdr.push_back(0);  // compression: deflate
  ihdr.push_back(0);  // filter method 0
  ihdr.push_back(0);  // no interlace
  put_chunk(out, "IHDR", ihdr.data(), ihdr.size());
  if (palette) {
    std::vector<std::uint8_t> plte;
    for (const Rgb& c : *palette) {
      plte.push_back(c.r);
      plte.push_back(c.g);
      plte.push_back(c.b);
    }
    put_chunk(out, "PLTE", plte.data(), plte.size());
  }
  const std::vector<std::uint8_t> z = zlib_stored(raw.data(), raw.size());
  put_chunk(out, "IDAT", z.data(), z.size());
  put_chunk(out, "IEND", nullptr, 0);
  return out;
}
}  // namespace

std::vector<std::uint8_t> encode_png_indexed(int width, int height, const std::uint8_t* indices,
                                             const std::vector<Rgb>& palette) {
  require(!palette.empty() && palette.size() <= 256, "encode_png_indexed", "palette",
          "must have 1..256 entries, got ", palette.size());
  if (indices && width > 0 && height > 0) {
    const std::size_t n = static_cast<std::size_t>(width) * static_cast<std::size_t>(height);
    const std::uint8_t top = *std::max_element(indices, indices + n);
    require(top < palette.size(), "encode_png_indexed", "indices", "must be < palette size ",
            palette.size(), ", found ", static_cast<int>(top));
  }
  return encode_png(width, height, 3, 1, indices, &palette);
}

std::vector<std::uint8_t> encode_png_rgb(int width, int height, const std::uint8_t* rgb) {
  return encode_png(width, height, 2, 3, rgb, nullptr);
}

void write_png_file(const std::string& path, const std::vector<std::uint8_t>& png) {
  write_file_atomic(path, png, "write_png_file");
}

// ---- palette and font -----------------------------------------------------------------------
namespace {
// 5x7 glyphs for ASCII 32..126; row r (top to bottom) bit 4 is the leftmost dot.
constexpr std::uint8_t kFont[95][7] = {
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},  // ' '
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04},  // !
    {0x0A, 0x0A, 0x0A, 0x00, 0x00, 0x00, 0x00},  // "
    {0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A},  // #
    {0x04, 0x0F, 0x14, 0x0E, 0x05, 0x1E, 0x04},  // $
    {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03},  // %
    {0x0C, 0x12, 0x14, 0x08, 0x15, 0x12, 0x0D},  // &
    {0x04, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00},  // '
    {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02},  // (
    {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08},  // )
    {0x00, 0x04, 0x15, 0x0E, 0x15, 0x04, 0x00},  // *
    {0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00},  // +
    {0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08},  // ,
    {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00},  // -
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C},  // .
    {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00},  // /
    {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E},  // 0
    {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E},  // 1
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F},  // 2
    {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E},  // 3
    {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02},  // 4
    {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E},  // 5
    {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E},  // 6
    {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08},  // 7
    {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E},  // 8
    {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C},  // 9
    {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00},  // :
    {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x04, 0x08},  // ;
    {0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02},  // <
    {0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00},  // =
    {0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08},  // >
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04},  // ?
    {0x0E, 0x11, 0x17, 0x15, 0x17, 0x10, 0x0E},  // @
    {0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11},  // A
    {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E},  // B
    {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E},  // C
    {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C},  // D
    {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F},  // E
    {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10},  // F
    {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F},  // G
    {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11},  // H
    {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E},  // I
    {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C},  // J
    {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11},  // K
    {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F},  // L
    {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11},  // M
    {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11},  // N
    {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E},  // O
    {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10},  // P
    {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D},  // Q
    {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11},  // R
    {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E},  // S
    {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04},  // T
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E},  // U
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04},  // V
    {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A},  // W
    {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11},  // X
    {0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04},  // Y
    {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F},  // Z
    {0x0E, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0E},  // [
    {0x00, 0x10, 0x08, 0x04, 0x02, 0x01, 0x00},  // backslash
    {0x0E, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0E},  // ]
    {0x04, 0x0A, 0x11, 0x00, 0x00, 0x00, 0x00},  // ^
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F},  // _
    {0x08, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00},  // `
    {0x00, 0x00, 0x0E, 0x01, 0x0F, 0x11, 0x0F},  // a
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1E},  // b
    {0x00, 0x00, 0x0E, 0x10, 0x10, 0x11, 0x0E},  // c
    {0x01, 0x01, 0x0D, 0x13, 0x11, 0x11, 0x0F},  // d
    {0x00, 0x00, 0x0E, 0x11, 0x1F, 0x10, 0x0E},  // e
    {0x06, 0x09, 0x08, 0x1C, 0x08, 0x08, 0x08},  // f
    {0x00, 0x0F, 0x11, 0x11, 0x0F, 0x01, 0x0E},  // g
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11},  // h
    {0x04, 0x00, 0x0C, 0x04, 0x04, 0x04, 0x0E},  // i
    {0x02, 0x00, 0x06, 0x02, 0x02, 0x12, 0x0C},  // j
    {0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12},  // k
    {0x0C, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E},  // l
    {0x00, 0x00, 0x1A, 0x15, 0x15, 0x11, 0x11},  // m
    {0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11},  // n
    {0x00, 0x00, 0x0E, 0x11, 0x11, 0x11, 0x0E},  // o
    {0x00, 0x00, 0x1E, 0x11, 0x1E, 0x10, 0x10},  // p
    {0x00, 0x00, 0x0D, 0x13, 0x0F, 0x01, 0x01},  // q
    {0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10},  // r
    {0x00, 0x00, 0x0E, 0x10, 0x0E, 0x01, 0x1E},  // s
    {0x08, 0x08, 0x1C, 0x08, 0x08, 0x09, 0x06},  // t
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0D},  // u
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x0A, 0x04},  // v
    {0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0A},  // w
    {0x00, 0x00, 0x11, 0x0A, 0x04, 0x0A, 0x11},  // x
    {0x00, 0x00, 0x11, 0x11, 0x0F, 0x01, 0x0E},  // y
    {0x00, 0x00, 0x1F, 0x02, 0x04, 0x08, 0x1F},  // z
    {0x02, 0x04, 0x04, 0x08, 0x04, 0x04, 0x02},  // {
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04},  // |
    {0x08, 0x04, 0x04, 0x02, 0x04, 0x04, 0x08},  // }
    {0x00, 0x00, 0x08, 0x15, 0x02, 0x00, 0x00},  // ~
};

const std::uint8_t* glyph(char ch) noexcept {
  const auto c = static_cast<unsigned char>(ch);
  return (c >= 32 && c <= 126) ? kFont[c - 32] : kFont['?' - 32];
}

std::vector<Rgb> make_palette() {
  std::vector<Rgb> p = {
      {255, 255, 255}, {0, 0, 0},       {128, 128, 128}, {200, 200, 200}, {31, 119, 180},
      {255, 127, 14},  {44, 160, 44},   {214, 39, 40},   {148, 103, 189}, {140, 86, 75},
      {227, 119, 194}, {188, 189, 34},  {23, 190, 207},  {64, 64, 64},    {235, 235, 235},
      {0, 0, 128}};
  // Colour map: piecewise-linear through anchor colours of a dark-blue -> green -> yellow ramp.
  constexpr double anchors[5][3] = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
  for (int i = 0; i < kColormapSize; ++i) {
    const double t = static_cast<double>(i) / (kColormapSize - 1) * 4.0;
    const int k = std::min(3, static_cast<int>(t));
    const double f = t - k;
    auto mix = [&](int ch) {
      return static_cast<std::uint8_t>(std::lround(anchors[k][ch] * (1 - f) + anchors[k + 1][ch] * f));
    };
    p.push_back({mix(0), mix(1), mix(2)});
  }
  return p;
}
}  // namespace

std::uint8_t colormap(double v) noexcept {
  if (!(v > 0)) v = 0;  // also NaN
  if (v > 1) v = 1;
  return static_cast<std::uint8_t>(kColormapFirst + std::lround(v * (kColormapSize - 1)));
}

// ---- canvas ---------------------------------------------------------------------------------
Canvas::Canvas(int width, int height, std::uint8_t background) : w_(width), h_(height) {
  require(width >= 1 && width <= 16384, "Canvas", "width", "must be in [1, 16384], got ", width);
  require(height >= 1 && height <= 16384, "Canvas", "height", "must be in [1, 16384], got ", height);
  px_.assign(static_cast<std::size_t>(w_) * h_, background);
}

const std::vector<Rgb>& Canvas::palette() {
  static const std::vector<Rgb> p = make_palette();
  return p;
}

void Canvas::pixel(int x, int y, std::uint8_t c) noexcept {
  if (x >= 0 && y >= 0 && x < w_ && y < h_) px_[static_cast<std::size_t>(y) * w_ + x] = c;
}

void Canvas::fill_rect(int x, int y, int w, int h, std::uint8_t c) noexcept {
  const int xa = std::max(0, x), xb = std::min(w_, x + w), ya = std::max(0, y), yb = std::min(h_, y + h);
  for (int j = ya; j < yb; ++j)
    for (int i = xa; i < xb; ++i) px_[static_cast<std::size_t>(j) * w_ + i] = c;
}

void Canvas::rect(int x, int y, int w, int h, std::uint8_t c) noexcept {
  if (w <= 0 || h <= 0) return;
  hline(x, x + w - 1, y, c);
  hline(x, x + w - 1, y + h - 1, c);
  vline(x, y, y + h - 1, c);
  vline(x + w - 1, y, y + h - 1, c);
}

void Canvas::hline(int x0, int x1, int y, std::uint8_t c) noexcept {
  if (x0 > x1) std::swap(x0, x1);
  for (int x = x0; x <= x1; ++x) pixel(x, y, c);
}

void Canvas::vline(int x, int y0, int y1, std::uint8_t c) noexcept {
  if (y0 > y1) std::swap(y0, y1);
  for (int y = std::max(y0, -1); y <= std::min(y1, h_); ++y) pixel(x, y, c);
}

void Canvas::line(int x0, int y0, int x1, int y1, std::uint8_t c) noexcept {
  const int dx = std::abs(x1 - x0), sx = x0 < x1 ? 1 : -1;
  const int dy = -std::abs(y1 - y0), sy = y0 < y1 ? 1 : -1;
  int err = dx + dy;
  for (;;) {
    pixel(x0, y0, c);
    if (x0 == x1 && y0 == y1) break;
    const int e2 = 2 * err;
    if (e2 >= dy) { err += dy; x0 += sx; }
    if (e2 <= dx) { err += dx; y0 += sy; }
  }
}

void Canvas::text(int x, int y, std::string_view s, std::uint8_t c, int scale) noexcept {
  scale = std::max(1, scale);
  for (std::size_t k = 0; k < s.size(); ++k) {
    const std::uint8_t* g = glyph(s[k]);
    const int gx = x + static_cast<int>(k) * 6 * scale;
    for (int r = 0; r < 7; ++r)
      for (int col = 0; col < 5; ++col)
        if (g[r] & (0x10 >> col)) fill_rect(gx + col * scale, y + r * scale, scale, scale, c);
  }
}

void Canvas::text_vertical(int x, int y, std::string_view s, std::uint8_t c, int scale) noexcept {
  // Rotated 90 degrees counter-clockwise: glyph column -> canvas row from the bottom up.
  scale = std::max(1, scale);
  const int len = text_width(s, scale);
  for (std::size_t k = 0; k < s.size(); ++k) {
    const std::uint8_t* g = glyph(s[k]);
    const int base = y + len - static_cast<int>(k) * 6 * scale;  // bottom of this glyph
    for (int r = 0; r < 7; ++r)
      for (int col = 0; col < 5; ++col)
        if (g[r] & (0x10 >> col)) fill_rect(x + r * scale, base - (col + 1) * scale, scale, scale, c);
  }
}

std::vector<std::uint8_t> Canvas::encode_png() const { return encode_png_indexed(w_, h_, px_.data(), palette()); }

void Canvas::save_png(const std::string& path) const { write_png_file(path, encode_png()); }

// ---- plots ----------------------------------------------------------------------------------
std::vector<double> nice_ticks(double lo, double hi, int target) {
  std::vector<double> ticks;
  if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi) || target < 1) return ticks;
  const double raw = (hi - lo) / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double r = raw / mag;
  const double step = (r < 1.5 ? 1.0 : r < 3.5 ? 2.0 : r < 7.5 ? 5.0 : 10.0) * mag;
  for (double t = std::ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step)
    ticks.push_back(std::fabs(t) < step * 1e-9 ? 0.0 : t);
  return ticks;
}

Plot::Plot(Canvas& canvas, int x, int y, int w, int h, double x0, double x1, double y0, double y1)
    : c_(canvas), x_(x), y_(y), w_(w), h_(h), x0_(x0), x1_(x1), y0_(y0), y1_(y1) {
  require(w >= 2 && h >= 2, "Plot", "w, h", "must be >= 2 pixels");
  require(x1 > x0 && std::isfinite(x0) && std::isfinite(x1), "Plot", "x0, x1", "must be finite with x1 > x0, got ", x0, ", ", x1);
  require(y1 > y0 && std::isfinite(y0) && std::isfinite(y1), "Plot", "y0, y1", "must be finite with y1 > y0, got ", y0, ", ", y1);
}

int Plot::px(double x) const noexcept {
  return x_ + static_cast<int>(std::lround((x - x0_) / (x1_ - x0_) * (w_ - 1)));
}
int Plot::py(double y) const noexcept {
  return y_ + h_ - 1 - static_cast<int>(std::lround((y - y0_) / (y1_ - y0_) * (h_ - 1)));
}

Plot& Plot::title(std::string_view t) {
  c_.text(x_, y_ - 11, t, black);
  return *this;
}
Plot& Plot::xlabel(std::string_view t) {
  c_.text(x_ + w_ - Canvas::text_width(t), y_ + h_ + 14, t, dark_grey);
  return *this;
}
Plot& Plot::ylabel(std::string_view t) {
  c_.text_vertical(x_ - 46, y_, t, dark_grey);
  return *this;
}

Plot& Plot::axes(bool grid) {
  char buf[32];
  for (double t : nice_ticks(x0_, x1_, std::max(2, w_ / 90))) {
    const int X = px(t);
    if (grid) for (int Y = y_ + 1; Y < y_ + h_ - 1; Y += 3) c_.pixel(X, Y, light_grey);
    c_.vline(X, y_ + h_, y_ + h_ + 3, black);
    std::snprintf(buf, sizeof buf, "%g", t);
    c_.text(X - Canvas::text_width(buf) / 2, y_ + h_ + 5, buf, black);
  }
  for (double t : nice_ticks(y0_, y1_, std::max(2, h_ / 40))) {
    const int Y = py(t);
    if (grid) for (int X = x_ + 1; X < x_ + w_ - 1; X += 3) c_.pixel(X, Y, light_grey);
    c_.hline(x_ - 4, x_ - 1, Y, black);
    std::snprintf(buf, sizeof buf, "%g", t);
    c_.text(x_ - 6 - Canvas::text_width(buf), Y - 3, buf, black);
  }
  c_.rect(x_, y_, w_, h_, black);
  return *this;
}

template <class T>
Plot& Plot::series_impl(const T* y, std::size_t n, double x_start, double x_step, std::uint8_t color) {
  auto clip_y = [&](double v) {
    const int Y = py(v);
    return std::clamp(Y, y_, y_ + h_ - 1);
  };
  auto inside_x = [&](int X) { return X >= x_ && X < x_ + w_; };
  const double per_px = std::fabs(x_step) * (w_ - 1) / (x1_ - x0_);  // pixels per sample
  if (per_px < 0.5) {
    // Dense: per pixel column, a vertical segment from the minimum to the maximum, joined to
    // the previous column so that the envelope is continuous.
    int col = -1, prev_top = 0, prev_bot = 0;
    double lo = 0, hi = 0;
    bool have_prev = false;
    auto flush = [&] {
      if (col < 0 || !inside_x(col)) return;
      int top = clip_y(hi), bot = clip_y(lo);  // pixel rows grow downwards
      const int own_top = top, own_bot = bot;
      if (have_prev) {
        if (top > prev_bot) top = prev_bot;  // join to the previous column's segment
        if (bot < prev_top) bot = prev_top;
      }
      c_.vline(col, top, bot, color);
      prev_top = own_top;
      prev_bot = own_bot;
      have_prev = true;
    };
    for (std::size_t i = 0; i < n; ++i) {
      const double v = static_cast<double>(y[i]);
      if (!std::isfinite(v)) continue;
      const int X = px(x_start + static_cast<double>(i) * x_step);
      if (X != col) {
        flush();
        col = X;
        lo = hi = v;
      } else {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
    }
    flush();
  } else {
    bool have = false;
    int pxp = 0, pyp = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const double v = static_cast<double>(y[i]);
      if (!std::isfinite(v)) {
        have = false;
        continue;
      }
      const int X = px(x_start + static_cast<double>(i) * x_step), Y = clip_y(v);
      if (have) {
        // Clip horizontally by skipping segments entirely outside.
        if (inside_x(X) || inside_x(pxp)) c_.line(std::clamp(pxp, x_, x_ + w_ - 1), pyp, std::clamp(X, x_, x_ + w_ - 1), Y, color);
      } else if (inside_x(X)) {
        c_.pixel(X, Y, color);
      }
      pxp = X;
      pyp = Y;
      have = true;
    }
  }
  return *this;
}

Plot& Plot::series(const float* y, std::size_t n, double x_start, double x_step, std::uint8_t color) {
  return series_impl(y, n, x_start, x_step, color);
}
Plot& Plot::series(const double* y, std::size_t n, double x_start, double x_step, std::uint8_t color) {
  return series_impl(y, n, x_start, x_step, color);
}

Plot& Plot::heat_map(const float* values, int rows, int cols, double vmin, double vmax) {
  require(values != nullptr && rows >= 1 && cols >= 1, "Plot::heat_map", "values",
          "must be a non-empty rows x cols array");
  require(vmax > vmin, "Plot::heat_map", "vmin, vmax", "must satisfy vmax > vmin");
  for (int Y = 0; Y < h_; ++Y) {
    const int r = std::min(rows - 1, (h_ - 1 - Y) * rows / h_);
    for (int X = 0; X < w_; ++X) {
      const int k = std::min(cols - 1, X * cols / w_);
      const double v = (values[static_cast<std::size_t>(r) * cols + k] - vmin) / (vmax - vmin);
      c_.pixel(x_ + X, y_ + Y, colormap(v));
    }
  }
  return *this;
}

Plot& Plot::legend(std::string_view label, std::uint8_t color) {
  const int tw = Canvas::text_width(label);
  const int X = x_ + w_ - tw - 26, Y = y_ + 6 + legend_rows_ * 11;
  c_.fill_rect(X - 3, Y - 2, tw + 26, 11, white);
  c_.fill_rect(X, Y + 2, 14, 3, color);
  c_.text(X + 18, Y, label, black);
  ++legend_rows_;
  return *this;
}

}  // namespace ssm::io
