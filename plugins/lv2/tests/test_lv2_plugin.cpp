// The LV2 plugin as a host sees it: this program dlopens the bundle's ssmkit_lv2.so, maps URIDs,
// runs a worker whose queues are preallocated rings (a real-time host's), and drives run(),
// work()/work_response() and the State interface. run() and work_response() (the audio-thread
// calls) are checked under the real-time guard (tests/support/rt_guard.hpp: no allocation, lock,
// throw or write); the output is checked against the model's own streamer, sample for sample.
// The engine's latency alignment and wet/dry mix are checked on a streamer with latency
// (PartitionedConvolver, latency 32), which no model file has today.
#define BOOST_TEST_MODULE lv2_plugin
#include <boost/test/unit_test.hpp>

#include <dlfcn.h>
#include <lv2/atom/atom.h>
#include <lv2/atom/forge.h>
#include <lv2/atom/util.h>
#include <lv2/buf-size/buf-size.h>
#include <lv2/core/lv2.h>
#include <lv2/options/options.h>
#include <lv2/patch/patch.h>
#include <lv2/state/state.h>
#include <lv2/urid/urid.h>
#include <lv2/worker/worker.h>

#include <array>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine.hpp"
#include "ssm/layers/mamba_model.hpp"
#include "ssm/layers/registry.hpp"
#include "ssm/stream/partitioned_convolver.hpp"
#include "support/models.hpp"
#include "support/rt_guard.hpp"
#include "support/testing.hpp"

using namespace ssm;

namespace {

constexpr double kRate = 48000;
constexpr int kMaxBlock = 64;

// ---- host side ------------------------------------------------------------------------------
struct UridMap {
  std::map<std::string, LV2_URID> ids;
  std::vector<std::string> names{""};
  LV2_URID_Map map{this, [](LV2_URID_Map_Handle h, const char* uri) -> LV2_URID {
                     auto* m = static_cast<UridMap*>(h);
                     auto [it, added] = m->ids.emplace(uri, static_cast<LV2_URID>(m->names.size()));
                     if (added) m->names.emplace_back(uri);
                     return it->second;
                   }};
  LV2_URID operator()(const char* uri) { return map.map(this, uri); }
};

// A byte ring that never allocates after construction (what a real-time host uses).
struct Ring {
  std::vector<unsigned char> buf = std::vector<unsigned char>(1 << 16);
  std::size_t head = 0, tail = 0;
  bool push(uint32_t size, const void* data) {
    if (tail + sizeof size + size > buf.size()) return false;
    std::memcpy(&buf[tail], &size, sizeof size);
    std::memcpy(&buf[tail + sizeof size], data, size);
    tail += sizeof size + size;
    return true;
  }
  bool pop(std::vector<unsigned char>& out) {
    if (head == tail) {
      head = tail = 0;
      return false;
    }
    uint32_t size = 0;
    std::memcpy(&size, &buf[head], sizeof size);
    out.assign(buf.begin() + static_cast<std::ptrdiff_t>(head + sizeof size),
               buf.begin() + static_cast<std::ptrdiff_t>(head + sizeof size + size));
    head += sizeof size + size;
    return true;
  }
};

struct Library {
  void* handle = nullptr;
  LV2_Descriptor_Function descriptor = nullptr;
  Library() {
    handle = ::dlopen(SSM_LV2_PLUGIN, RTLD_NOW | RTLD_LOCAL);
    BOOST_TEST_REQUIRE(handle != nullptr, "dlopen " << SSM_LV2_PLUGIN << ": " << ::dlerror());
    descriptor = reinterpret_cast<LV2_Descriptor_Function>(::dlsym(handle, "lv2_descriptor"));
    BOOST_TEST_REQUIRE(descriptor != nullptr);
  }
  const LV2_Descriptor* find(const std::string& uri) const {
    for (uint32_t i = 0; const LV2_Descriptor* d = descriptor(i); ++i)
      if (uri == d->URI) return d;
    return nullptr;
  }
};
Library& library() {
  static Library lib;
  return lib;
}

// One URID map for every host in this program, so that a state saved by one instance (keys
// are URIDs) reads back in another.
UridMap& shared_urids() {
  static UridMap m;
  return m;
}

struct Host {
  UridMap& urid = shared_urids();
  const LV2_Descriptor* desc = nullptr;
  LV2_Handle instance = nullptr;
  const LV2_Worker_Interface* worker = nullptr;
  const LV2_State_Interface* state = nullptr;
  Ring requests, responses;
  LV2_Worker_Schedule schedule{this, [](LV2_Worker_Schedule_Handle h, uint32_t size, const void* data) {
                                 return static_cast<Host*>(h)->requests.push(size, data) ? LV2_WORKER_SUCCESS
                                                                                          : LV2_WORKER_ERR_NO_SPACE;
                               }};
  int32_t max_block = kMaxBlock;
  std::vector<LV2_Options_Option> options;
  LV2_Feature map_f{LV2_URID__map, &urid.map}, sched_f{LV2_WORKER__schedule, &schedule}, opt_f{LV2_OPTIONS__options, nullptr};
  int channels = 1;
  std::vector<std::vector<float>> in, out;
  alignas(8) std::array<unsigned char, 4096> control_buf{};
  alignas(8) std::array<unsigned char, 8192> notify_buf{};
  float wet = 1.f, latency = -1.f;
  std::vector<std::string> statuses;  // ssmk:status strings seen on the notify port
  test::RtViolations rt_total;
  std::size_t guarded_calls = 0;

