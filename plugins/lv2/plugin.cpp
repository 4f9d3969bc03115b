// The ssmkit LV2 plugin (mono urn:ssmkit:lv2:mono, stereo urn:ssmkit:lv2:stereo; ssmkit.ttl
// describes the ports). docs/audio.md explains its use; the design:
//
// Threads and ownership. run() (audio thread) owns `active`, the Engine it processes with, and
// only ever swaps that pointer. Engines are built and freed elsewhere:
//   patch:Set ssmk:model / ssmk:filter on the control port
//       run() -> schedule_work(load)        [copies the path or spec into the worker message]
//       work() (worker thread) builds the Engine -> respond(installed, Engine*)
//       work_response() (audio thread) swaps it in -> schedule_work(free, old Engine*)
//       work() frees the old one
//   state restore (host thread): builds the Engine itself, then either hands it to the worker
//       feature given to restore() (jalv and others with state:threadSafeRestore: run() keeps
//       running meanwhile) or, without one, installs it directly (restore() is then in the
//       Instantiation class: never concurrent with run()).
// Every request carries a generation number; a response older than the engine installed is
// freed, not installed, so a slow load can never replace a newer choice.
// save() may run concurrently with run(): it reads the source under `source_mutex`, which
// only non-audio threads (work, save, restore) take.
//
// run() never allocates, locks, throws or logs (plugins/lv2/tests/test_lv2_plugin.cpp checks it
// under the real-time guard), holds a ScopedFlushDenormals, and processes the host's block in
// pieces of at most the prepared max block.
#include <lv2/atom/atom.h>
#include <lv2/atom/forge.h>
#include <lv2/atom/util.h>
#include <lv2/buf-size/buf-size.h>
#include <lv2/core/lv2.h>
#include <lv2/log/log.h>
#include <lv2/log/logger.h>
#include <lv2/options/options.h>
#include <lv2/patch/patch.h>
#include <lv2/state/state.h>
#include <lv2/urid/urid.h>
#include <lv2/worker/worker.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <string>

#include "engine.hpp"
#include "ssm/core/denormals.hpp"

#define SSMK_URI "urn:ssmkit:lv2:"

namespace ssm::lv2 {
namespace {

constexpr int kDefaultMaxBlock = 4096;  // when the host gives no bufsz:maxBlockLength
constexpr std::size_t kMaxText = 2048;  // longest model path / filter spec accepted (bytes, with the NUL)
constexpr std::size_t kMaxStatus = 480; // status line sent to the host

enum Port : uint32_t { kControl = 0, kNotify = 1, kWet = 2, kLatency = 3, kAudio = 4 };

struct Uris {
  LV2_URID atom_Path, atom_String, atom_Int, atom_Object, atom_URID, atom_Sequence, atom_Blank, atom_Resource;
  LV2_URID patch_Set, patch_Get, patch_property, patch_value;
  LV2_URID bufsz_maxBlockLength, bufsz_nominalBlockLength;
  LV2_URID model, filter, status;
  void map_all(LV2_URID_Map* m) {
    auto u = [m](const char* uri) { return m->map(m->handle, uri); };
    atom_Path = u(LV2_ATOM__Path);
    atom_String = u(LV2_ATOM__String);
    atom_Int = u(LV2_ATOM__Int);
    atom_Object = u(LV2_ATOM__Object);
    atom_URID = u(LV2_ATOM__URID);
    atom_Sequence = u(LV2_ATOM__Sequence);
    atom_Blank = u(LV2_ATOM__Blank);
    atom_Resource = u(LV2_ATOM__Resource);
    patch_Set = u(LV2_PATCH__Set);
    patch_Get = u(LV2_PATCH__Get);
    patch_property = u(LV2_PATCH__property);
    patch_value = u(LV2_PATCH__value);
    bufsz_maxBlockLength = u(LV2_BUF_SIZE__maxBlockLength);
    bufsz_nominalBlockLength = u(LV2_BUF_SIZE_PREFIX "nominalBlockLength");
    model = u(SSMK_URI "model");
    filter = u(SSMK_URI "filter");
    status = u(SSMK_URI "status");
  }
};

// ---- worker messages (plain bytes: schedule_work and respond copy them) ---------------------
enum class Msg : uint32_t { load_model, load_filter, install, free_engine, installed, failed };
struct MsgHead {
  Msg type;
  uint32_t generation;
};
struct TextMsg {  // load_model / load_filter; only head + length + text (with NUL) are sent
  MsgHead head;
  uint32_t length;
  char text[kMaxText];
};
struct EngineMsg {  // install / installed / free_engine
  MsgHead head;
  Engine* engine;
};
struct FailedMsg {
  MsgHead head;
  char text[kMaxStatus];
};

void copy_text(char* dst, std::size_t cap, const char* src, std::size_t n) noexcept {
  n = std::min(n, cap - 1);
  std::memcpy(dst, src, n);
  dst[n] = '\0';
}

struct Plugin {
  // ports
  const LV2_Atom_Sequence* control = nullptr;
  LV2_Atom_Sequence* notify = nullptr;
  const float* wet = nullptr;
  float* latency = nullptr;
  const float* in[2] = {nullptr, nullptr};
  float* out[2] = {nullptr, nullptr};

