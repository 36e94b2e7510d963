// HttpServer: the HTTP edge in front of Api. cpp-httplib parses requests and writes responses;
// everything that decides what a client may cost is ours:
//  - the connection model (service/connection_loop.h): no thread is tied to a connection, slow
//    and idle clients cost a buffer, heads are bounded in size and time;
//  - before any body byte is read: the query limits (414), the route (404 / 405), the token for
//    writes (401 / 403), the body's framing and encoding (service/request_guard.h);
//  - bodies are read by our own reader, held to max_body_bytes however they are framed (413),
//    then scanned for JSON nesting (service/json_depth.h) before Api parses them;
//  - `Range` headers never apply (answers are JSON, not files);
//  - hot GET answers are served pre-serialised (service/response_cache.h).
// Every error, ours or httplib's, has the same JSON form with the field at fault. stop()
// closes the listening socket, lets requests already being served finish, then run() returns.
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
    // Busy only while serving a request, never while idle; 0 = default_threads().
    int threads = 0;
    size_t max_body_bytes = 16u << 20;
    size_t max_query_bytes = 4096;    // the part after '?'
    size_t max_params = 32;
    size_t max_head_bytes = 32u << 10;   // request line + headers
    size_t max_connections = 4096;
    size_t keep_alive_max_count = 0;  // requests per connection; 0 = no limit
    int keep_alive_timeout_s = 5;     // an idle keep-alive connection is closed after this
    int header_timeout_s = 5;         // a request head must arrive within this (else 408)
    int read_timeout_s = 10;          // a body read that makes no progress for this long fails
    int write_timeout_s = 10;
    int request_timeout_s = 120;      // a whole request body, however it trickles in
    int listen_backlog = 1024;
    bool response_cache = true;
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

  // Twice the cores, at least 4: each thread is busy only while it serves a request, so more
  // than that adds wake-ups (measured: 4 threads served /v1/best with 35% less CPU per request
  // than 16 on 2 cores) while a few spare ones cover compiles and imports that block.
  static int default_threads();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Api& api_;
  Options opt_;
  int port_ = -1;
};

}  // namespace attnjit::service
