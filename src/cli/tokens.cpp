// Token-id arrays (tokens.hpp). Floating .npy files go through ssm::io::parse_npy; integer ones,
// which that reader does not take, are read here: the header is checked as strictly (magic,
// version, exactly the keys descr / fortran_order / shape, C order, a data section of exactly
// numel x itemsize bytes).
#include "tokens.hpp"

#include <bit>
#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>

#include "ssm/core/error.hpp"
#include "ssm/io/npy.hpp"

namespace ssm::cli {
namespace {

[[noreturn]] void bad(const std::string& path, const std::string& what) {
  fail("ssmkit", "IN", "'", path, "': ", what);
}

std::vector<std::uint8_t> read_bytes(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) bad(path, "no such file");
  std::ifstream f(path, std::ios::binary);
  if (!f) bad(path, "cannot be opened");
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// What an integer .npy header says.
struct IntHeader {
  char order = '<';     // '<', '>' or '|'
  bool is_signed = true;
  int itemsize = 8;
  std::vector<std::int64_t> shape;
  std::size_t data_offset = 0;
};

// The header dict of a .npy file: {'descr': '...', 'fortran_order': False, 'shape': (...), }.
class HeaderParser {
public:
  HeaderParser(std::string text, std::string path) : s_(std::move(text)), path_(std::move(path)) {}

  // Returns descr; fills shape and fortran_order.
  std::string parse(std::vector<std::int64_t>& shape, bool& fortran) {
    std::string descr;
    bool has_descr = false, has_fortran = false, has_shape = false;
    ws();
    expect('{');
    for (;;) {
      ws();
      if (peek() == '}') {
        ++i_;
        break;
      }
      const std::string key = quoted();
      ws();
      expect(':');
      ws();
      if (key == "descr" && !has_descr) {
        descr = quoted(), has_descr = true;
      } else if (key == "fortran_order" && !has_fortran) {
        fortran = boolean(), has_fortran = true;
      } else if (key == "shape" && !has_shape) {
        shape = tuple(), has_shape = true;
      } else {
        bad(path_, "the .npy header has an unknown or repeated key '" + key + "'");
      }
      ws();
      if (peek() == ',') ++i_;
    }
    ws();
    if (i_ != s_.size()) bad(path_, "the .npy header has text after its dict");
    if (!has_descr || !has_fortran || !has_shape)
      bad(path_, "the .npy header lacks one of 'descr', 'fortran_order', 'shape'");
    return descr;
  }

private:
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t')) ++i_;
  }
  void expect(char c) {
    if (peek() != c) bad(path_, std::string("the .npy header is malformed (expected '") + c + "')");
    ++i_;
  }
  std::string quoted() {
    const char q = peek();
    if (q != '\'' && q != '"') bad(path_, "the .npy header is malformed (expected a quoted string)");
    const std::size_t end = s_.find(q, i_ + 1);
    if (end == std::string::npos) bad(path_, "the .npy header is malformed (an unterminated string)");
    std::string r = s_.substr(i_ + 1, end - i_ - 1);
    i_ = end + 1;
    return r;
  }
  bool boolean() {
    if (s_.compare(i_, 4, "True") == 0) return i_ += 4, true;
    if (s_.compare(i_, 5, "False") == 0) return i_ += 5, false;
    bad(path_, "the .npy header's fortran_order is not True or False");
  }
  std::vector<std::int64_t> tuple() {
    std::vector<std::int64_t> v;
    expect('(');
    for (;;) {
      ws();
      if (peek() == ')') {
        ++i_;
        return v;
      }
      if (!std::isdigit(static_cast<unsigned char>(peek()))) bad(path_, "the .npy header's shape is not a tuple of integers");
      std::int64_t d = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        if (d > (std::numeric_limits<std::int64_t>::max() - 9) / 10) bad(path_, "the .npy header's shape overflows");
        d = d * 10 + (s_[i_++] - '0');
      }
      v.push_back(d);
      ws();
      if (peek() == ',') ++i_;
      else if (peek() != ')') bad(path_, "the .npy header's shape is not a tuple of integers");
    }
  }
  std::string s_, path_;
  std::size_t i_ = 0;
};

// The header of a .npy image; returns its descr and (for integer dtypes) what is needed to read it.
std::string npy_descr(const std::vector<std::uint8_t>& b, const std::string& path, IntHeader& h) {
  static const unsigned char magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (b.size() < 10 || std::memcmp(b.data(), magic, 6) != 0) bad(path, "is not a .npy file (no \\x93NUMPY magic)");
  const int major = b[6];
  if (major < 1 || major > 3) bad(path, "has an unknown .npy version " + std::to_string(major));
  std::size_t len = 0, start = 0;
  if (major == 1) {
    len = std::size_t(b[8]) | std::size_t(b[9]) << 8;
    start = 10;
  } else {
    if (b.size() < 12) bad(path, "is truncated (the .npy header is incomplete)");
    len = std::size_t(b[8]) | std::size_t(b[9]) << 8 | std::size_t(b[10]) << 16 | std::size_t(b[11]) << 24;
    start = 12;
  }
  if (start + len > b.size()) bad(path, "is truncated (the .npy header runs past the end of the file)");
  bool fortran = false;
  const std::string descr =
      HeaderParser(std::string(reinterpret_cast<const char*>(b.data()) + start, len), path).parse(h.shape, fortran);
  h.data_offset = start + len;
  if (descr.size() >= 3 && (descr[1] == 'i' || descr[1] == 'u')) {
    if (fortran) bad(path, "is in Fortran order (save a C-order array: np.ascontiguousarray)");
    h.is_signed = descr[1] == 'i';
    const std::string size = descr.substr(2);
    h.itemsize = size == "1" ? 1 : size == "2" ? 2 : size == "4" ? 4 : size == "8" ? 8 : 0;
    h.order = descr[0] == '=' ? (std::endian::native == std::endian::little ? '<' : '>') : descr[0];
    const bool order_ok = h.itemsize == 1 ? (h.order == '|' || h.order == '<' || h.order == '>') : (h.order == '<' || h.order == '>');
    if (h.itemsize == 0 || !order_ok) bad(path, "has the dtype '" + descr + "', which is not an integer type NumPy writes");
  }
  return descr;
}

