// DbPool: SQLite connections for the request threads. One Database is one connection whose
// calls are serialized, so readers each check out their own (WAL lets them run beside the
// writer); writes go through one dedicated connection so they queue in-process instead of
// fighting over SQLite's lock. ":memory:" databases are per connection, so there the pool holds
// a single connection shared by reads and writes.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "db/database.h"

namespace attnjit::service {

class DbPool {
 public:
  // Opens the file read-write (creating and migrating it) plus `readers` more connections.
  DbPool(const std::string& path, int readers);

  class Lease {
   public:
    Lease(DbPool& pool, Database* db) : pool_(&pool), db_(db) {}
    Lease(Lease&& o) noexcept : pool_(o.pool_), db_(o.db_) { o.db_ = nullptr; }
    Lease(const Lease&) = delete;
    ~Lease() { if (db_) pool_->give_back(db_); }
    Database& operator*() const { return *db_; }
    Database* operator->() const { return db_; }

   private:
    DbPool* pool_;
    Database* db_;
  };

  // A read connection (waits while all are in use).
  Lease reader();
  // The write connection (shared; Database serializes its calls).
  Database& writer() { return *writer_; }
  const std::string& path() const { return path_; }
  bool in_memory() const { return in_memory_; }

 private:
  void give_back(Database* db);

  std::string path_;
  bool in_memory_;
  std::unique_ptr<Database> writer_;
  std::vector<std::unique_ptr<Database>> readers_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Database*> free_;
};

}  // namespace attnjit::service
