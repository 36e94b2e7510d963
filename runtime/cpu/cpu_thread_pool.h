// The CPU backend's workers: a fixed pool that runs one parallel loop at a time over work items,
// the calling thread included. Items are handed out dynamically, in small chunks, starting from
// the LAST item: in a causal prefill the later query blocks see more keys, so the heaviest work
// starts first and the tail stays short.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace attnjit {

class CpuThreadPool {
 public:
  // Range body: processes items [begin, end).
  using Body = std::function<void(int64_t begin, int64_t end)>;

  // `workers` threads besides the caller (0 = everything runs on the caller).
  explicit CpuThreadPool(int workers);
  ~CpuThreadPool();
  CpuThreadPool(const CpuThreadPool&) = delete;
  CpuThreadPool& operator=(const CpuThreadPool&) = delete;

  // Runs body over [0, items) on up to `threads` threads (caller included; capped at workers+1)
  // and returns when every item is done. Calls from several threads are serialised. If a body
  // throws, the remaining items are abandoned and the first exception is rethrown here.
  void parallel_for(int64_t items, int threads, const Body& body);

  int workers() const { return static_cast<int>(threads_.size()); }

 private:
  struct Job;
  void worker_loop();
  static void run_share(Job& job);

  std::mutex call_mu_;  // one parallel_for at a time
  std::mutex mu_;
  std::condition_variable wake_, done_;
  Job* job_ = nullptr;
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace attnjit
