// NVRTC, opened at run time (dlopen of libnvrtc.so.13, then .12) so binaries start anywhere.
// Compiles a KernelSource to CUBIN (and PTX) for its arch, keeps the log, and parses the
// ptxas resource report (-Xptxas=-v). Works without a GPU.
#pragma once

#include <string>

#include "codegen/kernel_source.h"
#include "runtime/backend.h"

namespace attnjit {

struct NvrtcResult {
  std::string cubin;          // empty unless requested
  std::string ptx;            // empty unless requested
  std::string lowered_name;   // mangled name of KernelSource::entry
  std::string log;            // full program log
  ResourceUsage resources;    // parsed from the log (cubin builds only)
  double compile_ms = 0;       // wall time of nvrtcCompileProgram
  // CPU time of that call: NVRTC (front end, NVVM, ptxas) runs on the calling thread, so this is
  // what the compile costs on an idle core, whatever the machine's load.
  double compile_cpu_ms = 0;
};

class Nvrtc {
 public:
  // The process-wide instance; throws BackendError naming every path tried if NVRTC is missing.
  static Nvrtc& get();
  // Whether NVRTC can be opened; `why` gets the reason when not.
  static bool available(std::string* why = nullptr);

  std::string version() const;  // e.g. "13.0"
  int major() const { return major_; }
  int minor() const { return minor_; }

  // Compiles for src.arch (a real arch, sm_XX) in one pass; PTX is kept when asked for.
  // Throws BackendError with the program log on failure.
  NvrtcResult compile(const KernelSource& src, bool want_cubin = true, bool want_ptx = false) const;

  // Parses "ptxas info : Used N registers, ... bytes spill stores ..." from a log. The entry
  // whose mangled name is `lowered_name` is used when the log lists several functions.
  static ResourceUsage parse_resource_usage(const std::string& log, const std::string& lowered_name);

 private:
  Nvrtc();
  struct Api;
  Api* api_;
  int major_ = 0, minor_ = 0;
};

}  // namespace attnjit
