#include "service/db_pool.h"

namespace attnjit::service {

DbPool::DbPool(const std::string& path, int readers)
    : path_(path), in_memory_(path == ":memory:" || path.empty()) {
  writer_ = std::make_unique<Database>(Database::open(path, OpenMode::ReadWrite));
  if (in_memory_) {
    free_.push_back(writer_.get());
    return;
  }
  for (int i = 0; i < std::max(1, readers); ++i) {
    // Read-write handles too: a read-only SQLite connection cannot create the WAL index
    // files when it is first to open them. They only ever run reads.
    readers_.push_back(std::make_unique<Database>(Database::open(path, OpenMode::ReadWrite)));
    free_.push_back(readers_.back().get());
  }
}

DbPool::Lease DbPool::reader() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !free_.empty(); });
  Database* db = free_.back();
  free_.pop_back();
  return Lease(*this, db);
}

void DbPool::give_back(Database* db) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(db);
  }
  cv_.notify_one();
}

}  // namespace attnjit::service
