// The compile gates, one function each, over what NVRTC returns (ptxas -v report and log) and the
// SASS: they return the violations as text (empty = pass), so a test can feed each gate a kernel
// with the defect and see it fail.
//   spills        no spill stores or loads
//   stack         a 0-byte stack frame
//   local memory  no LDL / STL in the SASS
//   ptxas C75xx   on sm_90a none of ptxas's performance warnings (C7508: setmaxnreg ignored
//                 without __launch_bounds__; C7515..C7520: wgmma serialised) — any "(C75" counts
//   sm90 SASS     an sm90 kernel contains HGMMA (wgmma) and UTMALDG (TMA loads)
#pragma once

#include <regex>
#include <string>
#include <vector>

#include "runtime/nvrtc_compiler.h"

namespace attnjit::gates {

inline std::vector<std::string> spill_gate(const ResourceUsage& r) {
  if (r.spill_store_bytes == 0 && r.spill_load_bytes == 0) return {};
  return {"spills: " + std::to_string(r.spill_store_bytes) + " bytes stored, " +
          std::to_string(r.spill_load_bytes) + " bytes loaded"};
}

inline std::vector<std::string> stack_gate(const ResourceUsage& r) {
  if (r.stack_frame_bytes == 0) return {};
  return {"stack frame of " + std::to_string(r.stack_frame_bytes) + " bytes"};
}

// Lines of the log carrying a "(C75xx)" code; applies to sm_90a only.
inline std::vector<std::string> c75_gate(const std::string& log, const std::string& arch) {
  std::vector<std::string> out;
  if (arch != "sm_90a") return out;
  static const std::regex code(R"(\(C75\d\d\))");
  size_t a = 0;
  while (a < log.size()) {
    size_t b = log.find('\n', a);
    if (b == std::string::npos) b = log.size();
    const std::string line = log.substr(a, b - a);
    if (std::regex_search(line, code)) out.push_back("ptxas: " + line);
    a = b + 1;
  }
  return out;
}

// Whether `sass` contains `op` as an opcode (followed by '.', ' ' or ';').
inline bool sass_has(const std::string& sass, const std::string& op) {
  const std::regex re("[^A-Z0-9_]" + op + "[ .;]");
  return std::regex_search(sass, re);
}

inline std::vector<std::string> local_memory_gate(const std::string& sass) {
  std::vector<std::string> out;
  for (const char* op : {"LDL", "STL"})
    if (sass_has(sass, op)) out.push_back(std::string("SASS uses local memory (") + op + ")");
  return out;
}

inline std::vector<std::string> sm90_sass_gate(const std::string& sass) {
  std::vector<std::string> out;
  for (const char* op : {"HGMMA", "UTMALDG"})
    if (!sass_has(sass, op)) out.push_back(std::string("sm90 SASS lacks ") + op);
  return out;
}

// Every gate that applies; `sass` empty = SASS gates skipped (no cuobjdump).
inline std::vector<std::string> all_gates(const NvrtcResult& r, const std::string& arch, bool sm90,
                                          const std::string& sass) {
  std::vector<std::string> v;
  auto add = [&v](std::vector<std::string> x) { v.insert(v.end(), x.begin(), x.end()); };
  add(spill_gate(r.resources));
  add(stack_gate(r.resources));
  add(c75_gate(r.log, arch));
  if (!sass.empty()) {
    add(local_memory_gate(sass));
    if (sm90) add(sm90_sass_gate(sass));
  }
  return v;
}

}  // namespace attnjit::gates
