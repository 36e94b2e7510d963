#include "codegen/kernel_source.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <cstdio>

namespace attnjit {

std::string content_hash(std::string_view bytes) {
  XXH128_hash_t h = XXH3_128bits(bytes.data(), bytes.size());
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  return buf;
}

void KernelSource::finalize() {
  // Length-prefix every field so that no two different sources serialize alike.
  std::string all;
  auto add = [&](std::string_view s) {
    all += std::to_string(s.size());
    all += ':';
    all += s;
  };
  add(to_string(platform));
  add(text);
  for (const auto& [n, c] : headers) {
    add(n);
    add(c);
  }
  add(entry);
  for (const auto& o : options) add(o);
  add(arch);
  hash = content_hash(all);
}

std::string identifier(std::string_view key) {
  std::string s(key);
  for (char& ch : s)
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))) ch = '_';
  return s;
}

}  // namespace attnjit
