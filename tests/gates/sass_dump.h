// SASS of a CUBIN through cuobjdump -sass (which runs nvdisasm, looked up next to it). The CUDA
// image here lacks both; scripts/setup.sh installs PyPI's nvidia-cuda-cuobjdump and
// nvidia-cuda-nvdisasm into ~/.cache/attnjit-cuda-tools (Debian's pip refuses system-wide
// installs). Lookup order: $ATTNJIT_CUOBJDUMP, that folder, /usr/local/cuda/bin, PATH.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace attnjit::gates {

// Path of a runnable cuobjdump, or "" with `why` saying where it looked.
inline std::string find_cuobjdump(std::string* why = nullptr) {
  namespace fs = std::filesystem;
  std::string tried;
  auto ok = [&](const std::string& p) {
    tried += " " + p;
    return !p.empty() && ::access(p.c_str(), X_OK) == 0;
  };
  if (const char* e = std::getenv("ATTNJIT_CUOBJDUMP"); e && ok(e)) return e;
  if (const char* h = std::getenv("HOME")) {
    for (const char* sub : {"nvidia/cu13/bin", "nvidia/cuda_cuobjdump/bin"}) {
      const std::string p = std::string(h) + "/.cache/attnjit-cuda-tools/" + sub + "/cuobjdump";
      if (ok(p)) return p;
    }
  }
  if (ok("/usr/local/cuda/bin/cuobjdump")) return "/usr/local/cuda/bin/cuobjdump";
  if (const char* path = std::getenv("PATH")) {
    std::string s = path;
    for (size_t a = 0; a <= s.size();) {
      size_t b = s.find(':', a);
      if (b == std::string::npos) b = s.size();
      if (b > a && ok(s.substr(a, b - a) + "/cuobjdump")) return s.substr(a, b - a) + "/cuobjdump";
      a = b + 1;
    }
  }
  if (why) *why = "cuobjdump not found (run scripts/setup.sh; tried" + tried + ")";
  return "";
}

// cuobjdump -sass of `cubin`; throws std::runtime_error with cuobjdump's output on failure.
inline std::string sass_of(const std::string& cuobjdump, const std::string& cubin) {
  namespace fs = std::filesystem;
  char tmpl[] = "/tmp/attnjit-gate-XXXXXX";
  const int fd = ::mkstemp(tmpl);
  if (fd < 0) throw std::runtime_error("mkstemp failed for the CUBIN of the SASS gate");
  ::close(fd);
  const std::string path = tmpl;
  {
    std::ofstream f(path, std::ios::binary);
    f.write(cubin.data(), static_cast<std::streamsize>(cubin.size()));
    if (!f) throw std::runtime_error("cannot write " + path);
  }
  // cuobjdump finds nvdisasm through PATH: put its own folder first.
  const std::string dir = fs::path(cuobjdump).parent_path().string();
  const std::string cmd = "PATH='" + dir + "':\"$PATH\" '" + cuobjdump + "' -sass '" + path + "' 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) {
    fs::remove(path);
    throw std::runtime_error("popen failed: " + cmd);
  }
  std::string out;
  std::array<char, 65536> buf;
  for (size_t n; (n = std::fread(buf.data(), 1, buf.size(), p)) > 0;) out.append(buf.data(), n);
  const int st = ::pclose(p);
  fs::remove(path);
  if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
    throw std::runtime_error("cuobjdump -sass failed (" + cmd + "):\n" + out);
  return out;
}

}  // namespace attnjit::gates
