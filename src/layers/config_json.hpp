#pragma once
// Internal: typed access to the ssmkit.config JSON of a model file, with errors that name the
// key and what was expected. Unknown keys are ignored (exporters may add informational ones).
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "ssm/core/error.hpp"

namespace ssm::layers_detail {

class ConfigJson {
public:
  ConfigJson(const std::string& text, std::string where) : where_(std::move(where)) {
    try {
      j_ = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
      throw Error(where_ + ": ssmkit.config is not valid JSON: " + e.what());
    }
    if (!j_.is_object()) throw Error(where_ + ": ssmkit.config must be a JSON object, got: " + text.substr(0, 80));
  }

  bool has(const char* key) const { return j_.contains(key) && !j_[key].is_null(); }

  int integer(const char* key, std::optional<int> fallback = std::nullopt) const {
    if (!has(key)) return required<int>(key, fallback, "an integer");
    const auto& v = j_[key];
    if (v.is_number_integer()) {
      const auto x = v.get<long long>();
      if (x >= -2147483647LL && x <= 2147483647LL) return static_cast<int>(x);
    }
    if (v.is_number_float()) {
      const double d = v.get<double>();
      if (d == std::floor(d) && std::fabs(d) < 2147483647.0) return static_cast<int>(d);
    }
    throw Error(where_ + ": ssmkit.config key '" + key + "' must be an integer, got " + v.dump());
  }
  double number(const char* key, std::optional<double> fallback = std::nullopt) const {
    if (!has(key)) return required<double>(key, fallback, "a number");
    const auto& v = j_[key];
    if (!v.is_number()) throw Error(where_ + ": ssmkit.config key '" + key + "' must be a number, got " + v.dump());
    return v.get<double>();
  }
  bool boolean(const char* key, std::optional<bool> fallback = std::nullopt) const {
    if (!has(key)) return required<bool>(key, fallback, "true or false");
    const auto& v = j_[key];
    if (!v.is_boolean()) throw Error(where_ + ": ssmkit.config key '" + key + "' must be true or false, got " + v.dump());
    return v.get<bool>();
  }
  std::string string(const char* key, std::optional<std::string> fallback = std::nullopt) const {
    if (!has(key)) return required<std::string>(key, fallback, "a string");
    const auto& v = j_[key];
    if (!v.is_string()) throw Error(where_ + ": ssmkit.config key '" + key + "' must be a string, got " + v.dump());
    return v.get<std::string>();
  }
  const nlohmann::json& raw(const char* key) const { return j_[key]; }
  [[noreturn]] void bad(const char* key, const std::string& expectation) const {
    throw Error(where_ + ": ssmkit.config key '" + key + "' " + expectation);
  }

private:
  template <class V>
  V required(const char* key, const std::optional<V>& fallback, const char* what) const {
    if (fallback) return *fallback;
    throw Error(where_ + ": ssmkit.config key '" + key + "' is missing (expected " + what + ")");
  }
  nlohmann::json j_;
  std::string where_;
};

/// The Mamba-style inner width: "d_inner", or "expand" (default 2) times d_model, which must
/// give a positive integer (`width_key` names d_model in the family's config, for the message).
inline int inner_size(ConfigJson& j, int d_model, const char* width_key) {
  if (j.has("d_inner")) return j.integer("d_inner");
  const double expand = j.number("expand", 2.0);
  const double di = expand * d_model;
  if (!(expand > 0) || di != std::floor(di))
    j.bad("expand", std::string("must make expand * ") + width_key + " a positive integer");
  return static_cast<int>(di);
}

/// "dt_rank": an integer, or "auto" (the default) = ceil(d_model / 16), mamba_ssm's choice.
inline int dt_rank(ConfigJson& j, int d_model) {
  if (j.has("dt_rank") && j.raw("dt_rank").is_string()) {
    if (j.string("dt_rank") != "auto") j.bad("dt_rank", "must be an integer or \"auto\"");
    return (d_model + 15) / 16;
  }
  return j.integer("dt_rank", (d_model + 15) / 16);
}

}  // namespace ssm::layers_detail
