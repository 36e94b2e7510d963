// --score-mod FILE / --mask-mod FILE (compile, tune, bench): user snippets read from files
// (codegen/snippet.h). The CLI is one of the three places snippet text is accepted.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "attnjit/problem_spec.h"

namespace attnjit::cli {

struct SnippetFiles {
  std::string score_mod, mask_mod;  // paths ("" = none)
  std::string score_text, mask_text;  // their contents, once read
};

void add_snippet_options(CLI::App* c, SnippetFiles* f);
// Reads the files (UsageError naming the option when unreadable or empty), registers the texts
// in the snippet store, and sets the spec's hashes; a key that already names a hash must name
// the file's. Call once per command: it fills score_text / mask_text.
void read_snippet_files(SnippetFiles& f);
ProblemSpec apply_snippets(ProblemSpec spec, const SnippetFiles& f);

}  // namespace attnjit::cli
