// The calling thread's CPU time in seconds: the micro benchmarks' clock (immune to time-slicing
// on shared cores, which wall time is not).
#pragma once

#include <time.h>

#include <cstdio>
#include <cstdlib>

inline double thread_seconds() {
  timespec t{};
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t) != 0) {
    std::perror("clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    std::exit(1);
  }
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}
