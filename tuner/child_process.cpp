#include "tuner/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace attnjit::tuner {

namespace {

std::runtime_error sys_error(const std::string& call) {
  return std::runtime_error("child process: " + call + " failed: " + std::strerror(errno));
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

std::string ExitStatus::describe() const {
  if (exited) return "exited with status " + std::to_string(code) + (code == 127 ? " (could not run the executable)" : "");
  const char* abbrev = ::sigabbrev_np(signal);
  const char* text = ::strsignal(signal);
  return "was killed by signal " + std::to_string(signal) + " (" +
         (abbrev ? "SIG" + std::string(abbrev) + ", " : std::string()) + (text ? text : "?") + ")";
}

ExitStatus ExitStatus::from_wait_status(int status) {
  ExitStatus s;
  if (WIFEXITED(status)) {
    s.exited = true;
    s.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    s.signal = WTERMSIG(status);
  }
  return s;
}

ChildProcess::ChildProcess(Options options) : opt_(std::move(options)) {
  if (opt_.argv.empty() || opt_.argv[0].empty())
    throw std::runtime_error("child process: no executable given");
  // Everything the child needs is built before fork: between fork and exec only
  // async-signal-safe calls are allowed (the parent may be multi-threaded).
  std::vector<char*> argv;
  for (auto& a : opt_.argv) argv.push_back(a.data());
  argv.push_back(nullptr);

  int out[2] = {-1, -1}, err[2] = {-1, -1}, sv[2] = {-1, -1};
  auto cleanup = [&] {
    for (int* p : {out, err, sv}) {
      close_fd(p[0]);
      close_fd(p[1]);
    }
  };
  if (opt_.capture_stdout && ::pipe2(out, O_CLOEXEC) != 0) {
    cleanup();
    throw sys_error("pipe2");
  }
  if (opt_.capture_stderr && ::pipe2(err, O_CLOEXEC) != 0) {
    cleanup();
    throw sys_error("pipe2");
  }
  if (opt_.socket_fd3 && ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    cleanup();
    throw sys_error("socketpair");
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    cleanup();
    throw sys_error("fork");
  }
  if (pid == 0) {
    if (opt_.die_with_parent) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(126);  // the parent died before prctl took effect
    }
    if (opt_.new_process_group) ::setpgid(0, 0);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD, SIGUSR1, SIGUSR2})
      ::sigaction(sig, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (opt_.stdin_null) {
      int n = ::open("/dev/null", O_RDONLY);
      if (n < 0 || ::dup2(n, 0) < 0) ::_exit(127);
      if (n != 0) ::close(n);
    }
    if (out[1] >= 0 && ::dup2(out[1], 1) < 0) ::_exit(127);
    if (err[1] >= 0 && ::dup2(err[1], 2) < 0) ::_exit(127);
    if (sv[1] >= 0) {
      if (sv[1] == 3) {
        ::fcntl(3, F_SETFD, 0);
      } else if (::dup2(sv[1], 3) < 0) {
        ::_exit(127);
      }
    }
    // Descriptors the parent opened without O_CLOEXEC (a server's sockets) stay out.
    ::close_range(sv[1] >= 0 ? 4 : 3, ~0U, 0);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  pid_ = pid;
  close_fd(out[1]);
  close_fd(err[1]);
  close_fd(sv[1]);
  out_ = out[0];
  err_ = err[0];
  chan_ = sv[0];
}

ChildProcess::~ChildProcess() {
  if (running()) kill();
  close_fds();
}

void ChildProcess::close_fds() {
  close_fd(out_);
  close_fd(err_);
  close_fd(chan_);
}

void ChildProcess::reaped(int wait_status) {
  status_ = ExitStatus::from_wait_status(wait_status);
  // Whatever it left behind in its group (a grandchild holding our pipes) goes with it.
  if (opt_.new_process_group) ::kill(-pid_, SIGKILL);
  pid_ = -1;
}

std::optional<ExitStatus> ChildProcess::try_wait() {
  if (!running()) return status_;
  int st = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &st, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r < 0) throw sys_error("waitpid");
  if (r == 0) return std::nullopt;
  reaped(st);
  return status_;
}

ExitStatus ChildProcess::wait() {
  if (!running()) return status_.value_or(ExitStatus{});
  int st = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &st, 0);
  } while (r < 0 && errno == EINTR);
  if (r < 0) throw sys_error("waitpid");
  reaped(st);
  return *status_;
}

void ChildProcess::send_signal(int sig) {
  if (!running()) return;
  if (::kill(opt_.new_process_group ? -pid_ : pid_, sig) != 0 && errno != ESRCH)
    throw sys_error("kill");
}

ExitStatus ChildProcess::stop(std::chrono::milliseconds grace) {
  if (!running()) return status_.value_or(ExitStatus{});
  send_signal(SIGTERM);
  return wait_or_kill(grace);
}

ExitStatus ChildProcess::wait_or_kill(std::chrono::milliseconds grace) {
  if (!running()) return status_.value_or(ExitStatus{});
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto s = try_wait()) return *s;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return kill();
}

ExitStatus ChildProcess::kill() {
  if (!running()) return status_.value_or(ExitStatus{});
  send_signal(SIGKILL);
  return wait();
}

void LineBuffer::append(const char* data, size_t n) {
  // Popped lines are dropped here, once they are at least half the buffer: erasing each line
  // as it is popped moved the rest of the buffer every time (quadratic in the lines per read).
  if (head_ > 0 && head_ >= buf_.size() / 2) {
    buf_.erase(0, head_);
    head_ = 0;
  }
  // Whole runs are copied (memchr finds the line ends), not one byte at a time.
  const char* p = data;
  const char* const end = data + n;
  while (p < end) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    if (skipping_) {
      // The cut line already ended at the limit; its rest up to the newline goes.
      if (!nl) return;
      skipping_ = false;
      p = nl + 1;
      continue;
    }
    const size_t len = static_cast<size_t>((nl ? nl : end) - p);  // bytes before the newline
    const size_t room = max_ - partial_;                            // partial_ < max_ always
    if (len >= room) {
      buf_.append(p, room);
      buf_ += '\n';
      skipping_ = true;
      partial_ = 0;
      p += room;
    } else if (nl) {
      buf_.append(p, len + 1);
      partial_ = 0;
      p = nl + 1;
    } else {
      buf_.append(p, len);
      partial_ += len;
      p = end;
    }
  }
}

std::optional<std::string> LineBuffer::pop() {
  const size_t nl = buf_.find('\n', head_);
  if (nl == std::string::npos) return std::nullopt;
  std::string line = buf_.substr(head_, nl - head_);
  head_ = nl + 1;
  if (head_ == buf_.size()) {
    buf_.clear();
    head_ = 0;
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

std::string LineBuffer::rest() {
  std::string r = buf_.substr(head_);
  buf_.clear();
  head_ = 0;
  partial_ = 0;
  return r;
}

long read_some(int fd, std::string& into, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::max<long long>(0, left.count())));
    if (r < 0) {
      if (errno == EINTR) continue;
      throw sys_error("poll");
    }
    if (r == 0) return -1;
    char buf[65536];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      if (errno == ECONNRESET) return 0;
      throw sys_error("read");
    }
    into.append(buf, static_cast<size_t>(n));
    return static_cast<long>(n);
  }
}

bool write_all(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    // send() with MSG_NOSIGNAL on sockets; write() on pipes (SIGPIPE is the caller's concern
    // there: servers ignore it).
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == ENOTSOCK) n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EPIPE || errno == ECONNRESET) return false;
      throw sys_error("write");
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace attnjit::tuner
