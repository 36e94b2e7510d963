#include "service/target_key.h"

namespace attnjit::service {

namespace {
// Vector width the CPU template should assume for a stored ISA string.
int vector_bits_for_isa(const std::string& isa) {
  if (isa.find("+avx512f") != std::string::npos) return 512;
  if (isa.find("+avx2") != std::string::npos || isa.find("+avx") != std::string::npos) return 256;
  return 128;
}
}  // namespace

Target target_from_key(const std::string& key, const std::string& isa) {
  if (key.rfind("cpu-", 0) == 0) {
    if (key.size() == 4) throw SpecError("target: empty CPU name in 'cpu-'");
    return Target::cpu(key.substr(4), isa, isa.empty() ? 256 : vector_bits_for_isa(isa));
  }
  if (key.rfind("sm_", 0) != 0)
    throw SpecError("target: '" + key + "' is neither a GPU arch (sm_80, sm_86, sm_89, sm_90a) nor cpu-<name>");
  return Target::cuda(key);
}

}  // namespace attnjit::service
