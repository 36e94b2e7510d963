// Host-side index of the kernel templates embedded at build time (cmake/EmbedTemplates.cmake).
// Lives in codegen/ because templates/ holds device code only. Files are named by their path
// under templates/ ("prefill/sm80.cuh", "common/sm80_mma.cuh"), the name they include each
// other by.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace attnjit::templates {

struct EmbeddedFile {
  std::string_view name;     // path under templates/, e.g. "prefill/sm80.cuh"
  std::string_view content;  // the file's text
};

// Every embedded template file, in a stable order.
const std::vector<EmbeddedFile>& all();

// The content of one file; throws std::out_of_range naming the file if it is not embedded.
std::string_view get(std::string_view name);

// `root` and every embedded file it reaches through `#include "..."` lines, root first, then in
// order of first inclusion. Includes of files that are not embedded (e.g. an emulator's own
// header behind an #ifdef) are skipped. What a KernelSource carries and what the version hash
// covers, so no template lists its headers by hand.
std::vector<std::string_view> closure(std::string_view root);

// (name, content) of closure(root): the in-memory headers of a KernelSource.
std::vector<std::pair<std::string, std::string>> headers(std::string_view root);

// A template's version hash: content_hash of the generator string followed by the name and text
// of every file in closure(root) (NUL-separated), so any edit to a header the kernel reaches, or
// to the generator, invalidates tuned results.
std::string version_hash(std::string_view generator, std::string_view root);

}  // namespace attnjit::templates
