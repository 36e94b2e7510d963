// ConnStream: one client connection as an httplib::Stream, over a non-blocking socket with our
// own buffer, so that the server (not cpp-httplib) decides how much a request may send and for
// how long:
//  - bytes arrive in a buffer the connection loop fills without blocking; a request is handed
//    to httplib only once its whole head is buffered (a slow client never holds a thread);
//  - a request may consume at most `max_request_bytes` (head, body and chunk framing together):
//    beyond that reads fail and over_limit() says why, which bounds chunked bodies, bodies
//    without a length and chunk-size lines that never end;
//  - every read or write that waits longer than `io_timeout`, or past the request's deadline,
//    fails (timed_out());
//  - writes are gathered and sent in one system call per response (flush()).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <string>

#include <httplib.h>

namespace attnjit::service {

class ConnStream : public httplib::Stream {
 public:
  using Clock = std::chrono::steady_clock;

  struct Limits {
    size_t max_request_bytes = 64u << 20;
    std::chrono::milliseconds io_timeout{10000};
    std::chrono::milliseconds request_timeout{60000};
  };

  ConnStream(int fd, std::string remote_ip, int remote_port, std::string local_ip, int local_port);
  ConnStream(const ConnStream&) = delete;
  ConnStream& operator=(const ConnStream&) = delete;

  enum class Fill { Data, WouldBlock, Eof, Error };
  // One non-blocking recv into the buffer (at most `max_bytes`).
  Fill fill(size_t max_bytes);
  // Unconsumed bytes in the buffer.
  size_t pending() const { return buf_.size() - pos_; }
  // Length of the complete request head (through the blank line) at the front of the pending
  // bytes, or 0 when it has not fully arrived.
  size_t head_length() const;
  // Renames every `Range` header of the pending head to `X-Ignored-Range`: API answers are not
  // files, and httplib would otherwise cut JSON into byte ranges (or multiply it).
  void neutralize_range_headers(size_t head_len);

  // Starts a request: resets the byte count, the deadline and the per-request flags.
  void begin_request(const Limits& limits);
  // Sends everything gathered by write(); false on error or timeout.
  bool flush();

  // Whether the connection must close after this response (a body left unread, a refusal).
  void close_after_response() { close_after_ = true; }
  bool close_after() const { return close_after_ || failed_; }
  bool over_limit() const { return over_limit_; }
  bool timed_out() const { return timed_out_; }

  // The stream of the request this thread is serving, for handlers that must close it; null
  // outside a request.
  static ConnStream* current();
  struct Scope {
    explicit Scope(ConnStream* s);
    ~Scope();
  };

  // httplib::Stream
  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  // httplib uses this only to refuse descriptors select() cannot watch (>= FD_SETSIZE); we
  // never select() on it (epoll and poll do the waiting), so that limit does not apply here.
  int socket() const override;

 private:
  // Waits until the socket is readable (writable); false on timeout (sets timed_out_) or error.
  bool wait_for(short events);
  // Sends the gathered bytes and then [ptr, ptr + size) with writev semantics.
  bool send_with_gathered(const char* ptr, size_t size);
  int remaining_ms() const;

  int fd_;
  std::string remote_ip_, local_ip_;
  int remote_port_, local_port_;
  std::string buf_;
  size_t pos_ = 0;
  std::string out_;
  Limits limits_;
  size_t consumed_ = 0;
  Clock::time_point deadline_ = Clock::time_point::max();
  bool close_after_ = false, over_limit_ = false, timed_out_ = false, failed_ = false;
};

}  // namespace attnjit::service
