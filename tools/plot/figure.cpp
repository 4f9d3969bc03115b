// ssm::plot::Figure (figure.hpp): the spec and data files, then matplotlib in a child process.
#include "figure.hpp"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <type_traits>

#include "ssm/core/error.hpp"
#include "ssm/io/atomic_file.hpp"
#include "ssm/io/npy.hpp"

extern char** environ;

namespace fs = std::filesystem;

namespace ssm::plot {

// ---- Axes -----------------------------------------------------------------------------------

nlohmann::json& Axes::spec() { return fig_->spec_["axes"][index_]; }

template <class T>
nlohmann::json Axes::data(const T* y, std::size_t n) {
  require(y != nullptr || n == 0, "plot::Axes", "y", "must not be null");
  const std::string name = "series" + std::to_string(fig_->f32_.size() + fig_->f64_.size()) + ".npy";
  if constexpr (std::is_same_v<T, float>)
    fig_->f32_.emplace_back(name, std::vector<float>(y, y + n));
  else
    fig_->f64_.emplace_back(name, std::vector<double>(y, y + n));
  return name;
}

Axes& Axes::title(const std::string& s) { spec()["title"] = s; return *this; }
Axes& Axes::xlabel(const std::string& s) { spec()["xlabel"] = s; return *this; }
Axes& Axes::ylabel(const std::string& s) { spec()["ylabel"] = s; return *this; }
Axes& Axes::logx() { spec()["xscale"] = "log"; return *this; }
Axes& Axes::logy() { spec()["yscale"] = "log"; return *this; }
Axes& Axes::grid(bool on) { spec()["grid"] = on; return *this; }

Axes& Axes::xlim(double lo, double hi) {
  require(std::isfinite(lo) && std::isfinite(hi) && hi > lo, "plot::Axes::xlim", "hi", "must be finite and > lo");
  spec()["xlim"] = {lo, hi};
  return *this;
}
Axes& Axes::ylim(double lo, double hi) {
  require(std::isfinite(lo) && std::isfinite(hi) && hi > lo, "plot::Axes::ylim", "hi", "must be finite and > lo");
  spec()["ylim"] = {lo, hi};
  return *this;
}

Axes& Axes::line(const float* y, std::size_t n, double x0, double dx, const std::string& label, const std::string& color) {
  spec()["plots"].push_back({{"kind", "line"}, {"y", data(y, n)}, {"x0", x0}, {"dx", dx}, {"label", label}, {"color", color}});
  return *this;
}
Axes& Axes::line(const double* y, std::size_t n, double x0, double dx, const std::string& label, const std::string& color) {
  spec()["plots"].push_back({{"kind", "line"}, {"y", data(y, n)}, {"x0", x0}, {"dx", dx}, {"label", label}, {"color", color}});
  return *this;
}
Axes& Axes::line_xy(const std::vector<double>& x, const std::vector<double>& y, const std::string& label,
                    const std::string& color, const std::string& style) {
  require(x.size() == y.size(), "plot::Axes::line_xy", "x", "must have as many values as y (", y.size(), "), got ", x.size());
  auto xs = data(x.data(), x.size());
  spec()["plots"].push_back(
      {{"kind", "line"}, {"x", xs}, {"y", data(y.data(), y.size())}, {"label", label}, {"color", color}, {"style", style}});
  return *this;
}
Axes& Axes::specgram(const float* y, std::size_t n, double rate, int nfft, int hop, double range_db) {
  require(rate > 0, "plot::Axes::specgram", "rate", "must be > 0 Hz, got ", rate);
  require(nfft >= 2 && hop >= 1, "plot::Axes::specgram", "nfft", "must be >= 2 with hop >= 1");
  spec()["plots"].push_back({{"kind", "specgram"}, {"y", data(y, n)}, {"rate", rate}, {"nfft", nfft}, {"hop", hop},
                             {"range_db", range_db}, {"freq_scale", 1e-3}, {"colorbar", "dB"}});
  spec()["grid"] = false;
  return *this;
}
Axes& Axes::magnitude(const float* y, std::size_t n, double rate, const std::string& color, double range_db) {
  require(rate > 0, "plot::Axes::magnitude", "rate", "must be > 0 Hz, got ", rate);
  spec()["plots"].push_back({{"kind", "magnitude"}, {"y", data(y, n)}, {"rate", rate}, {"freq_scale", 1e-3},
                             {"range_db", range_db}, {"color", color}});
  return *this;
}
Axes& Axes::image(const float* z, int rows, int cols, double x0, double x1, double y0, double y1,
                  const std::string& colorbar) {
  require(rows >= 1 && cols >= 1, "plot::Axes::image", "rows", "and cols must be >= 1, got ", rows, " x ", cols);
  require(x1 > x0 && y1 > y0, "plot::Axes::image", "x1", "must be > x0 and y1 > y0");
  spec()["plots"].push_back({{"kind", "image"}, {"z", data(z, static_cast<std::size_t>(rows) * cols)}, {"rows", rows},
                             {"cols", cols}, {"extent", {x0, x1, y0, y1}}, {"colorbar", colorbar}});
  spec()["grid"] = false;
  return *this;
}
Axes& Axes::span(double x0, double x1, const std::string& color) {
  spec()["spans"].push_back({{"x0", x0}, {"x1", x1}, {"color", color}});
  return *this;
}

// ---- Figure ---------------------------------------------------------------------------------

Figure::Figure(int rows, int cols, double width_in, double height_in) {
  require(rows >= 1 && cols >= 1, "plot::Figure", "rows", "and cols must be >= 1, got ", rows, " x ", cols);
  require(width_in > 0 && height_in > 0 && width_in < 100 && height_in < 100, "plot::Figure", "width_in",
          "and height_in must be in (0, 100) inches");
  spec_ = {{"grid", {rows, cols}}, {"size", {width_in, height_in}}, {"dpi", 100}, {"axes", nlohmann::json::array()}};
}

Figure& Figure::title(const std::string& s) { spec_["title"] = s; return *this; }
Figure& Figure::subtitle(const std::string& s) { spec_["subtitle"] = s; return *this; }

Axes& Figure::axes(int row, int col, int rowspan, int colspan) {
  const int rows = spec_["grid"][0], cols = spec_["grid"][1];
  require(row >= 0 && col >= 0 && rowspan >= 1 && colspan >= 1 && row + rowspan <= rows && col + colspan <= cols,
          "plot::Figure::axes", "row", "(", row, ", ", col, ") spanning ", rowspan, " x ", colspan,
          " must lie in the ", rows, " x ", cols, " grid");
  spec_["axes"].push_back({{"at", {row, col, rowspan, colspan}}, {"plots", nlohmann::json::array()}});
  axes_.push_back(Axes(this, axes_.size()));
  return axes_.back();
}

std::string Figure::data_dir(const std::string& png_path) {
  const fs::path p(png_path);
  return (p.parent_path() / (p.stem().string() + "_data")).string();
}

std::string python_program() {
  if (const char* e = std::getenv("SSMKIT_PYTHON"); e && *e) return e;
  if (::access("/usr/bin/python3", X_OK) == 0) return "/usr/bin/python3";
  return "python3";
}

std::string plot_script() {
  if (const char* e = std::getenv("SSMKIT_PLOT_SCRIPT"); e && *e) return e;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path installed = exe.parent_path().parent_path() / "share" / "ssmkit" / "ssmkit_plot.py";
    if (fs::is_regular_file(installed, ec)) return installed.string();
  }
  return SSM_PLOT_SCRIPT_SOURCE;
}

