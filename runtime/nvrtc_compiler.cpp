#include "runtime/nvrtc_compiler.h"

#include <dlfcn.h>
#include <time.h>

#include <cerrno>
#include <cstring>

#include <chrono>
#include <mutex>
#include <cctype>
#include <sstream>
#include <string_view>
#include <vector>

namespace attnjit {

// NVRTC's C API, declared here so the build needs no toolkit headers (we dlopen the library).
namespace {
using nvrtcResult = int;
using nvrtcProgram = struct _nvrtcProgram*;
constexpr nvrtcResult NVRTC_SUCCESS = 0;

template <class F>
F load_symbol(void* lib, const char* name, const std::string& path) {
  dlerror();
  void* p = dlsym(lib, name);
  if (!p) throw BackendError("NVRTC: symbol " + std::string(name) + " missing in " + path);
  return reinterpret_cast<F>(p);
}

// Search order: the toolkit found at build time, then the loader's path; 13 before 12.
std::vector<std::string> candidate_paths() {
  std::vector<std::string> out;
  if (const char* env = std::getenv("ATTNJIT_NVRTC_PATH"); env && *env) out.push_back(env);
  for (const char* ver : {"13", "12"}) {
    out.push_back(std::string(ATTNJIT_CUDA_LIBDIR) + "/libnvrtc.so." + ver);
    out.push_back("/usr/local/cuda/lib64/libnvrtc.so." + std::string(ver));
    out.push_back("libnvrtc.so." + std::string(ver));
  }
  return out;
}

// CPU time of the calling thread in milliseconds.
double thread_cpu_ms() {
  timespec ts{};
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
    throw BackendError(std::string("clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed: ") + std::strerror(errno));
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}
}  // namespace

struct Nvrtc::Api {
  std::string path;
  const char* (*GetErrorString)(nvrtcResult);
  nvrtcResult (*Version)(int*, int*);
  nvrtcResult (*CreateProgram)(nvrtcProgram*, const char*, const char*, int, const char* const*,
                               const char* const*);
  nvrtcResult (*DestroyProgram)(nvrtcProgram*);
  nvrtcResult (*AddNameExpression)(nvrtcProgram, const char*);
  nvrtcResult (*CompileProgram)(nvrtcProgram, int, const char* const*);
  nvrtcResult (*GetProgramLogSize)(nvrtcProgram, size_t*);
  nvrtcResult (*GetProgramLog)(nvrtcProgram, char*);
  nvrtcResult (*GetPTXSize)(nvrtcProgram, size_t*);
  nvrtcResult (*GetPTX)(nvrtcProgram, char*);
  nvrtcResult (*GetCUBINSize)(nvrtcProgram, size_t*);
  nvrtcResult (*GetCUBIN)(nvrtcProgram, char*);
  nvrtcResult (*GetLoweredName)(nvrtcProgram, const char*, const char**);
};

Nvrtc::Nvrtc() : api_(new Api) {
  std::string tried;
  void* lib = nullptr;
  for (const auto& p : candidate_paths()) {
    lib = dlopen(p.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib) {
      api_->path = p;
      break;
    }
    const char* err = dlerror();
    tried += "\n  " + p + ": " + (err ? err : "not found");
  }
  if (!lib) {
    delete api_;
    throw BackendError("NVRTC not found (install the CUDA toolkit or set ATTNJIT_NVRTC_PATH); tried:" + tried);
  }
  const std::string& path = api_->path;
  api_->GetErrorString = load_symbol<decltype(api_->GetErrorString)>(lib, "nvrtcGetErrorString", path);
  api_->Version = load_symbol<decltype(api_->Version)>(lib, "nvrtcVersion", path);
  api_->CreateProgram = load_symbol<decltype(api_->CreateProgram)>(lib, "nvrtcCreateProgram", path);
  api_->DestroyProgram = load_symbol<decltype(api_->DestroyProgram)>(lib, "nvrtcDestroyProgram", path);
  api_->AddNameExpression = load_symbol<decltype(api_->AddNameExpression)>(lib, "nvrtcAddNameExpression", path);
  api_->CompileProgram = load_symbol<decltype(api_->CompileProgram)>(lib, "nvrtcCompileProgram", path);
  api_->GetProgramLogSize = load_symbol<decltype(api_->GetProgramLogSize)>(lib, "nvrtcGetProgramLogSize", path);
  api_->GetProgramLog = load_symbol<decltype(api_->GetProgramLog)>(lib, "nvrtcGetProgramLog", path);
  api_->GetPTXSize = load_symbol<decltype(api_->GetPTXSize)>(lib, "nvrtcGetPTXSize", path);
  api_->GetPTX = load_symbol<decltype(api_->GetPTX)>(lib, "nvrtcGetPTX", path);
  api_->GetCUBINSize = load_symbol<decltype(api_->GetCUBINSize)>(lib, "nvrtcGetCUBINSize", path);
  api_->GetCUBIN = load_symbol<decltype(api_->GetCUBIN)>(lib, "nvrtcGetCUBIN", path);
  api_->GetLoweredName = load_symbol<decltype(api_->GetLoweredName)>(lib, "nvrtcGetLoweredName", path);
  if (int rc = api_->Version(&major_, &minor_); rc != NVRTC_SUCCESS)
    throw BackendError(std::string("nvrtcVersion failed: ") + api_->GetErrorString(rc));
  // The library stays open for the life of the process: compiled kernels may outlive any owner.
}

Nvrtc& Nvrtc::get() {
  static std::mutex mu;
  static Nvrtc* inst = nullptr;
  static std::string error;
  std::lock_guard<std::mutex> lock(mu);
  if (inst) return *inst;
  if (!error.empty()) throw BackendError(error);
  try {
    inst = new Nvrtc();
  } catch (const BackendError& e) {
    error = e.what();  // remember: retrying dlopen on every call would only repeat the failure
    throw;
  }
  return *inst;
}

bool Nvrtc::available(std::string* why) {
  try {
    get();
    return true;
  } catch (const BackendError& e) {
    if (why) *why = e.what();
    return false;
  }
}

std::string Nvrtc::version() const { return std::to_string(major_) + "." + std::to_string(minor_); }

namespace {

// The decimal number that ends right before `suffix` in `line` ("12 bytes smem" -> 12).
bool number_before(const std::string& line, std::string_view suffix, int& out) {
  const size_t at = line.find(suffix);
  if (at == std::string::npos) return false;
  size_t b = at;
  while (b > 0 && std::isdigit(static_cast<unsigned char>(line[b - 1]))) --b;
  if (b == at || at - b > 9) return false;
  out = std::stoi(line.substr(b, at - b));
  return true;
}

// The decimal number between `prefix` and `suffix` ("Used 168 registers" -> 168).
bool number_after(const std::string& line, std::string_view prefix, std::string_view suffix, int& out) {
  const size_t p = line.find(prefix);
  if (p == std::string::npos) return false;
  const size_t b = p + prefix.size();
  size_t e = b;
  while (e < line.size() && std::isdigit(static_cast<unsigned char>(line[e]))) ++e;
  if (e == b || e - b > 9 || line.compare(e, suffix.size(), suffix) != 0) return false;
  out = std::stoi(line.substr(b, e - b));
  return true;
}

}  // namespace

ResourceUsage Nvrtc::parse_resource_usage(const std::string& log, const std::string& lowered_name) {
  // ptxas prints, per function:
  //   ptxas info    : Compiling entry function '_Z3fooPf' for 'sm_80'
  //   ptxas info    : Function properties for _Z3fooPf
  //       0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
  //   ptxas info    : Used 168 registers, used 1 barriers, 49152 bytes smem, 400 bytes cmem[0]
  ResourceUsage r;
  std::istringstream in(log);
  std::string line;
  bool in_entry = lowered_name.empty();
  // No std::regex: inside a Python process its template code can bind to another library's
  // copy (PyTorch's), built by another compiler with another layout, and crash (seen on the
  // H200 in the first GPU run of the Python package).
  while (std::getline(in, line)) {
    if (line.find("Compiling entry function") != std::string::npos ||
        line.find("Function properties for") != std::string::npos) {
      if (!lowered_name.empty()) in_entry = line.find(lowered_name) != std::string::npos;
      continue;
    }
    if (!in_entry) continue;
    int frame = 0, stores = 0, loads = 0;
    if (number_before(line, " bytes stack frame", frame) && number_before(line, " bytes spill stores", stores) &&
        number_before(line, " bytes spill loads", loads)) {
      r.stack_frame_bytes = frame;
      r.spill_store_bytes = stores;
      r.spill_load_bytes = loads;
    }
    if (int v = 0; number_after(line, "Used ", " registers", v)) r.registers = v;
    if (int v = 0; number_before(line, " bytes smem", v)) r.smem_static_bytes = v;
    if (int v = 0; number_before(line, " bytes cmem[0]", v)) r.const_bytes = v;
  }
  return r;
}

NvrtcResult Nvrtc::compile(const KernelSource& src, bool want_cubin, bool want_ptx) const {
  if (src.platform != Platform::Cuda)
    throw BackendError("NVRTC: " + src.name + " is not a CUDA kernel source");
  const Api& a = *api_;
  auto check = [&](int rc, const char* what, nvrtcProgram prog) {
    if (rc == NVRTC_SUCCESS) return;
    std::string log;
    if (prog) {
      size_t n = 0;
      if (a.GetProgramLogSize(prog, &n) == NVRTC_SUCCESS && n > 1) {
        log.resize(n);
        a.GetProgramLog(prog, log.data());
        log.resize(n - 1);
      }
    }
    throw BackendError(std::string("NVRTC ") + what + " failed for " + src.name + ": " +
                       a.GetErrorString(rc) + (log.empty() ? "" : "\n" + log));
  };

  std::vector<const char*> hdr_src, hdr_names;
  for (const auto& [n, c] : src.headers) {
    hdr_names.push_back(n.c_str());
    hdr_src.push_back(c.c_str());
  }
  // One pass for a real arch (sm_XX): NVRTC 12+/13 keeps the PTX as well as the CUBIN.
  auto run = [&](NvrtcResult& out) {
    nvrtcProgram prog = nullptr;
    check(a.CreateProgram(&prog, src.text.c_str(), "attnjit_kernel.cu", static_cast<int>(hdr_src.size()),
                          hdr_src.data(), hdr_names.data()),
          "nvrtcCreateProgram", nullptr);
    struct Guard {
      const Api& a;
      nvrtcProgram& p;
      ~Guard() { a.DestroyProgram(&p); }
    } guard{a, prog};
    if (!src.entry.empty()) check(a.AddNameExpression(prog, src.entry.c_str()), "nvrtcAddNameExpression", prog);
    std::vector<std::string> opts = src.options;
    opts.push_back("--gpu-architecture=" + src.arch);
    opts.push_back("--ptxas-options=-v");
    // NVRTC 12.9+ keeps its own compile cache; a hit returns the binary without ptxas's report,
    // leaving registers and spills unknown (seen on the H100 machine). attnjit has its own
    // kernel cache, so NVRTC's is switched off.
    if (major_ > 12 || (major_ == 12 && minor_ >= 9)) opts.push_back("--no-cache");
    std::vector<const char*> copts;
    for (const auto& o : opts) copts.push_back(o.c_str());
    const double c0 = thread_cpu_ms();
    auto t0 = std::chrono::steady_clock::now();
    int rc = a.CompileProgram(prog, static_cast<int>(copts.size()), copts.data());
    auto t1 = std::chrono::steady_clock::now();
    const double c1 = thread_cpu_ms();
    check(rc, "compile", prog);
    size_t n = 0;
    check(a.GetProgramLogSize(prog, &n), "nvrtcGetProgramLogSize", prog);
    std::string log(n, '\0');
    if (n) check(a.GetProgramLog(prog, log.data()), "nvrtcGetProgramLog", prog);
    if (!log.empty() && log.back() == '\0') log.pop_back();
    out.log += log;
    out.compile_ms += std::chrono::duration<double, std::milli>(t1 - t0).count();
    out.compile_cpu_ms += c1 - c0;
    if (!src.entry.empty()) {
      const char* lowered = nullptr;
      check(a.GetLoweredName(prog, src.entry.c_str(), &lowered), "nvrtcGetLoweredName", prog);
      out.lowered_name = lowered ? lowered : "";
    }
    if (want_ptx) {
      check(a.GetPTXSize(prog, &n), "nvrtcGetPTXSize", prog);
      out.ptx.assign(n, '\0');
      check(a.GetPTX(prog, out.ptx.data()), "nvrtcGetPTX", prog);
      if (!out.ptx.empty() && out.ptx.back() == '\0') out.ptx.pop_back();
    }
    if (want_cubin) {
      check(a.GetCUBINSize(prog, &n), "nvrtcGetCUBINSize", prog);
      out.cubin.assign(n, '\0');
      check(a.GetCUBIN(prog, out.cubin.data()), "nvrtcGetCUBIN", prog);
    }
  };
  NvrtcResult result;
  run(result);
  result.resources = parse_resource_usage(result.log, result.lowered_name);
  return result;
}

}  // namespace attnjit
