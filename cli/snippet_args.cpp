#include "cli/snippet_args.h"

#include <fstream>
#include <sstream>

#include "cli/command.h"
#include "codegen/snippet.h"

namespace attnjit::cli {
namespace {

std::string read_file(const std::string& option, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(option + ": cannot read '" + path + "'");
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) throw UsageError(option + ": reading '" + path + "' failed");
  try {
    register_snippet(s.str(), option);
  } catch (const SpecError& e) {
    throw UsageError(std::string(e.what()) + " (file '" + path + "')");
  }
  return s.str();
}

void set_hash(std::string& field, const std::string& text, const char* option, const ProblemSpec& spec) {
  if (text.empty()) return;
  const std::string h = snippet_hash(text);
  if (!field.empty() && field != h)
    throw UsageError(std::string(option) + ": the file's snippet hashes to " + h + " but the problem key " +
                     spec.key() + " names " + field);
  field = h;
}

}  // namespace

void add_snippet_options(CLI::App* c, SnippetFiles* f) {
  c->add_option("--score-mod", f->score_mod,
                "file with a score_mod snippet: the body of Score score_mod(Score score, int b, int h, int q_idx, int kv_idx)");
  c->add_option("--mask-mod", f->mask_mod,
                "file with a mask_mod snippet: the body of bool mask_mod(int b, int h, int q_idx, int kv_idx)");
}

void read_snippet_files(SnippetFiles& f) {
  if (!f.score_mod.empty()) f.score_text = read_file("--score-mod", f.score_mod);
  if (!f.mask_mod.empty()) f.mask_text = read_file("--mask-mod", f.mask_mod);
}

ProblemSpec apply_snippets(ProblemSpec spec, const SnippetFiles& f) {
  set_hash(spec.score_mod, f.score_text, "--score-mod", spec);
  set_hash(spec.mask_mod, f.mask_text, "--mask-mod", spec);
  spec.validate();
  return spec;
}

}  // namespace attnjit::cli
