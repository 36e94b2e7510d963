// DiskCache: compiled binaries (CUBINs, CPU object files, ...) kept on disk across processes,
// generic over bytes so every backend uses the same one.
//
// - A file is named by a content hash of its key (the caller's key string, e.g. source hash +
//   compiler version + arch), so a changed source, compiler or arch never finds a stale file.
// - Each file starts with a header: magic, format version, key length, payload length and an
//   XXH3-64 checksum over key + payload. A truncated, corrupt or foreign file is detected,
//   deleted and reported as a miss (the caller recompiles); it is never handed out.
// - Writes go to a unique temp file in the same directory, then rename(2) into place. rename is
//   atomic within a file system, so readers see the old file, no file or the new file, never a
//   torn one; concurrent writers of the same key each rename a complete file and the last wins.
//   There are NO lock files: a killed run cannot leave the cache locked (only a stray temp file,
//   which remove_stale_temp_files() sweeps).
//
// Layout: <dir>/<namespace>/<32 hex>.bin, e.g. ~/.cache/attnjit/cubin/3f2a....bin
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace attnjit {

// $ATTNJIT_CACHE_DIR, else $XDG_CACHE_HOME/attnjit, else $HOME/.cache/attnjit. Empty variables
// count as unset. Throws BackendError when none of them is set (no HOME).
std::filesystem::path default_cache_dir();

class DiskCache {
 public:
  // Bumped whenever the file format changes; older files then read as misses and are replaced.
  static constexpr uint32_t kFormatVersion = 1;

  // `root` is the cache directory (default_cache_dir() or a caller's choice); `ns` a
  // sub-directory per kind of binary ("cubin", "cpu-obj"), [A-Za-z0-9_.-] only (SpecError
  // otherwise). The directory is created lazily on the first store().
  DiskCache(std::filesystem::path root, std::string ns);

  // The bytes stored under `key`, or nullopt on a miss. A file that fails any header / length /
  // checksum / key check is deleted and counts as a miss (stats().corrupt is bumped). Never
  // throws on a missing or damaged file; throws BackendError only on an unexpected I/O error.
  std::optional<std::string> load(std::string_view key) const;

  // Stores `bytes` under `key` (temp file + rename). Throws BackendError naming the path and
  // the errno text when the directory cannot be created or the file cannot be written.
  void store(std::string_view key, std::string_view bytes) const;

  // Removes the entry for `key` if present (e.g. a cached binary the driver refused to load).
  void remove(std::string_view key) const;

  // Deletes temp files (from killed writers) older than `age`. Returns how many were removed.
  int remove_stale_temp_files(std::chrono::seconds age = std::chrono::hours(1)) const;

  // The file an entry for `key` lives in.
  std::filesystem::path path_for(std::string_view key) const;
  const std::filesystem::path& dir() const { return dir_; }

  struct Stats {
    uint64_t hits = 0, misses = 0, corrupt = 0, stores = 0;
  };
  Stats stats() const;

  // Serialization helpers for callers' payloads: length-prefixed fields appended to / read from
  // a byte string. read_field throws BackendError on a short buffer.
  static void append_field(std::string& out, std::string_view field);
  static std::string read_field(std::string_view in, size_t& pos);

 private:
  std::filesystem::path dir_;
  struct Counters;
  std::shared_ptr<Counters> counters_;
};

}  // namespace attnjit
