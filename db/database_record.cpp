// Recording measurements and choosing the best config.
#include <cmath>

#include "codegen/problem_spec.h"
#include "codegen/tile_config.h"
#include "db/best_rule.h"
#include "db/database.h"
#include "db/database_impl.h"

namespace attnjit {
namespace {

// Keys are stored in canonical form only, so one problem / config never has two spellings.
void validate_result(const TuningResult& r) {
  if (r.device.empty()) throw SpecError("device: fingerprint must not be empty");
  if (r.template_hash.empty()) throw SpecError("template_hash: must not be empty");
  ProblemSpec p = ProblemSpec::parse(r.problem);
  if (p.key() != r.problem)
    throw SpecError("problem: '" + r.problem + "' is not canonical (expected '" + p.key() + "')");
  TileConfig c = TileConfig::parse(r.config);
  if (c.key() != r.config)
    throw SpecError("config: '" + r.config + "' is not canonical (expected '" + c.key() + "')");
  auto finite_nonneg = [](double v) { return std::isfinite(v) && v >= 0; };
  for (auto [name, v] : {std::pair{"median_ms", r.median_ms}, {"min_ms", r.min_ms},
                         {"max_ms", r.max_ms}, {"iqr_ms", r.iqr_ms}, {"tflops", r.tflops},
                         {"gbps", r.gbps}, {"tolerance", r.tolerance}})
    if (!finite_nonneg(v))
      throw SpecError(std::string(name) + ": must be finite and >= 0, got " + std::to_string(v));
  // max_error may be +inf or NaN for a wrong result (that is why it is wrong), never for an ok one.
  if (r.status == ResultStatus::Ok) {
    if (!(r.median_ms > 0)) throw SpecError("median_ms: an ok result needs a positive time");
    if (r.runs < 1) throw SpecError("runs: an ok result needs at least one timed run");
    if (!(r.min_ms <= r.median_ms && r.median_ms <= r.max_ms))
      throw SpecError("min_ms/median_ms/max_ms: must satisfy min <= median <= max");
    if (!finite_nonneg(r.max_error)) throw SpecError("max_error: must be finite for an ok result");
    if (r.iqr_ms > r.max_ms - r.min_ms + 1e-12 * r.max_ms)
      throw SpecError("iqr_ms: must not exceed max_ms - min_ms");
  }
  if (r.runs < 0 || r.registers < 0 || r.spill_bytes < 0 || r.smem_bytes < 0)
    throw SpecError("runs/registers/spill_bytes/smem_bytes: must be >= 0");
}

}  // namespace

RecordOutcome Database::Impl::record_locked(const TuningResult& r, double margin) {
  validate_result(r);
  auto dev = device_id(r.device);
  if (!dev)
    throw DbError("record_result: unknown device fingerprint '" + r.device +
                  "'; upsert_device first [" + conn.path() + "]");
  ProblemSpec spec = ProblemSpec::parse(r.problem);
  int64_t prob = upsert_problem_locked(spec);
  auto tmpl = template_id(r.template_hash);
  if (!tmpl) {
    if (r.template_name.empty())
      throw SpecError("template_name: needed for the unknown template hash '" + r.template_hash + "'");
    upsert_template_locked({r.template_hash, r.template_name, std::string(to_string(spec.family)),
                            r.tuner_version});
    tmpl = sqlite3_last_insert_rowid(conn.handle());
  }
  const int64_t measured = r.measured_at_ms > 0 ? r.measured_at_ms : now_ms();
  // Same key again: the newer measurement wins. Equal timestamps (the same row imported twice,
  // or two shards on identical devices) resolve by content — ok before not-ok, then faster —
  // so the outcome does not depend on import order.
  auto q = c().query(
      "INSERT INTO results (device_id, problem_id, template_id, config, status, error, median_ms,"
      " min_ms, max_ms, runs, tflops, gbps, max_error, tolerance, registers, spill_bytes,"
      " smem_bytes, measured_at_ms, tuner_version, iqr_ms)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,"
      " ?20)"
      " ON CONFLICT (device_id, problem_id, template_id, config) DO UPDATE SET"
      "  status = excluded.status, error = excluded.error, median_ms = excluded.median_ms,"
      "  min_ms = excluded.min_ms, max_ms = excluded.max_ms, runs = excluded.runs,"
      "  tflops = excluded.tflops, gbps = excluded.gbps, max_error = excluded.max_error,"
      "  tolerance = excluded.tolerance, registers = excluded.registers,"
      "  spill_bytes = excluded.spill_bytes, smem_bytes = excluded.smem_bytes,"
      "  measured_at_ms = excluded.measured_at_ms, tuner_version = excluded.tuner_version,"
      "  iqr_ms = excluded.iqr_ms"
      " WHERE excluded.measured_at_ms > results.measured_at_ms"
      "  OR (excluded.measured_at_ms = results.measured_at_ms AND excluded.status = 'ok'"
      "      AND (results.status <> 'ok' OR excluded.median_ms < results.median_ms))",
      "record_result");
  q.bind(1, *dev).bind(2, prob).bind(3, *tmpl).bind(4, r.config).bind(5, to_string(r.status));
  q.bind(6, r.error).bind(7, r.median_ms).bind(8, r.min_ms).bind(9, r.max_ms).bind(10, r.runs);
  q.bind(11, r.tflops).bind(12, r.gbps);
  // SQLite stores NaN as NULL, which the NOT NULL column rejects: keep "no finite error" as +inf.
  q.bind(13, std::isnan(r.max_error) ? INFINITY : r.max_error);
  q.bind(14, r.tolerance).bind(15, r.registers).bind(16, r.spill_bytes).bind(17, r.smem_bytes);
  q.bind(18, measured).bind(19, r.tuner_version).bind(20, r.iqr_ms);
  q.run();
  RecordOutcome out;
  out.stored = conn.changes() > 0;

  auto id = c().query(
      "SELECT id FROM results WHERE device_id = ?1 AND problem_id = ?2 AND template_id = ?3"
      " AND config = ?4",
      "record_result: row id");
  id.bind(1, *dev).bind(2, prob).bind(3, *tmpl).bind(4, r.config);
  if (!id.step()) conn.fail("record_result: row vanished", SQLITE_INTERNAL);
  const int64_t rid = id.i64(0);
  out.became_best = repick_best_locked(*dev, prob, *tmpl, margin) == rid;
  return out;
}

int64_t Database::Impl::repick_best_locked(int64_t dev, int64_t prob, int64_t tmpl, double margin) {
  // Every verified result of this (device, problem, template), and the incumbent's config.
  std::vector<BestCandidate> ok;
  std::vector<int64_t> ids;
  {
    auto q = c().query(
        "SELECT id, config, median_ms, iqr_ms FROM results WHERE device_id = ?1 AND problem_id = ?2"
        " AND template_id = ?3 AND status = 'ok'",
        "pick best: candidates");
    q.bind(1, dev).bind(2, prob).bind(3, tmpl);
    while (q.step()) {
      ids.push_back(q.i64(0));
      ok.push_back({q.text(1), q.f64(2), q.f64(3)});
    }
  }
  int64_t inc = 0;
  std::string inc_config;
  {
    auto q = c().query(
        "SELECT b.result_id, r.config, r.status = 'ok' FROM best b JOIN results r"
        " ON r.id = b.result_id WHERE b.device_id = ?1 AND b.problem_id = ?2 AND b.template_id = ?3",
        "pick best: incumbent");
    q.bind(1, dev).bind(2, prob).bind(3, tmpl);
    if (q.step()) {
      inc = q.i64(0);
      // An incumbent re-measured as failing is no incumbent: the fastest starts instead.
      if (q.i64(2) != 0) inc_config = q.text(1);
    }
  }
  const std::optional<size_t> pick = pick_best(ok, inc_config, margin);
  if (!pick) {
    // Nothing ok any more (the incumbent was re-measured as failing): no best entry at all.
    if (inc) {
      auto d = c().query("DELETE FROM best WHERE device_id = ?1 AND problem_id = ?2 AND template_id = ?3",
                         "pick best: delete");
      d.bind(1, dev).bind(2, prob).bind(3, tmpl);
      d.run();
    }
    return 0;
  }
  const int64_t cand = ids[*pick];
  if (cand == inc) return inc;
  auto w = c().query(
      "INSERT INTO best (device_id, problem_id, template_id, result_id, updated_at_ms)"
      " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (device_id, problem_id, template_id)"
      " DO UPDATE SET result_id = excluded.result_id, updated_at_ms = excluded.updated_at_ms",
      "pick best: store");
  w.bind(1, dev).bind(2, prob).bind(3, tmpl).bind(4, cand).bind(5, now_ms());
  w.run();
  return cand;
}

RecordOutcome Database::record_result(const TuningResult& r) {
  std::lock_guard lk(impl_->mu);
  impl_->require_writable("record_result");
  sqlite::Transaction tx(impl_->conn, impl_->options.busy_retry_ms, "record_result");
  RecordOutcome out = impl_->record_locked(r, impl_->options.best_margin);
  tx.commit();
  impl_->wrote();
  return out;
}

std::vector<RecordOutcome> Database::record_results(std::span<const TuningResult> rs) {
  std::lock_guard lk(impl_->mu);
  impl_->require_writable("record_results");
  sqlite::Transaction tx(impl_->conn, impl_->options.busy_retry_ms, "record_results");
  std::vector<RecordOutcome> out;
  out.reserve(rs.size());
  for (const auto& r : rs) out.push_back(impl_->record_locked(r, impl_->options.best_margin));
  tx.commit();
  impl_->wrote();
  return out;
}

void Database::set_best(std::string_view device, std::string_view problem,
                        std::string_view template_hash, std::string_view config) {
  std::lock_guard lk(impl_->mu);
  impl_->require_writable("set_best");
  sqlite::Transaction tx(impl_->conn, impl_->options.busy_retry_ms, "set_best");
  auto q = impl_->c().query(
      "SELECT r.id, r.device_id, r.problem_id, r.template_id FROM results r"
      " JOIN devices d ON d.id = r.device_id JOIN problems p ON p.id = r.problem_id"
      " JOIN templates t ON t.id = r.template_id"
      " WHERE d.fingerprint = ?1 AND p.key = ?2 AND t.hash = ?3 AND r.config = ?4"
      " AND r.status = 'ok'",
      "set_best: find result");
  q.bind(1, device).bind(2, problem).bind(3, template_hash).bind(4, config);
  if (!q.step())
    throw DbError("set_best: no ok result for device " + std::string(device) + ", problem " +
                  std::string(problem) + ", template " + std::string(template_hash) +
                  ", config " + std::string(config) + " [" + impl_->conn.path() + "]");
  auto w = impl_->c().query(
      "INSERT INTO best (device_id, problem_id, template_id, result_id, updated_at_ms)"
      " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (device_id, problem_id, template_id)"
      " DO UPDATE SET result_id = excluded.result_id, updated_at_ms = excluded.updated_at_ms",
      "pick best: store");
  w.bind(1, q.i64(1)).bind(2, q.i64(2)).bind(3, q.i64(3)).bind(4, q.i64(0)).bind(5, now_ms());
  w.run();
  tx.commit();
  impl_->wrote();
}

}  // namespace attnjit
