// CompileGate: how many kernel compiles requests without the write token may run at once. A
// /v1/kernel?cubin=1 miss costs an NVRTC compile (40-100 ms of CPU, more for big kernels), so
// an anonymous client could otherwise keep every core busy for free. Cache hits never pass the
// gate; token holders are not limited. Over the limit: 503 with Retry-After, field "cubin".
#pragma once

#include <atomic>
#include <memory>

namespace attnjit::service {

class CompileGate {
 public:
  // max_anonymous 0: anonymous callers get cached CUBINs only.
  explicit CompileGate(int max_anonymous) : max_(max_anonymous < 0 ? 0 : max_anonymous) {}

  // A slot held for the duration of one compile (release it by dropping the pointer), or
  // throws ApiError(503). `trusted`: the request carried the write token.
  std::shared_ptr<void> enter(bool trusted);
  int in_flight() const { return in_flight_.load(); }
  int limit() const { return max_; }

 private:
  const int max_;
  std::atomic<int> in_flight_{0};
};

}  // namespace attnjit::service
