#include "ssm/io/npy.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <string_view>

#include "ssm/core/error.hpp"
#include "ssm/io/atomic_file.hpp"

namespace ssm::io {

namespace {

constexpr std::uint8_t kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

[[noreturn]] void bad(const std::string& origin, const std::string& what) {
  throw Error("npy: '" + origin + "': " + what);
}

std::size_t item_size(NpyDType d) noexcept { return d == NpyDType::f32 ? 4 : 8; }

// A cursor over the header text (a Python dict literal).
struct HeaderParser {
  std::string_view s;
  std::size_t i = 0;
  const std::string& origin;

  void ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  }
  bool eat(char c) {
    ws();
    if (i < s.size() && s[i] == c) { ++i; return true; }
    return false;
  }
  void expect(char c, const char* what) {
    if (!eat(c)) bad(origin, std::string("malformed header: expected '") + c + "' " + what);
  }
  std::string string_literal() {
    ws();
    if (i >= s.size() || (s[i] != '\'' && s[i] != '"')) bad(origin, "malformed header: expected a quoted string");
    const char q = s[i++];
    std::string out;
    while (i < s.size() && s[i] != q) {
      if (s[i] == '\\') bad(origin, "malformed header: escapes are not supported in strings");
      out.push_back(s[i++]);
    }
    if (i >= s.size()) bad(origin, "malformed header: unterminated string");
    ++i;
    return out;
  }
  bool boolean() {
    ws();
    if (s.substr(i, 4) == "True") { i += 4; return true; }
    if (s.substr(i, 5) == "False") { i += 5; return false; }
    bad(origin, "malformed header: 'fortran_order' must be True or False");
  }
  std::int64_t integer() {
    ws();
    if (i < s.size() && s[i] == '-') bad(origin, "invalid header: negative dimension in 'shape'");
    if (i >= s.size() || s[i] < '0' || s[i] > '9') bad(origin, "malformed header: expected an integer in 'shape'");
    std::int64_t v = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      const int digit = s[i++] - '0';
      if (v > (std::numeric_limits<std::int64_t>::max() - digit) / 10)
        bad(origin, "invalid header: dimension in 'shape' overflows 64 bits");
      v = v * 10 + digit;
    }
    if (i < s.size() && s[i] == 'L') ++i;  // Python 2 long literal
    return v;
  }
  std::vector<std::int64_t> tuple() {
    expect('(', "to open 'shape'");
    std::vector<std::int64_t> dims;
    if (eat(')')) return dims;
    for (;;) {
      dims.push_back(integer());
      if (eat(')')) break;
      expect(',', "between dimensions of 'shape'");
      if (eat(')')) break;  // trailing comma: (5,)
    }
    if (dims.size() > 64) bad(origin, "invalid header: more than 64 dimensions");
    return dims;
  }
};

inline std::uint32_t bswap(std::uint32_t u) noexcept { return __builtin_bswap32(u); }
inline std::uint64_t bswap(std::uint64_t u) noexcept { return __builtin_bswap64(u); }

template <class T>
T load_le_or_be(const std::uint8_t* p, bool big_endian) noexcept {
  using U = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  U u;
  std::memcpy(&u, p, sizeof(U));
  const bool native_big = std::endian::native == std::endian::big;
  if (big_endian != native_big) u = bswap(u);
  return std::bit_cast<T>(u);
}

template <class Out>
void convert(const std::uint8_t* p, const NpyHeader& h, Out* out, std::size_t n) {
  if (h.dtype == NpyDType::f32) {
    for (std::size_t k = 0; k < n; ++k) out[k] = static_cast<Out>(load_le_or_be<float>(p + 4 * k, h.big_endian));
  } else {
    for (std::size_t k = 0; k < n; ++k) out[k] = static_cast<Out>(load_le_or_be<double>(p + 8 * k, h.big_endian));
  }
}

