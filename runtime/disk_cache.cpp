#include "runtime/disk_cache.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "codegen/kernel_source.h"
#include "codegen/types.h"
#include "runtime/backend.h"

namespace attnjit {
namespace fs = std::filesystem;

namespace {

// "ATTNJITK": never a valid prefix of a CUBIN (ELF) or object file, so a stray file is rejected.
constexpr char kMagic[8] = {'A', 'T', 'T', 'N', 'J', 'I', 'T', 'K'};
// magic[8] | version u32 | key_len u32 | payload_len u64 | checksum u64 (all little endian)
constexpr size_t kHeaderSize = 8 + 4 + 4 + 8 + 8;
// A key longer than this is not ours: refuse to allocate for a corrupt length field.
constexpr uint32_t kMaxKeyLen = 1 << 20;

void put_u32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_u64(std::string& s, uint64_t v) {
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t get_le(const char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

uint64_t checksum(std::string_view key, std::string_view payload) {
  XXH3_state_t st;
  XXH3_64bits_reset(&st);
  XXH3_64bits_update(&st, key.data(), key.size());
  XXH3_64bits_update(&st, payload.data(), payload.size());
  return XXH3_64bits_digest(&st);
}

std::string errno_text(int e) { return std::string(std::strerror(e)) + " (errno " + std::to_string(e) + ")"; }

const char* env_nonempty(const char* name) {
  const char* v = std::getenv(name);
  return (v && *v) ? v : nullptr;
}

// Reads a whole file; nullopt if it does not exist. Throws on other errors.
std::optional<std::string> read_file(const fs::path& p) {
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;  // no entry (or no cache dir)
    throw BackendError("disk cache: open(" + p.string() + ") failed: " + errno_text(errno));
  }
  std::string out;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      throw BackendError("disk cache: read(" + p.string() + ") failed: " + errno_text(e));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

bool valid_namespace(std::string_view ns) {
  if (ns.empty()) return false;
  for (char c : ns)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) return false;
  return ns != "." && ns != "..";
}

}  // namespace

struct DiskCache::Counters {
  std::atomic<uint64_t> hits{0}, misses{0}, corrupt{0}, stores{0};
};

fs::path default_cache_dir() {
  if (const char* d = env_nonempty("ATTNJIT_CACHE_DIR")) return fs::path(d);
  if (const char* x = env_nonempty("XDG_CACHE_HOME")) return fs::path(x) / "attnjit";
  if (const char* h = env_nonempty("HOME")) return fs::path(h) / ".cache" / "attnjit";
  throw BackendError(
      "disk cache: no cache directory: set ATTNJIT_CACHE_DIR (XDG_CACHE_HOME and HOME are unset)");
}

DiskCache::DiskCache(fs::path root, std::string ns) : counters_(std::make_shared<Counters>()) {
  if (!valid_namespace(ns))
    throw SpecError("cache namespace: must be non-empty [A-Za-z0-9_.-], got '" + ns + "'");
  if (root.empty()) throw SpecError("cache_dir: must not be empty");
  dir_ = std::move(root) / ns;
}

fs::path DiskCache::path_for(std::string_view key) const {
  return dir_ / (content_hash(key) + ".bin");
}

std::optional<std::string> DiskCache::load(std::string_view key) const {
  const fs::path p = path_for(key);
  std::optional<std::string> data = read_file(p);
  if (!data) {
    ++counters_->misses;
    return std::nullopt;
  }
  auto reject = [&]() -> std::optional<std::string> {
    // Damaged or foreign: remove it so the recompiled binary replaces it. Another process may
    // have replaced it with a good file in between; removing that costs one recompile, no harm.
    ::unlink(p.c_str());
    ++counters_->corrupt;
    ++counters_->misses;
    return std::nullopt;
  };
  const std::string& d = *data;
  if (d.size() < kHeaderSize || std::memcmp(d.data(), kMagic, 8) != 0) return reject();
  const uint32_t version = static_cast<uint32_t>(get_le(d.data() + 8, 4));
  const uint32_t key_len = static_cast<uint32_t>(get_le(d.data() + 12, 4));
  const uint64_t payload_len = get_le(d.data() + 16, 8);
  const uint64_t sum = get_le(d.data() + 24, 8);
  if (version != kFormatVersion || key_len > kMaxKeyLen) return reject();
  // Truncated or padded. Compared by subtraction: key_len + payload_len can wrap around to the
  // file's size (a damaged length field) and would then send the views below past the buffer.
  const size_t body = d.size() - kHeaderSize;
  if (key_len > body || payload_len != body - key_len) return reject();
  std::string_view stored_key(d.data() + kHeaderSize, key_len);
  std::string_view payload(d.data() + kHeaderSize + key_len, payload_len);
  if (checksum(stored_key, payload) != sum) return reject();
  if (stored_key != key) {
    // Hash collision of two keys (or a file copied under the wrong name): not ours to use, but
    // not damaged either — leave it, count a miss; our store() will overwrite it.
    ++counters_->misses;
    return std::nullopt;
  }
  ++counters_->hits;
  return std::string(payload);
}

void DiskCache::store(std::string_view key, std::string_view bytes) const {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec)
    throw BackendError("disk cache: cannot create directory " + dir_.string() + ": " + ec.message());

