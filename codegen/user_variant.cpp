#include "codegen/user_variant.h"

#include "codegen/snippet.h"

namespace attnjit {

std::string user_mods_prelude(const ProblemSpec& spec) {
  if (spec.score_mod.empty() && spec.mask_mod.empty() && spec.block_sparse == 0) return "";
  const std::string sm = spec.score_mod.empty() ? "" : snippet_text("score_mod", spec.score_mod);
  const std::string mm = spec.mask_mod.empty() ? "" : snippet_text("mask_mod", spec.mask_mod);
  return user_mods_struct(sm, mm);
}

std::optional<std::string> block_sparse_refusal(const ProblemSpec& spec, int bm, int bn) {
  const int t = spec.block_sparse;
  if (t == 0) return std::nullopt;
  if (t % bm != 0 || t % bn != 0)
    return "block_sparse: block_m " + std::to_string(bm) + " and block_n " + std::to_string(bn) +
           " must divide the block mask's tile " + std::to_string(t);
  return std::nullopt;
}

void throw_if_snippet_error(const ProblemSpec& spec, const std::string& compiler_log) {
  if (spec.score_mod.empty() && spec.mask_mod.empty()) return;
  const auto sm = spec.score_mod.empty() ? std::optional<std::string>("") : find_snippet(spec.score_mod);
  const auto mm = spec.mask_mod.empty() ? std::optional<std::string>("") : find_snippet(spec.mask_mod);
  if (!sm || !mm) return;
  if (auto why = explain_snippet_errors(compiler_log, *sm, *mm))
    throw SnippetError("snippet does not compile (" + spec.key() + "):\n" + *why);
}

}  // namespace attnjit
