#pragma once
// Atomic file replacement: the one way ssmkit writes a file (safetensors, .npy, audio files,
// model files, the CLI's outputs). A reader of `path` sees either the old file or the whole
// new one, never a partial file, also after a crash or power loss:
//   1. the bytes go to a temporary file in the same directory as `path` (rename() is atomic
//      only within one file system), named `.<stem>.tmp-<pid>-<n><ext>`: hidden, unique per
//      process and call (created with O_EXCL, so never shared with another writer), and with
//      the destination's extension (writers such as libsndfile choose by it);
//   2. the temporary is written and fsync()ed (the data is on disk before the name is);
//   3. rename(temporary, path) replaces `path` in one step;
//   4. the directory is fsync()ed (the new name is on disk). A file system that cannot fsync a
//      directory (EINVAL) is accepted: the rename has still happened.
// On any failure the temporary is removed, `path` is left as it was, and ssm::Error names
// `path` and what failed ("<where>: '<path>': <what>: <strerror>").
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ssm::io {

/// Writes `size` bytes to `path` atomically (steps 1-4 above).
void write_file_atomic(const std::string& path, const void* bytes, std::size_t size,
                       const char* where = "write_file_atomic");
inline void write_file_atomic(const std::string& path, const std::vector<std::uint8_t>& bytes,
                              const char* where = "write_file_atomic") {
  write_file_atomic(path, bytes.data(), bytes.size(), where);
}

/// For writers that need a file name rather than bytes (libsndfile, a batch of outputs that
/// must all succeed before any is replaced): AtomicFile reserves the temporary (step 1; the
/// file exists, empty), the caller writes to temp_path() by any means, and commit() does
/// steps 2-4. Destroyed or discard()ed without commit(), it removes the temporary.
class AtomicFile {
public:
  AtomicFile(std::string path, const char* where = "write_file_atomic");
  ~AtomicFile();
  AtomicFile(AtomicFile&& o) noexcept;
  AtomicFile& operator=(AtomicFile&& o) noexcept;
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  const std::string& path() const noexcept { return path_; }
  const std::string& temp_path() const noexcept { return tmp_; }
  /// fsync the temporary, rename it over path(), fsync the directory. Throws ssm::Error
  /// naming path() (the temporary is then removed). At most once.
  void commit();
  /// Removes the temporary now (no-op after commit()).
  void discard() noexcept;

private:
  std::string path_, tmp_, where_;
};

}  // namespace ssm::io
