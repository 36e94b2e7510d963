#include "service/job_manager.h"

#include <gtest/gtest.h>

#include <chrono>

#include "service/api_error.h"

namespace attnjit::service {
namespace {

using namespace std::chrono_literals;

// Runs the shell snippet given as the job's first "problem" (test-only convention).
JobManager::Options shell_jobs() {
  JobManager::Options o;
  o.command = [](const TuneRequest& r) {
    return std::vector<std::string>{"/bin/sh", "-c", r.problems.at(0)};
  };
  o.kill_grace = 500ms;
  return o;
}

JobInfo wait_done(JobManager& m, const std::string& id) {
  auto info = m.wait(id, 20s);
  EXPECT_TRUE(info);
  EXPECT_NE(info->state, JobState::Queued);
  EXPECT_NE(info->state, JobState::Running);
  return *info;
}

TEST(JobManager, SucceedsAndReportsProgressAndResult) {
  auto o = shell_jobs();
  o.on_success = [](const TuneRequest&) { return nlohmann::json{{"best", 1}}; };
  JobManager m(o);
  std::string id = m.submit({{"echo '[1/3] a'; echo '{\"done\": 3, \"total\": 3, \"message\": \"all\"}'; echo tail-line"}, 0});
  EXPECT_EQ(id.rfind("job-", 0), 0u);
  JobInfo j = wait_done(m, id);
  EXPECT_EQ(j.state, JobState::Succeeded) << j.error;
  EXPECT_EQ(j.exit_code, 0);
  EXPECT_EQ(j.progress.done, 3);
  EXPECT_EQ(j.progress.total, 3);
  EXPECT_EQ(j.progress.message, "tail-line");
  EXPECT_EQ(j.result["best"], 1);
  EXPECT_NE(j.output_tail.find("[1/3] a"), std::string::npos);
  EXPECT_GT(j.finished_unix_ms, 0);
}

TEST(JobManager, CrashingWorkerMarksJobFailedAndNextJobStillRuns) {
  JobManager m(shell_jobs());
  std::string crash = m.submit({{"echo starting; kill -SEGV $$"}, 0});
  std::string fail = m.submit({{"echo bad input >&2; exit 3"}, 0});
  std::string ok = m.submit({{"true"}, 0});
  JobInfo c = wait_done(m, crash);
  EXPECT_EQ(c.state, JobState::Failed);
  EXPECT_NE(c.error.find("SIGSEGV"), std::string::npos) << c.error;
  EXPECT_FALSE(c.exit_code.has_value());
  JobInfo f = wait_done(m, fail);
  EXPECT_EQ(f.state, JobState::Failed);
  EXPECT_EQ(f.exit_code, 3);
  EXPECT_NE(f.output_tail.find("bad input"), std::string::npos);
  EXPECT_EQ(wait_done(m, ok).state, JobState::Succeeded);
  auto counts = m.counts();
  EXPECT_EQ(counts["failed"], 2);
  EXPECT_EQ(counts["succeeded"], 1);
}

TEST(JobManager, MissingExecutableFailsTheJob) {
  JobManager::Options o;
  o.command = [](const TuneRequest&) { return std::vector<std::string>{"/nonexistent/attnjit", "tune"}; };
  JobManager m(o);
  JobInfo j = wait_done(m, m.submit({{"x"}, 0}));
  EXPECT_EQ(j.state, JobState::Failed);
  EXPECT_FALSE(j.error.empty());
}

TEST(JobManager, ShutdownInterruptsRunningAndQueuedJobs) {
  JobManager m(shell_jobs());
  // A child that ignores SIGTERM: the manager must escalate to SIGKILL after the grace period.
  std::string running = m.submit({{"trap '' TERM; echo '[0/9]'; while true; do sleep 0.05; done"}, 0});
  std::string queued = m.submit({{"true"}, 0});
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (m.get(running)->state != JobState::Running || m.get(running)->progress.total != 9) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    std::this_thread::sleep_for(10ms);
  }
  auto t0 = std::chrono::steady_clock::now();
  m.shutdown();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_EQ(m.get(running)->state, JobState::Interrupted);
  EXPECT_EQ(m.get(queued)->state, JobState::Interrupted);
  try {
    m.submit({{"true"}, 0});
    ADD_FAILURE() << "submit after shutdown";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, 503);
  }
}

TEST(JobManager, TimeoutAndFullQueue) {
  auto o = shell_jobs();
  o.job_timeout = 1s;
  o.max_queued = 1;
  JobManager m(o);
  std::string slow = m.submit({{"sleep 30"}, 0});
  while (m.get(slow)->state == JobState::Queued) std::this_thread::sleep_for(5ms);
  m.submit({{"true"}, 0});  // fills the queue
  try {
    m.submit({{"true"}, 0});
    ADD_FAILURE() << "queue should be full";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, 429);
  }
  JobInfo j = wait_done(m, slow);
  EXPECT_EQ(j.state, JobState::Failed);
  EXPECT_NE(j.error.find("timed out"), std::string::npos) << j.error;
}

TEST(JobProgress, ParsesJsonAndBracketForms) {
  JobProgress p;
  EXPECT_TRUE(parse_progress_line(R"({"done": 2, "total": 5})", p));
  EXPECT_EQ(p.done, 2);
  EXPECT_EQ(p.total, 5);
  EXPECT_TRUE(parse_progress_line("tune [ 7/12 ] bm64_bn64_w4_s2 1.2 ms", p));
  EXPECT_EQ(p.done, 7);
  EXPECT_EQ(p.total, 12);
  EXPECT_FALSE(parse_progress_line("compiling...", p));
  EXPECT_FALSE(parse_progress_line("{not json", p));
}

}  // namespace
}  // namespace attnjit::service
