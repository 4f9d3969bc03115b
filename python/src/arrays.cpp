#include "arrays.hpp"

#include <cstring>
#include <sstream>

#include "ssm/core/device.hpp"

namespace ssmpy {
namespace {

PyTypeObject* numpy_ndarray_type();

Framework framework_of(nb::handle obj) {
  PyTypeObject* numpy_type = numpy_ndarray_type();
  if (Py_TYPE(obj.ptr()) == numpy_type) return Framework::numpy;
  const std::string name = nb::type_name(obj.type()).c_str();
  if (name.rfind("torch.", 0) == 0 || name == "Tensor") return Framework::torch;
  if (name.rfind("cupy.", 0) == 0) return Framework::cupy;
  if (PyObject_TypeCheck(obj.ptr(), numpy_type)) return Framework::numpy;
  return Framework::other;
}

std::string device_name(const Arr& a) {
  if (a.device_type() == nb::device::cpu::value) return "cpu";
  if (a.device_type() == nb::device::cuda::value) return "cuda:" + std::to_string(a.device_id());
  return "device type " + std::to_string(a.device_type());
}

PyTypeObject* numpy_ndarray_type() {
  static PyTypeObject* t = [] {
    nb::object o = nb::module_::import_("numpy").attr("ndarray");
    return reinterpret_cast<PyTypeObject*>(o.release().ptr());
  }();
  return t;
}

// NumPy arrays through the buffer protocol: a view of the same memory, owned by the array, as
// nanobind's DLPack import makes it, at a fraction of the per-call cost (the binding's overhead
// is dominated by importing its arguments). Any other object, or a buffer format other than a
// native float32/float64/complex64/complex128, goes through nanobind's import.
bool import_numpy(nb::handle obj, Arr& out) {
  if (Py_TYPE(obj.ptr()) != numpy_ndarray_type()) return false;
  Py_buffer view;
  if (PyObject_GetBuffer(obj.ptr(), &view, PyBUF_RECORDS_RO) != 0) {
    PyErr_Clear();
    return false;
  }
  struct Release {
    Py_buffer* v;
    ~Release() { PyBuffer_Release(v); }
  } release{&view};
  const char* f = view.format ? view.format : "B";
  if (*f == '<' || *f == '=' || *f == '@') ++f;
  nb::dlpack::dtype dt;
  if (std::strcmp(f, "f") == 0) dt = nb::dtype<float>();
  else if (std::strcmp(f, "d") == 0) dt = nb::dtype<double>();
  else if (std::strcmp(f, "Zf") == 0) dt = nb::dtype<std::complex<float>>();
  else if (std::strcmp(f, "Zd") == 0) dt = nb::dtype<std::complex<double>>();
  else return false;
  const int nd = view.ndim;
  if (nd > 8 || view.itemsize <= 0) return false;
  std::size_t shape[8];
  std::int64_t strides[8];
  for (int i = 0; i < nd; ++i) {
    if (view.strides[i] % view.itemsize != 0) return false;
    shape[i] = static_cast<std::size_t>(view.shape[i]);
    strides[i] = view.strides[i] / view.itemsize;
  }
  out = Arr(view.buf, static_cast<std::size_t>(nd), shape, strides, dt);
  return true;
}

bool import_array(nb::handle obj, Arr& out) {
  if (import_numpy(obj, out)) return true;
  nb::ndarray<nb::ro> a;
  if (!nb::try_cast(obj, a, false)) return false;
  out = Arr(a);
  return true;
}

nb::handle helpers() {
  static PyObject* m = nb::module_::import_("ssmkit._arrays").release().ptr();  // leaked: see empty()
  return m;
}

void record(const char* name, const void* p) {
  last_call_pointers().emplace_back(name, reinterpret_cast<std::uintptr_t>(p));
}

}  // namespace

std::vector<std::pair<std::string, std::uintptr_t>>& last_call_pointers() {
  thread_local std::vector<std::pair<std::string, std::uintptr_t>> v = [] {
    std::vector<std::pair<std::string, std::uintptr_t>> r;
    r.reserve(32);
    return r;
  }();
  return v;
}

Call::Call(const char* where, nb::handle ref, const char* ref_name)
    : where_(where), ref_name_(ref_name), ref_obj_(ref) {
  if (!import_array(ref, ref_))
    type_error(ref_name, std::string("must be an array (NumPy, or a DLPack tensor: torch, CuPy), got ") +
                             nb::type_name(ref.type()).c_str());
  if (ref_.too_many_dims()) value_error(ref_name, "has more than 8 dimensions");
  fw_ = framework_of(ref);
  last_call_pointers().clear();
  record(ref_name, ref_.data());
  if (ref_.device_type() == nb::device::cuda::value) {
    cuda_ = true;
    device_id_ = ref_.device_id();
    if (!ssm::cuda_compiled())
      value_error(ref_name, "is a CUDA array, but this ssmkit was built without CUDA (pip install . on a machine with nvcc)");
  } else if (ref_.device_type() != nb::device::cpu::value) {
    value_error(ref_name, "must be on the CPU or a CUDA GPU, got " + device_name(ref_));
  }
}

Arr Call::get(nb::handle obj, const char* name) const {
  Arr a;
  if (obj.is_none()) type_error(name, "is required (got None)");
  if (!import_array(obj, a))
    type_error(name, std::string("must be an array (NumPy, or a DLPack tensor: torch, CuPy), got ") +
                         nb::type_name(obj.type()).c_str());
  if (a.too_many_dims()) value_error(name, "has more than 8 dimensions");
  const bool same = a.device_type() == ref_.device_type() && (!cuda_ || a.device_id() == device_id_);
  if (!same) value_error(name, "is on " + device_name(a) + " but '" + ref_name_ + "' is on " + device_name(ref_) + " (all arrays of a call must be on one device)");
  record(name, a.data());
  return a;
}

std::optional<Arr> Call::get_optional(nb::handle obj, const char* name) const {
  if (obj.is_none()) return std::nullopt;
  return get(obj, name);
}

void Call::type_error(const char* name, const std::string& what) const {
  throw nb::type_error((std::string(where_) + ": argument '" + name + "' " + what).c_str());
}

void Call::value_error(const char* name, const std::string& what) const {
  throw nb::value_error((std::string(where_) + ": argument '" + name + "' " + what).c_str());
}

std::string Call::describe_dtype(const Arr& a) {
  const auto d = a.dtype();
  const char* kind = d.code == static_cast<std::uint8_t>(nb::dlpack::dtype_code::Float)     ? "float"
                     : d.code == static_cast<std::uint8_t>(nb::dlpack::dtype_code::Complex) ? "complex"
                     : d.code == static_cast<std::uint8_t>(nb::dlpack::dtype_code::Int)     ? "int"
                     : d.code == static_cast<std::uint8_t>(nb::dlpack::dtype_code::UInt)    ? "uint"
                     : d.code == static_cast<std::uint8_t>(nb::dlpack::dtype_code::Bool)    ? "bool"
                     : d.code == static_cast<std::uint8_t>(nb::dlpack::dtype_code::Bfloat)  ? "bfloat"
                                                                                            : "dtype code ";
  return std::string(kind) + std::to_string(d.bits);
}

std::string Call::describe_shape(const Arr& a) {
  std::ostringstream os;
  os << '(';
  for (std::size_t i = 0; i < a.ndim(); ++i) os << (i ? ", " : "") << a.shape(i);
  if (a.ndim() == 1) os << ',';
  os << ')';
  return os.str();
}

void Call::ndim(const Arr& a, const char* name, std::size_t n) const {
  if (a.ndim() != n)
    value_error(name, "must have " + std::to_string(n) + " dimensions, got shape " + describe_shape(a));
}

void Call::shape(const Arr& a, const char* name, const std::vector<std::int64_t>& shape) const {
  bool ok = a.ndim() == shape.size();
  for (std::size_t i = 0; ok && i < shape.size(); ++i) ok = static_cast<std::int64_t>(a.shape(i)) == shape[i];
  if (!ok) {
    std::ostringstream os;
    os << "must have shape (";
    for (std::size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
    if (shape.size() == 1) os << ',';
    os << "), got " << describe_shape(a);
    value_error(name, os.str());
  }
}

void Call::contiguous(const Arr& a, const char* name) const {
  std::int64_t expect = 1;
  for (std::size_t i = a.ndim(); i-- > 0;) {
    if (a.shape(i) != 1 && a.stride(i) != expect)
      value_error(name, "must be C-contiguous (row-major without gaps: numpy.ascontiguousarray / tensor.contiguous()), got shape " +
                            describe_shape(a) + " with strides that are not");
    expect *= static_cast<std::int64_t>(a.shape(i));
  }
}

void Call::non_negative_strides(const Arr& a, const char* name) const {
  for (std::size_t i = 0; i < a.ndim(); ++i)
    if (a.stride(i) < 0) value_error(name, "must not have negative strides (a flipped view: make a copy)");
}

template <class T>
std::pair<nb::object, T*> Call::empty(const std::vector<std::size_t>& shape, bool complex) const {
  std::size_t n = complex ? 2 : 1;
  for (auto s : shape) n *= s;
  const nb::dlpack::dtype dt = complex ? nb::dtype<std::complex<T>>() : nb::dtype<T>();
  if (!cuda_ && (fw_ == Framework::numpy || fw_ == Framework::other)) {
    // Leaked on purpose: static Python objects must not be released after the interpreter ends.
    static PyObject* np_empty = nb::object(nb::module_::import_("numpy").attr("empty")).release().ptr();
    static PyObject* np_dtypes[4] = {
        nb::object(nb::module_::import_("numpy").attr("float32")).release().ptr(), nb::object(nb::module_::import_("numpy").attr("float64")).release().ptr(),
        nb::object(nb::module_::import_("numpy").attr("complex64")).release().ptr(), nb::object(nb::module_::import_("numpy").attr("complex128")).release().ptr()};
    nb::object sh = nb::steal(PyTuple_New(static_cast<Py_ssize_t>(shape.size())));
    for (std::size_t i = 0; i < shape.size(); ++i) PyTuple_SET_ITEM(sh.ptr(), i, PyLong_FromSize_t(shape[i]));
    nb::object obj = nb::handle(np_empty)(sh, nb::handle(np_dtypes[(complex ? 2 : 0) + (sizeof(T) == 8 ? 1 : 0)]));
    Py_buffer view;
    if (PyObject_GetBuffer(obj.ptr(), &view, PyBUF_SIMPLE | PyBUF_WRITABLE) != 0) throw nb::python_error();
    T* p = static_cast<T*>(view.buf);
    PyBuffer_Release(&view);  // the memory belongs to obj, alive with the result
    record("out", p);
    return {obj, p};
  }
  if (!cuda_ && fw_ == Framework::torch) {
    T* p = new T[n ? n : 1];
    nb::capsule owner(p, [](void* q) noexcept { delete[] static_cast<T*>(q); });
    if (fw_ == Framework::torch) {
      nb::ndarray<nb::pytorch> arr(p, shape.size(), shape.data(), owner, nullptr, dt);
      record("out", p);
      return {nb::cast(arr), p};
    }
    nb::ndarray<nb::numpy> arr(p, shape.size(), shape.data(), owner, nullptr, dt);
    record("out", p);
    return {nb::cast(arr), p};
  }
  // CUDA (or CuPy): the framework allocates, on the reference's device (ssmkit/_arrays.py).
  nb::list sh;
  for (auto s : shape) sh.append(s);
  nb::object obj = helpers().attr("empty")(ref_obj_, nb::tuple(sh), dtype_name<T>(complex));
  nb::ndarray<> a;
  if (!nb::try_cast(obj, a, false)) throw nb::type_error("ssmkit._arrays.empty returned something that is not an array");
  record("out", a.data());
  return {obj, static_cast<T*>(a.data())};
}

template std::pair<nb::object, float*> Call::empty<float>(const std::vector<std::size_t>&, bool) const;
template std::pair<nb::object, double*> Call::empty<double>(const std::vector<std::size_t>&, bool) const;

void* Call::cuda_stream(nb::handle stream) const {
  if (!stream.is_none()) {
    if (!nb::isinstance<nb::int_>(stream)) {
      if (nb::hasattr(stream, "cuda_stream")) return reinterpret_cast<void*>(nb::cast<std::uintptr_t>(stream.attr("cuda_stream")));
      if (nb::hasattr(stream, "ptr")) return reinterpret_cast<void*>(nb::cast<std::uintptr_t>(stream.attr("ptr")));
      throw nb::type_error((std::string(where_) + ": argument 'stream' must be None, an int (cudaStream_t) or a torch/CuPy stream").c_str());
    }
    return reinterpret_cast<void*>(nb::cast<std::uintptr_t>(stream));
  }
  return reinterpret_cast<void*>(nb::cast<std::uintptr_t>(helpers().attr("current_stream")(ref_obj_)));
}

DeviceGuard::DeviceGuard(const Call& c) {
  if (!c.cuda()) return;
  previous_ = ssm::cuda_current_device();
  if (previous_ != c.device_id()) ssm::cuda_set_device(c.device_id());
  else previous_ = -1;
}

DeviceGuard::~DeviceGuard() {
  if (previous_ >= 0) {
    try {
      ssm::cuda_set_device(previous_);
    } catch (...) {
    }
  }
}

void wait_for_stream(void* stream) {
  if (stream) ssm::CudaStream::wrap(stream).synchronize();
}

template <class T>
nb::object numpy_copy(const T* values, const std::vector<std::size_t>& shape) {
  std::size_t n = 1;
  for (auto s : shape) n *= s;
  T* p = new T[n ? n : 1];
  std::copy(values, values + n, p);
  nb::capsule owner(p, [](void* q) noexcept { delete[] static_cast<T*>(q); });
  return nb::cast(nb::ndarray<nb::numpy, T>(p, shape.size(), shape.data(), owner));
}

template nb::object numpy_copy<float>(const float*, const std::vector<std::size_t>&);
template nb::object numpy_copy<double>(const double*, const std::vector<std::size_t>&);
template nb::object numpy_copy<std::int64_t>(const std::int64_t*, const std::vector<std::size_t>&);

}  // namespace ssmpy
