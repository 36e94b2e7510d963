// `attnjit db`: inspect and move the local tuning database.
//   attnjit db stats  [--db FILE]
//   attnjit db export [--db FILE] [--out FILE] [--device FP] [--target T] [--problem KEY] [--status S]
//   attnjit db import [--db FILE] FILE...         (each file all-or-nothing; "-" = stdin)
//   attnjit db best   [--db FILE] --problem KEY [--device FINGERPRINT|TARGET] [--template HASH]
// The database defaults to $ATTNJIT_DB or ./attnjit.db. Reads open it read-only (a mistyped path
// is an error, not a new empty file). Output is JSON on stdout; export writes JSON Lines.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>

#include "cli/command.h"
#include "codegen/target.h"
#include "db/database.h"
#include "db/json_codec.h"

namespace attnjit::cli {
namespace {

using nlohmann::json;

struct DbArgs {
  std::string db;
  std::string out;
  std::vector<std::string> files;
  std::string problem, device, target, status, template_hash;
};

std::string db_path(const DbArgs& a) { return a.db.empty() ? default_database_path() : a.db; }

void print(const json& j) { std::cout << j.dump(2) << std::endl; }

void run_stats(const DbArgs& a) {
  Database db = Database::open(db_path(a), OpenMode::ReadOnly);
  DbStats s = db.stats();
  json devices = json::array();
  for (const DeviceInfo& d : db.list_devices()) devices.push_back(to_json(d));
  print({{"path", s.path},
         {"schema_version", s.schema_version},
         {"devices", s.devices},
         {"templates", s.templates},
         {"problems", s.problems},
         {"results", s.results},
         {"best", s.best},
         {"results_by_status", s.results_by_status},
         {"device_list", devices}});
}

ResultFilter filter_from(const DbArgs& a) {
  ResultFilter f;
  if (!a.device.empty()) f.device = a.device;
  if (!a.target.empty()) f.target = a.target;
  if (!a.problem.empty()) f.problem = ProblemSpec::parse(a.problem).key();
  if (!a.status.empty()) f.status = parse_result_status(a.status);
  return f;
}

void run_export(const DbArgs& a) {
  ResultFilter f = filter_from(a);  // bad filters are usage errors before the file is touched
  Database db = Database::open(db_path(a), OpenMode::ReadOnly);
  int64_t n = 0;
  if (a.out.empty() || a.out == "-") {
    n = db.export_jsonl(std::cout, f);
  } else {
    // Written to a temporary name and renamed, so a failed export never leaves half a file.
    const std::string tmp = a.out + ".tmp";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      if (!out) throw std::runtime_error("export: cannot open '" + tmp + "' for writing");
      n = db.export_jsonl(out, f);
    }
    if (std::rename(tmp.c_str(), a.out.c_str()) != 0)
      throw std::runtime_error("export: cannot rename '" + tmp + "' to '" + a.out + "'");
  }
  std::fprintf(stderr, "attnjit db export: %lld results from %s\n", static_cast<long long>(n),
               db.path().c_str());
}

void run_import(const DbArgs& a) {
  Database db = Database::open(db_path(a), OpenMode::ReadWrite);
  json per_file = json::array();
  for (const std::string& f : a.files) {
    ImportStats st;
    if (f == "-") {
      st = db.import_jsonl(std::cin, "<stdin>");
    } else {
      std::ifstream in(f, std::ios::binary);
      if (!in) throw UsageError("import: cannot open '" + f + "'");
      st = db.import_jsonl(in, f);
    }
    per_file.push_back(
        {{"file", f}, {"lines", st.lines}, {"stored", st.stored}, {"kept_existing", st.kept_existing}});
  }
  print({{"db", db.path()}, {"imported", per_file}});
}

// --device is a stored device's fingerprint or a target key (sm_80 ... sm_90a, cpu-<name>);
// anything else is a usage error, not a silent default config.
void check_device_arg(const Database& db, const std::string& device) {
  const bool hex16 = device.size() == 16 && device.find_first_not_of("0123456789abcdef") == std::string::npos;
  if (hex16) {
    if (!db.find_device(device))
      throw UsageError("--device: no device with fingerprint " + device + " in " + db.path());
    return;
  }
  if (device.rfind("cpu-", 0) == 0 && device.size() > 4) return;
  try {
    Target::cuda(device);
  } catch (const SpecError& e) {
    throw UsageError("--device: '" + device.substr(0, 64) +
                     "' is neither a device fingerprint nor a target (sm_80, sm_86, sm_89, sm_90a, cpu-<name>): " +
                     e.what());
  }
}

void run_best(const DbArgs& a) {
  ProblemSpec spec = ProblemSpec::parse(a.problem);
  Database db = Database::open(db_path(a), OpenMode::ReadOnly);
  if (a.device.empty()) {
    // No device: every device's best entry for this problem.
    ResultFilter f;
    f.problem = spec.key();
    if (!a.template_hash.empty()) f.template_hash = a.template_hash;
    json entries = json::array();
    for (const BestEntry& b : db.list_best(f)) entries.push_back(to_json(b));
    print({{"problem", spec.key()}, {"best", entries}});
    return;
  }
  check_device_arg(db, a.device);
  LookupResult l = db.lookup(a.device, spec, a.template_hash);
  json j = to_json(l);
  j["problem"] = spec.key();
  print(j);
}

const RegisterCommand reg("db", [](CLI::App& app) {
  auto a = std::make_shared<DbArgs>();
  auto* db = app.add_subcommand("db", "Inspect, export and merge the local tuning database");
  db->require_subcommand(1);
  auto with_db = [a](CLI::App* c) {
    c->add_option("--db", a->db, "database file (default: $ATTNJIT_DB or ./attnjit.db)");
  };
  auto* stats = db->add_subcommand("stats", "Row counts, results by status, devices");
  with_db(stats);
  stats->callback([a] { run_stats(*a); });

  auto* exp = db->add_subcommand("export", "Write results as JSON Lines (one object per result)");
  with_db(exp);
  exp->add_option("--out", a->out, "output file (default: stdout)");
  exp->add_option("--device", a->device, "only this device fingerprint");
  exp->add_option("--target", a->target, "only devices of this target (sm_90a, cpu-<name>)");
  exp->add_option("--problem", a->problem, "only this problem key");
  exp->add_option("--status", a->status, "only this status (ok, compile_error, ...)");
  exp->callback([a] { run_export(*a); });

  auto* imp = db->add_subcommand("import", "Merge JSON Lines files (idempotent; each file all-or-nothing)");
  with_db(imp);
  imp->add_option("files", a->files, "files to import ('-' = stdin)")->required();
  imp->callback([a] { run_import(*a); });

  auto* best = db->add_subcommand("best", "The config for a problem, and why (exact / nearest / same arch / default)");
  with_db(best);
  best->add_option("--problem", a->problem, "problem key")->required();
  best->add_option("--device", a->device, "device fingerprint or target key (default: list every device)");
  best->add_option("--template", a->template_hash, "template version hash (default: any)");
  best->callback([a] { run_best(*a); });
});

}  // namespace
}  // namespace attnjit::cli