  explicit Host(const std::string& uri, bool with_worker = true, int block = kMaxBlock) : max_block(block) {
    desc = library().find(uri);
    BOOST_TEST_REQUIRE(desc != nullptr, uri << " not in the plugin");
    channels = uri == "urn:ssmkit:lv2:stereo" ? 2 : 1;
    options = {{LV2_OPTIONS_INSTANCE, 0, urid(LV2_BUF_SIZE__maxBlockLength), sizeof(int32_t), urid(LV2_ATOM__Int), &max_block},
               {LV2_OPTIONS_INSTANCE, 0, 0, 0, 0, nullptr}};
    opt_f.data = options.data();
    const LV2_Feature* features[] = {&map_f, &opt_f, with_worker ? &sched_f : nullptr, nullptr};
    instance = desc->instantiate(desc, kRate, "", features);
    BOOST_TEST_REQUIRE(instance != nullptr);
    worker = static_cast<const LV2_Worker_Interface*>(desc->extension_data(LV2_WORKER__interface));
    state = static_cast<const LV2_State_Interface*>(desc->extension_data(LV2_STATE__interface));
    BOOST_TEST_REQUIRE((worker && state));
    in.assign(static_cast<std::size_t>(channels), std::vector<float>(4096));
    out.assign(static_cast<std::size_t>(channels), std::vector<float>(4096));
    desc->connect_port(instance, 0, control_buf.data());
    desc->connect_port(instance, 1, notify_buf.data());
    desc->connect_port(instance, 2, &wet);
    desc->connect_port(instance, 3, &latency);
    clear_control();
    desc->activate(instance);
  }
  ~Host() {
    drain();
    desc->deactivate(instance);
    desc->cleanup(instance);
  }

  void clear_control() {
    auto* seq = reinterpret_cast<LV2_Atom_Sequence*>(control_buf.data());
    seq->atom.type = urid(LV2_ATOM__Sequence);
    seq->atom.size = sizeof(LV2_Atom_Sequence_Body);
    seq->body.unit = seq->body.pad = 0;
  }
  // One patch:Set of `key` to a Path or String value, as the next run()'s control input.
  void patch_set(const char* key, const std::string& value, bool path) {
    LV2_Atom_Forge forge;
    lv2_atom_forge_init(&forge, &urid.map);
    lv2_atom_forge_set_buffer(&forge, control_buf.data(), control_buf.size());
    LV2_Atom_Forge_Frame seq, obj;
    lv2_atom_forge_sequence_head(&forge, &seq, 0);
    lv2_atom_forge_frame_time(&forge, 0);
    lv2_atom_forge_object(&forge, &obj, 0, urid(LV2_PATCH__Set));
    lv2_atom_forge_key(&forge, urid(LV2_PATCH__property));
    lv2_atom_forge_urid(&forge, urid(key));
    lv2_atom_forge_key(&forge, urid(LV2_PATCH__value));
    if (path) lv2_atom_forge_path(&forge, value.c_str(), static_cast<uint32_t>(value.size()));
    else lv2_atom_forge_string(&forge, value.c_str(), static_cast<uint32_t>(value.size()));
    lv2_atom_forge_pop(&forge, &obj);
    lv2_atom_forge_pop(&forge, &seq);
  }

