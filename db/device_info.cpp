#include "db/device_info.h"

#define XXH_INLINE_ALL  // header-only XXH3 (as codegen/kernel_source.cpp): nothing links libxxhash
#include <xxhash.h>

#include <cstdio>

namespace attnjit {

std::string DeviceInfo::fingerprint() const {
  // Fields joined with a separator that cannot occur in them (NUL), in a fixed order: adding a
  // field later must append, never reorder, or every stored fingerprint changes.
  std::string s;
  s.reserve(128);
  auto add = [&](const std::string& v) {
    s += v;
    s += '\0';
  };
  add(target);
  add(name);
  add(std::to_string(cc_major) + "." + std::to_string(cc_minor));
  add(std::to_string(sm_count));
  add(std::to_string(memory_bytes));
  add(driver_version);
  add(compiler_version);
  add(isa);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx",
                static_cast<unsigned long long>(XXH3_64bits(s.data(), s.size())));
  return buf;
}

DeviceInfo DeviceInfo::from_target(const Target& t, std::string compiler_version,
                                   std::string driver_version, int64_t memory_bytes) {
  DeviceInfo d;
  d.target = t.key();
  d.name = t.device_name;
  d.cc_major = t.cc_major;
  d.cc_minor = t.cc_minor;
  d.sm_count = t.sm_count;
  d.memory_bytes = memory_bytes;
  d.driver_version = std::move(driver_version);
  d.compiler_version = std::move(compiler_version);
  d.isa = t.cpu_features;
  return d;
}

}  // namespace attnjit
