#pragma once
// Model files: a safetensors file holding a model's weights by the parameter names of the
// PyTorch module it was trained as, plus two `__metadata__` keys:
//
//   ssmkit.arch    "mamba" | "s4d"                     which model class reads it
//   ssmkit.config  JSON object: sizes, n_layers, norm placement, activation, d_input/d_output
//                  (the fields of MambaModelConfig / S4DModelConfig; docs/models.md lists them)
//
// Loading validates everything before any weight is used: the metadata keys exist and parse,
// the config is consistent, every tensor the config implies is present with the exact shape
// and a floating dtype (F32, F64, BF16 or F16; converted to the compute type T), and no other
// tensor is present (a leftover tensor means the file and config disagree, e.g. n_layers).
// Every failure throws ssm::Error naming the file, the tensor or key, and what was expected.
#include <cmath>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "ssm/core/error.hpp"
#include "ssm/io/safetensors.hpp"

namespace ssm {

/// The `ssmkit.arch` of a model file; throws ssm::Error when absent.
std::string model_arch(const io::SafeTensors& file);

/// Reads and validates the tensors of a model file by name, remembering which were read so
/// that finish() can reject tensors nobody asked for.
class TensorReader {
public:
  TensorReader(const io::SafeTensors& file, std::string where);

  /// Values of tensor `name` converted to T. Throws ssm::Error naming the tensor when it is
  /// absent, has another shape than `shape`, or a non-floating dtype.
  template <class T>
  std::vector<T> read(const std::string& name, const std::vector<std::int64_t>& shape);
  /// read() when present, an empty vector when absent (optional parameters such as biases).
  template <class T>
  std::vector<T> read_optional(const std::string& name, const std::vector<std::int64_t>& shape);
  /// Reads the first of `names` that is present (alternative spellings of one parameter).
  template <class T>
  std::vector<T> read_any(const std::vector<std::string>& names,
                          const std::vector<std::vector<std::int64_t>>& shapes);

  bool has(const std::string& name) const noexcept { return file_.has(name); }
  /// Shape of a present tensor (throws naming it when absent).
  std::vector<std::int64_t> shape(const std::string& name) const;
  /// Shape of a present tensor of rank `rank` (throws naming it when absent or of another rank).
  std::vector<std::int64_t> shape(const std::string& name, std::size_t rank) const;
  /// Throws ssm::Error listing the tensors of the file that were never read.
  void finish() const;

  const io::SafeTensors& file() const noexcept { return file_; }

private:
  void check(const std::string& name, const std::vector<std::int64_t>& shape) const;
  const io::SafeTensors& file_;
  std::string where_;
  std::set<std::string> used_;
};

extern template std::vector<float> TensorReader::read<float>(const std::string&, const std::vector<std::int64_t>&);
extern template std::vector<double> TensorReader::read<double>(const std::string&, const std::vector<std::int64_t>&);
extern template std::vector<float> TensorReader::read_optional<float>(const std::string&, const std::vector<std::int64_t>&);
extern template std::vector<double> TensorReader::read_optional<double>(const std::string&, const std::vector<std::int64_t>&);
extern template std::vector<float> TensorReader::read_any<float>(const std::vector<std::string>&, const std::vector<std::vector<std::int64_t>>&);
extern template std::vector<double> TensorReader::read_any<double>(const std::vector<std::string>&, const std::vector<std::vector<std::int64_t>>&);

/// Validates a parameter handed to a layer's constructor: v must hold n finite values (an
/// optional one may also be empty). Throws ssm::Error("<where>: argument '<name>' must have n
/// elements[ (or none)], got m" / "... must be finite").
template <class T>
void check_param(const std::vector<T>& v, std::size_t n, const char* where, const std::string& name,
                 bool optional = false) {
  if (optional && v.empty()) return;
  require(v.size() == n, where, name.c_str(), "must have ", n, " elements", optional ? " (or none)" : "", ", got ",
          v.size());
  for (const T& x : v) require(std::isfinite(static_cast<double>(x)), where, name.c_str(), "must be finite");
}

/// "(2, 3, 4)" for messages.
std::string shape_string(const std::vector<std::int64_t>& shape);

}  // namespace ssm
