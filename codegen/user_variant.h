// A problem's user variants (score_mod / mask_mod snippets, block sparsity) as the templates'
// codegen modules spell them: the prelude struct, the tile rule, and compile errors mapped back
// to the snippet's lines.
#pragma once

#include <optional>
#include <string>

#include "attnjit/problem_spec.h"

namespace attnjit {

inline bool has_user_variants(const ProblemSpec& s) {
  return !s.score_mod.empty() || !s.mask_mod.empty() || s.block_sparse != 0;
}

// The prelude's attnjit_gen::UserMods (codegen/snippet.h) for the spec's snippets, found in the
// snippet store; "" when the spec has none. Throws SpecError for a snippet unknown here.
std::string user_mods_prelude(const ProblemSpec& spec);

// Why a template with query / key blocks of bm / bn rows cannot run the spec's block mask
// (the blocks must divide its tile), or nullopt.
std::optional<std::string> block_sparse_refusal(const ProblemSpec& spec, int bm, int bn);

// If `compiler_log` (a failed compile of the spec's kernel) reports errors inside the spec's
// snippets, throws SnippetError quoting them with their lines; else returns.
void throw_if_snippet_error(const ProblemSpec& spec, const std::string& compiler_log);

}  // namespace attnjit
