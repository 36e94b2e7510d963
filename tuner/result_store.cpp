#include "tuner/result_store.h"

#include <algorithm>
#include <cmath>

namespace attnjit::tuner {

DeviceInfo device_info_for(const Backend& backend) {
  return DeviceInfo::from_target(backend.target(), backend.compiler_version());
}

TuningResult to_tuning_result(const CandidateResult& r, const std::string& device,
                              const ProblemSpec& spec, const KernelTemplate& t) {
  TuningResult out;
  out.device = device;
  out.problem = spec.key();
  out.template_name = std::string(t.name());
  out.template_hash = t.version_hash();
  out.config = r.config.key();
  switch (r.status) {
    case CandidateStatus::Ok: out.status = ResultStatus::Ok; break;
    case CandidateStatus::CompileError: out.status = ResultStatus::CompileError; break;
    case CandidateStatus::Pruned: out.status = ResultStatus::Pruned; break;
    case CandidateStatus::WrongResult: out.status = ResultStatus::WrongResult; break;
    case CandidateStatus::LaunchError: out.status = ResultStatus::LaunchError; break;
    case CandidateStatus::Timeout: out.status = ResultStatus::Timeout; break;
    case CandidateStatus::Skipped:
      throw SpecError("status: a skipped candidate (" + r.key() + ") has no result to store");
  }
  out.error = r.reason;
  // The database keeps at most a few KB of compiler log per row; the first lines say why.
  if (out.error.size() > 4000) out.error = out.error.substr(0, 4000) + " ...";
  if (r.status == CandidateStatus::Ok) {
    out.median_ms = r.time.median_ms;
    out.min_ms = r.time.min_ms;
    out.max_ms = r.time.max_ms;
    out.iqr_ms = r.time.iqr_ms;
    out.runs = r.time.samples;
    out.tflops = r.tflops;
    out.gbps = r.gbps;
  }
  out.max_error = std::isfinite(r.max_error) ? r.max_error : 1e300;
  out.tolerance = r.tolerance;
  out.registers = r.resources.registers;
  out.spill_bytes = r.resources.spill_load_bytes + r.resources.spill_store_bytes;
  out.smem_bytes = r.resources.smem_static_bytes;
  out.tuner_version = ATTNJIT_VERSION;
  return out;
}

CandidateResult from_tuning_result(const TuningResult& t) {
  CandidateResult r;
  r.config = TileConfig::parse(t.config);
  switch (t.status) {
    case ResultStatus::Ok: r.status = CandidateStatus::Ok; break;
    case ResultStatus::CompileError: r.status = CandidateStatus::CompileError; break;
    case ResultStatus::Pruned: r.status = CandidateStatus::Pruned; break;
    case ResultStatus::WrongResult: r.status = CandidateStatus::WrongResult; break;
    case ResultStatus::LaunchError: r.status = CandidateStatus::LaunchError; break;
    case ResultStatus::Timeout: r.status = CandidateStatus::Timeout; break;
  }
  r.reason = t.error;
  r.time.median_ms = t.median_ms;
  r.time.min_ms = t.min_ms;
  r.time.max_ms = t.max_ms;
  r.time.iqr_ms = t.iqr_ms;
  r.time.samples = t.runs;
  r.tflops = t.tflops;
  r.gbps = t.gbps;
  r.max_error = t.max_error;
  r.tolerance = t.tolerance;
  r.resources.registers = t.registers;
  r.resources.smem_static_bytes = t.smem_bytes;
  r.from_db = true;
  return r;
}

DbResultStore::DbResultStore(Database& db, DeviceInfo device)
    : db_(db), device_(std::move(device)), fingerprint_(device_.fingerprint()) {
  db_.upsert_device(device_);
}

void DbResultStore::ensure_template(const ProblemSpec& spec, const KernelTemplate& t) {
  const std::string hash = t.version_hash();
  if (templates_seen_.count(hash)) return;
  db_.upsert_template(TemplateInfo{hash, std::string(t.name()), std::string(to_string(spec.family)),
                                   ATTNJIT_VERSION});
  templates_seen_[hash] = true;
}

std::map<std::string, CandidateResult> DbResultStore::existing(const ProblemSpec& spec,
                                                               const KernelTemplate& t) {
  ResultFilter f;
  f.device = fingerprint_;
  f.problem = spec.key();
  f.template_hash = t.version_hash();
  std::map<std::string, CandidateResult> out;
  int64_t after = 0;
  while (true) {
    ResultPage page = db_.query_results(f, after, 1000);
    for (const TuningResult& row : page.rows) out[row.config] = from_tuning_result(row);
    if (!page.next_cursor) break;
    after = *page.next_cursor;
  }
  return out;
}

void DbResultStore::record(const ProblemSpec& spec, const KernelTemplate& t, const CandidateResult& r) {
  ensure_template(spec, t);
  db_.record_result(to_tuning_result(r, fingerprint_, spec, t));
}

void DbResultStore::set_best(const ProblemSpec& spec, const KernelTemplate& t, const TileConfig& cfg) {
  db_.set_best(fingerprint_, spec.key(), t.version_hash(), cfg.key());
}

}  // namespace attnjit::tuner

namespace attnjit::tuner {

std::optional<std::string> DbResultStore::stored_best(const ProblemSpec& spec, const KernelTemplate& t) {
  auto b = db_.best(fingerprint_, spec.key(), t.version_hash());
  if (!b) return std::nullopt;
  return b->config;
}

}  // namespace attnjit::tuner
