#include "db/config_key_upgrade.h"

#include <vector>

#include "attnjit/types.h"
#include "codegen/tile_config.h"

namespace attnjit {

std::string upgrade_config_key(std::string_view config, std::string_view device_target) {
  TileConfig c = TileConfig::parse(config);
  // A key that names its template, or is not canonical (for the caller to refuse), stays as is.
  if (!c.tmpl.empty() || c.key() != config) return std::string(config);
  c.tmpl = device_target.rfind("cpu", 0) == 0 ? "cpu" : "sm80";
  return c.key();
}

namespace schema {

int64_t upgrade_config_keys(sqlite::Connection& c) {
  struct Row {
    int64_t id, device, problem, tmpl, measured;
    std::string config, target;
  };
  std::vector<Row> old;
  {
    // Named keys start with the template's name; old ones with the first knob.
    auto q = c.query(
        "SELECT r.id, r.device_id, r.problem_id, r.template_id, r.measured_at_ms, r.config, d.target"
        " FROM results r JOIN devices d ON d.id = r.device_id WHERE r.config LIKE 'bm%' ORDER BY r.id",
        "migrate v4: old config keys");
    while (q.step()) old.push_back({q.i64(0), q.i64(1), q.i64(2), q.i64(3), q.i64(4), q.text(5), q.text(6)});
  }
  auto repoint_best = [&](int64_t from, int64_t to) {
    auto u = c.query("UPDATE best SET result_id = ?2 WHERE result_id = ?1", "migrate v4: repoint best");
    u.bind(1, from).bind(2, to);
    u.run();
  };
  auto drop = [&](int64_t id) {
    auto d = c.query("DELETE FROM results WHERE id = ?1", "migrate v4: drop duplicate");
    d.bind(1, id);
    d.run();
  };
  auto rename = [&](int64_t id, const std::string& key) {
    auto u = c.query("UPDATE results SET config = ?2 WHERE id = ?1", "migrate v4: rewrite key");
    u.bind(1, id).bind(2, key);
    u.run();
  };
  int64_t changed = 0;
  for (const Row& r : old) {
    std::string key;
    try {
      key = upgrade_config_key(r.config, r.target);
    } catch (const SpecError&) {
      continue;  // not a config key this grammar reads: left as it was, never guessed at
    }
    if (key == r.config) continue;
    int64_t other = 0, other_measured = 0;
    {
      auto q = c.query(
          "SELECT id, measured_at_ms FROM results WHERE device_id = ?1 AND problem_id = ?2"
          " AND template_id = ?3 AND config = ?4",
          "migrate v4: find canonical row");
      q.bind(1, r.device).bind(2, r.problem).bind(3, r.tmpl).bind(4, key);
      if (q.step()) other = q.i64(0), other_measured = q.i64(1);
    }
    if (!other) {
      rename(r.id, key);
    } else if (r.measured > other_measured) {
      repoint_best(other, r.id);
      drop(other);
      rename(r.id, key);
    } else {
      repoint_best(r.id, other);
      drop(r.id);
    }
    ++changed;
  }
  return changed;
}

}  // namespace schema
}  // namespace attnjit
