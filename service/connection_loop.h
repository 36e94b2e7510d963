// ConnectionLoop: the server's connection model. cpp-httplib 0.11 gives each connection a worker
// thread for its whole keep-alive life, so 64 idle keep-alive clients (or 64 clients sending
// their headers one byte at a time) occupy 64 threads and everyone else queues. Here no thread
// belongs to a connection:
//  - every worker thread waits in epoll_wait on one epoll set (one-shot events: a ready
//    connection goes to exactly one thread), accepts new connections and reads whatever bytes
//    have arrived without blocking;
//  - only a request whose whole head has arrived is served (httplib parses and routes it
//    through `serve`); then the connection goes back into the epoll set;
//  - a sweeper closes idle keep-alive connections after `idle_timeout` and connections whose
//    head has not completed within `header_timeout` (a 408), so slow clients cost a buffer and
//    a file descriptor, never a thread;
//  - heads are capped at `max_head_bytes` (431), connections at `max_connections`.
// stop(): stops accepting, closes idle connections, lets requests in flight finish (their
// answers say Connection: close), then run() returns.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>

#include "service/conn_stream.h"

namespace attnjit::service {

class ConnectionLoop {
 public:
  struct Options {
    int threads = 16;
    size_t max_connections = 4096;
    size_t max_head_bytes = 32u << 10;
    std::chrono::milliseconds idle_timeout{5000};
    std::chrono::milliseconds header_timeout{5000};
    ConnStream::Limits request;        // body / framing bytes and timeouts once a head arrived
    size_t keep_alive_max_count = 0;   // requests per connection; 0 = unlimited
    bool tcp_nodelay = true;
  };
  // Serves the request at the front of `strm` (its head is buffered): httplib's process_request.
  // Returns false when the connection must close; sets connection_closed when the client asked.
  using Serve = std::function<bool(ConnStream& strm, bool close_connection, bool& connection_closed)>;

  // Takes ownership of `listen_fd` (bound, listening).
  ConnectionLoop(int listen_fd, Options options, Serve serve);
  ~ConnectionLoop();
  ConnectionLoop(const ConnectionLoop&) = delete;
  ConnectionLoop& operator=(const ConnectionLoop&) = delete;

  // Serves on this thread plus threads-1 more until stop(); returns after every connection
  // closed. Throws std::runtime_error when epoll cannot be set up.
  void run();
  // Thread-safe, idempotent, may come before run().
  void stop();

  size_t open_connections() const;

  // Binds and listens on host:port (port 0 = any); returns the fd and sets *bound_port.
  // Throws std::runtime_error naming host:port.
  static int listen_on(const std::string& host, int port, int backlog, int* bound_port);

 private:
  struct Conn;
  void worker();
  void sweeper();
  void accept_all();
  void on_ready(Conn* c);
  void rearm(Conn* c);
  void close_conn(Conn* c);
  void reject_head(Conn* c, int status, const char* code, const char* message);

  int listen_fd_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;     // eventfd: readable once stopping (level-triggered, never drained)
  Options opt_;
  Serve serve_;
  std::atomic<bool> stopping_{false};
  std::mutex listen_mu_;   // guards listen_fd_ (closed by the sweeper on stop)
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  mutable std::mutex mu_;  // guards conns_
  std::unordered_set<Conn*> conns_;
  char listen_tag_ = 0, wake_tag_ = 0;  // epoll user data for the two non-connection fds
};

}  // namespace attnjit::service
