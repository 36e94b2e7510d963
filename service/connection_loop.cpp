#include "service/connection_loop.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <vector>

namespace attnjit::service {

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kRecvChunk = 16 << 10;

std::runtime_error sys_error(const std::string& what) {
  return std::runtime_error(what + ": " + std::strerror(errno));
}

void ip_and_port(const sockaddr_storage& a, std::string& ip, int& port) {
  char buf[INET6_ADDRSTRLEN] = "";
  if (a.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(a);
    inet_ntop(AF_INET, &v4.sin_addr, buf, sizeof buf);
    port = ntohs(v4.sin_port);
  } else if (a.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(a);
    inet_ntop(AF_INET6, &v6.sin6_addr, buf, sizeof buf);
    port = ntohs(v6.sin6_port);
  } else {
    port = 0;
  }
  ip = buf;
}

// Best effort, on a socket about to be closed: a short complete answer.
void send_quick(int fd, int status, const char* reason, const char* code, const char* message) {
  std::string body = std::string("{\"error\":{\"code\":\"") + code + "\",\"message\":\"" + message + "\"}}";
  std::string r = "HTTP/1.1 " + std::to_string(status) + " " + reason +
                  "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
                  std::to_string(body.size()) + "\r\n\r\n" + body;
  (void)!::send(fd, r.data(), r.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
}

}  // namespace

struct ConnectionLoop::Conn {
  enum class State { Armed, Busy, Expired };
  Conn(int fd, std::string rip, int rport, std::string lip, int lport)
      : fd(fd), stream(fd, std::move(rip), rport, std::move(lip), lport) {}
  int fd;
  ConnStream stream;
  std::mutex mu;                 // guards state and deadline against the sweeper
  State state = State::Armed;
  Clock::time_point deadline;    // while armed: when the sweeper closes it
  Clock::time_point head_started;
  size_t requests = 0;
};

int ConnectionLoop::listen_on(const std::string& host, int port, int backlog, int* bound_port) {
  const std::string where = host + ":" + std::to_string(port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res); rc != 0)
    throw std::runtime_error("cannot bind " + where + ": " + gai_strerror(rc));
  std::string last = "no address";
  int fd = -1;
  for (addrinfo* a = res; a && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      last = std::strerror(errno);
      continue;
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, backlog) != 0) {
      last = std::strerror(errno);
      ::close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  if (fd < 0) throw std::runtime_error("cannot bind " + where + ": " + last);
  sockaddr_storage sa{};
  socklen_t len = sizeof sa;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    auto e = sys_error("getsockname on " + where);
    ::close(fd);
    throw e;
  }
  std::string ip;
  ip_and_port(sa, ip, *bound_port);
  return fd;
}

ConnectionLoop::ConnectionLoop(int listen_fd, Options options, Serve serve)
    : listen_fd_(listen_fd), opt_(std::move(options)), serve_(std::move(serve)) {
  if (opt_.threads < 1) opt_.threads = 1;
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) throw sys_error("epoll_create1");
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) throw sys_error("eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;  // level-triggered and never drained: wakes every worker once written
  ev.data.ptr = &wake_tag_;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) throw sys_error("epoll_ctl(eventfd)");
  ev.events = EPOLLIN | EPOLLONESHOT;
  ev.data.ptr = &listen_tag_;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev) != 0) throw sys_error("epoll_ctl(listen)");
}

ConnectionLoop::~ConnectionLoop() {
  stop();
  for (Conn* c : conns_) {
    ::close(c->fd);
    delete c;
  }
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

size_t ConnectionLoop::open_connections() const {
  std::lock_guard<std::mutex> lock(mu_);
  return conns_.size();
}

void ConnectionLoop::stop() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
}

void ConnectionLoop::run() {
  std::vector<std::thread> threads;
  threads.emplace_back([this] { sweeper(); });
  for (int i = 1; i < opt_.threads; ++i) threads.emplace_back([this] { worker(); });
  worker();
  for (auto& t : threads) t.join();
}

void ConnectionLoop::worker() {
  epoll_event ev{};
  while (true) {
    // One event per call: a thread never sits on ready connections another thread could serve.
    int n = ::epoll_wait(epoll_fd_, &ev, 1, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // the epoll fd is ours and valid: nothing sensible left to do
    }
    if (n == 0) continue;
    if (ev.data.ptr == &wake_tag_) return;  // stopped and drained
    if (ev.data.ptr == &listen_tag_) {
      accept_all();
      continue;
    }
    on_ready(static_cast<Conn*>(ev.data.ptr));
  }
}

void ConnectionLoop::accept_all() {
  std::lock_guard<std::mutex> listen_lock(listen_mu_);
  if (listen_fd_ < 0) return;
  for (int i = 0; i < 256; ++i) {
    sockaddr_storage sa{};
    socklen_t len = sizeof sa;
    int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&sa), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      break;  // EAGAIN: drained; EMFILE and the like: retried on the next readiness
    }
    if (stopping_.load() || open_connections() >= opt_.max_connections) {
      send_quick(fd, 503, "Service Unavailable", "unavailable",
                 stopping_.load() ? "server is stopping" : "too many open connections");
      ::close(fd);
      continue;
    }
    if (opt_.tcp_nodelay) {
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    std::string rip, lip;
    int rport = 0, lport = 0;
    ip_and_port(sa, rip, rport);
    sockaddr_storage la{};
    socklen_t llen = sizeof la;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&la), &llen) == 0) ip_and_port(la, lip, lport);
    Conn* c = new Conn(fd, std::move(rip), rport, std::move(lip), lport);
    c->deadline = Clock::now() + opt_.idle_timeout;
    {
      std::lock_guard<std::mutex> lock(mu_);
      conns_.insert(c);
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
    ev.data.ptr = c;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) close_conn(c);
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLONESHOT;
  ev.data.ptr = &listen_tag_;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listen_fd_, &ev);
}