std::uint64_t file_size_of(const std::string& path, std::ifstream& f) {
  f.seekg(0, std::ios::end);
  const auto end = f.tellg();
  if (end < 0) bad(path, "cannot determine the file size");
  f.seekg(0, std::ios::beg);
  return static_cast<std::uint64_t>(end);
}

std::ifstream open_for_reading(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) bad(path, std::string("cannot open for reading: ") + std::strerror(errno));
  return f;
}

// The first bytes of a file: enough for any header numpy writes (and a little more); the
// parser reports a header that extends past them as too long.
constexpr std::size_t kMaxHeader = 1u << 20;

}  // namespace

std::int64_t NpyHeader::numel() const noexcept {
  // An empty dimension anywhere makes the array empty; check first so that huge dimensions
  // before a zero never overflow the product (the header parser bounds non-empty products).
  for (auto d : shape)
    if (d == 0) return 0;
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

NpyHeader parse_npy_header(const std::uint8_t* bytes, std::size_t available,
                           std::uint64_t total_size, const std::string& origin) {
  available = static_cast<std::size_t>(std::min<std::uint64_t>(available, total_size));
  if (available < 10) bad(origin, "truncated: shorter than the 10-byte .npy preamble");
  if (std::memcmp(bytes, kMagic, 6) != 0) bad(origin, "not a .npy file (wrong magic string)");
  const int major = bytes[6], minor = bytes[7];
  if (!(major >= 1 && major <= 3) || minor != 0)
    bad(origin, "unsupported .npy version " + std::to_string(major) + "." + std::to_string(minor) +
                    " (expected 1.0, 2.0 or 3.0)");
  std::size_t prefix = major == 1 ? 10 : 12;
  if (available < prefix) bad(origin, "truncated: the header length is cut off");
  std::uint64_t hlen = major == 1 ? (std::uint64_t{bytes[8]} | std::uint64_t{bytes[9]} << 8)
                                  : (std::uint64_t{bytes[8]} | std::uint64_t{bytes[9]} << 8 |
                                     std::uint64_t{bytes[10]} << 16 | std::uint64_t{bytes[11]} << 24);
  if (hlen > total_size - prefix)
    bad(origin, "truncated: header of " + std::to_string(hlen) + " bytes runs past the end of the file (" +
                    std::to_string(total_size) + " bytes)");
  if (hlen > available - prefix)
    bad(origin, "header of " + std::to_string(hlen) + " bytes is longer than the supported " +
                    std::to_string(kMaxHeader) + " bytes");
  const std::string_view text(reinterpret_cast<const char*>(bytes + prefix), static_cast<std::size_t>(hlen));
  if (major < 3)
    for (unsigned char c : text)
      if (c >= 0x80) bad(origin, "malformed header: non-ASCII byte in a version 1/2 header");

  NpyHeader h;
  HeaderParser p{text, 0, origin};
  bool have_descr = false, have_order = false, have_shape = false;
  p.expect('{', "at the start of the header dict");
  if (!p.eat('}')) {
    for (;;) {
      const std::string key = p.string_literal();
      p.expect(':', "after a key");
      if (key == "descr") {
        if (have_descr) bad(origin, "malformed header: duplicate key 'descr'");
        have_descr = true;
        const std::string d = p.string_literal();
        if (d.size() != 3 || (d[0] != '<' && d[0] != '>' && d[0] != '=') || d[1] != 'f' ||
            (d[2] != '4' && d[2] != '8'))
          bad(origin, "unsupported dtype '" + d + "' (expected float32 '<f4'/'>f4' or float64 '<f8'/'>f8')");
        h.dtype = d[2] == '4' ? NpyDType::f32 : NpyDType::f64;
        h.big_endian = d[0] == '>' || (d[0] == '=' && std::endian::native == std::endian::big);
      } else if (key == "fortran_order") {
        if (have_order) bad(origin, "malformed header: duplicate key 'fortran_order'");
        have_order = true;
        if (p.boolean()) bad(origin, "unsupported: Fortran-order array (expected C order; save with np.ascontiguousarray)");
      } else if (key == "shape") {
        if (have_shape) bad(origin, "malformed header: duplicate key 'shape'");
        have_shape = true;
        h.shape = p.tuple();
      } else {
        bad(origin, "malformed header: unknown key '" + key + "'");
      }
      if (p.eat('}')) break;
      p.expect(',', "between header entries");
      if (p.eat('}')) break;  // trailing comma
    }
  }
  p.ws();
  if (p.i != text.size()) bad(origin, "malformed header: unexpected text after the dict");
  if (!have_descr || !have_order || !have_shape)
    bad(origin, std::string("malformed header: missing key '") +
                    (!have_descr ? "descr" : !have_order ? "fortran_order" : "shape") + "'");

  // numel x itemsize without overflow, and within the file.
  const std::uint64_t data_bytes_available = total_size - prefix - hlen;
  std::uint64_t n = 1;
  bool zero = false;
  for (auto d : h.shape) if (d == 0) zero = true;
  if (!zero) {
    for (auto d : h.shape) {
      const auto ud = static_cast<std::uint64_t>(d);
      if (n > data_bytes_available / ud) bad(origin, "truncated or corrupt: shape needs more data than the file holds");
      n *= ud;
    }
  } else {
    n = 0;
  }
  const std::uint64_t need = n * item_size(h.dtype);  // n <= data_bytes_available: no overflow
  if (need > data_bytes_available)
    bad(origin, "truncated: data needs " + std::to_string(need) + " bytes, the file holds " +
                    std::to_string(data_bytes_available));
  if (need < data_bytes_available)
    bad(origin, "corrupt: " + std::to_string(data_bytes_available - need) +
                    " unexpected bytes after the data");
  h.data_offset = prefix + static_cast<std::size_t>(hlen);
  return h;
}

template <class T>
NpyArray<T> parse_npy(const std::vector<std::uint8_t>& bytes, const std::string& origin) {
  const NpyHeader h = parse_npy_header(bytes.data(), bytes.size(), bytes.size(), origin);
  NpyArray<T> a;
  a.shape = h.shape;
  a.stored = h.dtype;
  a.data.resize(static_cast<std::size_t>(h.numel()));
  convert(bytes.data() + h.data_offset, h, a.data.data(), a.data.size());
  return a;
}

NpyHeader npy_info(const std::string& path) {
  auto f = open_for_reading(path);
  const std::uint64_t size = file_size_of(path, f);
  std::vector<std::uint8_t> head(static_cast<std::size_t>(std::min<std::uint64_t>(size, kMaxHeader + 12)));
  if (!f.read(reinterpret_cast<char*>(head.data()), static_cast<std::streamsize>(head.size())))
    bad(path, "read error in the header");
  return parse_npy_header(head.data(), head.size(), size, path);
}

template <class T>
NpyArray<T> load_npy(const std::string& path) {
  auto f = open_for_reading(path);
  const std::uint64_t size = file_size_of(path, f);
  std::vector<std::uint8_t> head(static_cast<std::size_t>(std::min<std::uint64_t>(size, kMaxHeader + 12)));
  if (!f.read(reinterpret_cast<char*>(head.data()), static_cast<std::streamsize>(head.size())))
    bad(path, "read error in the header");
  const NpyHeader h = parse_npy_header(head.data(), head.size(), size, path);

  NpyArray<T> a;
  a.shape = h.shape;
  a.stored = h.dtype;
  const auto n = static_cast<std::size_t>(h.numel());
  a.data.resize(n);
  f.clear();
  f.seekg(static_cast<std::streamoff>(h.data_offset));
  // Read in chunks and convert, so a float32 file read as double needs no second full copy.
  constexpr std::size_t kChunk = 1 << 16;  // elements
  std::vector<std::uint8_t> buf(std::min(n, kChunk) * item_size(h.dtype));
  for (std::size_t done = 0; done < n;) {
    const std::size_t m = std::min(kChunk, n - done);
    if (!f.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(m * item_size(h.dtype))))
      bad(path, "truncated: read error in the data section");
    convert(buf.data(), h, a.data.data() + done, m);
    done += m;
  }
  return a;
}

