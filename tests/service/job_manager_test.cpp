// The job manager: a campaign child speaking JSON lines, folded into per-problem progress; jobs
// kept in the database so a restart reports a cut-off job as interrupted.
#include "service/job_manager.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "db/database.h"
#include "service/api.h"
#include "service/api_error.h"

namespace attnjit::service {
namespace {

using namespace std::chrono_literals;

// Runs the shell snippet given as the job's first "problem" (test-only convention). The
// manager appends "--json", which the shell sees as $0.
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

// A temporary database file, removed at the end.
struct TempDb {
  std::filesystem::path dir;
  TempDb() {
    std::string t = (std::filesystem::temp_directory_path() / "attnjit-jobs-XXXXXX").string();
    if (!mkdtemp(t.data())) throw std::runtime_error("mkdtemp failed");
    dir = t;
  }
  ~TempDb() { std::filesystem::remove_all(dir); }
  std::string path() const { return (dir / "jobs.db").string(); }
};

// What `attnjit tune --json` prints for two problems: one tuned, one it could not.
const char* kCampaign =
    "echo \"argv0=$0\" >&2; "
    "echo '{\"event\":\"campaign_started\",\"t_s\":0,\"problem_count\":2,\"device\":\"cpu\",\"strategy\":\"halving\",\"isolation\":\"none\"}'; "
    "echo '{\"event\":\"problem_started\",\"t_s\":0.1,\"problem_index\":1,\"problem_count\":2,\"problem\":\"p1\",\"candidates\":3,\"reused\":0}'; "
    "echo '{\"event\":\"candidate_timed\",\"t_s\":1,\"problem_index\":1,\"problem\":\"p1\",\"config\":\"bm64_bn64_w4_s2\",\"phase\":\"measure\",\"done\":1,\"total\":2,\"median_ms\":0.5,\"best_ms\":0.5}'; "
    "echo '{\"event\":\"candidate_failed\",\"t_s\":2,\"problem_index\":1,\"problem\":\"p1\",\"config\":\"bm128_bn64_w4_s2\",\"phase\":\"measure\",\"done\":2,\"total\":2,\"status\":\"wrong_result\",\"reason\":\"max error 0.5\"}'; "
    "echo '{\"event\":\"problem_done\",\"t_s\":3,\"problem_index\":1,\"problem_count\":2,\"problem\":\"p1\",\"best_config\":\"bm64_bn64_w4_s2\",\"best_median_ms\":0.5,\"counts\":{\"ok\":1,\"wrong_result\":1},\"seconds\":3}'; "
    "echo '{\"event\":\"problem_done\",\"t_s\":3,\"problem_index\":2,\"problem_count\":2,\"problem\":\"p2\",\"error\":\"skipped: no template\"}'; "
    "echo '{\"event\":\"campaign_finished\",\"t_s\":3,\"problem_count\":2,\"problems_tuned\":1,\"problems_failed\":1,\"seconds\":3}'";

TEST(JobManager, FoldsTheChildsEventsIntoPerProblemProgress) {
  auto o = shell_jobs();
  o.on_success = [](const TuneRequest&) { return nlohmann::json{{"best", 1}}; };
  JobManager m(o);
  std::string id = m.submit({{kCampaign}, 0});
  EXPECT_EQ(id.rfind("job-", 0), 0u);
  JobInfo j = wait_done(m, id);
  EXPECT_EQ(j.state, JobState::Succeeded) << j.error;
  EXPECT_EQ(j.exit_code, 0);
  EXPECT_EQ(j.progress.done, 2);
  EXPECT_EQ(j.progress.total, 2);
  EXPECT_NE(j.progress.message.find("finished: 1 of 2"), std::string::npos) << j.progress.message;
  EXPECT_NE(j.output_tail.find("argv0=--json"), std::string::npos) << j.output_tail;
  const nlohmann::json js = j.to_json();
  const nlohmann::json& p = js["progress"];
  EXPECT_EQ(p["done"], 2);
  EXPECT_EQ(p["problems"][0]["problem"], "p1");
  EXPECT_EQ(p["problems"][0]["state"], "done");
  EXPECT_EQ(p["problems"][0]["best_config"], "bm64_bn64_w4_s2");
  EXPECT_EQ(p["problems"][0]["best_ms"], 0.5);
  EXPECT_EQ(p["problems"][0]["counts"]["wrong_result"], 1);
  EXPECT_EQ(p["problems"][1]["state"], "failed");
  EXPECT_EQ(p["problems"][1]["error"], "skipped: no template");
  ASSERT_EQ(p["errors"].size(), 2u);
  EXPECT_NE(p["errors"][0].get<std::string>().find("wrong_result: max error 0.5"), std::string::npos);
  EXPECT_EQ(js["result"]["best"], 1);
}

// Issue 14: the manager scraped the CLI's human-readable "[i/N] key: ..." lines. Text is not
// progress now; it is kept for diagnosis only.
TEST(JobManager, HumanReadableLinesAreNotProgress) {
  JobManager m(shell_jobs());
  JobInfo j = wait_done(m, m.submit({{"echo '[1/3] prefill_x: 4 candidates'; echo '{\"done\": 3, \"total\": 3}'"}, 0}));
  EXPECT_EQ(j.state, JobState::Succeeded);
  EXPECT_EQ(j.progress.done, 0);
  EXPECT_EQ(j.progress.total, 1);  // from the request: one problem
  EXPECT_NE(j.output_tail.find("[not an event] [1/3] prefill_x"), std::string::npos) << j.output_tail;
  // A child that floods text on both streams: the kept tail stays bounded.
  JobInfo flood = wait_done(m, m.submit({{"yes '[1/3] text' | head -c 3000000; yes err | head -c 3000000 >&2"}, 0}));
  EXPECT_EQ(flood.state, JobState::Succeeded);
  EXPECT_LE(flood.output_tail.size(), JobManager::Options{}.output_tail_bytes);
}

TEST(JobManager, CrashingWorkerMarksJobFailedAndNextJobStillRuns) {
  JobManager m(shell_jobs());
  std::string crash = m.submit({{"echo starting >&2; kill -SEGV $$"}, 0});
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
  EXPECT_NE(j.error.find("127"), std::string::npos) << j.error;
}

TEST(JobManager, ShutdownInterruptsRunningAndQueuedJobs) {
  JobManager m(shell_jobs());
  // A child that ignores SIGTERM: the manager must escalate to SIGKILL after the grace period.
  std::string running = m.submit(
      {{"trap '' TERM; echo '{\"event\":\"campaign_started\",\"problem_count\":9}'; while true; do sleep 0.05; done"}, 0});
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

// Issue 14: a job cut off by a restart answered 404 afterwards. The server process is killed
// (SIGKILL: no shutdown path runs) while its job runs; the next server reads it as interrupted,
// and a finished job of the first server is still there with its progress.
TEST(JobManager, JobCutOffByARestartReadsInterrupted) {
  TempDb db;
  auto o = shell_jobs();
  o.db_path = db.path();
  o.save_interval = 0ms;
  std::string done_id;
  {
    JobManager first(o);
    done_id = first.submit({{kCampaign}, 0});
    ASSERT_EQ(wait_done(first, done_id).state, JobState::Succeeded);
  }
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t server = ::fork();
  ASSERT_GE(server, 0);
  if (server == 0) {
    ::close(ready[0]);
    JobManager m(o);
    const std::string id = m.submit(
        {{"echo '{\"event\":\"campaign_started\",\"problem_count\":1}'; sleep 60"}, 0});
    while (m.get(id)->progress.total != 1 || m.get(id)->state != JobState::Running)
      std::this_thread::sleep_for(5ms);
    std::this_thread::sleep_for(50ms);  // the running state is saved
    const std::string msg = id + "\n";
    if (::write(ready[1], msg.data(), msg.size()) != static_cast<ssize_t>(msg.size())) ::_exit(1);
    ::pause();
    ::_exit(0);
  }
  ::close(ready[1]);
  std::string id;
  char ch;
  while (::read(ready[0], &ch, 1) == 1 && ch != '\n') id += ch;
  ::close(ready[0]);
  ASSERT_EQ(id.rfind("job-", 0), 0u) << "the server process did not start its job";
  ::kill(server, SIGKILL);
  int st = 0;
  ::waitpid(server, &st, 0);

  JobManager second(o);
  auto cut = second.get(id);
  ASSERT_TRUE(cut) << "a job of the killed server must not be forgotten";
  EXPECT_EQ(cut->state, JobState::Interrupted);
  EXPECT_NE(cut->error.find("stopped"), std::string::npos) << cut->error;
  EXPECT_EQ(cut->to_json()["state"], "interrupted");
  auto old = second.get(done_id);
  ASSERT_TRUE(old);
  EXPECT_EQ(old->state, JobState::Succeeded);
  EXPECT_EQ(old->to_json()["progress"]["problems"][0]["best_config"], "bm64_bn64_w4_s2");
  EXPECT_FALSE(second.get("job-0000000000000000"));
}

// Issue 14: GET /v1/jobs/{id} answered 404 for a job the previous server process was running,
// though the README says it is reported as interrupted. (Through Api's handler, no socket.)
TEST(JobManager, ApiAnswersAJobCutOffByARestartAsInterrupted) {
  TempDb tmp;
  {
    Database db = Database::open(tmp.path());
    JobRecord r;
    r.id = "job-00000000000000ab";
    r.state = "running";
    r.request_json = R"({"problems":["prefill_f32_hd64_none_g1_q128_k128_even"],"budget":20})";
    r.progress_json = R"({"done":0,"total":1})";
    r.created_at_ms = 1;
    db.save_job(r);
  }
  Api::Options o;
  o.db_path = tmp.path();
  o.nvrtc_available = [](std::string*) { return false; };
  Api api(o);
  ApiRequest req;
  req.path_params["id"] = "job-00000000000000ab";
  ApiResponse res = api.job(req);
  ASSERT_EQ(res.status, 200) << res.body;
  const auto j = nlohmann::json::parse(res.body);
  EXPECT_EQ(j["state"], "interrupted");
  EXPECT_EQ(j["budget"], 20);
  EXPECT_EQ(j["problems"][0], "prefill_f32_hd64_none_g1_q128_k128_even");
}

#ifdef ATTNJIT_WITH_LLVM
// The real thing: a job with a budget (it failed before: the child demanded --strategy) runs
// `attnjit tune --json` on the CPU backend; the job shows the campaign's per-problem progress.
TEST(JobManager, RealCampaignChildWithABudget) {
  TempDb tmp;
  JobManager::Options o;
  const std::string db = tmp.path();
  o.command = [db](const TuneRequest& r) {
    std::vector<std::string> argv = {ATTNJIT_CLI_PATH, "tune", "--backend", "cpu", "--db", db,
                                     "--measure-seconds", "0.05", "--threads", "2"};
    for (const auto& p : r.problems) {
      argv.push_back("--problem");
      argv.push_back(p);
    }
    argv.push_back("--budget");
    argv.push_back(std::to_string(r.budget));
    return argv;
  };
  o.db_path = db;
  JobManager m(o);
  const std::string id = m.submit({{"prefill_f32_hd64_none_g1_q128_k128_even"}, 2});
  auto info = m.wait(id, 120s);
  ASSERT_TRUE(info);
  ASSERT_EQ(info->state, JobState::Succeeded) << info->error << "\n" << info->output_tail;
  const nlohmann::json p = info->to_json()["progress"];
  EXPECT_EQ(p["done"], 1);
  EXPECT_EQ(p["total"], 1);
  EXPECT_EQ(p["problems"][0]["state"], "done");
  EXPECT_FALSE(p["problems"][0]["best_config"].get<std::string>().empty()) << p.dump();
  EXPECT_GT(p["problems"][0]["best_ms"].get<double>(), 0);
  EXPECT_GE(p["problems"][0]["counts"]["ok"].get<int>(), 1) << p.dump();
  EXPECT_EQ(Database::open(db, OpenMode::ReadOnly).list_best().size(), 1u);
}
#endif

}  // namespace
}  // namespace attnjit::service
