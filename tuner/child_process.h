// One child-process module for everything attnjit runs beside itself: the tuner's isolated
// candidate worker (tuner/worker.h) and the service's tuning jobs (service/job_manager.h).
// Spawn with pipes or a socket, read lines with timeouts, signal, stop gracefully, reap, and
// say how it ended — each system call checked, each failure naming the call.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace attnjit::tuner {

// How a child ended.
struct ExitStatus {
  bool exited = false;  // exit() / return from main: `code` is valid
  int code = 0;
  int signal = 0;       // killed by this signal (exited == false)

  bool ok() const { return exited && code == 0; }
  // "exited with status 3", "killed by signal 11 (SIGSEGV, Segmentation fault)"
  std::string describe() const;
  static ExitStatus from_wait_status(int status);
};

class ChildProcess {
 public:
  struct Options {
    std::vector<std::string> argv;  // argv[0]: the executable's path (no PATH search)
    bool capture_stdout = false;    // a pipe; read with read_stdout() / fd_stdout()
    bool capture_stderr = false;    // a pipe; otherwise inherited
    bool socket_fd3 = false;        // a socket pair: the child's fd 3, our fd_channel()
    bool stdin_null = true;         // stdin from /dev/null (else inherited)
    bool new_process_group = false; // signals go to its whole process tree
    bool die_with_parent = true;    // PR_SET_PDEATHSIG(SIGKILL): never outlives us
  };

  // Starts the child with default signal dispositions and an empty signal mask (a server may
  // block SIGTERM in its threads; the child must not inherit that). Throws std::runtime_error
  // naming the failed call; an executable that cannot be run makes the child exit 127.
  explicit ChildProcess(Options options);
  ~ChildProcess();  // kill() if still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  int fd_stdout() const { return out_; }
  int fd_stderr() const { return err_; }
  int fd_channel() const { return chan_; }

  // Non-blocking: the status if the child has ended (then it is reaped), else nullopt.
  std::optional<ExitStatus> try_wait();
  // Blocks until the child ends.
  ExitStatus wait();
  // Sends `sig` to the child (its whole group with new_process_group). No-op once reaped.
  void send_signal(int sig);
  // Waits up to `grace` for the child to end by itself, then SIGKILL; reaps, returns its status.
  ExitStatus wait_or_kill(std::chrono::milliseconds grace);
  // SIGTERM, then SIGKILL if it is still running after `grace`; reaps and returns its status.
  ExitStatus stop(std::chrono::milliseconds grace);
  // SIGKILL and reap (the group with new_process_group). Returns the status (or the last one).
  ExitStatus kill();
  // The status once reaped.
  const std::optional<ExitStatus>& status() const { return status_; }
  // Closes our ends of the pipes / socket (EOF for the child's reads).
  void close_fds();

 private:
  void reaped(int wait_status);
  Options opt_;
  pid_t pid_ = -1;
  int out_ = -1, err_ = -1, chan_ = -1;
  std::optional<ExitStatus> status_;
};

// Splits a byte stream into lines ('\n', a trailing '\r' dropped). A line longer than
// `max_line` bytes is cut there (and the rest of it dropped), so a runaway writer cannot make
// the reader hold unbounded memory.
class LineBuffer {
 public:
  explicit LineBuffer(size_t max_line = 1 << 20) : max_(max_line) {}
  void append(const char* data, size_t n);
  // The next complete line, if any.
  std::optional<std::string> pop();
  // What is left without a newline (at EOF).
  std::string rest();

 private:
  size_t max_;
  std::string buf_;
  size_t head_ = 0;     // start of the first line not yet popped (popping never moves bytes)
  size_t partial_ = 0;  // bytes of the unfinished last line
  bool skipping_ = false;
};

// Waits up to `timeout` for data on `fd` and appends what one read() returns.
// Returns the byte count, 0 at EOF, -1 on timeout. Throws std::runtime_error on a poll/read error.
long read_some(int fd, std::string& into, std::chrono::milliseconds timeout);

// Writes all of `data`. False if the peer is gone (EPIPE / ECONNRESET; never SIGPIPE).
bool write_all(int fd, const std::string& data);

}  // namespace attnjit::tuner
