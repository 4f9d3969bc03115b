#include "ssm/io/safetensors.hpp"

#include "ssm/io/atomic_file.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "ssm/core/error.hpp"

namespace ssm::io {
namespace {

constexpr std::size_t kMaxHeader = 100u * 1024u * 1024u;  // same bound as the reference reader

[[noreturn]] void bad(const std::string& origin, const std::string& msg) {
  throw Error("safetensors '" + origin + "': " + msg);
}

bool parse_dtype(const std::string& s, DType& d) {
  static const std::pair<const char*, DType> table[] = {
      {"F64", DType::F64}, {"F32", DType::F32}, {"F16", DType::F16}, {"BF16", DType::BF16},
      {"I64", DType::I64}, {"I32", DType::I32}, {"U8", DType::U8}};
  for (auto& [n, v] : table)
    if (s == n) { d = v; return true; }
  return false;
}

template <class T>
T load_le(const std::uint8_t* p) noexcept {
  static_assert(std::endian::native == std::endian::little, "big-endian hosts not supported");
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

}  // namespace

const char* to_string(DType d) noexcept {
  switch (d) {
    case DType::F64: return "F64";
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::I64: return "I64";
    case DType::I32: return "I32";
    case DType::U8: return "U8";
  }
  return "?";
}

std::size_t dtype_size(DType d) noexcept {
  switch (d) {
    case DType::F64: case DType::I64: return 8;
    case DType::F32: case DType::I32: return 4;
    case DType::F16: case DType::BF16: return 2;
    case DType::U8: return 1;
  }
  return 0;
}

std::int64_t TensorInfo::numel() const {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

float half_to_float(std::uint16_t h) noexcept {
  const std::uint32_t sign = (h >> 15) & 1u, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
  float v;
  if (exp == 0) v = std::ldexp(static_cast<float>(man), -24);
  else if (exp == 31) v = man ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
  else v = std::ldexp(static_cast<float>(man | 0x400u), static_cast<int>(exp) - 25);
  return sign ? -v : v;
}

float bf16_to_float(std::uint16_t h) noexcept {
  return std::bit_cast<float>(static_cast<std::uint32_t>(h) << 16);
}

std::uint16_t float_to_bf16(float f) noexcept {
  std::uint32_t u = std::bit_cast<std::uint32_t>(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40u);  // NaN
  u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest even
  return static_cast<std::uint16_t>(u >> 16);
}

std::uint16_t float_to_half(float f) noexcept {
  std::uint32_t u = std::bit_cast<std::uint32_t>(f);
  const std::uint16_t sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
  u &= 0x7fffffffu;
  if (u > 0x7f800000u) return sign | 0x7e00u;
  if (u >= 0x477ff000u) return sign | 0x7c00u;  // overflow -> inf
  if (u < 0x38800000u) {                        // subnormal half (or zero)
    const float a = std::bit_cast<float>(u);
    return sign | static_cast<std::uint16_t>(std::nearbyint(a * 16777216.0f));
  }
  const std::uint32_t rounded = u + 0xfffu + ((u >> 13) & 1u);
  return sign | static_cast<std::uint16_t>((rounded - 0x38000000u) >> 13);
}

SafeTensors SafeTensors::load(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw Error("safetensors: argument 'path' must name a readable regular file, got '" + path + "'");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("safetensors: cannot open '" + path + "'");
  f.seekg(0, std::ios::end);
  const auto size = static_cast<std::streamoff>(f.tellg());
  if (size < 0) throw Error("safetensors: cannot determine size of '" + path + "'");
  f.seekg(0);
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  if (size > 0 && !f.read(reinterpret_cast<char*>(bytes.data()), size))
    throw Error("safetensors: read failed for '" + path + "'");
  return parse(std::move(bytes), path);
}

SafeTensors SafeTensors::parse(std::vector<std::uint8_t> bytes, std::string origin) {
  SafeTensors st;
  st.origin_ = std::move(origin);
  const auto& o = st.origin_;
  if (bytes.size() < 8)
    bad(o, "file is " + std::to_string(bytes.size()) + " bytes, expected at least 8 (header length)");
  const std::uint64_t n = load_le<std::uint64_t>(bytes.data());
  // An implausible length and no '{' after it: some other file (text, audio) named .safetensors.
  const std::string other = bytes.size() > 8 && bytes[8] != '{'
                                ? "not a safetensors file (no JSON header after the 8-byte length): "
                                : "";
  if (n > kMaxHeader) bad(o, other + "header length " + std::to_string(n) + " exceeds the 100 MiB limit");
  if (n > bytes.size() - 8)
    bad(o, other + "header length " + std::to_string(n) + " runs past the end of the file (" +
               std::to_string(bytes.size()) + " bytes)" + (other.empty() ? ": truncated file?" : ""));
  if (n < 2 || bytes[8] != '{') bad(o, "header must be a JSON object starting with '{'");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  } catch (const std::exception& e) {
    bad(o, std::string("header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) bad(o, "header must be a JSON object");
  st.data_start_ = 8 + static_cast<std::size_t>(n);
  const std::size_t data_size = bytes.size() - st.data_start_;

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const auto& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) bad(o, "'__metadata__' must be an object of strings");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) bad(o, "metadata '" + m.key() + "' must be a string");
        st.metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string t = "tensor '" + name + "'";
    if (!v.is_object()) bad(o, t + " must be an object");
    if (!v.contains("dtype") || !v["dtype"].is_string()) bad(o, t + " lacks a string 'dtype'");
    if (!v.contains("shape") || !v["shape"].is_array()) bad(o, t + " lacks an array 'shape'");
    if (!v.contains("data_offsets") || !v["data_offsets"].is_array() || v["data_offsets"].size() != 2)
      bad(o, t + " lacks 'data_offsets' [begin, end]");
    TensorInfo ti;
    ti.name = name;
    const auto ds = v["dtype"].get<std::string>();
    if (!parse_dtype(ds, ti.dtype))
      bad(o, t + " has unknown dtype '" + ds + "' (expected F64, F32, F16, BF16, I64, I32 or U8)");
    std::uint64_t count = 1;
    for (const auto& d : v["shape"]) {
      if (!d.is_number_integer() || d.get<std::int64_t>() < 0)
        bad(o, t + " has a shape entry that is not a non-negative integer");
      const auto dim = d.get<std::uint64_t>();
      if (dim != 0 && count > std::numeric_limits<std::uint64_t>::max() / 16 / dim)
        bad(o, t + " has a shape whose element count overflows");
      count *= dim;
      ti.shape.push_back(static_cast<std::int64_t>(dim));
    }
    const auto& off = v["data_offsets"];
    if (!off[0].is_number_unsigned() && !(off[0].is_number_integer() && off[0].get<std::int64_t>() >= 0))
      bad(o, t + " has a negative or non-integer begin offset");
    if (!off[1].is_number_unsigned() && !(off[1].is_number_integer() && off[1].get<std::int64_t>() >= 0))
      bad(o, t + " has a negative or non-integer end offset");
    const auto b = off[0].get<std::uint64_t>(), e = off[1].get<std::uint64_t>();
    if (b > e) bad(o, t + " has begin offset > end offset");
    if (e > data_size)
      bad(o, t + " ends at byte " + std::to_string(e) + " of a data buffer of " +
                 std::to_string(data_size) + " bytes: truncated file?");
    const std::uint64_t need = count * dtype_size(ti.dtype);
    if (e - b != need)
      bad(o, t + " has " + std::to_string(e - b) + " bytes but shape x dtype needs " + std::to_string(need));
    ti.begin = static_cast<std::size_t>(b);
    ti.end = static_cast<std::size_t>(e);
    st.tensors_.emplace(name, std::move(ti));
  }
  // Non-overlapping and covering the buffer exactly.
  std::vector<const TensorInfo*> order;
  for (auto& [k, ti] : st.tensors_) order.push_back(&ti);
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  std::size_t pos = 0;
  for (auto* ti : order) {
    if (ti->begin < pos) bad(o, "tensor '" + ti->name + "' overlaps the previous tensor");
    if (ti->begin > pos) bad(o, "data buffer has a hole before tensor '" + ti->name + "'");
    pos = ti->end;
  }
  if (pos != data_size)
    bad(o, "data buffer has " + std::to_string(data_size - pos) + " trailing bytes not covered by any tensor");
  st.bytes_ = std::move(bytes);
  return st;
}

std::string SafeTensors::meta(const std::string& key, const std::string& fallback) const {
  auto it = metadata_.find(key);
  return it == metadata_.end() ? fallback : it->second;
}

std::string SafeTensors::meta(const std::string& key) const {
  auto it = metadata_.find(key);
  if (it == metadata_.end()) bad(origin_, "metadata key '" + key + "' is missing");
  return it->second;
}

double SafeTensors::meta_double(const std::string& key) const {
  const auto s = meta(key);
  try {
    std::size_t used = 0;
    double v = std::stod(s, &used);
    if (used != s.size()) throw std::invalid_argument("trailing characters");
    return v;
  } catch (const std::exception&) {
    bad(origin_, "metadata '" + key + "' must be a decimal number, got '" + s + "'");
  }
}

long long SafeTensors::meta_int(const std::string& key) const {
  const auto s = meta(key);
  try {
    std::size_t used = 0;
    long long v = std::stoll(s, &used);
    if (used != s.size()) throw std::invalid_argument("trailing characters");
    return v;
  } catch (const std::exception&) {
    bad(origin_, "metadata '" + key + "' must be an integer, got '" + s + "'");
  }
}

bool SafeTensors::meta_bool(const std::string& key) const {
  const auto s = meta(key);
  if (s == "true" || s == "True" || s == "1") return true;
  if (s == "false" || s == "False" || s == "0") return false;
  bad(origin_, "metadata '" + key + "' must be true or false, got '" + s + "'");
}

const TensorInfo& SafeTensors::info(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) bad(origin_, "tensor '" + name + "' is missing");
  return it->second;
}

std::vector<std::string> SafeTensors::names() const {
  std::vector<std::string> r;
  for (auto& [k, v] : tensors_) r.push_back(k);
  return r;
}

const std::uint8_t* SafeTensors::raw(const std::string& name) const {
  return bytes_.data() + data_start_ + info(name).begin;
}

std::vector<double> SafeTensors::to_double(const std::string& name) const {
  const auto& ti = info(name);
  const std::size_t n = static_cast<std::size_t>(ti.numel());
  const std::uint8_t* p = raw(name);
  std::vector<double> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    switch (ti.dtype) {
      case DType::F64: out[i] = load_le<double>(p + 8 * i); break;
      case DType::F32: out[i] = load_le<float>(p + 4 * i); break;
      case DType::F16: out[i] = half_to_float(load_le<std::uint16_t>(p + 2 * i)); break;
      case DType::BF16: out[i] = bf16_to_float(load_le<std::uint16_t>(p + 2 * i)); break;
      case DType::I64: out[i] = static_cast<double>(load_le<std::int64_t>(p + 8 * i)); break;
      case DType::I32: out[i] = load_le<std::int32_t>(p + 4 * i); break;
      case DType::U8: out[i] = p[i]; break;
    }
  }
  return out;
}

