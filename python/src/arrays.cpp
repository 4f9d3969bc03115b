#include "arrays.hpp"

#include <bit>
#include <cstring>

#include "ssm/core/device.hpp"

namespace ssmpy {
namespace {

std::string device_name(const Arr& a) {
  if (a.device_type() == nb::device::cpu::value) return "cpu";
  if (a.device_type() == nb::device::cuda::value) return "cuda:" + std::to_string(a.device_id());
  return "device type " + std::to_string(a.device_type());
}

// NumPy arrays are read without the buffer protocol where that is safe: an ndarray and its dtype
// begin with these fields (NumPy's ndarraytypes.h, PyArrayObject_fields and PyArray_Descr: the
// same prefix in NumPy 1.x and 2.x). PyObject_GetBuffer on an ndarray builds a buffer-info record
// with its format string and compares it with the cached one on every call, the largest part of
// importing an argument; reading the fields costs a few loads. numpy_info() checks the layout
// once against the buffer protocol on probe arrays of each dtype and strides; should it ever not
// match (a NumPy with another layout), every array goes through the buffer protocol as before.
struct NpArrayHead {
  PyObject_HEAD
  char* data;
  int nd;
  std::intptr_t* dimensions;
  std::intptr_t* strides;
  PyObject* base;
  PyObject* descr;
  int flags;
};
struct NpDescrHead {
  PyObject_HEAD
  PyTypeObject* typeobj;
  char kind, type, byteorder, flags;
  int type_num;
};

struct NumpyInfo {
  PyTypeObject* ndarray = nullptr;
  bool direct = false;        // the field layout above was verified
  int type_num[4] = {};       // float32, float64, complex64, complex128
  char native_order = '=';    // byteorder of a native-endian dtype
};

bool buffer_of(PyObject* o, Arr& out);

// The dtype of a numpy dtype's type number (native byte order only), and its size in bytes.
bool dtype_of_num(const NumpyInfo& np, const NpDescrHead* d, nb::dlpack::dtype& dt, std::int64_t& itemsize) {
  if (d->byteorder != np.native_order) return false;
  const int t = d->type_num;
  if (t == np.type_num[0]) dt = nb::dtype<float>(), itemsize = 4;
  else if (t == np.type_num[1]) dt = nb::dtype<double>(), itemsize = 8;
  else if (t == np.type_num[2]) dt = nb::dtype<std::complex<float>>(), itemsize = 8;
  else if (t == np.type_num[3]) dt = nb::dtype<std::complex<double>>(), itemsize = 16;
  else return false;
  return true;
}

bool read_fields(const NumpyInfo& np, PyObject* o, Arr& out) {
  const auto* h = reinterpret_cast<const NpArrayHead*>(o);
  nb::dlpack::dtype dt;
  std::int64_t itemsize = 0;
  if (h->nd < 0 || h->nd > int(Arr::kMaxDim) ||
      !dtype_of_num(np, reinterpret_cast<const NpDescrHead*>(h->descr), dt, itemsize))
    return false;
  return out.view_host(h->data, static_cast<std::size_t>(h->nd), h->dimensions, h->strides, itemsize, dt);
}

const NumpyInfo& numpy_info() {
  static const NumpyInfo info = [] {
    NumpyInfo np;
    nb::module_ numpy = nb::module_::import_("numpy");
    np.ndarray = reinterpret_cast<PyTypeObject*>(nb::object(numpy.attr("ndarray")).release().ptr());  // leaked: static
    try {
      const char* names[4] = {"float32", "float64", "complex64", "complex128"};
      bool ok = true;
      for (int k = 0; k < 4 && ok; ++k) {
        // A C-contiguous probe, and a strided, transposed view of it: the fields must say what the
        // buffer protocol says.
        nb::object base = numpy.attr("zeros")(nb::make_tuple(3, 4), names[k]);
        const auto* d = reinterpret_cast<const NpDescrHead*>(reinterpret_cast<const NpArrayHead*>(base.ptr())->descr);
        np.type_num[k] = d->type_num;
        if (k == 0) np.native_order = d->byteorder;
        ok = d->byteorder == np.native_order && d->kind == (k < 2 ? 'f' : 'c');
        // base[::2, :].T: shape (4, 2), strides (1, 8) elements
        nb::object view = base.attr("__getitem__")(nb::make_tuple(nb::slice(nb::none(), nb::none(), nb::int_(2)),
                                                                   nb::slice(nb::none(), nb::none(), nb::none())))
                              .attr("T");
        for (nb::handle probe : {nb::handle(base), nb::handle(view)}) {
          if (!ok) break;
          Arr a, b;
          if (!buffer_of(probe.ptr(), b)) { ok = false; break; }
          ok = read_fields(np, probe.ptr(), a) && a.data() == b.data() && a.ndim() == b.ndim() && a.dtype() == b.dtype();
          for (std::size_t i = 0; ok && i < a.ndim(); ++i) ok = a.shape(i) == b.shape(i) && a.stride(i) == b.stride(i);
        }
      }
      // distinct numbers, or a dtype could be taken for another
      for (int i = 0; ok && i < 4; ++i)
        for (int j = i + 1; j < 4; ++j) ok = ok && np.type_num[i] != np.type_num[j];
      np.direct = ok;
    } catch (const nb::python_error&) {
      np.direct = false;
    }
    return np;
  }();
  return info;
}

PyTypeObject* numpy_ndarray_type() { return numpy_info().ndarray; }

Framework framework_of(nb::handle obj) {
  PyTypeObject* numpy_type = numpy_ndarray_type();
  if (Py_TYPE(obj.ptr()) == numpy_type) return Framework::numpy;
  const std::string name = nb::type_name(obj.type()).c_str();
  if (name.rfind("torch.", 0) == 0 || name == "Tensor") return Framework::torch;
  if (name.rfind("cupy.", 0) == 0) return Framework::cupy;
  if (PyObject_TypeCheck(obj.ptr(), numpy_type)) return Framework::numpy;
  return Framework::other;
}

// Through the buffer protocol: a native float32/float64/complex64/complex128 buffer, else false.
bool buffer_of(PyObject* o, Arr& out) {
  Py_buffer view;
  if (PyObject_GetBuffer(o, &view, PyBUF_RECORDS_RO) != 0) {
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
  if (view.ndim < 0 || view.ndim > int(Arr::kMaxDim) || view.itemsize <= 0) return false;
  return out.view_host(view.buf, static_cast<std::size_t>(view.ndim), view.shape, view.strides, view.itemsize, dt);
}

// NumPy arrays (exactly numpy.ndarray) as a view of the same memory, owned by the array, as
// nanobind's DLPack import makes it, at a fraction of the per-call cost (the binding's overhead
// is dominated by importing its arguments): their fields, or the buffer protocol. Any other
// object, or a dtype other than a native float32/float64/complex64/complex128, goes through
// nanobind's import.
bool import_numpy(nb::handle obj, Arr& out) {
  const NumpyInfo& np = numpy_info();
  if (Py_TYPE(obj.ptr()) != np.ndarray) return false;
  if (np.direct && read_fields(np, obj.ptr(), out)) return true;
  return buffer_of(obj.ptr(), out);
}

bool import_array(nb::handle obj, Arr& out) {
  if (import_numpy(obj, out)) return true;
  nb::ndarray<nb::ro> a;
  if (!nb::try_cast(obj, a, false)) return false;
  out = Arr(a);
  return true;
}

// Why `obj` could not be imported: a NumPy array of a dtype no op reads (object, a non-native
// byte order, ...), or not an array at all.
std::string not_an_array(nb::handle obj) {
  if (PyObject_TypeCheck(obj.ptr(), numpy_ndarray_type())) {
    std::string dt = "?";
    try {
      const nb::object dtype = obj.attr("dtype"), order = dtype.attr("byteorder");
      dt = nb::str(nb::handle(dtype)).c_str();
      if (std::string(nb::str(nb::handle(order)).c_str()) == (std::endian::native == std::endian::little ? ">" : "<"))
        dt += " (non-native byte order: .astype(a.dtype.newbyteorder('=')))";
    } catch (const nb::python_error&) {
    }
    return "must be a float32, float64, complex64 or complex128 array in native byte order, got a NumPy array of dtype " + dt;
  }
  return std::string("must be an array (NumPy, or a DLPack tensor: torch, CuPy), got ") + nb::type_name(obj.type()).c_str();
}

nb::handle helpers() {
  static PyObject* m = nb::module_::import_("ssmkit._arrays").release().ptr();  // leaked: see empty()
  return m;
}


}  // namespace

void prepare_numpy_import() noexcept {
  try {
    numpy_info();
  } catch (const nb::python_error&) {
    // NumPy not importable now: numpy_info() is tried again at the first array argument
  }
}

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
  if (!import_array(ref, ref_)) type_error(ref_name, not_an_array(ref));
  if (ref_.too_many_dims()) value_error(ref_name, "has more than 8 dimensions");
  fw_ = framework_of(ref);
  log_ = &last_call_pointers();
  log_->clear();
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
  if (!import_array(obj, a)) type_error(name, not_an_array(obj));
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

// Messages are built with std::string, not iostreams: the GPU image's toolchain links libstdc++
// statically into the module, and its iostream locale facets crashed there (numeric insertion
// segfaulted in an error path; python.package_api on the H200 machine).
std::string Call::describe_shape(const Arr& a) {
  std::string s = "(";
  for (std::size_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  if (a.ndim() == 1) s += ',';
  return s + ')';
}

void Call::ndim(const Arr& a, const char* name, std::size_t n) const {
  if (a.ndim() != n)
    value_error(name, "must have " + std::to_string(n) + " dimensions, got shape " + describe_shape(a));
}

void Call::shape(const Arr& a, const char* name, const Dims& shape) const {
  bool ok = a.ndim() == shape.size();
  for (std::size_t i = 0; ok && i < shape.size(); ++i) ok = static_cast<std::int64_t>(a.shape(i)) == shape[i];
  if (!ok) {
    std::string want = "must have shape (";
    for (std::size_t i = 0; i < shape.size(); ++i) want += (i ? ", " : "") + std::to_string(shape[i]);
    if (shape.size() == 1) want += ',';
    value_error(name, want + "), got " + describe_shape(a));
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
std::pair<nb::object, T*> Call::empty(const Dims& shape, bool complex) const {
  std::size_t n = complex ? 2 : 1, sz[Arr::kMaxDim] = {};
  for (std::size_t i = 0; i < shape.size(); ++i) sz[i] = static_cast<std::size_t>(shape[i]), n *= sz[i];
  const nb::dlpack::dtype dt = complex ? nb::dtype<std::complex<T>>() : nb::dtype<T>();
  if (!cuda_ && (fw_ == Framework::numpy || fw_ == Framework::other)) {
    // Leaked on purpose: static Python objects must not be released after the interpreter ends.
    static PyObject* np_empty = nb::object(nb::module_::import_("numpy").attr("empty")).release().ptr();
    static PyObject* np_dtypes[4] = {
        nb::object(nb::module_::import_("numpy").attr("float32")).release().ptr(), nb::object(nb::module_::import_("numpy").attr("float64")).release().ptr(),
        nb::object(nb::module_::import_("numpy").attr("complex64")).release().ptr(), nb::object(nb::module_::import_("numpy").attr("complex128")).release().ptr()};
    nb::object sh = nb::steal(PyTuple_New(static_cast<Py_ssize_t>(shape.size())));
    for (std::size_t i = 0; i < shape.size(); ++i)
      PyTuple_SET_ITEM(sh.ptr(), i, PyLong_FromSize_t(sz[i]));
    nb::object obj = nb::handle(np_empty)(sh, nb::handle(np_dtypes[(complex ? 2 : 0) + (sizeof(T) == 8 ? 1 : 0)]));
    T* p = nullptr;
    if (numpy_info().direct && Py_TYPE(obj.ptr()) == numpy_info().ndarray) {
      p = reinterpret_cast<T*>(reinterpret_cast<const NpArrayHead*>(obj.ptr())->data);  // a new, owned, C-contiguous array
    } else {
      Py_buffer view;
      if (PyObject_GetBuffer(obj.ptr(), &view, PyBUF_SIMPLE | PyBUF_WRITABLE) != 0) throw nb::python_error();
      p = static_cast<T*>(view.buf);
      PyBuffer_Release(&view);  // the memory belongs to obj, alive with the result
    }
    record("out", p);
    return {obj, p};
  }
  if (!cuda_ && fw_ == Framework::torch) {
    T* p = new T[n ? n : 1];
    nb::capsule owner(p, [](void* q) noexcept { delete[] static_cast<T*>(q); });
    if (fw_ == Framework::torch) {
      nb::ndarray<nb::pytorch> arr(p, shape.size(), sz, owner, nullptr, dt);
      record("out", p);
      return {nb::cast(arr), p};
    }
    nb::ndarray<nb::numpy> arr(p, shape.size(), sz, owner, nullptr, dt);
    record("out", p);
    return {nb::cast(arr), p};
  }
  // CUDA (or CuPy): the framework allocates, on the reference's device (ssmkit/_arrays.py).
  nb::list sh;
  for (std::size_t i = 0; i < shape.size(); ++i) sh.append(sz[i]);
  nb::object obj = helpers().attr("empty")(ref_obj_, nb::tuple(sh), dtype_name<T>(complex));
  nb::ndarray<> a;
  if (!nb::try_cast(obj, a, false)) throw nb::type_error("ssmkit._arrays.empty returned something that is not an array");
  record("out", a.data());
  return {obj, static_cast<T*>(a.data())};
}

template std::pair<nb::object, float*> Call::empty<float>(const Dims&, bool) const;
template std::pair<nb::object, double*> Call::empty<double>(const Dims&, bool) const;

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
