// Model files of any registered family (ssm::load_model) and their streamers.
#include <algorithm>
#include <memory>
#include <variant>

#include <nanobind/nanobind.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "arrays.hpp"
#include "ssm/core/mode.hpp"
#if SSM_WITH_AUDIO
#include "ssm/io/audio_file.hpp"
#endif
#include "ssm/layers/model.hpp"
#include "ssm/layers/registry.hpp"
#include "ssm/stream/streamer.hpp"

namespace ssmpy {
namespace {

using I = std::int64_t;
using Sz = std::vector<std::size_t>;

struct PyStreamer {
  std::variant<std::unique_ptr<ssm::Streamer<float>>, std::unique_ptr<ssm::Streamer<double>>> s;
  std::vector<const void*> in_ptrs;
  std::vector<void*> out_ptrs;

  int channels() const {
    return std::visit([](auto& p) { return p->spec().channels; }, s);
  }

  // block: (n, d_input) for one channel, (channels, n, d_input) planar for several.
  nb::object process(nb::handle block_o, nb::handle out_o) {
    return std::visit(
        [&](auto& p) -> nb::object {
          using T = elem_t<decltype(p)>;
          Call c("Streamer.process", block_o, "block");
          const Arr& x = c.ref();
          if (c.cuda()) c.value_error("block", "must be a host array (streaming is a CPU path)");
          c.real<T>(x, "block");
          const int ch = p->spec().channels, win = p->input_width(), wout = p->output_width();
          const bool mono = ch == 1 && x.ndim() == 2;
          if (!mono) {
            c.ndim(x, "block", 3);
            c.shape(x, "block", {ch, I(x.shape(1)), win});
          } else {
            c.shape(x, "block", {I(x.shape(0)), win});
          }
          c.contiguous(x, "block");
          const I n = mono ? x.shape(0) : x.shape(1);
          if (n > p->spec().max_block)
            c.value_error("block", "has " + std::to_string(n) + " frames, more than max_block = " + std::to_string(p->spec().max_block) + " of stream()");
          const Sz oshape = mono ? Sz{Sz::value_type(n), Sz::value_type(wout)} : Sz{Sz::value_type(ch), Sz::value_type(n), Sz::value_type(wout)};
          nb::object out_obj;
          T* out = nullptr;
          if (out_o.is_none()) {
            std::tie(out_obj, out) = c.empty<T>(oshape);
          } else {
            nb::ndarray<> o;
            if (!nb::try_cast(out_o, o, false)) c.type_error("out", "must be a writable host array");
            Arr oa(o);
            c.real<T>(oa, "out");
            std::vector<I> os(oshape.begin(), oshape.end());
            c.shape(oa, "out", os);
            c.contiguous(oa, "out");
            if (o.device_type() != nb::device::cpu::value) c.value_error("out", "must be a host array");
            out = static_cast<T*>(o.data());
            out_obj = nb::borrow(out_o);
          }
          const T* in = static_cast<const T*>(x.data());
          in_ptrs.resize(std::size_t(ch));
          out_ptrs.resize(std::size_t(ch));
          for (int k = 0; k < ch; ++k) {
            in_ptrs[k] = in + I(k) * n * win;
            out_ptrs[k] = out + I(k) * n * wout;
          }
          {
            nb::gil_scoped_release unlock;
            p->process(reinterpret_cast<const T* const*>(in_ptrs.data()), reinterpret_cast<T* const*>(out_ptrs.data()), int(n));
          }
          return out_obj;
        },
        s);
  }

  void reset() {
    std::visit([](auto& p) { p->reset(); }, s);
  }

  nb::object state() const {
    return std::visit(
        [](auto& p) {
          const auto v = p->state();
          return numpy_copy(v.data(), {v.size()});
        },
        s);
  }

  void set_state(nb::handle st) {
    std::visit(
        [&](auto& p) {
          using T = elem_t<decltype(p)>;
          Call c("Streamer.set_state", st, "state");
          c.real<T>(c.ref(), "state");
          c.shape(c.ref(), "state", {I(p->state_size())});
          c.contiguous(c.ref(), "state");
          const T* v = static_cast<const T*>(c.ref().data());
          p->load_state(v);
        },
        s);
  }
};

struct PyModel {
  std::variant<std::unique_ptr<ssm::Model<float>>, std::unique_ptr<ssm::Model<double>>> m;
  std::string path;

  PyModel(const std::string& p, const std::string& dtype) : path(p) {
    nb::gil_scoped_release unlock;
    if (dtype == "float32") m = ssm::load_model<float>(p);
    else if (dtype == "float64") m = ssm::load_model<double>(p);
    else throw ssm::Error("load_model: argument 'dtype' must be 'float32' or 'float64', got '" + dtype + "'");
  }

  const ssm::ModelInfo& info() const {
    return std::visit([](auto& p) -> const ssm::ModelInfo& { return p->info(); }, m);
  }
  std::vector<std::string> modes() const {
    std::vector<std::string> r;
    for (auto x : info().modes) r.emplace_back(ssm::to_string(x));
    return r;
  }
  std::string dtype() const { return m.index() == 0 ? "float32" : "float64"; }

  std::vector<I> output_shape(const std::vector<I>& in) const {
    return std::visit([&](auto& p) { return p->output_shape(in); }, m);
  }

