#include "service/compile_gate.h"

#include "service/api_error.h"

namespace attnjit::service {

std::shared_ptr<void> CompileGate::enter(bool trusted) {
  if (trusted) return nullptr;
  int now = in_flight_.load();
  do {
    if (now >= max_) {
      ApiError e(503, "busy", "cubin",
                 max_ == 0 ? "cubin: this server compiles kernels only for requests with the write token; "
                             "this one is not cached yet"
                           : "cubin: " + std::to_string(max_) +
                                 " kernel compiles for requests without a token are running; retry shortly");
      e.retry_after_s = max_ == 0 ? 3600 : 1;
      throw e;
    }
  } while (!in_flight_.compare_exchange_weak(now, now + 1));
  return std::shared_ptr<void>(nullptr, [this](void*) { in_flight_.fetch_sub(1); });
}

}  // namespace attnjit::service