  // One host cycle: run() then the worker's responses (both audio-thread calls, guarded), then
  // the notify port is read and the control input cleared.
  void cycle(int n) {
    auto* notify = reinterpret_cast<LV2_Atom_Sequence*>(notify_buf.data());
    notify->atom.type = urid(LV2_ATOM__Chunk);
    notify->atom.size = static_cast<uint32_t>(notify_buf.size() - sizeof(LV2_Atom));
    for (int c = 0; c < channels; ++c) {
      desc->connect_port(instance, 4 + static_cast<uint32_t>(c), in[static_cast<std::size_t>(c)].data());
      desc->connect_port(instance, 4 + static_cast<uint32_t>(channels + c), out[static_cast<std::size_t>(c)].data());
    }
    std::vector<unsigned char> msg;
    msg.reserve(1 << 16);
    {
      test::RtGuard guard;
      desc->run(instance, static_cast<uint32_t>(n));
      // Responses were queued by drain(); the copy out of the ring reuses msg's capacity.
      while (responses.pop(msg)) worker->work_response(instance, static_cast<uint32_t>(msg.size()), msg.data());
      const auto v = guard.stop();
      rt_total.allocations += v.allocations;
      rt_total.locks += v.locks;
      rt_total.throws += v.throws;
      rt_total.writes += v.writes;
      ++guarded_calls;
    }
    read_notify();
    clear_control();
  }
  // The worker thread's share, here on the test thread between cycles.
  void drain() {
    std::vector<unsigned char> msg;
    while (requests.pop(msg))
      worker->work(instance, [](LV2_Worker_Respond_Handle h, uint32_t size, const void* data) {
        return static_cast<Host*>(h)->responses.push(size, data) ? LV2_WORKER_SUCCESS : LV2_WORKER_ERR_NO_SPACE;
      }, this, static_cast<uint32_t>(msg.size()), msg.data());
  }
  void read_notify() {
    const auto* seq = reinterpret_cast<const LV2_Atom_Sequence*>(notify_buf.data());
    if (seq->atom.type != urid(LV2_ATOM__Sequence)) return;
    LV2_ATOM_SEQUENCE_FOREACH(seq, ev) {
      const auto* obj = reinterpret_cast<const LV2_Atom_Object*>(&ev->body);
      if (obj->body.otype != urid(LV2_PATCH__Set)) continue;
      const LV2_Atom *prop = nullptr, *value = nullptr;
      lv2_atom_object_get(obj, urid(LV2_PATCH__property), &prop, urid(LV2_PATCH__value), &value, 0);
      if (prop && value && reinterpret_cast<const LV2_Atom_URID*>(prop)->body == urid("urn:ssmkit:lv2:status"))
        statuses.emplace_back(static_cast<const char*>(LV2_ATOM_BODY_CONST(value)));
    }
  }
};

std::vector<float> signal(std::size_t n, std::uint64_t seed) {
  auto x = test::randn_f(n, seed);
  for (auto& v : x) v *= 0.3f;
  return x;
}

std::string mamba_file(int width) {
  return test::save_random_model<double>(test::tiny_mamba(width, width), 10 + width,
                                         test::temp_dir() + "/lv2_mamba_" + std::to_string(width) + ".safetensors");
}

// The model's own streamer over planar channels from a fresh state (the reference).
std::vector<std::vector<float>> reference(const std::string& path, const std::vector<std::vector<float>>& x, int streams) {
  auto s = load_model<float>(path)->make_streamer();
  StreamSpec spec;
  spec.sample_rate = kRate;
  spec.max_block = static_cast<int>(x[0].size());
  spec.channels = streams;
  s->prepare(spec);
  const int w = s->input_width(), n = static_cast<int>(x[0].size());
  std::vector<std::vector<float>> y(x.size(), std::vector<float>(x[0].size()));
  std::vector<std::vector<float>> fi(static_cast<std::size_t>(streams), std::vector<float>(x[0].size() * static_cast<std::size_t>(w)));
  auto fo = fi;
  for (int s_ = 0; s_ < streams; ++s_)
    for (int i = 0; i < n; ++i)
      for (int k = 0; k < w; ++k) fi[s_][static_cast<std::size_t>(i * w + k)] = x[static_cast<std::size_t>(s_ * w + k)][static_cast<std::size_t>(i)];
  std::vector<const float*> ip;
  std::vector<float*> op;
  for (int s_ = 0; s_ < streams; ++s_) {
    ip.push_back(fi[s_].data());
    op.push_back(fo[s_].data());
  }
  s->process(ip.data(), op.data(), n);
  for (int s_ = 0; s_ < streams; ++s_)
    for (int i = 0; i < n; ++i)
      for (int k = 0; k < w; ++k) y[static_cast<std::size_t>(s_ * w + k)][static_cast<std::size_t>(i)] = fo[s_][static_cast<std::size_t>(i * w + k)];
  return y;
}

// Runs frames [0, total) of x through the host in blocks of `block`; returns the planar output.
std::vector<std::vector<float>> render(Host& h, const std::vector<std::vector<float>>& x, int block) {
  const int total = static_cast<int>(x[0].size());
  std::vector<std::vector<float>> y(x.size(), std::vector<float>(x[0].size()));
  for (int at = 0; at < total; at += block) {
    const int n = std::min(block, total - at);
    for (std::size_t c = 0; c < x.size(); ++c) std::copy(x[c].begin() + at, x[c].begin() + at + n, h.in[c].begin());
    h.cycle(n);
    for (std::size_t c = 0; c < x.size(); ++c) std::copy(h.out[c].begin(), h.out[c].begin() + n, y[c].begin() + at);
  }
  return y;
}

// Loads `source` through patch:Set and the worker; returns when the engine runs.
void load(Host& h, const char* key, const std::string& value, bool path) {
  h.patch_set(key, value, path);
  const std::size_t before = h.statuses.size();
  h.cycle(1);   // run() sees the message and schedules the load
  h.drain();    // the worker builds the engine
  h.cycle(1);   // work_response installs it (and schedules the old one's free)
  h.drain();    // the worker frees the old engine
  h.cycle(1);   // run() reports the new status on the notify port
  BOOST_TEST_REQUIRE(h.statuses.size() > before, "no status after loading " << value);
  BOOST_TEST(h.statuses.back().rfind("error", 0) != 0, h.statuses.back());
}

void check_rt(const Host& h) {
  BOOST_TEST(h.guarded_calls > 0u);
  BOOST_TEST(h.rt_total.allocations == 0u);
  BOOST_TEST(h.rt_total.locks == 0u);
  BOOST_TEST(h.rt_total.throws == 0u);
  BOOST_TEST(h.rt_total.writes == 0u);
}

}  // namespace

