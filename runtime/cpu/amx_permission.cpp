#include "runtime/cpu/amx_permission.h"

#include <cerrno>
#include <cstring>
#include <mutex>
#include <sstream>

#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace attnjit {

bool request_amx_tiles(std::string* why) {
  static std::once_flag once;
  static bool granted = false;
  static std::string reason;
  std::call_once(once, [] {
#if defined(__linux__) && defined(__x86_64__)
    constexpr int kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0) {
      granted = true;
    } else {
      const int e = errno;
      reason = "arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) failed: " + std::string(std::strerror(e));
    }
#else
    reason = "AMX tiles are requested from Linux on x86-64 only";
#endif
  });
  if (!granted && why) *why = reason;
  return granted;
}

std::string amx_features_granted(const std::string& features) {
  if (features.find("+amx-") == std::string::npos || request_amx_tiles()) return features;
  std::string out;
  std::stringstream in(features);
  for (std::string f; std::getline(in, f, ',');) {
    if (f.rfind("+amx-", 0) == 0) f[0] = '-';
    out += (out.empty() ? "" : ",") + f;
  }
  return out;
}

}  // namespace attnjit
