#pragma once
// Agreement of a bench's result with its reference, printed next to the timings.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace ssm::bench {

/// max |a - ref| / max |ref| (the absolute difference when ref is all zeros).
inline double max_rel_diff(const std::vector<float>& a, const std::vector<float>& ref) {
  double err = 0, mag = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    err = std::max(err, static_cast<double>(std::abs(a[i] - ref[i])));
    mag = std::max(mag, static_cast<double>(std::abs(ref[i])));
  }
  return mag > 0 ? err / mag : err;
}

}  // namespace ssm::bench