std::string number(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

// "[t]" or "[b, t]" (GCC 12 warns falsely, -Wrestrict, about "[" + std::string + ...).
std::string position(std::int64_t i, std::int64_t length, bool batched) {
  std::ostringstream os;
  if (batched) os << '[' << i / length << ", " << i % length << ']';
  else os << '[' << i << ']';
  return os.str();
}

}  // namespace

std::vector<std::int64_t> TokenIds::output_shape(int d_output) const {
  if (batched) return {batch, length, d_output};
  return {length, d_output};
}

TokenIds read_token_ids(const std::string& path, int vocab) {
  require(vocab >= 1 && vocab <= (1 << 24), "ssmkit", "--model", "has vocab_size ", vocab,
          "; token models of 1 .. 2^24 tokens are run (ids exact in float32)");
  const std::vector<std::uint8_t> bytes = read_bytes(path);
  IntHeader h;
  const std::string descr = npy_descr(bytes, path, h);
  const bool integer = descr.size() >= 3 && (descr[1] == 'i' || descr[1] == 'u');
  std::vector<std::int64_t> shape;
  std::vector<double> values;  // floating files: checked below for being integers
  std::vector<std::int64_t> ints;
  if (integer) {
    shape = h.shape;
    std::uint64_t n = 1;
    for (auto d : shape) {
      if (d != 0 && n > std::numeric_limits<std::uint64_t>::max() / std::uint64_t(d)) bad(path, "has a shape that overflows");
      n *= std::uint64_t(d);
    }
    if (n > (bytes.size() - h.data_offset) / std::uint64_t(h.itemsize) ||
        bytes.size() - h.data_offset != n * std::uint64_t(h.itemsize))
      bad(path, "has a data section of " + std::to_string(bytes.size() - h.data_offset) + " bytes, expected " +
                    std::to_string(n) + " x " + std::to_string(h.itemsize));
    ints.resize(n);
    const std::uint8_t* p = bytes.data() + h.data_offset;
    const bool big = h.order == '>';
    for (std::uint64_t k = 0; k < n; ++k, p += h.itemsize) {
      std::uint64_t u = 0;
      for (int j = 0; j < h.itemsize; ++j) u |= std::uint64_t(p[big ? h.itemsize - 1 - j : j]) << (8 * j);
      std::int64_t v;
      if (h.is_signed) {
        const int bits = 8 * h.itemsize;
        v = bits == 64 ? static_cast<std::int64_t>(u)
                       : static_cast<std::int64_t>(u << (64 - bits)) >> (64 - bits);  // sign extension
      } else {
        v = u > std::uint64_t(std::numeric_limits<std::int64_t>::max()) ? -1 : static_cast<std::int64_t>(u);
      }
      ints[k] = v;
    }
  } else {
    io::NpyArray<double> a;
    try {
      a = io::parse_npy<double>(bytes, path);
    } catch (const Error& e) {
      fail("ssmkit", "IN", e.what(), " (token ids: an integer or float .npy)");
    }
    shape = a.shape;
    values = std::move(a.data);
  }

  TokenIds t;
  t.path = path;
  if (shape.size() == 1) {
    t.length = shape[0];
  } else if (shape.size() == 2 || (shape.size() == 3 && shape[2] == 1)) {
    t.batched = true;
    t.batch = shape[0];
    t.length = shape[1];
  } else {
    std::string s = "(";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    bad(path, "has shape " + s + (shape.size() == 1 ? ",)" : ")") +
                  "; token ids are (L) for one sequence or (B, L) for a batch (also (B, L, 1))");
  }
  if (t.batch < 1 || t.length < 1) bad(path, "is empty: a token model needs at least one token a sequence");
  const std::int64_t n = t.batch * t.length;
  t.ids.resize(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    double v;
    if (integer) {
      const std::int64_t id = ints[std::size_t(i)];
      if (id < 0 || id >= vocab)
        bad(path, "token id " + (id < 0 && !h.is_signed ? std::string("above 2^63") : std::to_string(id)) + " at " +
                      position(i, t.length, t.batched) + " is not in [0, vocab_size = " + std::to_string(vocab) +
                      ") of the model");
      v = double(id);
    } else {
      v = values[std::size_t(i)];
      if (!std::isfinite(v) || v != std::floor(v))
        bad(path, "holds " + number(v) + " at " + position(i, t.length, t.batched) +
                      ", which is not a token id (token ids are integers)");
      if (v < 0 || v >= vocab)
        bad(path, "token id " + std::to_string(static_cast<long long>(v)) + " at " + position(i, t.length, t.batched) +
                      " is not in [0, vocab_size = " + std::to_string(vocab) + ") of the model");
    }
    t.ids[std::size_t(i)] = static_cast<float>(v);
  }
  return t;
}

}  // namespace ssm::cli
