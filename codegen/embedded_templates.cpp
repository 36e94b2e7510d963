#include "codegen/embedded_templates.h"

#include <stdexcept>

#include "codegen/kernel_source.h"

namespace attnjit::templates {

std::string_view get(std::string_view name) {
  for (const auto& f : all())
    if (f.name == name) return f.content;
  throw std::out_of_range("attnjit: kernel template '" + std::string(name) +
                          "' is not embedded in this build");
}

std::string version_hash(std::string_view generator, const std::vector<const char*>& headers) {
  std::string all(generator);
  for (const char* h : headers) {
    all += '\0';
    all += get(h);
  }
  return content_hash(all);
}

}  // namespace attnjit::templates
