// The snippets table (schema v4): user score_mod / mask_mod texts by hash. Export writes the
// texts a line's problem key names into the line; import checks that each text hashes to its
// key before storing it (db/import_export.cpp).
#include "codegen/snippet.h"
#include "db/database.h"
#include "db/database_impl.h"

namespace attnjit {

std::string Database::put_snippet(std::string_view text) {
  const std::string norm = normalize_snippet(text);
  const std::string hash = register_snippet(norm);
  std::lock_guard lk(impl_->mu);
  impl_->require_writable("put snippet");
  sqlite::Transaction tx(impl_->conn, impl_->options.busy_retry_ms, "put snippet");
  impl_->c().query("INSERT OR IGNORE INTO snippets (hash, text) VALUES (?1, ?2)", "put snippet")
      .bind(1, hash)
      .bind(2, norm)
      .step();
  tx.commit();
  return hash;
}

std::optional<std::string> Database::get_snippet(std::string_view hash) const {
  std::string text;
  {
    std::lock_guard lk(impl_->mu);
    auto q = impl_->c().query("SELECT text FROM snippets WHERE hash = ?1", "get snippet");
    q.bind(1, hash);
    if (!q.step()) return std::nullopt;
    text = q.text(0);
  }
  // A row altered behind our back must not name different code than its hash says.
  if (snippet_hash(text) != hash) throw DbError("get snippet: stored text does not hash to " + std::string(hash));
  register_snippet(text);
  return text;
}

std::vector<std::pair<std::string, std::string>> Database::Impl::snippets_of_locked(
    const std::string& problem_key) const {
  std::vector<std::pair<std::string, std::string>> out;
  if (problem_key.find("_sm") == std::string::npos && problem_key.find("_mm") == std::string::npos) return out;
  const ProblemSpec spec = ProblemSpec::parse(problem_key);
  for (const std::string* h : {&spec.score_mod, &spec.mask_mod}) {
    if (h->empty()) continue;
    auto q = c().query("SELECT text FROM snippets WHERE hash = ?1", "find snippet");
    q.bind(1, *h);
    if (!q.step()) throw DbError("snippet " + *h + " of problem " + problem_key + " is missing from the snippets table", SQLITE_CORRUPT);
    out.emplace_back(*h, q.text(0));
  }
  return out;
}

void Database::Impl::store_snippet_locked(const std::string& hash, const std::string& text) {
  validate_snippet_hash("snippets", hash);
  const std::string norm = normalize_snippet(text, "snippets." + hash);
  if (snippet_hash(norm) != hash)
    throw SpecError("snippets." + hash + ": the text hashes to " + snippet_hash(norm) + ", not to its key");
  c().query("INSERT OR IGNORE INTO snippets (hash, text) VALUES (?1, ?2)", "store snippet").bind(1, hash).bind(2, norm).step();
}

}  // namespace attnjit
