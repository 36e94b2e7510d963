#include "service/conn_stream.h"

#include <poll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace attnjit::service {

namespace {

thread_local ConnStream* t_current = nullptr;

// Bytes read from the socket per recv: a whole small request, or a good slice of a body.
constexpr size_t kRecvChunk = 16 << 10;

bool iequals_prefix(const char* p, const char* end, const char* word) {
  for (; *word; ++p, ++word)
    if (p == end || std::tolower(static_cast<unsigned char>(*p)) != *word) return false;
  return true;
}

}  // namespace

ConnStream::ConnStream(int fd, std::string remote_ip, int remote_port, std::string local_ip, int local_port)
    : fd_(fd),
      remote_ip_(std::move(remote_ip)),
      local_ip_(std::move(local_ip)),
      remote_port_(remote_port),
      local_port_(local_port) {}

ConnStream* ConnStream::current() { return t_current; }
ConnStream::Scope::Scope(ConnStream* s) { t_current = s; }
ConnStream::Scope::~Scope() { t_current = nullptr; }

ConnStream::Fill ConnStream::fill(size_t max_bytes) {
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ > (64u << 10) && pos_ > buf_.size() / 2) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  // Received into a scratch buffer and appended: growing buf_ by max_bytes first would zero
  // 16 KiB per request.
  thread_local char scratch[kRecvChunk];
  ssize_t n;
  do {
    n = ::recv(fd_, scratch, std::min(max_bytes, sizeof scratch), MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n > 0) {
    buf_.append(scratch, static_cast<size_t>(n));
    return Fill::Data;
  }
  if (n == 0) return Fill::Eof;
  if (errno == EAGAIN || errno == EWOULDBLOCK) return Fill::WouldBlock;
  return Fill::Error;
}

size_t ConnStream::head_length() const {
  // httplib ends a head at the first empty CRLF line; lines ending in a bare LF are skipped
  // by it, so "\r\n\r\n" is exactly its terminator.
  const char* b = buf_.data() + pos_;
  const char* e = buf_.data() + buf_.size();
  static constexpr char kEnd[] = "\r\n\r\n";
  const char* hit = std::search(b, e, kEnd, kEnd + 4);
  return hit == e ? 0 : static_cast<size_t>(hit - b) + 4;
}

void ConnStream::neutralize_range_headers(size_t head_len) {
  size_t line = buf_.find("\r\n", pos_);  // skip the request line
  size_t end = pos_ + head_len;
  while (line != std::string::npos && line + 2 < end) {
    size_t start = line + 2;
    const char* p = buf_.data() + start;
    if (iequals_prefix(p, buf_.data() + end, "range:")) {
      buf_.replace(start, 5, "X-Ignored-Range");
      end += 10;
    }
    line = buf_.find("\r\n", start);
  }
}

void ConnStream::begin_request(const Limits& limits) {
  limits_ = limits;
  consumed_ = 0;
  deadline_ = Clock::now() + limits.request_timeout;
  close_after_ = over_limit_ = timed_out_ = false;
}

int ConnStream::remaining_ms() const {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(std::min<int64_t>(left, limits_.io_timeout.count()), 0, INT32_MAX));
}

bool ConnStream::wait_for(short events) {
  while (true) {
    int ms = remaining_ms();
    if (ms <= 0) {
      timed_out_ = failed_ = true;
      return false;
    }
    pollfd p{fd_, events, 0};
    int rc = ::poll(&p, 1, ms);
    if (rc > 0) {
      if (p.revents & (POLLERR | POLLNVAL)) {
        failed_ = true;
        return false;
      }
      return true;  // readable, writable or hung up: the next call reports which
    }
    if (rc == 0) {
      timed_out_ = failed_ = true;
      return false;
    }
    if (errno != EINTR) {
      failed_ = true;
      return false;
    }
  }
}

bool ConnStream::is_readable() const {
  if (pending() > 0) return true;
  pollfd p{fd_, POLLIN, 0};
  return ::poll(&p, 1, remaining_ms()) > 0;
}

bool ConnStream::is_writable() const {
  pollfd p{fd_, POLLOUT, 0};
  return ::poll(&p, 1, remaining_ms()) > 0;
}

ssize_t ConnStream::read(char* ptr, size_t size) {
  if (over_limit_ || failed_) return -1;
  // Whatever was gathered (a 100 Continue) must reach the client before we wait for its body.
  if (!out_.empty() && !flush()) return -1;
  if (pending() == 0) {
    while (true) {
      Fill f = fill(kRecvChunk);
      if (f == Fill::Data) break;
      if (f == Fill::Eof) return 0;
      if (f == Fill::Error) {
        failed_ = true;
        return -1;
      }
      if (!wait_for(POLLIN)) return -1;
    }
  }
  size_t n = std::min(size, pending());
  if (consumed_ + n > limits_.max_request_bytes) {
    over_limit_ = true;
    close_after_ = true;
    return -1;
  }
  std::memcpy(ptr, buf_.data() + pos_, n);
  pos_ += n;
  consumed_ += n;
  return static_cast<ssize_t>(n);
}

ssize_t ConnStream::write(const char* ptr, size_t size) {
  if (failed_) return -1;
  if (size < (16u << 10)) {
    out_.append(ptr, size);
    if (out_.size() >= (256u << 10) && !flush()) return -1;
    return static_cast<ssize_t>(size);
  }
  // A large body goes out beside the gathered head in one sendmsg, without being copied.
  return send_with_gathered(ptr, size) ? static_cast<ssize_t>(size) : -1;
}

bool ConnStream::send_with_gathered(const char* ptr, size_t size) {
  size_t head_off = 0, body_off = 0;
  while ((head_off < out_.size() || body_off < size) && !failed_) {
    iovec iov[2];
    int n_iov = 0;
    if (head_off < out_.size()) iov[n_iov++] = {out_.data() + head_off, out_.size() - head_off};
    if (body_off < size) iov[n_iov++] = {const_cast<char*>(ptr) + body_off, size - body_off};
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(n_iov);
    ssize_t n = ::sendmsg(fd_, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      size_t sent = static_cast<size_t>(n);
      size_t from_head = std::min(sent, out_.size() - head_off);
      head_off += from_head;
      body_off += sent - from_head;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait_for(POLLOUT)) break;
    } else if (!(n < 0 && errno == EINTR)) {
      failed_ = true;
    }
  }
  out_.clear();
  return !failed_;
}

bool ConnStream::flush() { return send_with_gathered(nullptr, 0); }

int ConnStream::socket() const { return fd_ < FD_SETSIZE ? fd_ : FD_SETSIZE - 1; }

void ConnStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  ip = remote_ip_;
  port = remote_port_;
}

void ConnStream::get_local_ip_and_port(std::string& ip, int& port) const {
  ip = local_ip_;
  port = local_port_;
}

}  // namespace attnjit::service
