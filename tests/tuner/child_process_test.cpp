// The one child-process module (worker and service jobs): exit statuses, signals, graceful
// stop escalating to SIGKILL, process groups, pipes, the fd-3 socket, bounded lines.
#include "tuner/child_process.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <thread>

namespace attnjit::tuner {
namespace {

using namespace std::chrono_literals;

ChildProcess::Options sh(const std::string& script) {
  ChildProcess::Options o;
  o.argv = {"/bin/sh", "-c", script};
  o.capture_stdout = true;
  o.capture_stderr = true;
  return o;
}

std::string read_all(int fd) {
  std::string out;
  while (read_some(fd, out, 5000ms) > 0) {
  }
  return out;
}

TEST(ChildProcess, ExitCodesSignalsAndPipes) {
  {
    ChildProcess c(sh("echo out; echo err >&2; exit 3"));
    EXPECT_EQ(read_all(c.fd_stdout()), "out\n");
    EXPECT_EQ(read_all(c.fd_stderr()), "err\n");
    ExitStatus s = c.wait();
    EXPECT_TRUE(s.exited);
    EXPECT_EQ(s.code, 3);
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(s.describe(), "exited with status 3");
  }
  {
    ChildProcess c(sh("kill -SEGV $$"));
    ExitStatus s = c.wait();
    EXPECT_FALSE(s.exited);
    EXPECT_EQ(s.signal, SIGSEGV);
    EXPECT_NE(s.describe().find("SIGSEGV"), std::string::npos) << s.describe();
    EXPECT_NE(s.describe().find("Segmentation"), std::string::npos) << s.describe();
  }
  {
    ChildProcess::Options o;
    o.argv = {"/nonexistent/attnjit", "tune"};
    ChildProcess c(o);
    ExitStatus s = c.wait();
    EXPECT_EQ(s.code, 127);
    EXPECT_NE(s.describe().find("could not run"), std::string::npos);
  }
  EXPECT_THROW(ChildProcess(ChildProcess::Options{}), std::runtime_error);
}

TEST(ChildProcess, StopEscalatesToKillAndTakesTheWholeGroup) {
  auto o = sh("trap '' TERM; (trap '' TERM; sleep 60) & echo $!; while true; do sleep 0.05; done");
  o.new_process_group = true;
  ChildProcess c(o);
  std::string line;
  while (line.find('\n') == std::string::npos) ASSERT_GT(read_some(c.fd_stdout(), line, 5000ms), 0);
  const pid_t grandchild = std::stoi(line);
  EXPECT_FALSE(c.try_wait());
  const auto t0 = std::chrono::steady_clock::now();
  ExitStatus s = c.stop(300ms);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  EXPECT_EQ(s.signal, SIGKILL);  // SIGTERM was ignored
  EXPECT_FALSE(c.running());
  // The grandchild went with its group (give the kernel a moment to deliver).
  // A zombie counts as gone: whether something reaps orphans here is up to the container.
  auto dead = [](pid_t pid) {
    if (::kill(pid, 0) != 0) return true;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string all((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const size_t paren = all.rfind(')');
    return paren != std::string::npos && all.size() > paren + 2 && all[paren + 2] == 'Z';
  };
  bool gone = false;
  for (int i = 0; i < 200 && !gone; ++i) {
    gone = dead(grandchild);
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(gone) << "grandchild " << grandchild << " outlived the stopped job";
}

TEST(ChildProcess, SocketOnFdThreeAndWaitOrKill) {
  ChildProcess::Options o;
  o.argv = {"/bin/sh", "-c", "read line <&3; echo \"got $line\" >&3; exit 0"};
  o.socket_fd3 = true;
  ChildProcess c(o);
  ASSERT_TRUE(write_all(c.fd_channel(), "hello\n"));
  std::string reply;
  while (reply.find('\n') == std::string::npos) ASSERT_GT(read_some(c.fd_channel(), reply, 5000ms), 0);
  EXPECT_EQ(reply, "got hello\n");
  EXPECT_TRUE(c.wait_or_kill(5000ms).ok());

  ChildProcess hang(sh("sleep 60"));
  EXPECT_EQ(read_some(hang.fd_stdout(), reply, 50ms), -1);  // nothing yet: a timeout
  EXPECT_EQ(hang.wait_or_kill(100ms).signal, SIGKILL);
}

TEST(LineBuffer, SplitsLinesAndCutsRunawayOnes) {
  LineBuffer b(8);
  b.append("ab\r\ncd", 6);
  EXPECT_EQ(b.pop(), "ab");
  EXPECT_FALSE(b.pop());
  b.append("ef\n", 3);
  EXPECT_EQ(b.pop(), "cdef");
  const std::string big(100, 'x');
  b.append(big.data(), big.size());
  b.append("\nnext\n", 6);
  EXPECT_EQ(b.pop(), std::string(8, 'x'));  // cut at the limit, the rest dropped
  EXPECT_EQ(b.pop(), "next");
  b.append("tail", 4);
  EXPECT_EQ(b.rest(), "tail");
  b.append("a\nb", 3);
  EXPECT_EQ(b.pop(), "a");
  EXPECT_EQ(b.rest(), "b");  // only what was not popped
}

// A child that floods short lines (the job manager reads 64 KiB at a time): popping a line
// used to erase it from the front of the buffer, moving everything behind it, so one read of
// n lines cost O(n^2) (a 3 MB flood outlasted the job manager's test under AddressSanitizer).
// 4 MB of two-byte lines took hours that way; linear, it is milliseconds.
TEST(LineBuffer, ManyLinesInOneAppendPopInLinearTime) {
  LineBuffer b(1 << 20);
  std::string flood;
  for (int i = 0; i < (2 << 20); ++i) flood += "x\n";
  flood += "par";
  const auto t0 = std::chrono::steady_clock::now();
  b.append(flood.data(), flood.size());
  size_t lines = 0;
  while (auto line = b.pop()) {
    ASSERT_EQ(*line, "x");
    ++lines;
  }
  b.append("tial\n", 5);
  EXPECT_EQ(b.pop(), "partial");
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(lines, size_t{2} << 20);
  EXPECT_LT(s, 30.0) << "popping lines is not linear in the buffer size";
}

}  // namespace
}  // namespace attnjit::tuner
