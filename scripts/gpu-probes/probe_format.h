// Text form of the probes' results (sm90_probes.cuh): the golden files of tests/emu/golden/ are
// exactly this output, so the GPU run and the emulator test produce comparable text. Lines
// starting with '#' are comments (provenance) and are ignored by comparisons.
#pragma once

#include <cstdint>
#include <string>

namespace attnjit::probes {

// "thread reg row col" per accumulator register, from D[r][c] = 64 r + c.
inline std::string format_wgmma_acc(const float* out, int regs) {
  std::string s = "# wgmma.m64n16k16.f32.bf16 accumulator: thread register row column\n";
  for (int t = 0; t < 128; ++t)
    for (int i = 0; i < regs; ++i) {
      const int v = static_cast<int>(out[t * regs + i]);
      s += std::to_string(t) + " " + std::to_string(i) + " " + std::to_string(v / 64) + " " +
           std::to_string(v % 64) + "\n";
    }
  return s;
}

// "chunk row col": which global (row, first column) each 16-byte chunk of the shared image holds.
inline std::string format_tma_swizzle(const uint16_t* img, unsigned span) {
  std::string s = "# TMA " + std::to_string(span) + "B swizzle, 8 rows x " + std::to_string(span) +
                  " bytes: shared chunk, global row, global column\n";
  for (unsigned ch = 0; ch < 8 * span / 16; ++ch) {
    const unsigned v = img[ch * 8];
    s += std::to_string(ch) + " " + std::to_string(v / 256) + " " + std::to_string(v % 256) + "\n";
  }
  return s;
}

inline std::string format_mbarrier(const int* out, int steps) {
  std::string s = "# mbarrier test_wait.parity after each step: step parity0 parity1\n";
  for (int i = 0; i < steps; ++i)
    s += std::to_string(i) + " " + std::to_string(out[2 * i]) + " " + std::to_string(out[2 * i + 1]) + "\n";
  return s;
}

// The text without comment lines.
inline std::string strip_comments(const std::string& text) {
  std::string out;
  for (size_t a = 0; a < text.size();) {
    size_t b = text.find('\n', a);
    if (b == std::string::npos) b = text.size();
    if (text[a] != '#') out += text.substr(a, b - a) + "\n";
    a = b + 1;
  }
  return out;
}

}  // namespace attnjit::probes
