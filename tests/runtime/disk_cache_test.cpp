#include "runtime/disk_cache.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <thread>
#include <vector>

#include "codegen/types.h"
#include "runtime/backend.h"

namespace attnjit {
namespace {
namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
class DiskCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> n{0};
    root_ = fs::temp_directory_path() /
            ("attnjit-disk-cache-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::remove_all(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  static std::string read_all(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  static void write_all(const fs::path& p, const std::string& s) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(s.data(), static_cast<std::streamsize>(s.size()));
  }
  static int count_files(const fs::path& dir) {
    int n = 0;
    for (auto& e : fs::directory_iterator(dir)) n += e.is_regular_file() ? 1 : 0;
    return n;
  }

  fs::path root_;
};

std::string binary_payload(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + 7) & 0xff);  // includes NULs
  return s;
}

TEST_F(DiskCacheTest, RoundTripsBinaryBytesAndCountsHitsAndMisses) {
  DiskCache c(root_, "cubin");
  EXPECT_FALSE(c.load("k1").has_value());  // directory does not even exist yet
  const std::string payload = binary_payload(100000);
  c.store("k1", payload);
  auto got = c.load("k1");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, payload);
  EXPECT_FALSE(c.load("k2").has_value());
  auto s = c.stats();
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 2u);
  EXPECT_EQ(s.stores, 1u);
  EXPECT_EQ(s.corrupt, 0u);
  EXPECT_EQ(c.dir(), root_ / "cubin");
}

TEST_F(DiskCacheTest, EmptyPayloadIsAValidEntry) {
  DiskCache c(root_, "obj");
  c.store("empty", "");
  auto got = c.load("empty");
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(got->empty());
}

TEST_F(DiskCacheTest, FileNameIsAContentHashOfTheKey) {
  DiskCache c(root_, "cubin");
  const fs::path p = c.path_for("abc|nvrtc-13.0|sm_90a");
  EXPECT_EQ(p.parent_path(), root_ / "cubin");
  EXPECT_EQ(p.extension(), ".bin");
  EXPECT_EQ(p.stem().string().size(), 32u);
  EXPECT_NE(p, c.path_for("abc|nvrtc-13.0|sm_80"));  // the arch is part of the key
  EXPECT_NE(p, c.path_for("abc|nvrtc-12.8|sm_90a")); // and the compiler version
}

TEST_F(DiskCacheTest, NamespacesKeepKindsApart) {
  DiskCache a(root_, "cubin"), b(root_, "cpu-obj");
  a.store("same-key", "gpu");
  b.store("same-key", "cpu");
  EXPECT_EQ(*a.load("same-key"), "gpu");
  EXPECT_EQ(*b.load("same-key"), "cpu");
}

TEST_F(DiskCacheTest, RejectsBadNamespace) {
  EXPECT_THROW(DiskCache(root_, ""), SpecError);
  EXPECT_THROW(DiskCache(root_, "../x"), SpecError);
  EXPECT_THROW(DiskCache(root_, ".."), SpecError);
}

TEST_F(DiskCacheTest, CorruptPayloadIsDetectedDeletedAndReportedAsMiss) {
  DiskCache c(root_, "cubin");
  c.store("k", binary_payload(4096));
  const fs::path p = c.path_for("k");
  std::string bytes = read_all(p);
  bytes[bytes.size() - 100] ^= 0x5a;  // flip bits inside the payload
  write_all(p, bytes);
  EXPECT_FALSE(c.load("k").has_value());
  EXPECT_FALSE(fs::exists(p)) << "a corrupt entry must be removed";
  EXPECT_EQ(c.stats().corrupt, 1u);
  // The next store replaces it and loads again.
  c.store("k", "fresh");
  EXPECT_EQ(*c.load("k"), "fresh");
}