  std::string header(kMagic, 8);
  put_u32(header, kFormatVersion);
  put_u32(header, static_cast<uint32_t>(key.size()));
  put_u64(header, bytes.size());
  put_u64(header, checksum(key, bytes));

  const fs::path final_path = path_for(key);
  // Unique per process and per call, so concurrent writers never share a temp file.
  static std::atomic<uint64_t> seq{0};
  const fs::path tmp = dir_ / (final_path.filename().string() + ".tmp." + std::to_string(::getpid()) +
                               "." + std::to_string(seq.fetch_add(1)));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw BackendError("disk cache: open(" + tmp.string() + ") failed: " + errno_text(errno));
  auto write_all = [&](std::string_view s) {
    const char* p = s.data();
    size_t left = s.size();
    while (left > 0) {
      ssize_t n = ::write(fd, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        return errno;
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
    return 0;
  };
  int err = write_all(header);
  if (!err) err = write_all(key);
  if (!err) err = write_all(bytes);
  // No fsync: a file cut short by a crash fails its length / checksum check and is recompiled.
  if (::close(fd) != 0 && !err) err = errno;
  if (err) {
    ::unlink(tmp.c_str());
    throw BackendError("disk cache: write(" + tmp.string() + ") failed: " + errno_text(err));
  }
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    throw BackendError("disk cache: rename(" + tmp.string() + ", " + final_path.string() +
                       ") failed: " + errno_text(e));
  }
  ++counters_->stores;
}

void DiskCache::remove(std::string_view key) const {
  const fs::path p = path_for(key);
  if (::unlink(p.c_str()) != 0 && errno != ENOENT)
    throw BackendError("disk cache: unlink(" + p.string() + ") failed: " + errno_text(errno));
}

int DiskCache::remove_stale_temp_files(std::chrono::seconds age) const {
  std::error_code ec;
  if (!fs::is_directory(dir_, ec)) return 0;
  int removed = 0;
  const auto now = fs::file_time_type::clock::now();
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.find(".tmp.") == std::string::npos) continue;
    std::error_code e2;
    auto mtime = fs::last_write_time(it->path(), e2);
    if (e2 || now - mtime < age) continue;
    if (fs::remove(it->path(), e2)) ++removed;
  }
  return removed;
}

DiskCache::Stats DiskCache::stats() const {
  Stats s;
  s.hits = counters_->hits.load();
  s.misses = counters_->misses.load();
  s.corrupt = counters_->corrupt.load();
  s.stores = counters_->stores.load();
  return s;
}

void DiskCache::append_field(std::string& out, std::string_view field) {
  put_u64(out, field.size());
  out.append(field);
}

std::string DiskCache::read_field(std::string_view in, size_t& pos) {
  if (in.size() < pos || in.size() - pos < 8)
    throw BackendError("disk cache: record truncated (field length at offset " + std::to_string(pos) + ")");
  const uint64_t n = get_le(in.data() + pos, 8);
  pos += 8;
  if (in.size() - pos < n)
    throw BackendError("disk cache: record truncated (field of " + std::to_string(n) +
                       " bytes at offset " + std::to_string(pos) + ")");
  std::string out(in.substr(pos, n));
  pos += n;
  return out;
}

}  // namespace attnjit