  nb::object forward(nb::handle x_o, const std::string& mode, const std::string& device, double sample_rate) {
    return std::visit(
        [&](auto& p) -> nb::object {
          using T = elem_t<decltype(p)>;
          Call c("Model.forward", x_o, "x");
          const Arr& x = c.ref();
          if (c.cuda()) c.value_error("x", "must be a host array (models take host data; device='cuda' runs them on the GPU)");
          c.real<T>(x, "x");
          c.contiguous(x, "x");
          std::vector<I> shape;
          for (std::size_t i = 0; i < x.ndim(); ++i) shape.push_back(I(x.shape(i)));
          const auto os = p->output_shape(shape);
          auto [y_obj, y] = c.empty<T>(Sz(os.begin(), os.end()));
          const ssm::Mode md = mode.empty() ? p->info().modes.at(0) : ssm::parse_mode(mode, "Model.forward", "mode");
          const ssm::Device dev = ssm::parse_device(device);
          {
            nb::gil_scoped_release unlock;
            p->forward(static_cast<const T*>(x.data()), shape, y, md, dev, sample_rate);
          }
          return y_obj;
        },
        m);
  }

  PyStreamer stream(double sample_rate, int max_block, int channels, double time_scale) const {
    PyStreamer r;
    std::visit(
        [&](auto& p) {
          auto s = p->make_streamer();
          s->prepare(ssm::StreamSpec{sample_rate, max_block, time_scale, channels});
          r.s = std::move(s);
        },
        m);
    return r;
  }
};

}  // namespace

void bind_models(nb::module_& m) {
  using namespace nb::literals;
  nb::class_<PyStreamer>(m, "Streamer",
                         R"doc(A prepared streamer of a causal model (the one streaming contract of ssmkit): process() any
block of up to max_block frames in any split of a signal gives the same output as one call over it.)doc")
      .def("process", &PyStreamer::process, "block"_a, "out"_a = nb::none(),
           R"doc(block (n, d_input) for one channel, or (channels, n, d_input) planar -> output of the same
layout with d_output values a frame (written into ``out`` when given: no allocation). n <= max_block.)doc")
      .def("reset", &PyStreamer::reset, "Back to the state of a fresh stream().")
      .def_prop_ro("state", &PyStreamer::state, "A copy of the whole streaming state (1-D, the model's dtype).")
      .def("set_state", &PyStreamer::set_state, "state"_a,
           "Restores a state taken from .state (exactly: save, process, restore, process gives identical outputs).")
      .def_prop_ro("channels", &PyStreamer::channels);

  nb::class_<PyModel>(m, "Model", "A model file of any registered family (returned by load_model).")
      .def_ro("path", &PyModel::path)
      .def_prop_ro("arch", [](const PyModel& p) { return p.info().arch; })
      .def_prop_ro("description", [](const PyModel& p) { return p.info().description; })
      .def_prop_ro("config_json", [](const PyModel& p) { return p.info().config_json; })
      .def_prop_ro("d_input", [](const PyModel& p) { return p.info().d_input; })
      .def_prop_ro("d_output", [](const PyModel& p) { return p.info().d_output; })
      .def_prop_ro("causal", [](const PyModel& p) { return p.info().causal; })
      .def_prop_ro("modes", &PyModel::modes, "What forward() accepts; the first is the default.")
      .def_prop_ro("dtype", &PyModel::dtype)
      .def("output_shape", &PyModel::output_shape, "input_shape"_a)
      .def("forward", &PyModel::forward, "x"_a, "mode"_a = "", "device"_a = "cpu", "sample_rate"_a = 0.0,
           R"doc(Offline, from zero states: x (batch, length, d_input) for sequence models, (batch, H, W, d_input)
for grid models -> output_shape(x.shape). mode: one of .modes (default the first); device 'cpu' or
'cuda' (weights resident on the GPU, data moved by the model); sample_rate > 0 re-discretizes
continuous-time families at that rate (0: the model's own).)doc")
      .def("stream", &PyModel::stream, "sample_rate"_a = 48000.0, "max_block"_a = 512, "channels"_a = 1,
           "time_scale"_a = 1.0,
           R"doc(A Streamer of this model prepared for (sample_rate, max_block, channels, time_scale); each
channel keeps its own state. Raises ValueError for a model that is not causal.)doc");

  m.def("_load_model", [](const std::string& path, const std::string& dtype) { return new PyModel(path, dtype); },
        "path"_a, "dtype"_a = "float32", nb::rv_policy::take_ownership);
#if SSM_WITH_AUDIO
  m.def("read_audio",
        [](const std::string& path) {
          ssm::io::AudioBuffer a;
          {
            nb::gil_scoped_release unlock;
            a = ssm::io::read_audio(path);
          }
          return nb::make_tuple(numpy_copy(a.samples.data(), {std::size_t(a.channels), std::size_t(a.frames)}), a.sample_rate);
        },
        "path"_a,
        "Reads an audio file (WAV, FLAC: libsndfile, as the ssmkit program does): (samples (channels, frames) float32, sample_rate).");
#endif
  m.def("model_archs", &ssm::model_archs, "The registered model families (arch names).");
}

}  // namespace ssmpy
