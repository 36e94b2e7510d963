// JSON Lines import / export of results with their device and template.
#include <istream>
#include <map>
#include <ostream>

#include "db/config_key_upgrade.h"
#include "db/database.h"
#include "db/database_impl.h"
#include "db/json_codec.h"

namespace attnjit {

int64_t Database::export_jsonl(std::ostream& out, const ResultFilter& f) const {
  std::lock_guard lk(impl_->mu);
  // One read transaction: the export is a consistent snapshot even while others write.
  auto& c = impl_->c();
  c.exec("BEGIN", "export: begin");
  // Ends the read transaction on every path; it wrote nothing, so a failing COMMIT loses nothing
  // (and a destructor must not throw).
  struct End {
    sqlite::Connection& c;
    ~End() { sqlite3_exec(c.handle(), "COMMIT", nullptr, nullptr, nullptr); }
  } end{c};
  std::map<std::string, DeviceInfo> devices;
  std::map<std::string, TemplateInfo> templates;
  int64_t lines = 0, after = 0;
  while (true) {
    ResultPage page = impl_->query_locked(f, after, 1000);
    for (const TuningResult& r : page.rows) {
      auto d = devices.find(r.device);
      if (d == devices.end()) {
        auto found = impl_->find_device_locked(r.device);
        if (!found) c.fail("export: device row missing", SQLITE_CORRUPT);
        d = devices.emplace(r.device, *found).first;
      }
      auto t = templates.find(r.template_hash);
      if (t == templates.end()) {
        auto found = impl_->find_template_locked(r.template_hash);
        if (!found) c.fail("export: template row missing", SQLITE_CORRUPT);
        t = templates.emplace(r.template_hash, *found).first;
      }
      nlohmann::json line = export_line(d->second, t->second, r);
      // The snippets the key names travel with it (an importer checks their hashes).
      for (const auto& [hash, text] : impl_->snippets_of_locked(r.problem)) line["snippets"][hash] = text;
      out << line.dump() << '\n';
      ++lines;
    }
    if (!out) throw DbError("export: writing the output stream failed after " +
                            std::to_string(lines) + " lines");
    if (!page.next_cursor) break;
    after = *page.next_cursor;
  }
  out.flush();
  if (!out) throw DbError("export: flushing the output stream failed");
  return lines;
}

ImportStats Database::import_jsonl(std::istream& in, std::string_view source) {
  std::lock_guard lk(impl_->mu);
  impl_->require_writable("import");
  // All lines or none: a bad line anywhere rolls back everything read before it.
  sqlite::Transaction tx(impl_->conn, impl_->options.busy_retry_ms, "import");
  ImportStats st;
  std::string line;
  int64_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    ++st.lines;
    auto where = [&] { return "import " + std::string(source) + ":" + std::to_string(lineno) + ": "; };
    try {
      nlohmann::json j = nlohmann::json::parse(line);
      if (!j.is_object()) throw SpecError("line: expected a JSON object");
      auto v = j.find("version");
      const int64_t version = v != j.end() && v->is_number_integer() ? v->get<int64_t>() : 0;
      if (version != 1 && version != kExportVersion)
        throw SpecError("version: expected 1 or " + std::to_string(kExportVersion) +
                        " (the export formats this attnjit reads)");
      DeviceInfo d = device_from_json(j.at("device"));
      TemplateInfo t = template_from_json(j.at("template"));
      TuningResult r = result_from_json(j.at("result"));
      if (version == 1) upgrade_v1_result(r);
      r.config = upgrade_config_key(r.config, d.target);  // an old export's key, as schema v4 has it
      if (r.device != d.fingerprint())
        throw SpecError("result.device: '" + r.device + "' is not the line's device fingerprint '" +
                        d.fingerprint() + "'");
      if (r.template_hash != t.hash)
        throw SpecError("result.template_hash: '" + r.template_hash +
                        "' is not the line's template hash '" + t.hash + "'");
      if (r.measured_at_ms <= 0)
        throw SpecError("measured_at_ms: an imported measurement needs its timestamp");
      r.template_name = t.name;
      // Snippets: each must hash to its key; every one the problem key names must be known.
      if (auto sn = j.find("snippets"); sn != j.end()) {
        if (!sn->is_object()) throw SpecError("snippets: expected an object {hash: text}");
        for (auto it = sn->begin(); it != sn->end(); ++it) {
          if (!it.value().is_string()) throw SpecError("snippets." + it.key() + ": expected a string");
          impl_->store_snippet_locked(it.key(), it.value().get<std::string>());
        }
      }
      try {
        impl_->snippets_of_locked(r.problem);
      } catch (const DbError& e) {
        throw SpecError(std::string(e.what()) + " (send its text in the line's \"snippets\")");
      }
      impl_->upsert_device_locked(d);
      impl_->upsert_template_locked(t);
      // Margin 0 when merging: the faster verified result wins, whichever file held it.
      RecordOutcome o = impl_->record_locked(r, 0.0);
      (o.stored ? st.stored : st.kept_existing)++;
    } catch (const nlohmann::json::exception& e) {
      throw DbError(where() + "malformed JSON: " + e.what());
    } catch (const SpecError& e) {
      throw DbError(where() + e.what());
    } catch (const DbError& e) {
      throw DbError(where() + e.what(), e.code);
    }
  }
  if (in.bad()) throw DbError("import " + std::string(source) + ": reading failed after line " +
                              std::to_string(lineno));
  tx.commit();
  impl_->wrote();
  return st;
}

}  // namespace attnjit
