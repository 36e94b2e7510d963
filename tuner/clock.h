// Seconds on the monotonic clock: the tuner's deadlines, ETAs and event stamps.
#pragma once

#include <chrono>

namespace attnjit::tuner {

inline double now_s() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace attnjit::tuner