TEST_F(DiskCacheTest, TruncatedFileIsDetectedAtEveryLength) {
  DiskCache c(root_, "cubin");
  const std::string payload = binary_payload(300);
  c.store("k", payload);
  const std::string full = read_all(c.path_for("k"));
  // Every prefix — inside the header, inside the key, inside the payload — must be rejected.
  for (size_t len : {size_t{0}, size_t{4}, size_t{8}, size_t{20}, size_t{31}, size_t{32},
                     size_t{33}, full.size() / 2, full.size() - 1}) {
    write_all(c.path_for("k"), full.substr(0, len));
    EXPECT_FALSE(c.load("k").has_value()) << "prefix of " << len << " bytes was accepted";
    EXPECT_FALSE(fs::exists(c.path_for("k")));
  }
  // And trailing garbage too.
  write_all(c.path_for("k"), full + "xx");
  EXPECT_FALSE(c.load("k").has_value());
  write_all(c.path_for("k"), full);
  EXPECT_EQ(*c.load("k"), payload);
}

// Length fields whose sum wraps around 2^64 to the file's real size: the sum matched, and the
// key / payload views then ran far past the buffer (a crash while reading a damaged cache file).
TEST_F(DiskCacheTest, LengthFieldsThatWrapToTheFileSizeAreRejected) {
  DiskCache c(root_, "cubin");
  c.store("k", "payload");
  std::string bytes = read_all(c.path_for("k"));
  const uint64_t body = bytes.size() - 32;  // key + payload bytes actually present
  const uint32_t key_len = 1000;            // more than the file holds, under the key limit
  const uint64_t payload_len = body - key_len;  // wraps: key_len + payload_len == body (mod 2^64)
  for (int i = 0; i < 4; ++i) bytes[12 + i] = static_cast<char>((key_len >> (8 * i)) & 0xff);
  for (int i = 0; i < 8; ++i) bytes[16 + i] = static_cast<char>((payload_len >> (8 * i)) & 0xff);
  write_all(c.path_for("k"), bytes);
  EXPECT_FALSE(c.load("k").has_value());
  EXPECT_FALSE(fs::exists(c.path_for("k"))) << "a damaged entry must be removed";
  EXPECT_EQ(c.stats().corrupt, 1u);
}

TEST_F(DiskCacheTest, ForeignFileWithWrongMagicOrVersionIsRejected) {
  DiskCache c(root_, "cubin");
  c.store("k", "payload");
  std::string good = read_all(c.path_for("k"));

  std::string elf = "\x7f" "ELF" + std::string(60, '\0');  // a bare CUBIN, not our format
  write_all(c.path_for("k"), elf);
  EXPECT_FALSE(c.load("k").has_value());

  std::string future = good;
  future[8] = static_cast<char>(DiskCache::kFormatVersion + 1);  // version field
  write_all(c.path_for("k"), future);
  EXPECT_FALSE(c.load("k").has_value());
  EXPECT_EQ(c.stats().corrupt, 2u);
}

TEST_F(DiskCacheTest, EntryUnderAnotherKeyIsNotHandedOut) {
  DiskCache c(root_, "cubin");
  c.store("key-a", "A");
  // Simulate a hash collision / misplaced file: key-a's intact file under key-b's name.
  fs::create_directories(c.dir());
  fs::copy_file(c.path_for("key-a"), c.path_for("key-b"));
  EXPECT_FALSE(c.load("key-b").has_value());
  EXPECT_EQ(*c.load("key-a"), "A");
}

TEST_F(DiskCacheTest, StoreLeavesNoTempFilesAndOverwritesAtomically) {
  DiskCache c(root_, "cubin");
  c.store("k", "one");
  c.store("k", "two");
  EXPECT_EQ(*c.load("k"), "two");
  EXPECT_EQ(count_files(c.dir()), 1);  // only the final file: temps were renamed away
}

