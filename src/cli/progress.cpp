// Progress bar of the ssmkit program (engine.hpp).
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "engine.hpp"

namespace ssm::cli {

Progress::Progress(double total, std::string label) { reset(total, std::move(label)); }
Progress::~Progress() { finish(); }

void Progress::reset(double total, std::string label) {
  finish();
  total_ = total;
  done_ = 0;
  label_ = std::move(label);
  start_ = last_draw_ = std::chrono::steady_clock::now();
  enabled_ = total > 0 && ::isatty(2) == 1;
  drawn_ = false;
}

void Progress::advance(double units) {
  done_ += units;
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - start_ < std::chrono::seconds(1) || now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double f = std::clamp(done_ / total_, 0.0, 1.0);
  constexpr int kWidth = 40;
  const int fill = static_cast<int>(f * kWidth);
  std::string bar(static_cast<std::size_t>(fill), '#');
  bar.append(static_cast<std::size_t>(kWidth - fill), '.');
  std::fprintf(stderr, "\r%s [%s] %3.0f%%", label_.c_str(), bar.c_str(), 100 * f);
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::finish() {
  if (drawn_) {
    std::fprintf(stderr, "\r%*s\r", static_cast<int>(label_.size()) + 50, "");
    std::fflush(stderr);
  }
  drawn_ = false;
  enabled_ = false;
}

}  // namespace ssm::cli