  int channels = 1;
  double rate = 48000;
  int max_block = kDefaultMaxBlock;
  LV2_URID_Map* map = nullptr;
  LV2_Worker_Schedule* schedule = nullptr;
  LV2_Log_Logger logger{};
  LV2_Atom_Forge forge{};
  Uris uris{};

  // audio-thread side
  Engine* active = nullptr;
  uint32_t installed_generation = 0;
  float wet_now = 1.f;
  bool wet_started = false;
  bool notify_source = false, notify_status = false;
  char status[kMaxStatus] = "no model loaded (pass-through)";
  static constexpr int kRetired = 8;
  Engine* retired[kRetired] = {};  // engines waiting for the worker to free them
  Engine* overflow = nullptr;       // beyond kRetired: freed at cleanup
  const float* chunk_in[2] = {nullptr, nullptr};
  float* chunk_out[2] = {nullptr, nullptr};

  // any thread
  std::atomic<uint32_t> next_generation{0};

  // non-audio threads only (work, save, restore)
  std::mutex source_mutex;
  Source saved;

  ~Plugin() {
    delete active;
    for (Engine* e : retired) delete e;
    delete overflow;
  }

  void log_note(const std::string& s) { lv2_log_note(&logger, "ssmkit: %s\n", s.c_str()); }
  void log_error(const std::string& s) { lv2_log_error(&logger, "ssmkit: %s\n", s.c_str()); }

  void set_status(const char* s) noexcept {
    copy_text(status, sizeof status, s, std::strlen(s));
    notify_status = true;
  }

  // Audio thread: installs e (may be null: pass-through) if it is newer than what runs, and
  // hands the engine that leaves to the worker (or frees it here when there is none: a host
  // without a worker calls this only from restore(), outside the audio thread).
  void install(Engine* e, uint32_t generation) noexcept {
    Engine* old = e;
    if (generation > installed_generation) {
      old = active;
      active = e;
      installed_generation = generation;
      notify_source = true;
      set_status(e ? e->description().c_str() : "no model loaded (pass-through)");
    }
    if (old) retire(old);
  }

  // Audio thread: the worker frees `e`. When its queue is full, e waits in `retired` and is
  // offered again at the next run(); without any worker (only restore() installs then, outside
  // the audio thread) it is freed here.
  void retire(Engine* e) noexcept {
    if (!schedule) {
      delete e;
      return;
    }
    const EngineMsg m{{Msg::free_engine, 0}, e};
    if (schedule->schedule_work(schedule->handle, sizeof m, &m) == LV2_WORKER_SUCCESS) return;
    for (Engine*& slot : retired)
      if (!slot) {
        slot = e;
        return;
      }
    // More than kRetired engines already wait (a stalled worker): the first extra one is freed
    // at cleanup, any further one is leaked rather than freed on the audio thread.
    if (!overflow) overflow = e;
  }
  void retry_retired() noexcept {
    for (Engine*& slot : retired)
      if (slot && schedule) {
        const EngineMsg m{{Msg::free_engine, 0}, slot};
        if (schedule->schedule_work(schedule->handle, sizeof m, &m) != LV2_WORKER_SUCCESS) return;
        slot = nullptr;
      }
  }

