// The emulator against the golden layouts of tests/emu/golden/: the probe kernels of
// scripts/gpu-probes run here exactly as on the GPU, and their text output must equal the files
// (comment lines aside). The files say `unverified` (written from the PTX ISA tables) until a
// session with an sm_90 GPU replaces them with the probes' output (scripts/gpu-check.sh sm90).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "scripts/gpu-probes/probe_format.h"
#include "scripts/gpu-probes/sm90_probes.cuh"

EMU_DEFINE_DYNAMIC_SMEM(attnjit::probes, unsigned char, probe_smem)

namespace {

using namespace attnjit::probes;

std::string golden(const std::string& name) {
  const std::string path = std::string(ATTNJIT_SOURCE_DIR) + "/tests/emu/golden/" + name;
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string text = ss.str();
  std::printf("[ golden   ] %s: %s\n", name.c_str(),
              text.rfind("# verified", 0) == 0 ? "verified on a GPU" : "unverified (from the PTX ISA)");
  return text;
}

// Compares without comment lines and reports the first differing line (the files are long).
void expect_matches_golden(const std::string& got, const std::string& name) {
  const std::string a = strip_comments(got), b = strip_comments(golden(name));
  std::istringstream ga(a), gb(b);
  std::string la, lb;
  for (int line = 1;; ++line) {
    const bool ea = !std::getline(ga, la), eb = !std::getline(gb, lb);
    if (ea && eb) return;
    if (ea != eb || la != lb) {
      ADD_FAILURE() << name << ": data line " << line << ": emulator \"" << (ea ? "<end>" : la)
                    << "\", golden \"" << (eb ? "<end>" : lb) << "\"";
      return;
    }
  }
}

emu::LaunchConfig one_warpgroup(size_t smem) {
  emu::LaunchConfig c;
  c.block = {128, 1, 1};
  c.dynamic_smem = smem;
  return c;
}

TEST(Sm90Golden, WgmmaAccumulatorLayout) {
  std::vector<float> out(128 * 8);
  emu::launch(one_warpgroup(16384), attnjit::probes::probe_smem, [&] { probe_wgmma_acc(out.data()); });
  expect_matches_golden(format_wgmma_acc(out.data(), 8), "wgmma_acc_m64n16.txt");
}

TEST(Sm90Golden, TmaSwizzledLayouts) {
  std::vector<uint16_t> g(8 * 64);
  for (int r = 0; r < 8; ++r)
    for (int c = 0; c < 64; ++c) g[static_cast<size_t>(r * 64 + c)] = static_cast<uint16_t>(256 * r + c);
  for (unsigned span : {32u, 64u, 128u}) {
    alignas(64) attnjit::sm90::TensorMap map;
    const uint64_t dims[2] = {64, 8}, strides[1] = {128};
    const uint32_t box[2] = {span / 2, 8}, es[2] = {1, 1};
    const int sw = span == 32 ? emu::sm90::kSwizzle32B : span == 64 ? emu::sm90::kSwizzle64B : emu::sm90::kSwizzle128B;
    ASSERT_EQ(emu::sm90::encode_tiled(&map, emu::sm90::kTmaBf16, 2, g.data(), dims, strides, box, es, 0, sw, 0, 0), 0)
        << emu::sm90::last_encode_error();
    std::vector<uint16_t> img(8 * span / 2);
    emu::launch(one_warpgroup(8192), attnjit::probes::probe_smem, [&] { probe_tma_swizzle(map, span, img.data()); });
    expect_matches_golden(format_tma_swizzle(img.data(), span), "tma_swizzle_" + std::to_string(span) + "B.txt");
  }
}

TEST(Sm90Golden, MbarrierPhaseSequence) {
  std::vector<int> out(2 * kMbarSteps);
  emu::launch(one_warpgroup(1024), attnjit::probes::probe_smem, [&] { probe_mbarrier(out.data()); });
  expect_matches_golden(format_mbarrier(out.data(), kMbarSteps), "mbarrier_phases.txt");
}

}  // namespace