std::vector<float> SafeTensors::to_float(const std::string& name) const {
  auto d = to_double(name);
  return std::vector<float>(d.begin(), d.end());
}

std::vector<std::uint8_t> serialize_safetensors(const std::vector<TensorOut>& tensors,
                                                const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json h = nlohmann::ordered_json::object();
  if (!metadata.empty()) h["__metadata__"] = metadata;
  std::size_t off = 0;
  for (const auto& t : tensors) {
    std::int64_t n = 1;
    for (auto d : t.shape) {
      require(d >= 0, "serialize_safetensors", "shape", "of '", t.name, "' must be non-negative");
      n *= d;
    }
    require(static_cast<std::size_t>(n) == t.values.size(), "serialize_safetensors", "values",
            "of '", t.name, "' must have ", n, " elements (shape product), got ", t.values.size());
    require(t.name != "__metadata__" && !t.name.empty(), "serialize_safetensors", "name",
            "must be non-empty and not '__metadata__'");
    if (t.dtype == DType::I64 || t.dtype == DType::I32 || t.dtype == DType::U8) {
      const double lo = t.dtype == DType::U8 ? 0.0 : t.dtype == DType::I32 ? -2147483648.0 : -9223372036854775808.0;
      const double hi = t.dtype == DType::U8 ? 255.0 : t.dtype == DType::I32 ? 2147483647.0 : 9223372036854774784.0;
      for (double v : t.values)
        require(std::isfinite(v) && v == std::trunc(v) && v >= lo && v <= hi, "serialize_safetensors",
                "values", "of '", t.name, "' must be integers in [", lo, ", ", hi, "] for dtype ",
                to_string(t.dtype), ", got ", v);
    }
    const std::size_t bytes = static_cast<std::size_t>(n) * dtype_size(t.dtype);
    h[t.name] = {{"dtype", to_string(t.dtype)}, {"shape", t.shape}, {"data_offsets", {off, off + bytes}}};
    off += bytes;
  }
  std::string hs = h.dump();
  while ((8 + hs.size()) % 8) hs.push_back(' ');  // align the data buffer to 8 bytes
  std::vector<std::uint8_t> out(8 + hs.size() + off);
  const std::uint64_t n = hs.size();
  std::memcpy(out.data(), &n, 8);
  std::memcpy(out.data() + 8, hs.data(), hs.size());
  std::uint8_t* p = out.data() + 8 + hs.size();
  for (const auto& t : tensors) {
    for (double v : t.values) {
      switch (t.dtype) {
        case DType::F64: std::memcpy(p, &v, 8); p += 8; break;
        case DType::F32: { float f = static_cast<float>(v); std::memcpy(p, &f, 4); p += 4; break; }
        case DType::F16: { auto x = float_to_half(static_cast<float>(v)); std::memcpy(p, &x, 2); p += 2; break; }
        case DType::BF16: { auto x = float_to_bf16(static_cast<float>(v)); std::memcpy(p, &x, 2); p += 2; break; }
        case DType::I64: { auto x = static_cast<std::int64_t>(v); std::memcpy(p, &x, 8); p += 8; break; }
        case DType::I32: { auto x = static_cast<std::int32_t>(v); std::memcpy(p, &x, 4); p += 4; break; }
        case DType::U8: { auto x = static_cast<std::uint8_t>(v); *p++ = x; break; }
      }
    }
  }
  return out;
}

void save_safetensors(const std::string& path, const std::vector<TensorOut>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  const auto bytes = serialize_safetensors(tensors, metadata);
  write_file_atomic(path, bytes, "save_safetensors");
}

}  // namespace ssm::io