  void request_load(Msg type, const char* text, std::size_t n) noexcept {
    if (!schedule) {
      set_status("cannot load: the host gives no LV2 worker (work:schedule); use a preset or the saved state");
      return;
    }
    if (n == 0 || n >= kMaxText) {
      set_status(n == 0 ? "cannot load: empty model path / filter spec" : "cannot load: path or spec longer than 2047 bytes");
      return;
    }
    TextMsg m;
    m.head = {type, next_generation.fetch_add(1, std::memory_order_relaxed) + 1};
    m.length = static_cast<uint32_t>(n);
    copy_text(m.text, sizeof m.text, text, n);
    const uint32_t size = static_cast<uint32_t>(offsetof(TextMsg, text) + n + 1);
    if (schedule->schedule_work(schedule->handle, size, &m) != LV2_WORKER_SUCCESS)
      set_status("cannot load: the worker queue is full, try again");
  }

  // patch:Set / patch:Get on the control port.
  void handle_event(const LV2_Atom_Event* ev) noexcept {
    if (ev->body.type != uris.atom_Object && ev->body.type != uris.atom_Blank && ev->body.type != uris.atom_Resource)
      return;
    const auto* obj = reinterpret_cast<const LV2_Atom_Object*>(&ev->body);
    if (obj->body.otype == uris.patch_Get) {
      notify_source = notify_status = true;
      return;
    }
    if (obj->body.otype != uris.patch_Set) return;
    const LV2_Atom* property = nullptr;
    const LV2_Atom* value = nullptr;
    lv2_atom_object_get(obj, uris.patch_property, &property, uris.patch_value, &value, 0);
    if (!property || property->type != uris.atom_URID || !value) return;
    const LV2_URID key = reinterpret_cast<const LV2_Atom_URID*>(property)->body;
    const char* body = static_cast<const char*>(LV2_ATOM_BODY_CONST(value));
    const std::size_t n = value->size > 0 ? strnlen(body, value->size) : 0;
    if (key == uris.model && (value->type == uris.atom_Path || value->type == uris.atom_String))
      request_load(Msg::load_model, body, n);
    else if (key == uris.filter && value->type == uris.atom_String)
      request_load(Msg::load_filter, body, n);
  }

  void forge_set(LV2_URID key, LV2_URID type, const char* text) noexcept {
    LV2_Atom_Forge_Frame frame;
    if (!lv2_atom_forge_frame_time(&forge, 0)) return;
    if (!lv2_atom_forge_object(&forge, &frame, 0, uris.patch_Set)) return;
    lv2_atom_forge_key(&forge, uris.patch_property);
    lv2_atom_forge_urid(&forge, key);
    lv2_atom_forge_key(&forge, uris.patch_value);
    if (type == uris.atom_Path)
      lv2_atom_forge_path(&forge, text, static_cast<uint32_t>(std::strlen(text)));
    else
      lv2_atom_forge_string(&forge, text, static_cast<uint32_t>(std::strlen(text)));
    lv2_atom_forge_pop(&forge, &frame);
  }

