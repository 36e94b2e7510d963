// The library's one thread pool: a set of workers that runs one parallel loop at a time over
// work items, the calling thread included. The CPU backend runs kernels on its own instance (its
// size is part of the CPU target); the tuner compiles candidates on the process-wide shared() one.
//
// Items are handed out dynamically, in small chunks, starting from the LAST item: in a causal
// prefill the later query blocks see more keys, so the heaviest work starts first and the tail
// stays short. A loop started from inside a body of the same pool (directly, or through another
// pool's loop) runs on the calling thread alone, since every worker it could wait for may be
// the one waiting for it.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace attnjit {

class ThreadPool {
 public:
  // Range body: processes items [begin, end).
  using Body = std::function<void(int64_t begin, int64_t end)>;

  // `workers` threads besides the caller (0 = everything runs on the caller).
  explicit ThreadPool(int workers);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // The process-wide pool. It starts without workers and grows to what a loop asks for (up to
  // kMaxWorkers): a caller that wants 8 threads gets them, as it did with threads of its own.
  static ThreadPool& shared();
  static constexpr int kMaxWorkers = 255;

  // Runs body over [0, items) on up to `threads` threads (caller included; capped at workers+1,
  // <= 0 = hardware threads) and returns when every item is done. Calls from several threads are
  // serialised. If a body throws, the remaining items are abandoned and the first exception is
  // rethrown here.
  void parallel_for(int64_t items, int threads, const Body& body);
  // One item per call of fn, handed out one at a time in ascending order, for coarse items (a
  // compile each).
  void for_each(int64_t items, int threads, const std::function<void(int64_t)>& fn);

  int workers() const;

 private:
  struct Job;
  struct Frame;
  static thread_local const Frame* tls_frame_;
  ThreadPool(int workers, bool grows);
  // chunk 0 = automatic; from_last: hand chunks out from the end (see above).
  void run(int64_t items, int threads, int64_t chunk, bool from_last, const Body& body);
  void start_workers(int n);  // under call_mu_
  void worker_loop();
  void run_share(Job& job);
  bool inside_own_body() const;

  const bool grows_;
  std::mutex call_mu_;  // one parallel_for at a time
  mutable std::mutex mu_;
  std::condition_variable wake_, done_;
  Job* job_ = nullptr;
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace attnjit