TEST_F(DiskCacheTest, ConcurrentWritersAndReadersNeverSeeATornFile) {
  DiskCache c(root_, "cubin");
  // Payloads large enough that a non-atomic write would be observable half-done.
  std::vector<std::string> payloads;
  for (int t = 0; t < 4; ++t) payloads.push_back(std::string(1 << 20, static_cast<char>('a' + t)));
  std::atomic<bool> bad{false};
  std::atomic<int> hits{0};
  std::atomic<int> writers_done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) c.store("shared", payloads[t]);
      ++writers_done;
    });
    // Readers keep going until every writer is done, so at least their last load finds the
    // file however the threads happen to be scheduled.
    threads.emplace_back([&] {
      for (int i = 0; i < 40 || writers_done.load() < 4; ++i) {
        auto got = c.load("shared");
        if (!got) continue;
        ++hits;
        bool ok = false;
        for (const auto& p : payloads) ok = ok || (*got == p);
        if (!ok) bad = true;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_FALSE(bad.load()) << "a reader saw a mixed or partial payload";
  EXPECT_EQ(c.stats().corrupt, 0u) << "a reader saw a torn file";
  EXPECT_GT(hits.load(), 0);
  EXPECT_EQ(count_files(c.dir()), 1);
}

TEST_F(DiskCacheTest, StaleTempFilesAreSweptFreshOnesKept) {
  DiskCache c(root_, "cubin");
  c.store("k", "x");
  const fs::path stale = c.dir() / "deadbeef.bin.tmp.1.0";
  const fs::path fresh = c.dir() / "deadbeef.bin.tmp.2.0";
  write_all(stale, "partial");
  write_all(fresh, "partial");
  fs::last_write_time(stale, fs::file_time_type::clock::now() - std::chrono::hours(2));
  EXPECT_EQ(c.remove_stale_temp_files(std::chrono::hours(1)), 1);
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(fresh));
  EXPECT_TRUE(c.load("k").has_value());
}

TEST_F(DiskCacheTest, UncreatableDirectoryThrowsNamingThePath) {
  // A regular file where the cache directory should be: fails for every user, root included.
  write_all(root_, "not a directory");
  DiskCache c(root_, "cubin");
  try {
    c.store("k", "x");
    ADD_FAILURE() << "store under a regular file succeeded";
  } catch (const BackendError& e) {
    EXPECT_NE(std::string(e.what()).find(root_.string()), std::string::npos) << e.what();
  }
  EXPECT_FALSE(c.load("k").has_value());  // reading is a plain miss, not an error
}

TEST_F(DiskCacheTest, RemoveDeletesOneEntry) {
  DiskCache c(root_, "cubin");
  c.store("a", "1");
  c.store("b", "2");
  c.remove("a");
  c.remove("never-stored");  // no error
  EXPECT_FALSE(c.load("a").has_value());
  EXPECT_TRUE(c.load("b").has_value());
}

TEST(DiskCacheFields, AppendAndReadRoundTripAndDetectShortBuffers) {
  std::string rec;
  DiskCache::append_field(rec, "name");
  DiskCache::append_field(rec, std::string("\0bin\0", 5));
  DiskCache::append_field(rec, "");
  size_t pos = 0;
  EXPECT_EQ(DiskCache::read_field(rec, pos), "name");
  EXPECT_EQ(DiskCache::read_field(rec, pos), std::string("\0bin\0", 5));
  EXPECT_EQ(DiskCache::read_field(rec, pos), "");
  EXPECT_EQ(pos, rec.size());
  EXPECT_THROW(DiskCache::read_field(rec, pos), BackendError);
  size_t p2 = 0;
  EXPECT_THROW(DiskCache::read_field(rec.substr(0, 10), p2), BackendError);
}

// Sets an environment variable for one scope, restoring the old value after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) ::setenv(name, value, 1); else ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_) ::setenv(name_, old_->c_str(), 1); else ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(DefaultCacheDir, FollowsAttnjitThenXdgThenHome) {
  ScopedEnv a("ATTNJIT_CACHE_DIR", "/tmp/a-cache");
  ScopedEnv x("XDG_CACHE_HOME", "/tmp/xdg");
  ScopedEnv h("HOME", "/tmp/home");
  EXPECT_EQ(default_cache_dir(), fs::path("/tmp/a-cache"));
  {
    ScopedEnv a2("ATTNJIT_CACHE_DIR", "");  // empty counts as unset
    EXPECT_EQ(default_cache_dir(), fs::path("/tmp/xdg/attnjit"));
    ScopedEnv x2("XDG_CACHE_HOME", nullptr);
    EXPECT_EQ(default_cache_dir(), fs::path("/tmp/home/.cache/attnjit"));
    ScopedEnv h2("HOME", nullptr);
    EXPECT_THROW(default_cache_dir(), BackendError);
  }
}

}  // namespace
}  // namespace attnjit
