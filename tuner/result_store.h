// Where a tuning run's results go and where an interrupted run finds what it already measured.
// The tuner sees only this interface; DbResultStore puts it on the tuning database (db/).
#pragma once

#include <map>
#include <optional>
#include <string>

#include "codegen/kernel_template.h"
#include "db/database.h"
#include "runtime/backend.h"
#include "tuner/candidate.h"

namespace attnjit::tuner {

class ResultStore {
 public:
  virtual ~ResultStore() = default;
  // Results already recorded for this problem and template version on this store's device,
  // by config key (Skipped is never stored). These candidates are not measured again.
  virtual std::map<std::string, CandidateResult> existing(const ProblemSpec& spec,
                                                          const KernelTemplate& t) = 0;
  // Stores one candidate as soon as it is done, so a killed run loses at most one.
  virtual void record(const ProblemSpec& spec, const KernelTemplate& t, const CandidateResult& r) = 0;
  // Marks the tuner's choice as the best entry.
  virtual void set_best(const ProblemSpec& spec, const KernelTemplate& t, const TileConfig& cfg) = 0;
  // The best entry chosen by an earlier run, if any (config key).
  virtual std::optional<std::string> stored_best(const ProblemSpec& spec, const KernelTemplate& t) = 0;
};

// The identity results are recorded under: the backend's target, device name and compiler.
DeviceInfo device_info_for(const Backend& backend);

// TuningResult <-> CandidateResult: one status for one status (pruned included), the IQR as
// measured (schema v3 stores it).
TuningResult to_tuning_result(const CandidateResult& r, const std::string& device,
                              const ProblemSpec& spec, const KernelTemplate& t);
CandidateResult from_tuning_result(const TuningResult& r);

class DbResultStore final : public ResultStore {
 public:
  // Upserts the device row. The database must outlive the store.
  DbResultStore(Database& db, DeviceInfo device);
  std::map<std::string, CandidateResult> existing(const ProblemSpec& spec, const KernelTemplate& t) override;
  void record(const ProblemSpec& spec, const KernelTemplate& t, const CandidateResult& r) override;
  void set_best(const ProblemSpec& spec, const KernelTemplate& t, const TileConfig& cfg) override;
  std::optional<std::string> stored_best(const ProblemSpec& spec, const KernelTemplate& t) override;
  const DeviceInfo& device() const { return device_; }

 private:
  void ensure_template(const ProblemSpec& spec, const KernelTemplate& t);
  Database& db_;
  DeviceInfo device_;
  std::string fingerprint_;
  std::map<std::string, bool> templates_seen_;
};

}  // namespace attnjit::tuner
