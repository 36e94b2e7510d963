// Runs the attnjit executable under test with a shell argument string; both output streams
// are captured together, or stdout alone (stderr passing through, for diagnostics) where a test
// parses it. `timeout` kills a command that hangs (e.g. starts serving instead of refusing its
// arguments).
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace attnjit::testing {

struct CliResult {
  int code;            // exit status; 128 + n when killed by signal n
  std::string output;  // stdout and stderr
};

inline CliResult run_cli(const std::string& args, int timeout_s = 60, bool with_stderr = true) {
  std::string cmd = "timeout -s KILL " + std::to_string(timeout_s) + " " + std::string(ATTNJIT_CLI_PATH) + " " +
                    args + (with_stderr ? " 2>&1" : "");
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) throw std::runtime_error("popen failed");
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), out};
}

}  // namespace attnjit::testing