void ConnectionLoop::on_ready(Conn* c) {
  {
    std::lock_guard<std::mutex> lock(c->mu);
    if (c->state == Conn::State::Expired) {
      // The sweeper shut it down; nobody else holds it now.
    } else {
      c->state = Conn::State::Busy;
    }
  }
  if (c->state == Conn::State::Expired) return close_conn(c);
  ConnStream& s = c->stream;
  const bool was_empty = s.pending() == 0;
  ConnStream::Fill f = s.fill(kRecvChunk);
  if (f == ConnStream::Fill::Data && was_empty) c->head_started = Clock::now();
  while (true) {
    size_t head = s.head_length();
    if (head == 0) {
      if (f == ConnStream::Fill::Eof || f == ConnStream::Fill::Error || stopping_.load()) return close_conn(c);
      if (s.pending() > opt_.max_head_bytes) {
        reject_head(c, 431, "request_header_fields_too_large", "request head larger than the server's limit");
        return close_conn(c);
      }
      return rearm(c);
    }
    if (head > opt_.max_head_bytes) {
      reject_head(c, 431, "request_header_fields_too_large", "request head larger than the server's limit");
      return close_conn(c);
    }
    s.neutralize_range_headers(head);
    s.begin_request(opt_.request);
    ++c->requests;
    const bool close = stopping_.load() || (opt_.keep_alive_max_count && c->requests >= opt_.keep_alive_max_count);
    bool client_closed = false;
    bool ok;
    try {
      ConnStream::Scope scope(&s);
      ok = serve_(s, close, client_closed);
    } catch (...) {
      ok = false;  // httplib maps handler exceptions itself; anything else ends this connection only
    }
    const bool sent = s.flush();
    if (!ok || !sent || close || client_closed || s.close_after() || f == ConnStream::Fill::Eof)
      return close_conn(c);
    // Pipelined bytes already buffered are served now; anything else arrives through epoll.
    f = ConnStream::Fill::WouldBlock;
    if (s.pending() > 0) c->head_started = Clock::now();
  }
}

void ConnectionLoop::rearm(Conn* c) {
  // Armed in the epoll set while holding c->mu: the worker that gets the next event locks c->mu
  // before touching the connection, so everything this thread did with it (the re-arm itself
  // included) happens-before that worker in user space too, not only through the kernel's epoll
  // (which ThreadSanitizer does not model for EPOLL_CTL_MOD: it reported this thread's
  // epoll_ctl racing with the next worker's close). The sweeper only try_locks c->mu.
  std::lock_guard<std::mutex> lock(c->mu);
  c->state = Conn::State::Armed;
  c->deadline = c->stream.pending() > 0 ? c->head_started + opt_.header_timeout
                                         : Clock::now() + opt_.idle_timeout;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
  ev.data.ptr = c;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c->fd, &ev) != 0) {
    // Cannot happen for a registered fd; if it does, nothing would ever wake this connection.
    c->state = Conn::State::Expired;
    ::shutdown(c->fd, SHUT_RDWR);
  }
}

void ConnectionLoop::close_conn(Conn* c) {
  {
    // Out of the registry first: the sweeper must never see a closed (reusable) fd number.
    std::lock_guard<std::mutex> lock(mu_);
    conns_.erase(c);
  }
  ::close(c->fd);  // also leaves the epoll set
  delete c;
}

void ConnectionLoop::reject_head(Conn* c, int status, const char* code, const char* message) {
  send_quick(c->fd, status, status == 408 ? "Request Timeout" : "Request Header Fields Too Large", code, message);
}

void ConnectionLoop::sweeper() {
  const auto tick = std::chrono::milliseconds(100);
  bool listen_closed = false;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(stop_mu_);
      stop_cv_.wait_for(lock, tick, [this] { return stopping_.load(); });
    }
    const bool stopping = stopping_.load();
    if (stopping && !listen_closed) {
      std::lock_guard<std::mutex> listen_lock(listen_mu_);
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
      ::close(listen_fd_);
      listen_fd_ = -1;
      listen_closed = true;
    }
    const auto now = Clock::now();
    size_t open;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (Conn* c : conns_) {
        std::unique_lock<std::mutex> cl(c->mu, std::try_to_lock);
        if (!cl.owns_lock() || c->state != Conn::State::Armed) continue;
        if (!stopping && now < c->deadline) continue;
        // A head that started but did not finish in time gets its 408; idle ones just close.
        if (!stopping && c->stream.pending() > 0)
          send_quick(c->fd, 408, "Request Timeout", "request_timeout", "request head not received in time");
        c->state = Conn::State::Expired;
        ::shutdown(c->fd, SHUT_RDWR);  // wakes its epoll entry; the worker that gets it closes it
      }
      open = conns_.size();
    }
    if (stopping && open == 0) {
      uint64_t one = 1;
      (void)!::write(wake_fd_, &one, sizeof one);
      return;
    }
    if (stopping) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace attnjit::service
