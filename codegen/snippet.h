// User snippets: FlexAttention's score_mod / mask_mod as C++ function BODIES that attnjit
// compiles into its kernels (NVRTC on GPUs, clang on the CPU):
//
//   score_mod:  body of  Score score_mod(Score score, int b, int h, int q_idx, int kv_idx)
//               score is the scaled (and soft-capped) logit; Score is float in kernels and
//               double in the float64 reference.          e.g.  return score - 0.5f * (q_idx - kv_idx);
//   mask_mod:   body of  bool mask_mod(int b, int h, int q_idx, int kv_idx)
//               (ANDed with the problem's built-in mask)  e.g.  return aux<int>(0)[q_idx] == aux<int>(0)[kv_idx];
//
// Inside both, aux<T>(i) (T = int or float) is the i-th per-call aux tensor (PrefillArgs::aux)
// and aux_size(i) its element count. Indices are raw (q_idx in [0, seqlen_q), kv_idx in
// [0, seqlen_k)), b the batch entry and h the query head. No #include: builtins only.
//
// A snippet is named by the first 16 hex digits of the SHA-256 of its NORMALISED text (line
// ends to \n, trailing whitespace of each line and leading / trailing blank lines removed), so a
// file edited by another editor keeps its key. That name joins the problem key (_sm<H>, _mm<H>);
// the text is kept in a process-wide store (and in the database's snippets table), where codegen
// finds it by the hash.
//
// Threat model: a snippet is code and runs with the caller's rights (on the CPU backend inside
// the process). Only the in-process API, the CLI and Python accept snippet text; the HTTP service
// never does, except a token-authenticated import of a database (db/snippets.h).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "attnjit/types.h"

namespace attnjit {

// The longest snippet accepted (bytes, after normalisation).
inline constexpr size_t kMaxSnippetBytes = 16 * 1024;

// Throws SpecError naming `field` for empty text, a NUL byte or more than kMaxSnippetBytes.
std::string normalize_snippet(std::string_view text, std::string_view field = "snippet");
// The snippet's name: the first 16 hex digits of SHA-256(normalize_snippet(text)).
std::string snippet_hash(std::string_view text);

// The process-wide snippet store: hash -> normalised text. Thread-safe.
// Returns the hash of `text` after storing it (idempotent).
std::string register_snippet(std::string_view text, std::string_view field = "snippet");
std::optional<std::string> find_snippet(std::string_view hash);
// The text of `hash`, or SpecError naming `field` and saying how to make it known.
std::string snippet_text(std::string_view field, std::string_view hash);

// The prelude's attnjit_gen::UserMods struct (templates/common/variants_user.h) holding the
// snippets' bodies; an empty text means the hook is absent. Lines are marked with #line so the
// compilers report errors at "score_mod:<line>" / "mask_mod:<line>".
std::string user_mods_struct(std::string_view score_mod_text, std::string_view mask_mod_text);

// If a compiler log reports errors inside a snippet, a message quoting each (at most 3) as
// "score_mod line 3: error: ... \n    3 | <that line>"; else nullopt.
std::optional<std::string> explain_snippet_errors(std::string_view log, std::string_view score_mod_text,
                                                  std::string_view mask_mod_text);

// Thrown for a snippet that does not compile: a SpecError (bad user input) whose message is
// explain_snippet_errors'.
struct SnippetError : SpecError {
  using SpecError::SpecError;
};

}  // namespace attnjit
