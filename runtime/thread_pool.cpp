#include "runtime/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <exception>

namespace attnjit {

// The pools whose bodies this thread is running, innermost first; a loop's workers inherit the
// chain of the thread that started it, so nesting through another pool is seen too.
struct ThreadPool::Frame {
  const ThreadPool* pool;
  const Frame* parent;
};

thread_local const ThreadPool::Frame* ThreadPool::tls_frame_ = nullptr;

struct ThreadPool::Job {
  const Body* body = nullptr;
  int64_t items = 0;
  int64_t chunk = 1;
  bool from_last = true;
  const Frame* parent = nullptr;  // the starting thread's chain
  int seats = 0;         // workers allowed to join (threads - 1)
  int seats_taken = 0;   // guarded by mu_
  int active = 0;        // workers inside run_share, guarded by mu_
  std::atomic<int64_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex error_mu;
  std::exception_ptr error;
};

ThreadPool::ThreadPool(int workers) : ThreadPool(workers, false) {}

ThreadPool::ThreadPool(int workers, bool grows) : grows_(grows) {
  std::lock_guard<std::mutex> call(call_mu_);
  start_workers(std::clamp(workers, 0, kMaxWorkers));
}

ThreadPool& ThreadPool::shared() {
  // Never destroyed: workers blocked in it must not outlive a destroyed pool at exit.
  static ThreadPool* pool = new ThreadPool(0, true);
  return *pool;
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
}

int ThreadPool::workers() const {
  std::lock_guard<std::mutex> lk(mu_);
  return static_cast<int>(threads_.size());
}

void ThreadPool::start_workers(int n) {
  std::lock_guard<std::mutex> lk(mu_);
  threads_.reserve(threads_.size() + static_cast<size_t>(std::max(0, n)));
  for (int i = 0; i < n; ++i) threads_.emplace_back([this] { worker_loop(); });
}

bool ThreadPool::inside_own_body() const {
  for (const Frame* f = tls_frame_; f; f = f->parent)
    if (f->pool == this) return true;
  return false;
}

void ThreadPool::run_share(Job& job) {
  const Frame frame{this, job.parent};
  const Frame* saved = tls_frame_;
  tls_frame_ = &frame;
  while (!job.failed.load(std::memory_order_relaxed)) {
    const int64_t k = job.next.fetch_add(job.chunk, std::memory_order_relaxed);
    if (k >= job.items) break;
    int64_t begin = k, end = std::min(job.items, k + job.chunk);
    if (job.from_last) {
      end = job.items - k;
      begin = std::max<int64_t>(0, end - job.chunk);
    }
    try {
      (*job.body)(begin, end);
    } catch (...) {
      std::lock_guard<std::mutex> lk(job.error_mu);
      if (!job.error) job.error = std::current_exception();
      job.failed = true;
    }
  }
  tls_frame_ = saved;
}

void ThreadPool::worker_loop() {
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

namespace {
int hardware_threads() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }
}  // namespace

void ThreadPool::parallel_for(int64_t items, int threads, const Body& body) {
  run(items, threads, 0, true, body);
}

void ThreadPool::for_each(int64_t items, int threads, const std::function<void(int64_t)>& fn) {
  run(items, threads, 1, false, [&fn](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) fn(i);
  });
}

void ThreadPool::run(int64_t items, int threads, int64_t chunk, bool from_last, const Body& body) {
  if (items <= 0) return;
  // Nested: every worker may be busy up the chain, waiting for this very call.
  if (inside_own_body()) return body(0, items);
  std::lock_guard<std::mutex> call(call_mu_);
  if (threads <= 0) threads = hardware_threads();
  const int64_t want = std::min<int64_t>(threads, items) - 1;
  if (grows_ && want > workers()) start_workers(static_cast<int>(std::min<int64_t>(want, kMaxWorkers)) - workers());
  Job job;
  job.body = &body;
  job.items = items;
  job.from_last = from_last;
  job.parent = tls_frame_;
  const int n = std::clamp(threads, 1, workers() + 1);
  job.seats = static_cast<int>(std::min<int64_t>(n - 1, items - 1));
  // Small chunks balance uneven items (causal masks); 8 per thread keeps the atomic cheap.
  job.chunk = chunk > 0 ? chunk : std::max<int64_t>(1, items / (int64_t(n) * 8));
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
