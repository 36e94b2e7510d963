#include "tuner/presets.h"

#include <algorithm>

#include "codegen/parse_util.h"

namespace attnjit::tuner {

namespace {

ProblemSpec prefill(DType dt, int hd, MaskSpec mask, int group, int64_t len) {
  const ProblemSpec s{.family = Family::Prefill, .dtype = dt, .head_dim = hd, .mask = mask,
                      .group = group, .seqlen_q = len, .seqlen_k = len,
                      .even = len % kEvenAlignment == 0};
  s.validate();
  return s;
}

// A decode key: q query tokens, KV bucket k, page size (0 = contiguous).
ProblemSpec decode(DType dt, int hd, int group, int64_t q, int64_t k, int page) {
  const ProblemSpec s{.family = Family::Decode, .dtype = dt, .head_dim = hd, .group = group,
                      .seqlen_q = q, .seqlen_k = k, .page_size = page};
  s.validate();
  return s;
}

const MaskSpec kNone{MaskKind::None, 0, 0};
const MaskSpec kCausal{MaskKind::Causal, 0, 0};

std::vector<Preset> build() {
  std::vector<Preset> out;
  {
    Preset p{"llm-prefill",
             "GPU prefill for LLM serving: bf16/f16, hd 64/128, none/causal/sw4096-0, 512..16k",
             Platform::Cuda, {}};
    for (DType dt : {DType::BF16, DType::F16})
      for (int hd : {64, 128})
        for (MaskSpec m : {kNone, kCausal, MaskSpec{MaskKind::SlidingWindow, 4096, 0}})
          for (int64_t len = 512; len <= 16384; len *= 2) p.problems.push_back(prefill(dt, hd, m, 1, len));
    out.push_back(std::move(p));
  }
  {
    Preset p{"cpu-prefill", "CPU prefill: f32/bf16, hd 64/128, none/causal, 256..2k", Platform::Cpu, {}};
    for (DType dt : {DType::F32, DType::BF16})
      for (int hd : {64, 128})
        for (MaskSpec m : {kNone, kCausal})
          for (int64_t len = 256; len <= 2048; len *= 2) p.problems.push_back(prefill(dt, hd, m, 1, len));
    out.push_back(std::move(p));
  }
  {
    Preset p{"cpu-gqa", "CPU prefill with grouped-query attention: f32 hd128 causal, g4/g8", Platform::Cpu, {}};
    for (int g : {4, 8})
      for (int64_t len : {512, 2048}) p.problems.push_back(prefill(DType::F32, 128, kCausal, g, len));
    out.push_back(std::move(p));
  }
  {
    Preset p{"llm-decode",
             "GPU decode for LLM serving: bf16 hd128, MHA/GQA-8, 1 or 4 query tokens, 4k..128k paged (16)",
             Platform::Cuda, {}};
    for (int g : {1, 8})
      for (int64_t q : {1, 4})
        for (int64_t k = 4096; k <= 131072; k *= 2) p.problems.push_back(decode(DType::BF16, 128, g, q, k, 16));
    out.push_back(std::move(p));
  }
  {
    Preset p{"cpu-decode", "CPU decode: f32/bf16, hd 64/128, MHA/GQA-8, 1 query token, 4k, contiguous/paged (16)",
             Platform::Cpu, {}};
    for (DType dt : {DType::F32, DType::BF16})
      for (int hd : {64, 128})
        for (int g : {1, 8})
          for (int page : {0, 16}) p.problems.push_back(decode(dt, hd, g, 1, 4096, page));
    out.push_back(std::move(p));
  }
  {
    Preset p{"smoke", "CI smoke test: two tiny f32 CPU problems", Platform::Cpu, {}};
    p.problems.push_back(prefill(DType::F32, 64, kNone, 1, 128));
    p.problems.push_back(prefill(DType::F32, 64, kCausal, 1, 128));
    out.push_back(std::move(p));
  }
  {
    // Eight problems so a 4-task array has two per task (a fault can land between them).
    Preset p{"ci-fleet", "CI fleet test: eight tiny f32 CPU problems (none/causal x g1/g2 x even or not)",
             Platform::Cpu, {}};
    for (MaskSpec m : {kNone, kCausal})
      for (int g : {1, 2})
        for (bool even : {true, false}) {
          ProblemSpec s = prefill(DType::F32, 64, m, g, 128);
          s.even = even;
          p.problems.push_back(s);
        }
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace

const std::vector<Preset>& presets() {
  static const std::vector<Preset> all = build();
  return all;
}

const Preset& preset(std::string_view name) {
  std::string names;
  for (const Preset& p : presets()) {
    if (p.name == name) return p;
    names += (names.empty() ? "" : ", ") + p.name;
  }
  throw SpecError("preset: unknown value '" + std::string(name) + "' (allowed: " + names + ")");
}

Shard Shard::parse(std::string_view s) {
  auto parts = detail::split(s, '/');
  if (parts.size() != 2) throw SpecError("shard: expected 'i/N', got '" + std::string(s) + "'");
  Shard sh;
  sh.index = static_cast<int>(detail::parse_int("shard index", parts[0]));
  sh.count = static_cast<int>(detail::parse_int("shard count", parts[1]));
  if (sh.count < 1 || sh.count > 100000)
    throw SpecError("shard: count must be in 1..100000, got " + std::to_string(sh.count));
  if (sh.index < 0 || sh.index >= sh.count)
    throw SpecError("shard: index must be in 0.." + std::to_string(sh.count - 1) + ", got " +
                    std::to_string(sh.index));
  return sh;
}

std::vector<ProblemSpec> shard_problems(std::vector<ProblemSpec> problems, const Shard& shard) {
  if (shard.count < 1 || shard.index < 0 || shard.index >= shard.count)
    throw SpecError("shard: index " + std::to_string(shard.index) + " out of range for count " +
                    std::to_string(shard.count));
  std::vector<std::pair<std::string, ProblemSpec>> keyed;
  keyed.reserve(problems.size());
  for (auto& p : problems) keyed.emplace_back(p.key(), std::move(p));
  std::sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  keyed.erase(std::unique(keyed.begin(), keyed.end(),
                          [](const auto& a, const auto& b) { return a.first == b.first; }),
              keyed.end());
  std::vector<ProblemSpec> out;
  for (size_t i = static_cast<size_t>(shard.index); i < keyed.size(); i += static_cast<size_t>(shard.count))
    out.push_back(std::move(keyed[i].second));
  return out;
}

}  // namespace attnjit::tuner
