// A tuning job as the database keeps it, so a job outlives the server process that ran it: a
// server that restarts finds the jobs it cut off and reports them as interrupted instead of
// forgetting them. The request and progress are stored as the JSON the job manager writes (db/
// does not interpret them).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace attnjit {

struct JobRecord {
  std::string id;
  std::string state;          // "queued" | "running" | "succeeded" | "failed" | "interrupted"
  std::string request_json;   // what was asked ({"problems": [...], "budget": N})
  std::string progress_json;  // per-problem progress, best so far, errors
  std::string error;          // why it failed / was interrupted
  std::optional<int> exit_code;
  int64_t created_at_ms = 0, started_at_ms = 0, finished_at_ms = 0;

  bool operator==(const JobRecord&) const = default;
};

}  // namespace attnjit