  void run(uint32_t n) noexcept {
    ScopedFlushDenormals ftz;
    LV2_Atom_Forge_Frame seq;
    bool forging = false;
    if (notify) {
      const uint32_t capacity = notify->atom.size;
      lv2_atom_forge_set_buffer(&forge, reinterpret_cast<uint8_t*>(notify), capacity);
      forging = lv2_atom_forge_sequence_head(&forge, &seq, 0) != 0;
    }
    retry_retired();
    if (control) {
      LV2_ATOM_SEQUENCE_FOREACH(control, ev) { handle_event(ev); }
    }

    // Wet gain: the port value within [0, 1] (the range ssmkit.ttl declares; NaN counts as 1),
    // ramped linearly over this run() call from the previous value.
    float target = wet ? *wet : 1.f;
    target = std::isnan(target) ? 1.f : std::clamp(target, 0.f, 1.f);
    if (!wet_started) {
      wet_now = target;
      wet_started = true;
    }
    const float from = wet_now;
    const int total = static_cast<int>(n);
    for (int at = 0; at < total; at += max_block) {
      const int m = std::min(max_block, total - at);
      for (int c = 0; c < channels; ++c) {
        chunk_in[c] = in[c] + at;
        chunk_out[c] = out[c] + at;
      }
      if (active) {
        const float a = total > 1 ? from + (target - from) * static_cast<float>(at) / static_cast<float>(total - 1) : target;
        const float b = total > 1 ? from + (target - from) * static_cast<float>(at + m - 1) / static_cast<float>(total - 1) : target;
        active->process(chunk_in, chunk_out, m, from == target ? target : a, from == target ? target : b);
      } else {
        for (int c = 0; c < channels; ++c)
          if (chunk_out[c] != chunk_in[c]) std::memmove(chunk_out[c], chunk_in[c], sizeof(float) * static_cast<std::size_t>(m));
      }
    }
    wet_now = target;
    if (latency) *latency = static_cast<float>(active ? active->latency() : 0);

    if (forging) {
      if (notify_source) {
        const Source none{};
        const Source& s = active ? active->source() : none;
        if (s.kind == Source::Kind::model) forge_set(uris.model, uris.atom_Path, s.text.c_str());
        if (s.kind == Source::Kind::filter) forge_set(uris.filter, uris.atom_String, s.text.c_str());
        notify_source = false;
      }
      if (notify_status) {
        forge_set(uris.status, uris.atom_String, status);
        notify_status = false;
      }
      lv2_atom_forge_pop(&forge, &seq);
    }
  }

  // ---- worker side ----------------------------------------------------------------------------
  LV2_Worker_Status work(LV2_Worker_Respond_Function respond, LV2_Worker_Respond_Handle handle, uint32_t size,
                         const void* data) {
    if (size < sizeof(MsgHead)) return LV2_WORKER_ERR_UNKNOWN;
    MsgHead head;
    std::memcpy(&head, data, sizeof head);
    switch (head.type) {
      case Msg::load_model:
      case Msg::load_filter: {
        if (size < offsetof(TextMsg, text) + 1) return LV2_WORKER_ERR_UNKNOWN;
        const auto* m = static_cast<const TextMsg*>(data);
        Source s;
        s.kind = head.type == Msg::load_model ? Source::Kind::model : Source::Kind::filter;
        s.text.assign(m->text, strnlen(m->text, size - offsetof(TextMsg, text)));
        try {
          auto e = Engine::build(s, rate, max_block, channels);
          log_note("loaded " + e->description());
          {
            std::lock_guard<std::mutex> lock(source_mutex);
            saved = s;
          }
          const EngineMsg r{{Msg::installed, head.generation}, e.get()};
          if (respond(handle, sizeof r, &r) != LV2_WORKER_SUCCESS) return LV2_WORKER_ERR_NO_SPACE;
          e.release();  // now owned by the audio thread
        } catch (const std::exception& ex) {
          log_error(ex.what());
          FailedMsg r;
          r.head = {Msg::failed, head.generation};
          const std::string text = std::string("error: ") + ex.what();
          copy_text(r.text, sizeof r.text, text.c_str(), text.size());
          respond(handle, sizeof r, &r);
        }
        return LV2_WORKER_SUCCESS;
      }
      case Msg::install: {  // built by restore(): only passes through to the audio thread
        if (size < sizeof(EngineMsg)) return LV2_WORKER_ERR_UNKNOWN;
        EngineMsg m;
        std::memcpy(&m, data, sizeof m);
        m.head.type = Msg::installed;
        if (respond(handle, sizeof m, &m) != LV2_WORKER_SUCCESS) {
          delete m.engine;
          return LV2_WORKER_ERR_NO_SPACE;
        }
        return LV2_WORKER_SUCCESS;
      }
      case Msg::free_engine: {
        if (size < sizeof(EngineMsg)) return LV2_WORKER_ERR_UNKNOWN;
        EngineMsg m;
        std::memcpy(&m, data, sizeof m);
        if (m.engine) log_note("freed the previous engine (" + m.engine->description() + ")");
        delete m.engine;
        return LV2_WORKER_SUCCESS;
      }
      default:
        return LV2_WORKER_ERR_UNKNOWN;
    }
  }