BOOST_AUTO_TEST_CASE(guard_sees_allocations_inside_the_plugin) {
  // The interposers reach code in the dlopened .so: instantiate() allocates, and is counted.
  if (!test::rt_guard_intercepts_malloc()) return;  // sanitizer build: only operator new counts
  UridMap urid;
  LV2_Feature map_f{LV2_URID__map, &urid.map};
  const LV2_Feature* features[] = {&map_f, nullptr};
  const LV2_Descriptor* d = library().find("urn:ssmkit:lv2:mono");
  BOOST_TEST_REQUIRE(d != nullptr);
  urid("warm-up");
  test::RtGuard guard;
  LV2_Handle h = d->instantiate(d, kRate, "", features);
  const auto v = guard.stop();
  BOOST_TEST_REQUIRE(h != nullptr);
  d->cleanup(h);
  BOOST_TEST(v.allocations > 0u);
}

BOOST_AUTO_TEST_CASE(instantiate_needs_urid_map) {
  const LV2_Descriptor* d = library().find("urn:ssmkit:lv2:mono");
  const LV2_Feature* none[] = {nullptr};
  BOOST_TEST(d->instantiate(d, kRate, "", none) == nullptr);
}

BOOST_AUTO_TEST_CASE(model_swap_in_run_is_real_time_safe_and_matches_the_streamer) {
  const std::string path = mamba_file(1);
  Host h("urn:ssmkit:lv2:mono");
  // Before a model: pass-through, latency 0.
  const auto x0 = std::vector<std::vector<float>>{signal(300, 1)};
  const auto y0 = render(h, x0, 100);
  BOOST_TEST(test::max_abs_diff(y0[0], x0[0]) == 0.0);
  BOOST_TEST(h.latency == 0.f);

  load(h, "urn:ssmkit:lv2:model", path, true);
  BOOST_TEST(h.statuses.back().find("mamba") != std::string::npos, h.statuses.back());
  // The new engine starts from a fresh state at the cycle that installed it; reset both sides
  // (activate) to compare from here on: host blocks of 100 > max block 64 are processed in pieces.
  h.desc->activate(h.instance);
  const auto x = std::vector<std::vector<float>>{signal(1000, 2)};
  const auto y = render(h, x, 100);
  const auto ref = reference(path, x, 1);
  BOOST_TEST(test::max_abs_diff(y[0], ref[0]) == 0.0);  // bit for bit
  BOOST_TEST(test::max_abs_diff(y[0], x[0]) > 1e-3);    // and not a pass-through
  check_rt(h);
}

