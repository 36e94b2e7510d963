#include "codegen/embedded_templates.h"

#include <algorithm>
#include <stdexcept>

#include "codegen/kernel_source.h"

namespace attnjit::templates {

std::string_view get(std::string_view name) {
  for (const auto& f : all())
    if (f.name == name) return f.content;
  throw std::out_of_range("attnjit: kernel template '" + std::string(name) +
                          "' is not embedded in this build");
}

namespace {

bool embedded(std::string_view name) {
  return std::any_of(all().begin(), all().end(), [&](const EmbeddedFile& f) { return f.name == name; });
}

// The quoted names of the `#include "..."` lines of one file, in order.
std::vector<std::string_view> quoted_includes(std::string_view text) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while ((pos = text.find("#include", pos)) != std::string_view::npos) {
    const size_t eol = std::min(text.find('\n', pos), text.size());
    const std::string_view line = text.substr(pos, eol - pos);
    pos = eol;
    const size_t open = line.find('"');
    if (open == std::string_view::npos) continue;  // <system> include
    const size_t close = line.find('"', open + 1);
    if (close == std::string_view::npos) continue;
    out.push_back(line.substr(open + 1, close - open - 1));
  }
  return out;
}

}  // namespace

std::vector<std::string_view> closure(std::string_view root) {
  get(root);  // throws if it is not embedded
  std::vector<std::string_view> order{root};
  for (size_t i = 0; i < order.size(); ++i)
    for (std::string_view inc : quoted_includes(get(order[i])))
      if (embedded(inc) && std::find(order.begin(), order.end(), inc) == order.end())
        order.push_back(inc);
  // Names point into the static table, not into `root`'s storage.
  for (auto& n : order)
    for (const auto& f : all())
      if (f.name == n) n = f.name;
  return order;
}

std::vector<std::pair<std::string, std::string>> headers(std::string_view root) {
  std::vector<std::pair<std::string, std::string>> out;
  for (std::string_view n : closure(root)) out.emplace_back(std::string(n), std::string(get(n)));
  return out;
}

std::string version_hash(std::string_view generator, std::string_view root) {
  std::string all_text(generator);
  for (std::string_view n : closure(root)) {
    all_text += '\0';
    all_text += n;
    all_text += '\0';
    all_text += get(n);
  }
  return content_hash(all_text);
}

}  // namespace attnjit::templates