  LV2_Worker_Status work_response(uint32_t size, const void* data) noexcept {
    if (size < sizeof(MsgHead)) return LV2_WORKER_ERR_UNKNOWN;
    MsgHead head;
    std::memcpy(&head, data, sizeof head);
    if (head.type == Msg::installed && size >= sizeof(EngineMsg)) {
      EngineMsg m;
      std::memcpy(&m, data, sizeof m);
      install(m.engine, m.head.generation);
    } else if (head.type == Msg::failed && size >= sizeof(FailedMsg)) {
      const auto* m = static_cast<const FailedMsg*>(data);
      char text[kMaxStatus];
      copy_text(text, sizeof text, m->text, strnlen(m->text, sizeof m->text));
      set_status(text);
    }
    return LV2_WORKER_SUCCESS;
  }

  // ---- state ----------------------------------------------------------------------------------
  LV2_State_Status save(LV2_State_Store_Function store, LV2_State_Handle handle, const LV2_Feature* const* features) {
    Source s;
    {
      std::lock_guard<std::mutex> lock(source_mutex);
      s = saved;
    }
    if (s.kind == Source::Kind::model) {
      LV2_State_Map_Path* map_path = nullptr;
      LV2_State_Free_Path* free_path = nullptr;
      for (int i = 0; features && features[i]; ++i) {
        if (!std::strcmp(features[i]->URI, LV2_STATE__mapPath)) map_path = static_cast<LV2_State_Map_Path*>(features[i]->data);
        if (!std::strcmp(features[i]->URI, LV2_STATE__freePath)) free_path = static_cast<LV2_State_Free_Path*>(features[i]->data);
      }
      char* abstract = map_path ? map_path->abstract_path(map_path->handle, s.text.c_str()) : nullptr;
      const char* p = abstract ? abstract : s.text.c_str();
      const LV2_State_Status st = store(handle, uris.model, p, std::strlen(p) + 1, uris.atom_Path, LV2_STATE_IS_POD);
      if (abstract) {
        if (free_path) free_path->free_path(free_path->handle, abstract);
        else std::free(abstract);
      }
      return st;
    }
    if (s.kind == Source::Kind::filter)
      return store(handle, uris.filter, s.text.c_str(), s.text.size() + 1, uris.atom_String,
                   LV2_STATE_IS_POD | LV2_STATE_IS_PORTABLE);
    return LV2_STATE_SUCCESS;
  }