BOOST_AUTO_TEST_CASE(stereo_plugin_runs_mono_and_stereo_models) {
  const auto x = std::vector<std::vector<float>>{signal(500, 3), signal(500, 4)};
  {  // d = 1: one stream per channel
    const std::string path = mamba_file(1);
    Host h("urn:ssmkit:lv2:stereo");
    load(h, "urn:ssmkit:lv2:model", path, true);
    h.desc->activate(h.instance);
    const auto y = render(h, x, 37);
    const auto ref = reference(path, x, 2);
    BOOST_TEST(test::max_abs_diff(y[0], ref[0]) == 0.0);
    BOOST_TEST(test::max_abs_diff(y[1], ref[1]) == 0.0);
    check_rt(h);
  }
  {  // d = 2: one stream of stereo frames
    const std::string path = mamba_file(2);
    Host h("urn:ssmkit:lv2:stereo");
    load(h, "urn:ssmkit:lv2:model", path, true);
    h.desc->activate(h.instance);
    const auto y = render(h, x, 64);
    const auto ref = reference(path, x, 1);
    BOOST_TEST(test::max_abs_diff(y[0], ref[0]) == 0.0);
    BOOST_TEST(test::max_abs_diff(y[1], ref[1]) == 0.0);
    check_rt(h);
  }
}

BOOST_AUTO_TEST_CASE(failed_load_reports_and_keeps_the_running_model) {
  Host h("urn:ssmkit:lv2:mono");
  load(h, "urn:ssmkit:lv2:filter", "hippo:legt:N=16:theta=0.01", false);
  const auto x = std::vector<std::vector<float>>{signal(256, 5)};
  h.desc->activate(h.instance);
  const auto before = render(h, x, 64);
  for (const auto& [key, value, path] : {std::tuple{"urn:ssmkit:lv2:model", std::string("/no/such/model.safetensors"), true},
                                          std::tuple{"urn:ssmkit:lv2:filter", std::string("hippo:nosuch"), false},
                                          std::tuple{"urn:ssmkit:lv2:model", mamba_file(2), true}}) {  // d = 2 on mono
    h.patch_set(key, value, path);
    h.cycle(1);
    h.drain();
    h.cycle(1);  // work_response: the failure
    h.cycle(1);  // its status on the notify port
    BOOST_TEST_REQUIRE(!h.statuses.empty());
    BOOST_TEST(h.statuses.back().rfind("error: ", 0) == 0, h.statuses.back());
  }
  BOOST_TEST(h.statuses.back().find("channel(s)") != std::string::npos, h.statuses.back());
  h.desc->activate(h.instance);
  const auto after = render(h, x, 64);
  BOOST_TEST(test::max_abs_diff(before[0], after[0]) == 0.0);  // still the HiPPO filter
  check_rt(h);
}

BOOST_AUTO_TEST_CASE(wet_dry_mix) {
  Host h("urn:ssmkit:lv2:mono");
  load(h, "urn:ssmkit:lv2:filter", "s4d:lin:N=16", false);
  const auto x = std::vector<std::vector<float>>{signal(256, 6)};
  h.desc->activate(h.instance);
  const auto wet = render(h, x, 64);
  h.wet = 0.f;
  h.desc->activate(h.instance);  // activate: no ramp from the previous value
  const auto dry = render(h, x, 64);
  BOOST_TEST(test::max_abs_diff(dry[0], x[0]) == 0.0);
  h.wet = 0.25f;
  h.desc->activate(h.instance);
  const auto mix = render(h, x, 64);
  double err = 0;
  for (std::size_t i = 0; i < x[0].size(); ++i) err = std::max(err, std::fabs(mix[0][i] - (0.25 * wet[0][i] + 0.75 * x[0][i])));
  BOOST_TEST(err <= 1e-6);
  check_rt(h);
}

