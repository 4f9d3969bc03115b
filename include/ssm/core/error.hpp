#pragma once
// ssm::Error: the one exception type of ssmkit.
//
// Every invalid input (wrong shape, NaN/Inf where not allowed, dt <= 0, unstable A for a
// method that needs stability, malformed file) raises ssm::Error with a message that names
// the argument and states what was expected. Errors are raised only outside real-time paths:
// prepare()/constructors validate, process()/reset() never throw.
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace ssm {

class Error : public std::runtime_error {
public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
template <class... Args>
std::string concat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}
}  // namespace detail

/// Throws ssm::Error("<where>: argument '<arg>' <expectation>").
/// Use: require(dt > 0, "discretize", "dt", "must be > 0, got ", dt);
template <class... Args>
inline void require(bool ok, const char* where, const char* arg, Args&&... expectation) {
  if (!ok)
    throw Error(detail::concat(where, ": argument '", arg, "' ",
                               std::forward<Args>(expectation)...));
}

/// Throws unconditionally with the same message layout as require().
template <class... Args>
[[noreturn]] inline void fail(const char* where, const char* arg, Args&&... expectation) {
  throw Error(detail::concat(where, ": argument '", arg, "' ",
                             std::forward<Args>(expectation)...));
}

}  // namespace ssm