  LV2_State_Status restore(LV2_State_Retrieve_Function retrieve, LV2_State_Handle handle,
                           const LV2_Feature* const* features) {
    LV2_State_Map_Path* map_path = nullptr;
    LV2_State_Free_Path* free_path = nullptr;
    LV2_Worker_Schedule* sched = nullptr;
    for (int i = 0; features && features[i]; ++i) {
      if (!std::strcmp(features[i]->URI, LV2_STATE__mapPath)) map_path = static_cast<LV2_State_Map_Path*>(features[i]->data);
      if (!std::strcmp(features[i]->URI, LV2_STATE__freePath)) free_path = static_cast<LV2_State_Free_Path*>(features[i]->data);
      if (!std::strcmp(features[i]->URI, LV2_WORKER__schedule)) sched = static_cast<LV2_Worker_Schedule*>(features[i]->data);
    }
    Source s;  // nothing stored: back to pass-through
    std::size_t size = 0;
    uint32_t type = 0, flags = 0;
    if (const void* v = retrieve(handle, uris.model, &size, &type, &flags); v && size > 0) {
      if (type != uris.atom_Path && type != uris.atom_String) {
        log_error("state: ssmk:model is not an atom:Path");
        return LV2_STATE_ERR_BAD_TYPE;
      }
      const std::string stored(static_cast<const char*>(v), strnlen(static_cast<const char*>(v), size));
      char* abs = map_path ? map_path->absolute_path(map_path->handle, stored.c_str()) : nullptr;
      s = {Source::Kind::model, abs ? std::string(abs) : stored};
      if (abs) {
        if (free_path) free_path->free_path(free_path->handle, abs);
        else std::free(abs);
      }
    } else if (const void* f = retrieve(handle, uris.filter, &size, &type, &flags); f && size > 0) {
      if (type != uris.atom_String) {
        log_error("state: ssmk:filter is not an atom:String");
        return LV2_STATE_ERR_BAD_TYPE;
      }
      s = {Source::Kind::filter, std::string(static_cast<const char*>(f), strnlen(static_cast<const char*>(f), size))};
    }
    std::unique_ptr<Engine> e;
    try {
      if (s.kind != Source::Kind::none) {
        e = Engine::build(s, rate, max_block, channels);
        log_note("state: loaded " + e->description());
      }
    } catch (const std::exception& ex) {
      log_error(std::string("state: ") + ex.what());
      return LV2_STATE_ERR_UNKNOWN;  // the engine that runs stays
    }
    {
      std::lock_guard<std::mutex> lock(source_mutex);
      saved = s;
    }
    const uint32_t generation = next_generation.fetch_add(1, std::memory_order_relaxed) + 1;
    if (sched) {
      const EngineMsg m{{Msg::install, generation}, e.get()};
      if (sched->schedule_work(sched->handle, sizeof m, &m) != LV2_WORKER_SUCCESS) {
        log_error("state: the worker refused the new engine");
        return LV2_STATE_ERR_UNKNOWN;
      }
      e.release();
      return LV2_STATE_SUCCESS;
    }
    // No worker for restore: the host does not run us concurrently (Instantiation class).
    Engine* old = active;
    active = e.release();
    installed_generation = generation;
    notify_source = true;
    set_status(active ? active->description().c_str() : "no model loaded (pass-through)");
    delete old;
    return LV2_STATE_SUCCESS;
  }
};

// ---- the C entry points -------------------------------------------------------------------
LV2_Handle instantiate(const LV2_Descriptor* d, double rate, const char*, const LV2_Feature* const* features) {
  auto p = std::unique_ptr<Plugin>(new (std::nothrow) Plugin());
  if (!p) return nullptr;
  p->channels = std::strcmp(d->URI, SSMK_URI "stereo") == 0 ? 2 : 1;
  p->rate = rate;
  const LV2_Options_Option* options = nullptr;
  LV2_Log_Log* log = nullptr;
  for (int i = 0; features && features[i]; ++i) {
    const char* uri = features[i]->URI;
    if (!std::strcmp(uri, LV2_URID__map)) p->map = static_cast<LV2_URID_Map*>(features[i]->data);
    else if (!std::strcmp(uri, LV2_WORKER__schedule)) p->schedule = static_cast<LV2_Worker_Schedule*>(features[i]->data);
    else if (!std::strcmp(uri, LV2_LOG__log)) log = static_cast<LV2_Log_Log*>(features[i]->data);
    else if (!std::strcmp(uri, LV2_OPTIONS__options)) options = static_cast<const LV2_Options_Option*>(features[i]->data);
  }
  lv2_log_logger_init(&p->logger, p->map, log);
  if (!p->map) {
    lv2_log_error(&p->logger, "ssmkit: the host does not provide urid:map\n");
    return nullptr;
  }
  if (!(rate > 0) || !std::isfinite(rate)) {
    lv2_log_error(&p->logger, "ssmkit: sample rate %g is not a positive number\n", rate);
    return nullptr;
  }
  p->uris.map_all(p->map);
  lv2_atom_forge_init(&p->forge, p->map);
  for (const LV2_Options_Option* o = options; o && o->key; ++o)
    if (o->key == p->uris.bufsz_maxBlockLength && o->type == p->uris.atom_Int && o->size == sizeof(int32_t)) {
      const int32_t v = *static_cast<const int32_t*>(o->value);
      if (v >= 1) p->max_block = std::min<int32_t>(v, 1 << 16);
    }
  return p.release();
}

void connect_port(LV2_Handle h, uint32_t port, void* data) {
  auto* p = static_cast<Plugin*>(h);
  switch (port) {
    case kControl: p->control = static_cast<const LV2_Atom_Sequence*>(data); return;
    case kNotify: p->notify = static_cast<LV2_Atom_Sequence*>(data); return;
    case kWet: p->wet = static_cast<const float*>(data); return;
    case kLatency: p->latency = static_cast<float*>(data); return;
    default: break;
  }
  const uint32_t a = port - kAudio;  // inputs 0 .. channels-1, then outputs
  const uint32_t C = static_cast<uint32_t>(p->channels);
  if (a < C) p->in[a] = static_cast<const float*>(data);
  else if (a < 2 * C) p->out[a - C] = static_cast<float*>(data);
}

void activate(LV2_Handle h) {
  auto* p = static_cast<Plugin*>(h);
  if (p->active) p->active->reset();
  p->wet_started = false;
  p->notify_source = p->notify_status = true;
}

void run(LV2_Handle h, uint32_t n) { static_cast<Plugin*>(h)->run(n); }
void deactivate(LV2_Handle) {}
void cleanup(LV2_Handle h) { delete static_cast<Plugin*>(h); }

LV2_Worker_Status work(LV2_Handle h, LV2_Worker_Respond_Function respond, LV2_Worker_Respond_Handle rh, uint32_t size,
                       const void* data) {
  try {
    return static_cast<Plugin*>(h)->work(respond, rh, size, data);
  } catch (...) {  // std::bad_alloc of a log line: the message is dropped, the host survives
    return LV2_WORKER_ERR_UNKNOWN;
  }
}
LV2_Worker_Status work_response(LV2_Handle h, uint32_t size, const void* data) {
  return static_cast<Plugin*>(h)->work_response(size, data);
}
LV2_State_Status save(LV2_Handle h, LV2_State_Store_Function store, LV2_State_Handle sh, uint32_t,
                      const LV2_Feature* const* features) {
  try {
    return static_cast<Plugin*>(h)->save(store, sh, features);
  } catch (...) {
    return LV2_STATE_ERR_UNKNOWN;
  }
}
LV2_State_Status restore(LV2_Handle h, LV2_State_Retrieve_Function retrieve, LV2_State_Handle sh, uint32_t,
                         const LV2_Feature* const* features) {
  try {
    return static_cast<Plugin*>(h)->restore(retrieve, sh, features);
  } catch (...) {
    return LV2_STATE_ERR_UNKNOWN;
  }
}

const void* extension_data(const char* uri) {
  static const LV2_Worker_Interface worker = {work, work_response, nullptr};
  static const LV2_State_Interface state = {save, restore};
  if (!std::strcmp(uri, LV2_WORKER__interface)) return &worker;
  if (!std::strcmp(uri, LV2_STATE__interface)) return &state;
  return nullptr;
}

const LV2_Descriptor kMono = {SSMK_URI "mono", instantiate, connect_port, activate, run, deactivate, cleanup, extension_data};
const LV2_Descriptor kStereo = {SSMK_URI "stereo", instantiate, connect_port, activate, run, deactivate, cleanup, extension_data};

}  // namespace
}  // namespace ssm::lv2

extern "C" LV2_SYMBOL_EXPORT const LV2_Descriptor* lv2_descriptor(uint32_t index) {
  switch (index) {
    case 0: return &ssm::lv2::kMono;
    case 1: return &ssm::lv2::kStereo;
    default: return nullptr;
  }
}
