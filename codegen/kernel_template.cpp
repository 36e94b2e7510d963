#include "codegen/kernel_template.h"

namespace attnjit {

// Each template family defines its accessor in its own file.
const KernelTemplate& prefill_sm80_template();
const KernelTemplate& decode_sm80_template();
const KernelTemplate& prefill_cpu_template();
const KernelTemplate& decode_cpu_template();

std::vector<const KernelTemplate*> all_templates() {
  return {&prefill_sm80_template(), &decode_sm80_template(), &prefill_cpu_template(),
          &decode_cpu_template()};
}

const KernelTemplate& select_template(const ProblemSpec& spec, const Target& target) {
  for (const KernelTemplate* t : all_templates())
    if (t->supports(spec, target)) return *t;
  throw SpecError("no kernel template implements " + spec.key() + " on " + target.key() +
                  " (family " + std::string(to_string(spec.family)) + ", dtype " +
                  std::string(to_string(spec.dtype)) + ")");
}

}  // namespace attnjit