template <class T>
std::vector<std::uint8_t> serialize_npy(const std::vector<std::int64_t>& shape, const T* data,
                                        std::size_t count) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>);
  std::uint64_t n = 1;
  for (std::size_t k = 0; k < shape.size(); ++k) {
    require(shape[k] >= 0, "serialize_npy", "shape", "dimensions must be >= 0, got ", shape[k],
            " at axis ", k);
    const auto d = static_cast<std::uint64_t>(shape[k]);
    require(d == 0 || n <= std::numeric_limits<std::uint64_t>::max() / d, "serialize_npy", "shape",
            "product overflows 64 bits");
    n *= d;
  }
  require(n == count, "serialize_npy", "data", "must hold prod(shape) = ", n, " values, got ", count);
  require(count == 0 || data != nullptr, "serialize_npy", "data", "must not be null");

  std::string dict = std::string("{'descr': '<f") + (sizeof(T) == 4 ? "4" : "8") +
                     "', 'fortran_order': False, 'shape': (";
  for (std::size_t k = 0; k < shape.size(); ++k) {
    dict += std::to_string(shape[k]);
    if (k + 1 < shape.size() || shape.size() == 1) dict += shape.size() == 1 ? "," : ", ";
  }
  dict += "), }";
  // Pad with spaces so that preamble + header is a multiple of 64, ending in '\n'.
  std::size_t prefix = 10;
  std::size_t total = prefix + dict.size() + 1;
  std::size_t padded = (total + 63) / 64 * 64;
  if (padded - prefix > 0xFFFF) {
    prefix = 12;
    total = prefix + dict.size() + 1;
    padded = (total + 63) / 64 * 64;
  }
  dict.append(padded - total, ' ');
  dict.push_back('\n');
  const std::size_t hlen = dict.size();

  std::vector<std::uint8_t> out(prefix + hlen + count * sizeof(T));
  std::memcpy(out.data(), kMagic, 6);
  out[6] = prefix == 10 ? 1 : 2;
  out[7] = 0;
  for (std::size_t b = 0; b < prefix - 8; ++b) out[8 + b] = static_cast<std::uint8_t>(hlen >> (8 * b));
  std::memcpy(out.data() + prefix, dict.data(), hlen);
  std::uint8_t* p = out.data() + prefix + hlen;
  using U = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  for (std::size_t k = 0; k < count; ++k) {
    U u = std::bit_cast<U>(data[k]);
    if constexpr (std::endian::native == std::endian::big) u = bswap(u);
    std::memcpy(p + k * sizeof(T), &u, sizeof(T));
  }
  return out;
}

template <class T>
void save_npy(const std::string& path, const std::vector<std::int64_t>& shape, const T* data,
              std::size_t count) {
  const auto bytes = serialize_npy(shape, data, count);
  write_file_atomic(path, bytes, "save_npy");
}

template NpyArray<float> load_npy<float>(const std::string&);
template NpyArray<double> load_npy<double>(const std::string&);
template NpyArray<float> parse_npy<float>(const std::vector<std::uint8_t>&, const std::string&);
template NpyArray<double> parse_npy<double>(const std::vector<std::uint8_t>&, const std::string&);
template std::vector<std::uint8_t> serialize_npy<float>(const std::vector<std::int64_t>&, const float*, std::size_t);
template std::vector<std::uint8_t> serialize_npy<double>(const std::vector<std::int64_t>&, const double*, std::size_t);
template void save_npy<float>(const std::string&, const std::vector<std::int64_t>&, const float*, std::size_t);
template void save_npy<double>(const std::string&, const std::vector<std::int64_t>&, const double*, std::size_t);

}  // namespace ssm::io
