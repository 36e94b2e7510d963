// Tuning jobs kept in the database (schema v3): saved, found again by another connection, and
// marked interrupted when a new server finds them unfinished.
#include "db/database.h"
#include "db_test_util.h"

namespace attnjit {
namespace {

JobRecord job(const std::string& id, const std::string& state, int64_t finished = 0) {
  JobRecord j;
  j.id = id;
  j.state = state;
  j.request_json = R"({"problems":["prefill_f32_hd64_none_g1_q128_k128_even"],"budget":3})";
  j.progress_json = R"({"done":0,"total":1})";
  j.created_at_ms = 1000;
  j.finished_at_ms = finished;
  return j;
}

TEST(Jobs, SaveFindUpdateAndInterruptUnfinished) {
  testing::ScratchDir dir;
  const std::string path = dir.file("jobs.db");
  {
    Database db = Database::open(path);
    db.save_job(job("job-a", "running"));
    db.save_job(job("job-b", "queued"));
    JobRecord done = job("job-c", "succeeded", 2000);
    done.exit_code = 0;
    db.save_job(done);
    JobRecord failed = job("job-d", "failed", 2500);
    failed.error = "tuning process exited with status 1";
    failed.exit_code = 1;
    db.save_job(failed);
    // An update replaces the row.
    JobRecord a = job("job-a", "running");
    a.progress_json = R"({"done":1,"total":1})";
    a.started_at_ms = 1500;
    db.save_job(a);
    EXPECT_EQ(db.find_job("job-a")->progress_json, a.progress_json);
    EXPECT_EQ(*db.find_job("job-a"), a);
    EXPECT_FALSE(db.find_job("job-zzz"));
    EXPECT_THROW(db.save_job(job("job-e", "exploded")), SpecError);
    EXPECT_THROW(db.save_job(job("", "queued")), SpecError);
  }
  // The "server" restarts: whatever was queued or running is cut off.
  Database db = Database::open(path);
  EXPECT_EQ(db.interrupt_unfinished_jobs("the server stopped"), 2);
  for (const char* id : {"job-a", "job-b"}) {
    auto j = db.find_job(id);
    ASSERT_TRUE(j) << id;
    EXPECT_EQ(j->state, "interrupted");
    EXPECT_EQ(j->error, "the server stopped");
    EXPECT_GT(j->finished_at_ms, 0);
  }
  EXPECT_EQ(db.find_job("job-c")->state, "succeeded");
  EXPECT_EQ(db.find_job("job-c")->exit_code, 0);
  EXPECT_EQ(db.find_job("job-d")->exit_code, 1);
  EXPECT_FALSE(db.find_job("job-b")->exit_code.has_value());
  EXPECT_EQ(db.interrupt_unfinished_jobs("again"), 0);
  // Keep the 3 most recently finished (a and b just now, then d at 2500): c goes.
  EXPECT_EQ(db.prune_finished_jobs(3), 1);
  EXPECT_FALSE(db.find_job("job-c"));
  EXPECT_TRUE(db.find_job("job-d"));
}

}  // namespace
}  // namespace attnjit
