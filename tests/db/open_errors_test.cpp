// Files that are not tuning databases, corrupt files and read-only access.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "db/database.h"
#include "db_test_util.h"

namespace attnjit {
namespace {

using testing::ScratchDir;

void expect_refused_untouched(const std::string& path, const char* what) {
  const std::string before = testing::read_bytes(path);
  for (OpenMode mode : {OpenMode::ReadWrite, OpenMode::ReadOnly}) {
    try {
      Database::open(path, mode);
      ADD_FAILURE() << what << " must be refused";
    } catch (const DbError& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find(path), std::string::npos) << "the error names the file: " << msg;
      EXPECT_NE(msg.find("not an SQLite database or is corrupt"), std::string::npos) << msg;
      EXPECT_NE(msg.find("left untouched"), std::string::npos) << msg;
    }
    EXPECT_EQ(testing::read_bytes(path), before) << what << " was modified";
  }
}

TEST(OpenErrors, TextFileIsRefusedAndNotOverwritten) {
  ScratchDir dir;
  const std::string path = dir.file("notes.db");
  std::string text;
  for (int i = 0; i < 200; ++i) text += "this is a text file, not a database\n";
  testing::write_bytes(path, text);
  expect_refused_untouched(path, "a text file");
}

TEST(OpenErrors, CorruptFirstPageIsRefusedAndNotOverwritten) {
  ScratchDir dir;
  const std::string path = dir.file("corrupt.db");
  {
    Database db = Database::open(path);
    db.upsert_device(testing::gpu());
  }
  // Keep the 100-byte header (it still says "SQLite format 3") and smash the rest of page 1,
  // where the schema table lives.
  std::string bytes = testing::read_bytes(path);
  ASSERT_GT(bytes.size(), 4096u);
  for (size_t i = 100; i < 4096; ++i) bytes[i] = static_cast<char>(0xA5 ^ (i * 7));
  testing::write_bytes(path, bytes);
  expect_refused_untouched(path, "a database with a corrupt first page");
}

TEST(OpenErrors, MissingFileInReadOnlyModeIsAnError) {
  ScratchDir dir;
  const std::string path = dir.file("absent.db");
  EXPECT_THROW(Database::open(path, OpenMode::ReadOnly), DbError);
  EXPECT_FALSE(std::filesystem::exists(path)) << "read-only open must not create the file";
}

// The tests run as root, and root ignores file permission bits: chmod 0444 alone would not stop
// a write. So read-only access is tested the way SQLite enforces it for everyone:
// SQLITE_OPEN_READONLY (OpenMode::ReadOnly) and a "mode=ro" URI, on a file that is also 0444.
TEST(OpenErrors, ReadOnlyFileReadsWorkWritesFailClearly) {
  ScratchDir dir;
  const std::string path = dir.file("ro.db");
  DeviceInfo dev = testing::gpu();
  const std::string problem = "prefill_f16_hd64_none_g1_q1024_k1024";
  {
    Database db = Database::open(path);
    db.upsert_device(dev);
    db.record_result(testing::ok_result(dev, problem, "bm64_bn64_w4_s2", 0.25));
  }
  ASSERT_EQ(chmod(path.c_str(), 0444), 0);

  auto check = [&](Database& db, const char* how) {
    SCOPED_TRACE(how);
    EXPECT_EQ(db.list_devices().size(), 1u);
    EXPECT_EQ(db.stats().results, 1);
    LookupResult l = db.lookup(dev, ProblemSpec::parse(problem), testing::kTemplateHash);
    EXPECT_EQ(l.reason, LookupReason::Exact);
    std::ostringstream out;
    EXPECT_EQ(db.export_jsonl(out), 1);
    try {
      db.record_result(testing::ok_result(dev, problem, "bm128_bn64_w4_s2", 0.2));
      ADD_FAILURE() << "a write to a read-only database must fail";
    } catch (const DbError& e) {
      EXPECT_EQ(e.code, SQLITE_READONLY) << e.what();
      EXPECT_NE(std::string(e.what()).find("read"), std::string::npos) << e.what();
    }
    EXPECT_EQ(db.stats().results, 1);
  };
  {
    Database db = Database::open(path, OpenMode::ReadOnly);
    check(db, "OpenMode::ReadOnly");
  }
  {
    // The URI form asks SQLite itself for read-only access even though the caller asked for
    // read-write: the write is refused by SQLite (not by our mode check).
    Database db = Database::open("file:" + path + "?mode=ro", OpenMode::ReadWrite);
    check(db, "mode=ro URI");
  }
  if (geteuid() != 0) {
    // Without root the permission bits alone make SQLite open the file read-only.
    Database db = Database::open(path, OpenMode::ReadWrite);
    check(db, "chmod 0444 as non-root");
  }
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
}

TEST(OpenErrors, MissingFileSaysItDoesNotExist) {
  ScratchDir dir;
  const std::string path = dir.file("absent.db");
  try {
    Database::open(path, OpenMode::ReadOnly);
    FAIL() << "a missing file must be refused";
  } catch (const DbError& e) {
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

// Failure 9 of issue 14: a WAL database in a directory the reader cannot write (a read-only
// mount, another user's files). A plain read-only open needs to create the -shm file beside it
// and failed with "readonly database"; reading must work.
TEST(OpenErrors, DatabaseInReadOnlyDirectoryCanBeRead) {
  ScratchDir dir;
  const std::string path = testing::read_only_dir_db(dir, 3);
  const int rc = testing::as_unprivileged([&] {
    Database db = Database::open(path, OpenMode::ReadOnly);
    if (db.stats().results != 3) return 10;
    std::ostringstream out;
    if (db.export_jsonl(out) != 3) return 11;
    if (db.list_best().size() != 1) return 12;
    try {
      Database::open(path, OpenMode::ReadWrite).upsert_device(testing::gpu("other"));
      return 13;  // a write must not succeed
    } catch (const DbError&) {
    }
    return 0;
  });
  EXPECT_EQ(rc, 0);
  EXPECT_FALSE(std::filesystem::exists(path + "-shm"));
  EXPECT_FALSE(std::filesystem::exists(path + "-wal"));
}

TEST(OpenErrors, BadOptionsAreSpecErrors) {
  Database::Options o;
  o.best_margin = 1.5;
  EXPECT_THROW(Database::open(":memory:", o), SpecError);
  Database db = Database::open(":memory:");
  EXPECT_THROW(db.set_best_margin(-0.1), SpecError);
  EXPECT_THROW(db.query_results({}, 0, 0), SpecError);
}

}  // namespace
}  // namespace attnjit
