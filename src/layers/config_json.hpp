#pragma once
// Internal: typed access to the ssmkit.config JSON of a model file, with errors that name the
// key and what was expected. Every key of the file must be known: each accessor (and has())
// marks its key as known, and finish(), called once the family has asked for all of its keys,
// rejects any other key by name (a misspelt or foreign key such as "pre_norm" would otherwise
// load a model with another meaning silently).
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "ssm/core/error.hpp"
#include "ssm/layers/activation.hpp"

namespace ssm::layers_detail {

class ConfigJson {
public:
  /// `what` names the document in messages ("ssmkit.config", "config.json").
  ConfigJson(const std::string& text, std::string where, std::string what = "ssmkit.config")
      : where_(std::move(where)), what_(std::move(what)) {
    try {
      j_ = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
      throw Error(where_ + ": " + what_ + " is not valid JSON: " + e.what());
    }
    if (!j_.is_object()) throw Error(where_ + ": " + what_ + " must be a JSON object, got: " + text.substr(0, 80));
  }

  bool has(const char* key) const {
    known_.insert(key);
    return j_.contains(key) && !j_[key].is_null();
  }
  /// Marks keys as known without reading them (keys that carry no meaning for the computation,
  /// e.g. training-only settings of a foreign config).
  void accept(std::initializer_list<const char*> keys) const {
    for (const char* k : keys) known_.insert(k);
  }
  /// Throws ssm::Error naming the first key nobody asked for, with the keys that are known.
  void finish() const {
    for (const auto& item : j_.items()) {
      if (known_.count(item.key())) continue;
      std::string list;
      for (const auto& k : known_) list += (list.empty() ? "" : ", ") + k;
      throw Error(where_ + ": " + what_ + " key '" + item.key() + "' is not known (known keys: " + list + ")");
    }
  }

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
    throw Error(where_ + ": " + what_ + " key '" + key + "' must be an integer, got " + v.dump());
  }
  double number(const char* key, std::optional<double> fallback = std::nullopt) const {
    if (!has(key)) return required<double>(key, fallback, "a number");
    const auto& v = j_[key];
    if (!v.is_number()) throw Error(where_ + ": " + what_ + " key '" + key + "' must be a number, got " + v.dump());
    return v.get<double>();
  }
  bool boolean(const char* key, std::optional<bool> fallback = std::nullopt) const {
    if (!has(key)) return required<bool>(key, fallback, "true or false");
    const auto& v = j_[key];
    if (!v.is_boolean()) throw Error(where_ + ": " + what_ + " key '" + key + "' must be true or false, got " + v.dump());
    return v.get<bool>();
  }
  std::string string(const char* key, std::optional<std::string> fallback = std::nullopt) const {
    if (!has(key)) return required<std::string>(key, fallback, "a string");
    const auto& v = j_[key];
    if (!v.is_string()) throw Error(where_ + ": " + what_ + " key '" + key + "' must be a string, got " + v.dump());
    return v.get<std::string>();
  }
  const nlohmann::json& raw(const char* key) const {
    known_.insert(key);
    return j_[key];
  }
  /// A string key naming one of `options` (the value of the first whose name matches);
  /// `fallback` when absent. Anything else: an error listing the names.
  template <class E>
  E choice(const char* key, std::initializer_list<std::pair<const char*, E>> options,
           std::optional<E> fallback = std::nullopt) const {
    if (!has(key) && fallback) return *fallback;
    const std::string v = string(key);
    std::string names;
    std::size_t i = 0;
    for (const auto& [name, value] : options) {
      if (v == name) return value;
      names += std::string(i == 0 ? "" : i + 1 == options.size() ? " or " : ", ") + "\"" + name + "\"";
      ++i;
    }
    bad(key, "must be " + names + ", got \"" + v + "\"");
  }
  /// "activation"-style keys: gelu | silu | relu | identity (activation.hpp).
  Activation activation(const char* key, std::optional<Activation> fallback = std::nullopt) const {
    return choice<Activation>(key,
                              {{"gelu", Activation::gelu},
                               {"silu", Activation::silu},
                               {"relu", Activation::relu},
                               {"identity", Activation::identity}},
                              fallback);
  }
  /// A key that may be given but must then have the one value ssmkit computes (`why` says why).
  void fixed_string(const char* key, const std::string& value, const char* why) const {
    if (has(key) && string(key) != value) bad(key, "must be \"" + value + "\" " + why);
  }
  void fixed_bool(const char* key, bool value, const char* why) const {
    if (has(key) && boolean(key) != value) bad(key, std::string("must be ") + (value ? "true " : "false ") + why);
  }
  [[noreturn]] void bad(const char* key, const std::string& expectation) const {
    throw Error(where_ + ": " + what_ + " key '" + key + "' " + expectation);
  }

private:
  template <class V>
  V required(const char* key, const std::optional<V>& fallback, const char* what) const {
    if (fallback) return *fallback;
    throw Error(where_ + ": " + what_ + " key '" + key + "' is missing (expected " + what + ")");
  }
  nlohmann::json j_;
  std::string where_;
  std::string what_;
  mutable std::set<std::string> known_;
};

/// The Mamba-style inner width: "d_inner", or "expand" (default 2) times d_model, which must
/// give a positive integer (`width_key` names d_model in the family's config, for the message).
/// Both given: they must agree.
inline int inner_size(ConfigJson& j, int d_model, const char* width_key) {
  const bool has_expand = j.has("expand");
  if (j.has("d_inner")) {
    const int di = j.integer("d_inner");
    if (has_expand && j.number("expand") * d_model != double(di))
      j.bad("expand", std::string("must equal d_inner / ") + width_key + " when both are given, got " +
                          j.raw("expand").dump() + " with d_inner = " + std::to_string(di));
    return di;
  }
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
