#include "runtime/host_pages.h"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <sys/mman.h>

namespace attnjit {
namespace {

struct Policy {
  bool on = false;
  std::string status;
};

std::string thp_enabled_line() {
  std::ifstream f("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  if (!f || !std::getline(f, line)) return "";
  return line;
}

const Policy& policy() {
  static const Policy p = [] {
    Policy x;
    x.status = decide_huge_pages(std::getenv("ATTNJIT_HUGE_PAGES"), thp_enabled_line(), x.on);
    return x;
  }();
  return p;
}

}  // namespace

std::string decide_huge_pages(const char* env, const std::string& line, bool& on) {
  on = false;
  if (env && std::strcmp(env, "0") == 0) return "off: ATTNJIT_HUGE_PAGES=0";
  // The mode in effect is the bracketed word.
  const size_t a = line.find('['), b = line.find(']', a == std::string::npos ? 0 : a);
  const std::string mode = a != std::string::npos && b != std::string::npos ? line.substr(a + 1, b - a - 1) : "";
  if (mode.empty()) return "off: this kernel offers no transparent huge pages (no /sys/kernel/mm/transparent_hugepage)";
  if (mode == "never")
    return "off: transparent huge pages are disabled (/sys/kernel/mm/transparent_hugepage/enabled: never)";
  on = true;
  return "on (transparent huge pages: " + mode + ")";
}

bool huge_pages_enabled() { return policy().on; }
const std::string& huge_page_status() { return policy().status; }

void* allocate_host(size_t bytes, size_t alignment) {
  if (bytes == 0) bytes = 1;
  if (alignment < sizeof(void*)) alignment = sizeof(void*);
  const bool huge = bytes >= kHugePageBytes && policy().on;
  if (huge && alignment < kHugePageBytes) alignment = kHugePageBytes;
  // aligned_alloc wants a multiple of the alignment; the tail past `bytes` is never touched, so
  // it costs address space, not memory. Only whole huge pages inside `bytes` are advised: a huge
  // page over the partial last one would back up to 2 MiB that nobody asked for.
  const size_t n = (bytes + alignment - 1) / alignment * alignment;
  void* p = std::aligned_alloc(alignment, n);
  const size_t advised = bytes / kHugePageBytes * kHugePageBytes;
  if (p && huge && madvise(p, advised, MADV_HUGEPAGE) != 0) {
    // Only a hint: the memory is usable either way, so say it once and go on with small pages.
    static std::atomic<bool> said{false};
    if (!said.exchange(true))
      std::fprintf(stderr, "attnjit: madvise(MADV_HUGEPAGE) on %zu bytes failed: %s; using small pages\n", advised,
                   std::strerror(errno));
  }
  return p;
}

void release_host(void* p) noexcept { std::free(p); }

long long huge_page_bytes_at(const void* p) {
  std::ifstream f("/proc/self/smaps");
  if (!f) return -1;
  const unsigned long long a = reinterpret_cast<unsigned long long>(p);
  std::string line;
  bool inside = false;
  while (std::getline(f, line)) {
    unsigned long long lo = 0, hi = 0;
    // A mapping's header: "lo-hi perms offset dev inode path"; its fields follow.
    if (std::sscanf(line.c_str(), "%llx-%llx ", &lo, &hi) == 2 && line.find('-') < line.find(' ')) {
      inside = lo <= a && a < hi;
      continue;
    }
    if (inside && line.rfind("AnonHugePages:", 0) == 0) {
      std::istringstream s(line.substr(14));
      long long kb = -1;
      s >> kb;
      return kb < 0 ? -1 : kb * 1024;
    }
  }
  return -1;
}

}  // namespace attnjit
