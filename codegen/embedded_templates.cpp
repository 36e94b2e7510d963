#include "codegen/embedded_templates.h"

#include <stdexcept>

namespace attnjit::templates {

std::string_view get(std::string_view name) {
  for (const auto& f : all())
    if (f.name == name) return f.content;
  throw std::out_of_range("attnjit: kernel template '" + std::string(name) +
                          "' is not embedded in this build");
}

}  // namespace attnjit::templates
