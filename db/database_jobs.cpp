// Tuning jobs: the job manager's durable state (see db/job_record.h).
#include <array>

#include "codegen/types.h"
#include "db/database.h"
#include "db/database_impl.h"

namespace attnjit {
namespace {

constexpr std::array<std::string_view, 5> kStates = {"queued", "running", "succeeded", "failed",
                                                     "interrupted"};

void validate_job(const JobRecord& j) {
  if (j.id.empty()) throw SpecError("id: a job needs an id");
  bool known = false;
  for (std::string_view s : kStates) known = known || s == j.state;
  if (!known)
    throw SpecError("state: unknown value '" + j.state +
                    "' (allowed: queued, running, succeeded, failed, interrupted)");
}

}  // namespace

void Database::save_job(const JobRecord& j) {
  validate_job(j);
  std::lock_guard lk(impl_->mu);
  impl_->require_writable("save_job");
  sqlite::Transaction tx(impl_->conn, impl_->options.busy_retry_ms, "save_job");
  auto q = impl_->c().query(
      "INSERT INTO jobs (id, state, request, progress, error, exit_code, created_at_ms,"
      " started_at_ms, finished_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
      " ON CONFLICT (id) DO UPDATE SET state = excluded.state, request = excluded.request,"
      "  progress = excluded.progress, error = excluded.error, exit_code = excluded.exit_code,"
      "  created_at_ms = excluded.created_at_ms, started_at_ms = excluded.started_at_ms,"
      "  finished_at_ms = excluded.finished_at_ms",
      "save_job");
  q.bind(1, j.id).bind(2, j.state).bind(3, j.request_json).bind(4, j.progress_json).bind(5, j.error);
  if (j.exit_code) q.bind(6, static_cast<int64_t>(*j.exit_code));
  else q.bind_null(6);
  q.bind(7, j.created_at_ms).bind(8, j.started_at_ms).bind(9, j.finished_at_ms);
  q.run();
  tx.commit();
}

std::optional<JobRecord> Database::find_job(std::string_view id) const {
  std::lock_guard lk(impl_->mu);
  auto q = impl_->c().query(
      "SELECT id, state, request, progress, error, exit_code, exit_code IS NULL, created_at_ms,"
      " started_at_ms, finished_at_ms FROM jobs WHERE id = ?1",
      "find_job");
  q.bind(1, id);
  if (!q.step()) return std::nullopt;
  return JobRecord{.id = q.text(0), .state = q.text(1), .request_json = q.text(2), .progress_json = q.text(3),
                   .error = q.text(4), .exit_code = q.i64(6) == 0 ? std::optional<int>(q.i32(5)) : std::nullopt,
                   .created_at_ms = q.i64(7), .started_at_ms = q.i64(8), .finished_at_ms = q.i64(9)};
}

// One write statement in its own transaction; returns the rows it changed.
int64_t Database::Impl::change_jobs_locked(const std::string& sql, std::string_view op,
                                           const std::function<void(sqlite::Cursor&)>& bind) {
  require_writable(op);
  sqlite::Transaction tx(conn, options.busy_retry_ms, op);
  auto q = c().query(sql, op);
  bind(q);
  q.run();
  const int64_t n = conn.changes();
  tx.commit();
  return n;
}

int64_t Database::interrupt_unfinished_jobs(std::string_view reason) {
  std::lock_guard lk(impl_->mu);
  return impl_->change_jobs_locked(
      "UPDATE jobs SET state = 'interrupted', error = ?1, finished_at_ms = ?2"
      " WHERE state IN ('queued', 'running')",
      "interrupt_unfinished_jobs", [&](sqlite::Cursor& q) { q.bind(1, reason).bind(2, now_ms()); });
}

int64_t Database::prune_finished_jobs(int64_t keep) {
  if (keep < 0) throw SpecError("keep: must be >= 0");
  std::lock_guard lk(impl_->mu);
  return impl_->change_jobs_locked(
      "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state NOT IN ('queued', 'running')"
      " ORDER BY finished_at_ms DESC, id LIMIT -1 OFFSET ?1)",
      "prune_finished_jobs", [&](sqlite::Cursor& q) { q.bind(1, keep); });
}

}  // namespace attnjit
