#pragma once
// ssm::plot::Figure: a figure described in C++, drawn by matplotlib (tools/plot/ssmkit_plot.py).
// Not part of libssmkit (the library reads and writes data; it does not draw): the ssmkit
// program, the examples and the benches link this small static library, ssmkit_figure.
//
// save("out.png") writes the figure's data next to the PNG, in the folder `out_data/`:
// figure.json (the spec; ssmkit_plot.py documents its fields) and one .npy file per data
// series (float64, or float32 for float input), so the numbers behind a figure can be
// re-plotted or inspected with numpy. It then runs
//     <python> <script> out_data/figure.json out.png
// where <python> is $SSMKIT_PYTHON, else /usr/bin/python3 when it exists (Debian's, which sees
// python3-matplotlib), else python3 on PATH; and <script> is $SSMKIT_PLOT_SCRIPT, else
// ../share/ssmkit/ssmkit_plot.py next to the running program (the installed layout), else the
// source tree's tools/plot/ssmkit_plot.py. A failure (no python, no matplotlib, a bad spec)
// throws ssm::Error naming the PNG, the command's exit status and the data folder.
#include <cstddef>
#include <deque>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ssm::plot {

class Figure;

/// One panel of a figure's grid. Methods return *this for chaining.
class Axes {
public:
  Axes& title(const std::string& s);
  Axes& xlabel(const std::string& s);
  Axes& ylabel(const std::string& s);
  Axes& xlim(double lo, double hi);
  Axes& ylim(double lo, double hi);
  Axes& logx();
  Axes& logy();
  Axes& grid(bool on);
  /// y[i] at x = x0 + i dx.
  Axes& line(const float* y, std::size_t n, double x0, double dx, const std::string& label = "",
             const std::string& color = "");
  Axes& line(const double* y, std::size_t n, double x0, double dx, const std::string& label = "",
             const std::string& color = "");
  /// y[i] at x[i]; style is a matplotlib format string ("-", "-o", "--").
  Axes& line_xy(const std::vector<double>& x, const std::vector<double>& y, const std::string& label = "",
                const std::string& color = "", const std::string& style = "-o");
  /// Spectrogram of the signal y (rate Hz): Hann window of nfft, hop; frequency in kHz;
  /// range_db below the loudest bin of all the figure's spectrograms.
  Axes& specgram(const float* y, std::size_t n, double rate, int nfft = 1024, int hop = 256,
                 double range_db = 80);
  /// 20 log10 |FFT(y)| against frequency in kHz (an impulse response's magnitude response).
  Axes& magnitude(const float* y, std::size_t n, double rate, const std::string& color = "",
                  double range_db = 60);
  /// A rows x cols grid (row-major; row 0 drawn at y0, the bottom; column 0 at x0) over the
  /// rectangle [x0, x1] x [y0, y1], colour-mapped over its own range, with a colour bar label.
  Axes& image(const float* z, int rows, int cols, double x0, double x1, double y0, double y1,
              const std::string& colorbar = "");
  /// A shaded x range [x0, x1] (under the data drawn after it).
  Axes& span(double x0, double x1, const std::string& color = "0.9");

private:
  friend class Figure;
  Axes(Figure* f, std::size_t index) : fig_(f), index_(index) {}
  nlohmann::json& spec();
  template <class T>
  nlohmann::json data(const T* y, std::size_t n);
  Figure* fig_;
  std::size_t index_;
};

class Figure {
public:
  /// A rows x cols grid on a width x height inch canvas (100 dpi: 12 x 9 in = 1200 x 900 px).
  Figure(int rows, int cols, double width_in, double height_in);
  Figure(const Figure&) = delete;
  Figure& operator=(const Figure&) = delete;

  Figure& title(const std::string& s);
  Figure& subtitle(const std::string& s);
  /// The panel at (row, col) spanning rowspan x colspan cells. Throws ssm::Error outside the grid.
  Axes& axes(int row, int col, int rowspan = 1, int colspan = 1);

  /// Writes the data folder and draws `png_path` (see the top of this file). Returns the data folder.
  std::string save(const std::string& png_path) const;

  /// The folder save(png_path) writes its data to: <dir>/<stem>_data.
  static std::string data_dir(const std::string& png_path);

private:
  friend class Axes;
  nlohmann::json spec_;
  std::deque<Axes> axes_;  // stable references
  // Series kept until save(): file name -> values (float or double).
  std::vector<std::pair<std::string, std::vector<float>>> f32_;
  std::vector<std::pair<std::string, std::vector<double>>> f64_;
};

/// The interpreter and script save() runs (see the top of this file).
std::string python_program();
std::string plot_script();

}  // namespace ssm::plot