// ---- state ----------------------------------------------------------------------------------
struct Store {
  struct Value {
    uint32_t type = 0, flags = 0;
    std::string bytes;
  };
  std::map<uint32_t, Value> values;
  static LV2_State_Status store(LV2_State_Handle h, uint32_t key, const void* v, size_t size, uint32_t type, uint32_t flags) {
    static_cast<Store*>(h)->values[key] = {type, flags, std::string(static_cast<const char*>(v), size)};
    return LV2_STATE_SUCCESS;
  }
  static const void* retrieve(LV2_State_Handle h, uint32_t key, size_t* size, uint32_t* type, uint32_t* flags) {
    auto& m = static_cast<Store*>(h)->values;
    auto it = m.find(key);
    if (it == m.end()) return nullptr;
    *size = it->second.bytes.size();
    *type = it->second.type;
    *flags = it->second.flags;
    return it->second.bytes.data();
  }
};

// mapPath as a host with a state directory does it: abstract = path relative to `dir`.
struct MapPath {
  std::string dir;
  int calls = 0;
  LV2_State_Map_Path feature{this,
                             [](LV2_State_Map_Path_Handle h, const char* abs) {
                               auto* m = static_cast<MapPath*>(h);
                               ++m->calls;
                               std::string s(abs);
                               if (s.rfind(m->dir + "/", 0) == 0) s = s.substr(m->dir.size() + 1);
                               return ::strdup(s.c_str());
                             },
                             [](LV2_State_Map_Path_Handle h, const char* abstract) {
                               auto* m = static_cast<MapPath*>(h);
                               ++m->calls;
                               std::string s(abstract);
                               if (!s.empty() && s[0] != '/') s = m->dir + "/" + s;
                               return ::strdup(s.c_str());
                             }};
  LV2_Feature f{LV2_STATE__mapPath, &feature};
};

BOOST_AUTO_TEST_CASE(state_save_restore_round_trip) {
  const std::string path = mamba_file(1);
  const auto x = std::vector<std::vector<float>>{signal(400, 7)};
  MapPath mp{test::temp_dir()};
  const LV2_Feature* features[] = {&mp.f, nullptr};
  Store st;
  std::vector<std::vector<float>> y1;
  {
    Host a("urn:ssmkit:lv2:mono");
    load(a, "urn:ssmkit:lv2:model", path, true);
    BOOST_TEST(a.state->save(a.instance, Store::store, &st, LV2_STATE_IS_POD, features) == LV2_STATE_SUCCESS);
    a.desc->activate(a.instance);
    y1 = render(a, x, 64);
    const auto& v = st.values.at(a.urid("urn:ssmkit:lv2:model"));
    BOOST_TEST(v.type == a.urid(LV2_ATOM__Path));
    BOOST_TEST(std::string(v.bytes.c_str()) == "lv2_mamba_1.safetensors");  // abstract: relative to the state dir
  }
  // Restore without a worker in the features (the Instantiation-class path: installed at once).
  {
    Host b("urn:ssmkit:lv2:mono");
    BOOST_TEST(b.state->restore(b.instance, Store::retrieve, &st, 0, features) == LV2_STATE_SUCCESS);
    b.desc->activate(b.instance);
    const auto y2 = render(b, x, 64);
    BOOST_TEST(test::max_abs_diff(y1[0], y2[0]) == 0.0);
    check_rt(b);
  }
  // Restore with a worker given to restore() (state:threadSafeRestore hosts): run() keeps going,
  // the engine arrives through work_response().
  {
    Host c("urn:ssmkit:lv2:mono");
    const LV2_Feature* with_worker[] = {&mp.f, &c.sched_f, nullptr};
    BOOST_TEST(c.state->restore(c.instance, Store::retrieve, &st, 0, with_worker) == LV2_STATE_SUCCESS);
    c.cycle(16);  // still pass-through: the engine waits in the worker queue
    c.drain();
    c.cycle(16);
    c.drain();
    c.desc->activate(c.instance);
    const auto y3 = render(c, x, 64);
    BOOST_TEST(test::max_abs_diff(y1[0], y3[0]) == 0.0);
    check_rt(c);
  }
  // An empty state: back to pass-through. A filter spec is stored as a portable string.
  {
    Host d("urn:ssmkit:lv2:mono");
    load(d, "urn:ssmkit:lv2:filter", "hippo:legs:N=8", false);
    Store fs;
    BOOST_TEST(d.state->save(d.instance, Store::store, &fs, 0, features) == LV2_STATE_SUCCESS);
    const auto& v = fs.values.at(d.urid("urn:ssmkit:lv2:filter"));
    BOOST_TEST(v.type == d.urid(LV2_ATOM__String));
    BOOST_TEST((v.flags & LV2_STATE_IS_PORTABLE) != 0u);
    Store empty;
    BOOST_TEST(d.state->restore(d.instance, Store::retrieve, &empty, 0, features) == LV2_STATE_SUCCESS);
    const auto y = render(d, x, 64);
    BOOST_TEST(test::max_abs_diff(y[0], x[0]) == 0.0);
    // A restore that fails (missing file) keeps what runs and says so.
    Store bad;
    bad.values[d.urid("urn:ssmkit:lv2:model")] = {d.urid(LV2_ATOM__Path), 0, std::string("/no/such.safetensors") + '\0'};
    BOOST_TEST(d.state->restore(d.instance, Store::retrieve, &bad, 0, features) != LV2_STATE_SUCCESS);
  }
}

