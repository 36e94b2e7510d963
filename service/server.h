// HttpServer: the cpp-httplib edge in front of Api. It binds (127.0.0.1 unless told otherwise),
// runs a fixed thread pool, enforces body / query limits, turns every non-handler error
// (404, 405, 413, 414, malformed requests) into the same JSON error form, records metrics, and
// stops gracefully: stop() closes the listening socket, requests already accepted finish, then
// run() returns.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>

namespace attnjit::service {

class Api;

class HttpServer {
 public:
  struct Options {
    std::string host = "127.0.0.1";
    int port = 8080;                  // 0 = any free port (see port())
    int threads = 32;                 // each serves one connection at a time
    size_t max_body_bytes = 16u << 20;
    size_t max_query_bytes = 4096;    // the part after '?'
    size_t max_params = 32;
    // A connection is closed after this many requests so a thread pool smaller than the number
    // of keep-alive clients still rotates fairly among them.
    size_t keep_alive_max_count = 100;
    int keep_alive_timeout_s = 2;     // idle keep-alive wait; also bounds shutdown time
    int read_timeout_s = 10;
    int write_timeout_s = 10;
    int listen_backlog = 1024;
  };

  HttpServer(Api& api, Options options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens; returns the port. Throws std::runtime_error naming host:port.
  int bind();
  // Serves until stop(); returns after in-flight requests finished. Throws if not bound.
  void run();
  // Thread-safe, idempotent; safe to call before run() starts serving.
  void stop();
  int port() const { return port_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Api& api_;
  Options opt_;
  int port_ = -1;
};

}  // namespace attnjit::service
