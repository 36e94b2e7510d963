// Filtered, paginated reads of results and best entries.
#include <functional>
#include <vector>

#include "codegen/types.h"
#include "db/database.h"
#include "db/database_impl.h"

namespace attnjit {
namespace {

// WHERE clause for the filter fields that are set. Each distinct set of fields gives one SQL
// text, prepared once and cached by the connection; values are always bound, never spliced.
struct Where {
  std::string sql;
  std::vector<std::function<void(sqlite::Cursor&, int)>> binds;

  template <class T>
  void add(const std::optional<T>& v, const char* column) {
    if (!v) return;
    sql += " AND ";
    sql += column;
    sql += " = ?" + std::to_string(binds.size() + 1);
    T value = *v;
    binds.push_back([value](sqlite::Cursor& q, int i) { q.bind(i, value); });
  }
  void add_text(const std::optional<std::string_view>& v, const char* column) {
    if (!v) return;
    add(std::optional<std::string>(std::string(*v)), column);
  }
  void bind_all(sqlite::Cursor& q) const {
    for (size_t i = 0; i < binds.size(); ++i) binds[i](q, static_cast<int>(i + 1));
  }
};

template <class E>
std::optional<std::string_view> name_of(const std::optional<E>& e) {
  if (!e) return std::nullopt;
  return to_string(*e);
}

// Filter fields that live on devices / problems / templates (shared by results and best).
void add_common(Where& w, const ResultFilter& f) {
  w.add(f.device, "d.fingerprint");
  w.add(f.target, "d.target");
  w.add(f.problem, "p.key");
  w.add(f.template_hash, "t.hash");
  w.add(f.template_name, "t.name");
  w.add_text(name_of(f.family), "p.family");
  w.add_text(name_of(f.dtype), "p.dtype");
  w.add(f.head_dim, "p.head_dim");
  w.add_text(name_of(f.mask), "p.mask_kind");
  w.add(f.seqlen_q, "p.seqlen_q");
  w.add(f.seqlen_k, "p.seqlen_k");
}

}  // namespace

ResultPage Database::Impl::query_locked(const ResultFilter& f, int64_t after, int limit) const {
  if (limit < 1 || limit > 10000)
    throw SpecError("limit: must be in 1..10000, got " + std::to_string(limit));
  if (after < 0) throw SpecError("cursor: must be >= 0, got " + std::to_string(after));
  Where w;
  // r.id > after comes first so the pagination range scan drives the query.
  w.sql = " r.id > ?1";
  w.binds.push_back([after](sqlite::Cursor& q, int i) { q.bind(i, after); });
  add_common(w, f);
  w.add(f.config, "r.config");
  w.add_text(name_of(f.status), "r.status");
  const int lim_idx = static_cast<int>(w.binds.size() + 1);
  std::string sql =
      "SELECT r.id, d.fingerprint, p.key, t.name, t.hash, r.config, r.status, r.error,"
      " r.median_ms, r.min_ms, r.max_ms, r.runs, r.tflops, r.gbps, r.max_error, r.tolerance,"
      " r.registers, r.spill_bytes, r.smem_bytes, r.measured_at_ms, r.tuner_version, r.iqr_ms"
      " FROM results r JOIN devices d ON d.id = r.device_id"
      " JOIN problems p ON p.id = r.problem_id JOIN templates t ON t.id = r.template_id"
      " WHERE" + w.sql + " ORDER BY r.id LIMIT ?" + std::to_string(lim_idx);
  auto q = c().query(sql, "query_results");
  w.bind_all(q);
  q.bind(lim_idx, static_cast<int64_t>(limit) + 1);  // one extra row tells whether more follow
  ResultPage page;
  while (q.step()) {
    if (static_cast<int>(page.rows.size()) == limit) {
      page.next_cursor = page.rows.back().id;
      break;
    }
    page.rows.push_back({.id = q.i64(0), .device = q.text(1), .problem = q.text(2), .template_name = q.text(3),
                         .template_hash = q.text(4), .config = q.text(5), .status = parse_result_status(q.text(6)),
                         .error = q.text(7), .median_ms = q.f64(8), .min_ms = q.f64(9), .max_ms = q.f64(10),
                         .iqr_ms = q.f64(21), .runs = q.i32(11), .tflops = q.f64(12), .gbps = q.f64(13),
                         .max_error = q.f64(14), .tolerance = q.f64(15), .registers = q.i32(16),
                         .spill_bytes = q.i32(17), .smem_bytes = q.i32(18), .measured_at_ms = q.i64(19),
                         .tuner_version = q.text(20)});
  }
  return page;
}

ResultPage Database::query_results(const ResultFilter& f, int64_t after, int limit) const {
  std::lock_guard lk(impl_->mu);
  return impl_->query_locked(f, after, limit);
}

std::optional<BestEntry> Database::best(std::string_view device, std::string_view problem,
                                        std::string_view template_hash) const {
  std::lock_guard lk(impl_->mu);
  auto q = impl_->c().query(
      std::string(kBestSelect) + " AND d.fingerprint = ?1 AND p.key = ?2 AND t.hash = ?3", "best");
  q.bind(1, device).bind(2, problem).bind(3, template_hash);
  if (!q.step()) return std::nullopt;
  return read_best(q);
}

std::vector<BestEntry> Database::list_best(const ResultFilter& f) const {
  std::lock_guard lk(impl_->mu);
  Where w;
  add_common(w, f);
  auto q = impl_->c().query(
      std::string(kBestSelect) + w.sql + " ORDER BY d.fingerprint, p.key, t.hash", "list_best");
  w.bind_all(q);
  std::vector<BestEntry> out;
  while (q.step()) out.push_back(read_best(q));
  return out;
}

}  // namespace attnjit
