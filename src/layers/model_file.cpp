#include "ssm/layers/model_file.hpp"

#include <cmath>
#include <sstream>

#include "ssm/core/error.hpp"

namespace ssm {

std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::ostringstream os;
  os << '(';
  for (std::size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << ')';
  return os.str();
}

std::string model_arch(const io::SafeTensors& file) {
  const auto& m = file.metadata();
  auto it = m.find("ssmkit.arch");
  if (it == m.end())
    throw Error("model file '" + file.origin() +
                "': __metadata__ key 'ssmkit.arch' is missing (expected \"mamba\" or \"s4d\"; "
                "is this a model file written by the ssmkit exporters?)");
  return it->second;
}

TensorReader::TensorReader(const io::SafeTensors& file, std::string where)
    : file_(file), where_(std::move(where)) {}

void TensorReader::check(const std::string& name, const std::vector<std::int64_t>& shape) const {
  const std::string pre = where_ + ": model file '" + file_.origin() + "': tensor '" + name + "' ";
  if (!file_.has(name)) throw Error(pre + "is missing (expected shape " + shape_string(shape) + ")");
  const auto& info = file_.info(name);
  const bool floating = info.dtype == io::DType::F32 || info.dtype == io::DType::F64 ||
                        info.dtype == io::DType::BF16 || info.dtype == io::DType::F16;
  if (!floating)
    throw Error(pre + "has dtype " + io::to_string(info.dtype) +
                ", expected a floating dtype (F32, F64, BF16 or F16)");
  if (info.shape != shape)
    throw Error(pre + "has shape " + shape_string(info.shape) + ", expected " + shape_string(shape));
}

template <class T>
std::vector<T> TensorReader::read(const std::string& name, const std::vector<std::int64_t>& shape) {
  check(name, shape);
  used_.insert(name);
  auto v = file_.as<T>(name);
  for (std::size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(static_cast<double>(v[i])))
      throw Error(where_ + ": model file '" + file_.origin() + "': tensor '" + name +
                  "' must be finite, element " + std::to_string(i) + " is " +
                  std::to_string(static_cast<double>(v[i])));
  return v;
}

template <class T>
std::vector<T> TensorReader::read_optional(const std::string& name, const std::vector<std::int64_t>& shape) {
  if (!file_.has(name)) return {};
  return read<T>(name, shape);
}

template <class T>
std::vector<T> TensorReader::read_any(const std::vector<std::string>& names,
                                      const std::vector<std::vector<std::int64_t>>& shapes) {
  for (const auto& n : names) {
    if (!file_.has(n)) continue;
    const auto& s = file_.info(n).shape;
    for (const auto& want : shapes)
      if (s == want) return read<T>(n, want);
    std::string expect;
    for (std::size_t i = 0; i < shapes.size(); ++i) expect += (i ? " or " : "") + shape_string(shapes[i]);
    throw Error(where_ + ": model file '" + file_.origin() + "': tensor '" + n + "' has shape " +
                shape_string(s) + ", expected " + expect);
  }
  std::string all;
  for (std::size_t i = 0; i < names.size(); ++i) all += (i ? "' or '" : "") + names[i];
  throw Error(where_ + ": model file '" + file_.origin() + "': tensor '" + all + "' is missing (expected shape " +
              shape_string(shapes.front()) + ")");
}

std::vector<std::int64_t> TensorReader::shape(const std::string& name) const {
  if (!file_.has(name))
    throw Error(where_ + ": model file '" + file_.origin() + "': tensor '" + name + "' is missing");
  return file_.info(name).shape;
}

std::vector<std::int64_t> TensorReader::shape(const std::string& name, std::size_t rank) const {
  auto s = shape(name);
  if (s.size() != rank)
    throw Error(where_ + ": model file '" + file_.origin() + "': tensor '" + name + "' has shape " + shape_string(s) +
                ", expected rank " + std::to_string(rank));
  return s;
}

void TensorReader::finish() const {
  std::string extra;
  int n = 0;
  for (const auto& name : file_.names())
    if (!used_.count(name)) {
      if (n < 8) extra += (n ? ", '" : "'") + name + "'";
      ++n;
    }
  if (n)
    throw Error(where_ + ": model file '" + file_.origin() + "': " + std::to_string(n) +
                " unexpected tensor(s) not described by ssmkit.config: " + extra +
                (n > 8 ? ", ..." : "") + " (does n_layers or a bias flag disagree with the weights?)");
}

template std::vector<float> TensorReader::read<float>(const std::string&, const std::vector<std::int64_t>&);
template std::vector<double> TensorReader::read<double>(const std::string&, const std::vector<std::int64_t>&);
template std::vector<float> TensorReader::read_optional<float>(const std::string&, const std::vector<std::int64_t>&);
template std::vector<double> TensorReader::read_optional<double>(const std::string&, const std::vector<std::int64_t>&);
template std::vector<float> TensorReader::read_any<float>(const std::vector<std::string>&, const std::vector<std::vector<std::int64_t>>&);
template std::vector<double> TensorReader::read_any<double>(const std::vector<std::string>&, const std::vector<std::vector<std::int64_t>>&);

}  // namespace ssm
