#pragma once
// Conformance runner: op handlers register themselves here (one file per stage, e.g.
// tests/conformance/op_discretize.cpp); runner.cpp walks the case directory and runs every
// case on every backend, precision and path its handler offers.
#include <stdexcept>
#include <Eigen/Dense>
#include <complex>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "ssm/core/device.hpp"
#include "ssm/io/safetensors.hpp"

namespace ssm::conformance {

enum class Precision { f32, f64 };

/// Thrown by a handler when the library refuses a path for a case by a documented rule (e.g.
/// hippo_kernel's dplr + zoh on ill-conditioned eigenvectors): counted and printed as "refused",
/// never as passed; the op's automatic path must then produce the result.
struct Refused : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Run {
  Device device = Device::cpu;
  Precision precision = Precision::f32;
  std::string path;  // e.g. "stream", "conv", "scan", "dense", "dplr" (handler-defined)
};

/// One computed output: flat row-major values in the layout of `expected.<name>`
/// (complex: interleaved re/im, matching the trailing dimension of 2).
struct Output {
  std::vector<double> values;
  bool complex = false;
};
using Outputs = std::map<std::string, Output>;

struct OpHandler {
  std::vector<std::string> paths{"default"};
  bool has_f64 = true;   // offers a float64 computation
  bool has_cuda = false; // has a CUDA backend (float32 at least)
  bool cuda_f64 = false; // CUDA backend also in float64
  std::vector<std::string> cuda_paths;  // paths that have a CUDA backend (empty: all paths)
  /// Which paths apply to this case (default: all of `paths`).
  std::function<std::vector<std::string>(const io::SafeTensors&)> paths_for;
  std::function<Outputs(const io::SafeTensors&, const Run&)> run;
};

/// Registers a handler for `op`; called from static initializers.
bool register_op(const std::string& op, OpHandler h);

// ---- helpers to read case tensors -----------------------------------------------------------
Eigen::MatrixXd matrix(const io::SafeTensors& st, const std::string& name);   // 2-D (or 1-D as column)
Eigen::VectorXd vector(const io::SafeTensors& st, const std::string& name);   // any rank, flattened
/// Complex tensor with trailing dimension 2, flattened to n complex values.
std::vector<std::complex<double>> complex_values(const io::SafeTensors& st, const std::string& name);
std::vector<std::int64_t> shape(const io::SafeTensors& st, const std::string& name);
bool is_complex(const io::SafeTensors& st, const std::string& name, std::size_t real_rank);

template <class T>
std::vector<T> cast(const std::vector<double>& v) { return std::vector<T>(v.begin(), v.end()); }
template <class C>
Output out_real(const C& c) { Output o; o.values.assign(c.begin(), c.end()); return o; }
Output out_matrix(const Eigen::MatrixXd& m);  // row-major flatten

}  // namespace ssm::conformance

#define SSM_CONCAT_INNER(a, b) a##b
#define SSM_CONCAT(a, b) SSM_CONCAT_INNER(a, b)
/// SSM_CONFORMANCE_OP("name", handler-expression)
#define SSM_CONFORMANCE_OP(name, ...) \
  static const bool SSM_CONCAT(ssm_conf_reg_, __LINE__) = ::ssm::conformance::register_op(name, __VA_ARGS__)
