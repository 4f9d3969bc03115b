#pragma once
// Boost.Test checks shared by the test programs (include after <boost/test/unit_test.hpp>).
#include <string>
#include <utility>
#include <vector>

#include "ssm/core/error.hpp"

namespace ssm::test {

/// The message of the ssm::Error that f() throws, or "no throw".
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no throw";
}

/// f() must throw ssm::Error whose message contains every one of `parts` (the argument's name,
/// the expectation, ...).
template <class F>
void expect_error(F&& f, const std::vector<std::string>& parts) {
  try {
    f();
    BOOST_ERROR("no ssm::Error; expected one naming " << (parts.empty() ? std::string() : parts.front()));
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const auto& p : parts) BOOST_TEST(msg.find(p) != std::string::npos, "'" << p << "' not in: " << msg);
  }
}

template <class F>
void expect_error(F&& f, const char* part) {
  expect_error(std::forward<F>(f), std::vector<std::string>{part});
}

}  // namespace ssm::test
