#include "runtime/cpu/cpu_thread_pool.h"

#include <algorithm>
#include <atomic>
#include <exception>

namespace attnjit {

struct CpuThreadPool::Job {
  const Body* body = nullptr;
  int64_t items = 0;
  int64_t chunk = 1;
  int seats = 0;         // workers allowed to join (threads - 1)
  int seats_taken = 0;   // guarded by mu_
  int active = 0;        // workers inside run_share, guarded by mu_
  std::atomic<int64_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex error_mu;
  std::exception_ptr error;
};

CpuThreadPool::CpuThreadPool(int workers) {
  threads_.reserve(std::max(0, workers));
  for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { worker_loop(); });
}

CpuThreadPool::~CpuThreadPool() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
}

void CpuThreadPool::run_share(Job& job) {
  while (!job.failed.load(std::memory_order_relaxed)) {
    int64_t k = job.next.fetch_add(job.chunk, std::memory_order_relaxed);
    if (k >= job.items) return;
    int64_t end = job.items - k, begin = std::max<int64_t>(0, end - job.chunk);
    try {
      (*job.body)(begin, end);
    } catch (...) {
      std::lock_guard<std::mutex> lk(job.error_mu);
      if (!job.error) job.error = std::current_exception();
      job.failed = true;
    }
  }
}

void CpuThreadPool::worker_loop() {
  uint64_t seen = 0;
  for (;;) {
    Job* job = nullptr;
    {
      std::unique_lock<std::mutex> lk(mu_);
      wake_.wait(lk, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      job = job_;
      if (!job || job->seats_taken >= job->seats) continue;
      ++job->seats_taken;
      ++job->active;
    }
    run_share(*job);
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (--job->active == 0) done_.notify_all();
    }
  }
}

void CpuThreadPool::parallel_for(int64_t items, int threads, const Body& body) {
  if (items <= 0) return;
  std::lock_guard<std::mutex> call(call_mu_);
  Job job;
  job.body = &body;
  job.items = items;
  const int n = std::clamp(threads, 1, workers() + 1);
  job.seats = static_cast<int>(std::min<int64_t>(n - 1, items - 1));
  // Small chunks balance uneven items (causal masks); 8 per thread keeps the atomic cheap.
  job.chunk = std::max<int64_t>(1, items / (int64_t(n) * 8));
  if (job.seats > 0) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      job_ = &job;
      ++generation_;
    }
    wake_.notify_all();
  }
  run_share(job);
  {
    std::unique_lock<std::mutex> lk(mu_);
    job_ = nullptr;
    done_.wait(lk, [&] { return job.active == 0; });
  }
  if (job.error) std::rethrow_exception(job.error);
}

}  // namespace attnjit
