// Named problem sets for offline pre-tuning, and the deterministic split of a problem list
// into shards for a fleet (Slurm job array, Kubernetes indexed Job).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "codegen/problem_spec.h"

namespace attnjit::tuner {

struct Preset {
  std::string name;
  std::string description;
  Platform platform;                // the backend the preset is meant for
  std::vector<ProblemSpec> problems;
};

// llm-prefill  GPU: {bf16, f16} x hd {64, 128} x {none, causal, sw4096-0} x q = k in
//              {512, 1k, 2k, 4k, 8k, 16k}, even, MHA — 72 problems.
// cpu-prefill  CPU: {f32, bf16} x hd {64, 128} x {none, causal} x q = k in {256, 512, 1k, 2k}.
// cpu-gqa      CPU: f32 hd 128 causal, group {4, 8}, q = k in {512, 2k}.
// llm-decode   GPU: bf16 hd 128 x group {1, 8} x q {1, 4} x k in {4k, 8k, ..., 128k}, 16-token
//              pages — 24 problems.
// cpu-decode   CPU: {f32, bf16} x hd {64, 128} x group {1, 8} x q 1 x k 4096 x page {0, 16} — 16.
// smoke        CPU/CI: two f32 hd 64 problems of 128 tokens (none, causal) — about a minute
//              each exhaustive on 2 cores, seconds with --strategy random --budget 4.
// ci-fleet     CPU/CI: f32 hd 64, 128 tokens, {none, causal} x group {1, 2} x even or not — 8
//              problems for the fleet tests (tests/slurm: a 4-task array, 2 per task).
const std::vector<Preset>& presets();
// Throws SpecError listing the preset names for an unknown one.
const Preset& preset(std::string_view name);

// "i/N" (0 <= i < N). Throws SpecError naming the field.
struct Shard {
  int index = 0;
  int count = 1;
  static Shard parse(std::string_view s);
};

// The problems of one shard: sorted by key, de-duplicated, then every N-th starting at i, so
// shards are disjoint, cover the list exactly once, and are balanced within one problem
// whatever order the problems were given in.
std::vector<ProblemSpec> shard_problems(std::vector<ProblemSpec> problems, const Shard& shard);

}  // namespace attnjit::tuner
