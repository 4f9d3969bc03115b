// Atomic file replacement (include/ssm/io/atomic_file.hpp).
#include "ssm/io/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <utility>

#include "ssm/core/error.hpp"

namespace ssm::io {
namespace {

// The message of every failure: "<where>: '<path>': <what>[: <strerror>]".
[[noreturn]] void fail(const std::string& where, const std::string& path, const std::string& what, int err) {
  std::string m = where;
  m.append(": '").append(path).append("': ").append(what);
  if (err) m.append(": ").append(std::strerror(err));
  throw Error(m);
}

// Appends the parts (strings or string literals) to one string (no temporaries: GCC 12's
// -Wrestrict misreads chained operator+ on std::string).
template <class... Parts>
std::string cat(const Parts&... parts) {
  std::string s;
  (s.append(parts), ...);
  return s;
}

// Creates the temporary next to `path` (O_EXCL: a name nobody else holds) and returns its name
// and open descriptor.
std::pair<std::string, int> create_temporary(const std::string& path, const std::string& where) {
  static std::atomic<unsigned> counter{0};
  const std::filesystem::path p(path);
  require(!p.filename().empty(), where.c_str(), "path", "must name a file, got '", path, "'");
  for (int attempt = 0; attempt < 100; ++attempt) {
    const std::string name = cat(".", p.stem().string(), ".tmp-", std::to_string(::getpid()), "-",
                                 std::to_string(counter++), p.extension().string());
    const std::string tmp = (p.parent_path() / name).string();
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) return {tmp, fd};
    if (errno != EEXIST) {
      const std::string dir = p.parent_path().empty() ? std::string(".") : p.parent_path().string();
      fail(where, path, cat("cannot create a file in the directory '", dir, "'"), errno);
    }
  }
  fail(where, path, "cannot find a free temporary file name", 0);
}

void fsync_path(const std::string& file, int flags, bool allow_einval, const std::string& where,
                const std::string& path, const char* what) {
  const int fd = ::open(file.c_str(), flags | O_CLOEXEC);
  if (fd < 0) fail(where, path, cat("cannot open ", what, " '", file, "' to flush it"), errno);
  int rc;
  do rc = ::fsync(fd);
  while (rc != 0 && errno == EINTR);
  const int e = errno;
  ::close(fd);
  if (rc != 0 && !(allow_einval && (e == EINVAL || e == EROFS)))
    fail(where, path, cat("cannot flush ", what, " '", file, "'"), e);
}

}  // namespace

AtomicFile::AtomicFile(std::string path, const char* where) : path_(std::move(path)), where_(where) {
  auto [tmp, fd] = create_temporary(path_, where_);
  ::close(fd);
  tmp_ = std::move(tmp);
}

AtomicFile::~AtomicFile() { discard(); }

AtomicFile::AtomicFile(AtomicFile&& o) noexcept
    : path_(std::move(o.path_)), tmp_(std::exchange(o.tmp_, std::string())), where_(std::move(o.where_)) {}

AtomicFile& AtomicFile::operator=(AtomicFile&& o) noexcept {
  if (this != &o) {
    discard();
    path_ = std::move(o.path_);
    tmp_ = std::exchange(o.tmp_, std::string());
    where_ = std::move(o.where_);
  }
  return *this;
}

void AtomicFile::discard() noexcept {
  if (!tmp_.empty()) std::remove(tmp_.c_str());
  tmp_.clear();
}

void AtomicFile::commit() {
  require(!tmp_.empty(), where_.c_str(), "path", "'", path_, "' was already committed or discarded");
  try {
    fsync_path(tmp_, O_RDONLY, false, where_, path_, "the temporary file");
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0)
      fail(where_, path_, cat("cannot rename the temporary file ", tmp_, " into place"), errno);
  } catch (...) {
    discard();
    throw;
  }
  tmp_.clear();
  const std::filesystem::path parent = std::filesystem::path(path_).parent_path();
  const std::string dir = parent.empty() ? std::string(1, '.') : parent.string();
  fsync_path(dir, O_RDONLY | O_DIRECTORY, true, where_, path_, "the directory");
}

void write_file_atomic(const std::string& path, const void* bytes, std::size_t size, const char* where) {
  AtomicFile file(path, where);  // removes the temporary if anything below throws
  const int fd = ::open(file.temp_path().c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) fail(where, path, cat("cannot open the temporary file ", file.temp_path()), errno);
  const auto* p = static_cast<const std::uint8_t*>(bytes);
  for (std::size_t left = size; left > 0;) {
    const ssize_t w = ::write(fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const int e = w < 0 ? errno : ENOSPC;
      ::close(fd);
      fail(where, path, "write failed", e);
    }
    p += w;
    left -= static_cast<std::size_t>(w);
  }
  if (::close(fd) != 0) fail(where, path, "close failed", errno);
  file.commit();
}

}  // namespace ssm::io
