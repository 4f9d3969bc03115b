// ssmkit._ssmkit: the compiled part of the Python package (python/ssmkit/__init__.py re-exports it).
// ssm::Error (a bad argument or file, named in the message) becomes ValueError; the bindings'
// own checks raise TypeError (dtype, not an array) or ValueError (shape, device, layout).
#include <nanobind/nanobind.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "arrays.hpp"

#include "ssm/core/device.hpp"
#include "ssm/core/error.hpp"

namespace nb = nanobind;

namespace ssmpy {
void bind_ops(nb::module_& m);
void bind_foundation(nb::module_& m);
void bind_layers(nb::module_& m);
void bind_models(nb::module_& m);
}  // namespace ssmpy

NB_MODULE(_ssmkit, m) {
  m.doc() = "ssmkit's C++ library on NumPy arrays and PyTorch/CuPy tensors (inference only: no autograd).";
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const ssm::Error& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });
  m.def("cuda_compiled", &ssm::cuda_compiled, "True when this ssmkit was built with CUDA.");
  m.def("cuda_available", &ssm::cuda_available, "True when CUDA is compiled in and a GPU is visible.");
  m.def("_last_call", [] { return ssmpy::last_call_pointers(); },
        "(argument, data address) of the arrays the last call on this thread handed to C++ (tests).");
  ssmpy::prepare_numpy_import();
  ssmpy::bind_foundation(m);
  ssmpy::bind_ops(m);
  ssmpy::bind_layers(m);
  ssmpy::bind_models(m);
}