// ---- the engine: latency alignment of the dry path -------------------------------------------
BOOST_AUTO_TEST_CASE(engine_aligns_dry_signal_with_latency) {
  const int Lk = 100;
  std::vector<float> k(Lk);
  for (int i = 0; i < Lk; ++i) k[static_cast<std::size_t>(i)] = std::exp(-0.05f * static_cast<float>(i)) * ((i % 3) - 1.f);
  PartitionSpec p;
  p.head_partition = 32;
  p.zero_latency = false;
  auto conv = [&] { return std::make_unique<PartitionedConvolver<float>>(1, k.data(), Lk, nullptr, p); };
  lv2::Engine e(conv(), {}, "convolver", kRate, 32, 1);
  BOOST_TEST(e.latency() == 32);
  auto ref = conv();
  ref->prepare({kRate, 32, 1.0, 1});
  const auto x = signal(320, 8);
  std::vector<float> y(x.size()), wet(x.size()), mix(x.size());
  for (std::size_t at = 0; at < x.size(); at += 32) {
    const float* ip = x.data() + at;
    float* op = y.data() + at;
    e.process(&ip, &op, 32, 0.f, 0.f);  // dry only: the input delayed by the latency
    float* wp = wet.data() + at;
    ref->process(&ip, &wp, 32);
  }
  for (std::size_t i = 0; i < x.size(); ++i) BOOST_TEST(y[i] == (i < 32 ? 0.f : x[i - 32]));
  e.reset();
  for (std::size_t at = 0; at < x.size(); at += 32) {
    const float* ip = x.data() + at;
    float* op = mix.data() + at;
    e.process(&ip, &op, 32, 0.5f, 0.5f);
  }
  double err = 0;
  for (std::size_t i = 0; i < x.size(); ++i)
    err = std::max(err, std::fabs(mix[i] - (0.5 * wet[i] + 0.5 * (i < 32 ? 0.f : x[i - 32]))));
  BOOST_TEST(err <= 1e-6);
  // The convolver really delays: its output is not the zero-latency one.
  BOOST_TEST(wet[0] == 0.f);
  // A wet change ramps linearly over the block: gain i / (n - 1) at frame i.
  e.reset();
  std::vector<float> ramp(64);
  const float* ip = x.data();
  float* op = ramp.data();
  e.process(&ip, &op, 32, 0.f, 1.f);
  ip = x.data() + 32;
  op = ramp.data() + 32;
  e.process(&ip, &op, 32, 1.f, 1.f);
  err = 0;
  for (std::size_t i = 0; i < 32; ++i) {
    const double g = static_cast<double>(i) / 31;
    err = std::max(err, std::fabs(ramp[i] - (g * wet[i] + (1 - g) * 0.0)));  // dry is still 0 here
  }
  BOOST_TEST(err <= 1e-6);
  for (std::size_t i = 32; i < 64; ++i) BOOST_TEST(ramp[i] == wet[i]);
}