std::string Figure::save(const std::string& png_path) const {
  const std::string where = "plot::Figure::save";
  require(!png_path.empty(), where.c_str(), "png_path", "must not be empty");
  const std::string dir = data_dir(png_path);
  std::error_code ec;
  fs::create_directories(dir, ec);
  require(fs::is_directory(dir, ec), where.c_str(), "png_path", "'", png_path, "': cannot create the data folder '", dir, "'");
  for (const auto& [name, v] : f32_) io::save_npy<float>((fs::path(dir) / name).string(), {std::int64_t(v.size())}, v.data(), v.size());
  for (const auto& [name, v] : f64_) io::save_npy<double>((fs::path(dir) / name).string(), {std::int64_t(v.size())}, v.data(), v.size());
  const std::string spec_path = (fs::path(dir) / "figure.json").string();
  const std::string text = spec_.dump(1) + "\n";
  io::write_file_atomic(spec_path, text.data(), text.size(), where.c_str());

  const std::string python = python_program(), script = plot_script();
  std::vector<std::string> args = {python, script, spec_path, png_path};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, python.c_str(), nullptr, nullptr, argv.data(), environ);
  require(rc == 0, where.c_str(), "png_path", "'", png_path, "': cannot run '", python, "': ", std::strerror(rc),
          " (figures need python3 with python3-matplotlib); the data is in ", dir);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  require(ok, where.c_str(), "png_path", "'", png_path, "': '", python, " ", script, "' failed (exit status ",
          WIFEXITED(status) ? WEXITSTATUS(status) : -1, "; matplotlib needs python3-matplotlib); the data is in ", dir);
  return dir;
}

}  // namespace ssm::plot
