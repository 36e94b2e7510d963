// Helpers for the tuning-database tests: a scratch directory per test and small record builders.
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <fstream>
#include <iterator>
#include <string>

#include "db/database.h"

namespace attnjit::testing {

// A fresh directory under $TMPDIR, removed with everything in it at the end of the test.
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "attnjit-db-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    // Read-only subdirectories (read_only_dir_db) must be writable again to be removed.
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all, ec);
    for (auto it = std::filesystem::recursive_directory_iterator(path_, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
      if (it->is_directory(ec)) std::filesystem::permissions(it->path(), std::filesystem::perms::owner_all, ec);
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  // Writes `text` to the file `name` in this directory; returns its path.
  std::string write(const std::string& name, const std::string& text) const {
    const std::string path = file(name);
    std::ofstream out(path);
    if (!(out << text) || !(out.flush())) throw std::runtime_error("cannot write " + path);
    return path;
  }

 private:
  std::filesystem::path path_;
};

// A directory nobody may write to, holding a WAL database with one device and `results` ok
// results, closed (so no -wal / -shm files are left beside it). Returns the database's path.
// Root ignores permission bits, so callers read it through as_unprivileged().
inline std::string read_only_dir_db(const ScratchDir& dir, int results);

// Runs `fn` in a child process that is not root (root ignores permission bits: a read-only
// directory would not stop it) and returns its exit code; -1 if it died by a signal. As
// non-root already, runs it in a child as is.
inline int as_unprivileged(const std::function<int()>& fn) {
  const pid_t pid = ::fork();
  if (pid < 0) return -2;
  if (pid == 0) {
    if (::geteuid() == 0 &&
        (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0))
      ::_exit(100);
    int rc = 101;
    try {
      rc = fn();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "as_unprivileged: %s\n", e.what());
      rc = 102;
    }
    ::_exit(rc);
  }
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << bytes;
}

// Plain SQLite on a database file, beside the Database API: writing files by hand (old schema
// versions) and reading what is really stored.
inline void raw_exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  std::string msg = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << msg;
}

inline std::string raw_scalar(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  std::string out;
  if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
    out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
  sqlite3_finalize(s);
  sqlite3_close(db);
  return out;
}

inline DeviceInfo gpu(const std::string& name = "NVIDIA H100 80GB HBM3",
                      const std::string& target = "sm_90a", int sm_count = 132,
                      const std::string& driver = "580.65.06") {
  DeviceInfo d;
  d.target = target;
  d.name = name;
  d.cc_major = target == "sm_90a" ? 9 : 8;
  d.cc_minor = 0;
  d.sm_count = sm_count;
  d.memory_bytes = int64_t{80} << 30;
  d.driver_version = driver;
  d.compiler_version = "nvrtc-13.0";
  return d;
}

inline constexpr const char* kTemplateHash = "0123456789abcdef0123456789abcdef";

inline TuningResult ok_result(const DeviceInfo& d, const std::string& problem,
                              const std::string& config, double median_ms,
                              int64_t measured_at_ms = 1'700'000'000'000) {
  return {.device = d.fingerprint(), .problem = problem, .template_name = "prefill_sm80",
          .template_hash = kTemplateHash, .config = config, .status = ResultStatus::Ok, .median_ms = median_ms,
          .min_ms = median_ms * 0.98, .max_ms = median_ms * 1.05, .runs = 50, .tflops = 1.0 / median_ms,
          .max_error = 1e-3, .tolerance = 4e-3, .registers = 168, .smem_bytes = 49152,
          .measured_at_ms = measured_at_ms, .tuner_version = "0.1.0"};
}

inline TuningResult failed_result(const DeviceInfo& d, const std::string& problem,
                                  const std::string& config, ResultStatus status,
                                  int64_t measured_at_ms = 1'700'000'000'000) {
  TuningResult r = ok_result(d, problem, config, 1.0, measured_at_ms);
  r.status = status;
  r.error = "failed on purpose";
  r.median_ms = r.min_ms = r.max_ms = 0;
  r.runs = 0;
  r.tflops = 0;
  return r;
}

inline int64_t count_rows(const std::string& path, const char* table) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  std::string sql = std::string("SELECT count(*) FROM ") + table;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  int64_t n = -1;
  if (sqlite3_step(s) == SQLITE_ROW) n = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return n;
}

inline std::string read_only_dir_db(const ScratchDir& dir, int results) {
  namespace fs = std::filesystem;
  const fs::path ro = fs::path(dir.file("ro"));
  fs::create_directories(ro);
  const std::string path = (ro / "tune.db").string();
  {
    Database db = Database::open(path);
    const DeviceInfo dev = gpu();
    db.upsert_device(dev);
    const char* configs[] = {"bm64_bn64_w4_s2", "bm128_bn64_w4_s2", "bm128_bn128_w8_s2", "bm64_bn128_w4_s2"};
    for (int i = 0; i < results && i < 4; ++i)
      db.record_result(ok_result(dev, "prefill_f16_hd64_none_g1_q1024_k1024", configs[i], 1.0 + i));
  }
  // The scratch root is private (mkdtemp); let the unprivileged reader through to `ro`.
  fs::permissions(fs::path(dir.file("")), fs::perms::owner_all | fs::perms::group_read |
                                              fs::perms::group_exec | fs::perms::others_read |
                                              fs::perms::others_exec);
  fs::permissions(ro, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                          fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec);
  fs::permissions(path, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
  return path;
}

}  // namespace attnjit::testing
