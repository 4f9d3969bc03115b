#pragma once
// A small self-contained PNG writer and raster plotter (no external dependencies), used by the
// ssmkit program and the examples to draw figures: waveforms, spectrograms, impulse responses.
//
// PNG encoding (RFC 2083 / ISO 15948): the 8-byte signature, then chunks
//   length (u32 big-endian) | type (4 ASCII) | data | CRC-32 of type+data (u32 big-endian)
// IHDR (width, height, bit depth 8, colour type 3 = indexed, no interlace), PLTE (the palette,
// 3 bytes per entry), IDAT (one zlib stream of the filtered scanlines), IEND. Each scanline is
// one filter-type byte (0, None) then `width` palette indices. The zlib stream (RFC 1950) is the
// header 0x78 0x01, the data as deflate (RFC 1951) "stored" blocks of at most 65535 bytes
// (BFINAL/BTYPE=00 byte, LEN, NLEN = ~LEN, little-endian, then LEN raw bytes) and the Adler-32
// of the uncompressed data (big-endian). Nothing is compressed: an indexed image costs about
// one byte per pixel, which keeps the encoder a few dozen lines and trivially correct.
//
// CRC-32: the reflected polynomial 0xEDB88320, initial value and final xor 0xFFFFFFFF
//   (crc32("123456789") = 0xCBF43926).
// Adler-32: A = 1 + sum of bytes, B = sum of the A's, both mod 65521, value B << 16 | A
//   (adler32("Wikipedia") = 0x11E60398).
//
// Plotting: a Canvas holds palette indices. Colours 0..15 are fixed named colours (Color);
// 16..255 are a perceptually ordered dark-blue -> yellow colour map used by heat maps
// (colormap(v) maps v in [0, 1] to one of those 240 entries). Text uses a built-in 5x7 bitmap
// font (ASCII 32..126; lower case is drawn as upper case). A Plot is an axes rectangle on a
// canvas with data limits, "nice" ticks (1, 2, 5 x 10^k) and labels; it draws line series
// (long series are drawn as a per-pixel-column min/max envelope, so every peak stays visible)
// and heat maps. Coordinates are pixels, origin top-left; drawing is clipped to the canvas.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ssm::io {

/// CRC-32 (PNG/zlib/gzip polynomial) of `n` bytes, continuing from `crc` (0 to start).
std::uint32_t crc32(const std::uint8_t* data, std::size_t n, std::uint32_t crc = 0) noexcept;
/// Adler-32 of `n` bytes, continuing from `adler` (1 to start).
std::uint32_t adler32(const std::uint8_t* data, std::size_t n, std::uint32_t adler = 1) noexcept;

/// zlib stream of `n` bytes with deflate "stored" blocks (no compression).
std::vector<std::uint8_t> zlib_stored(const std::uint8_t* data, std::size_t n);

struct Rgb {
  std::uint8_t r = 0, g = 0, b = 0;
};

/// An indexed-colour PNG image of width x height palette indices (row-major); `palette` has
/// 1..256 entries and every index must be < palette.size(). Throws ssm::Error otherwise
/// (also for width or height < 1 or > 2^24).
std::vector<std::uint8_t> encode_png_indexed(int width, int height, const std::uint8_t* indices,
                                             const std::vector<Rgb>& palette);
/// A truecolour (colour type 2) PNG of width x height RGB triples (row-major).
std::vector<std::uint8_t> encode_png_rgb(int width, int height, const std::uint8_t* rgb);
/// Writes bytes atomically (temporary file next to `path`, then rename). Throws ssm::Error.
void write_png_file(const std::string& path, const std::vector<std::uint8_t>& png);

/// The fixed colours of a Canvas palette (indices 0..15).
enum Color : std::uint8_t {
  white = 0, black, grey, light_grey, blue, orange, green, red, purple, brown, pink, olive, cyan,
  dark_grey, very_light_grey, navy
};
inline constexpr int kColormapFirst = 16, kColormapSize = 240;
/// Palette index of v in [0, 1] on the colour map (clamped: values outside are drawn at the ends).
std::uint8_t colormap(double v) noexcept;

