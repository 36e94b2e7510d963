// Host-side index of the kernel templates embedded at build time (cmake/EmbedTemplates.cmake).
// Lives in codegen/ because templates/ holds device code only.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace attnjit::templates {

struct EmbeddedFile {
  std::string_view name;     // file name, e.g. "prefill_sm80.cuh"
  std::string_view content;  // the file's text
};

// Every embedded template file, in a stable order.
const std::vector<EmbeddedFile>& all();

// The content of one file; throws std::out_of_range naming the file if it is not embedded.
std::string_view get(std::string_view name);

// A template generator's version hash: content_hash of the generator string followed by each
// header's text (NUL-separated), so any edit to a header or the generator invalidates tuned
// results.
std::string version_hash(std::string_view generator, const std::vector<const char*>& headers);

}  // namespace attnjit::templates