class Canvas {
public:
  /// width, height in [1, 16384]; filled with `background`.
  Canvas(int width, int height, std::uint8_t background = white);

  int width() const noexcept { return w_; }
  int height() const noexcept { return h_; }
  std::uint8_t at(int x, int y) const noexcept { return px_[static_cast<std::size_t>(y) * w_ + x]; }
  const std::vector<std::uint8_t>& pixels() const noexcept { return px_; }
  static const std::vector<Rgb>& palette();

  void pixel(int x, int y, std::uint8_t c) noexcept;
  void fill_rect(int x, int y, int w, int h, std::uint8_t c) noexcept;
  void rect(int x, int y, int w, int h, std::uint8_t c) noexcept;  // 1-pixel outline
  void hline(int x0, int x1, int y, std::uint8_t c) noexcept;
  void vline(int x, int y0, int y1, std::uint8_t c) noexcept;
  void line(int x0, int y0, int x1, int y1, std::uint8_t c) noexcept;  // Bresenham, inclusive
  /// Text with the 5x7 font, top-left at (x, y); `scale` >= 1 magnifies each dot.
  void text(int x, int y, std::string_view s, std::uint8_t c, int scale = 1) noexcept;
  /// Text rotated 90 degrees counter-clockwise (reads bottom to top), top-left at (x, y).
  void text_vertical(int x, int y, std::string_view s, std::uint8_t c, int scale = 1) noexcept;
  static int text_width(std::string_view s, int scale = 1) noexcept { return static_cast<int>(s.size()) * 6 * scale; }
  static int text_height(int scale = 1) noexcept { return 7 * scale; }

  std::vector<std::uint8_t> encode_png() const;
  void save_png(const std::string& path) const;

private:
  int w_, h_;
  std::vector<std::uint8_t> px_;
};

/// "Nice" tick positions covering [lo, hi] with about `target` ticks (step 1, 2 or 5 x 10^k).
std::vector<double> nice_ticks(double lo, double hi, int target = 5);

/// An axes rectangle on a canvas: frame, title, axis labels, ticks, clipped data drawing.
class Plot {
public:
  /// The frame occupies (x, y, w, h) pixels; labels and ticks are drawn outside it (leave
  /// ~48 pixels on the left, ~24 below and ~14 above). Requires x1 > x0 and y1 > y0.
  Plot(Canvas& canvas, int x, int y, int w, int h, double x0, double x1, double y0, double y1);

  Plot& title(std::string_view t);
  Plot& xlabel(std::string_view t);
  Plot& ylabel(std::string_view t);
  /// Draws the frame, grid lines and tick labels (call after the data so the frame is on top,
  /// or before for a grid under the data; both are fine).
  Plot& axes(bool grid = true);

  /// y[i] at x = x_start + i * x_step, i < n. Non-finite values are skipped.
  Plot& series(const float* y, std::size_t n, double x_start, double x_step, std::uint8_t color);
  Plot& series(const double* y, std::size_t n, double x_start, double x_step, std::uint8_t color);
  /// values (rows x cols, row-major; row 0 at y0 = the bottom, col 0 at x0 = the left) mapped
  /// linearly from [vmin, vmax] onto the colour map, scaled to fill the frame.
  Plot& heat_map(const float* values, int rows, int cols, double vmin, double vmax);
  /// A legend entry (short line + text) at the frame's top-right, stacked downwards.
  Plot& legend(std::string_view label, std::uint8_t color);

  int px(double x) const noexcept;
  int py(double y) const noexcept;

private:
  template <class T>
  Plot& series_impl(const T* y, std::size_t n, double x_start, double x_step, std::uint8_t color);
  Canvas& c_;
  int x_, y_, w_, h_;
  double x0_, x1_, y0_, y1_;
  int legend_rows_ = 0;
};

}  // namespace ssm::io
