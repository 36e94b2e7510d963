#include "codegen/tile_config.h"

#include <gtest/gtest.h>

#include <random>

#include "codegen/types.h"

namespace attnjit {
namespace {

TEST(TileConfig, KeyFormat) {
  TileConfig c;
  c.block_m = 128;
  c.block_n = 64;
  c.warps = 4;
  c.stages = 2;
  EXPECT_EQ(c.key(), "bm128_bn64_w4_s2");
  c.splits = 8;
  c.vec = 16;
  c.warpgroups = 2;
  EXPECT_EQ(c.key(), "bm128_bn64_w4_s2_sp8_v16_wg2");
  c.pingpong = 1;
  c.persistent = 1;
  EXPECT_EQ(c.key(), "bm128_bn64_w4_s2_sp8_v16_wg2_pp1_ps1");
  c.overlap = 1;
  EXPECT_EQ(TileConfig::parse("sm90_bm192_bn128_w4_s2_wg3_pp1_ov1").key(), "sm90_bm192_bn128_w4_s2_wg3_pp1_ov1");
}

TEST(TileConfig, RoundTripsRandomConfigs) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> small(0, 1);
  for (int i = 0; i < 2000; ++i) {
    TileConfig c;
    c.block_m = 16 << (rng() % 4);
    c.block_n = 16 << (rng() % 4);
    c.warps = 1 << (rng() % 4);
    c.stages = 1 + rng() % 4;
    c.splits = small(rng) ? static_cast<int>(1 + rng() % 64) : 0;
    c.vec = small(rng) ? static_cast<int>(1 << (rng() % 5)) : 0;
    c.threads = small(rng) ? static_cast<int>(1 + rng() % 8) : 0;
    c.order = small(rng) ? 1 : 0;
    c.warpgroups = small(rng) ? static_cast<int>(1 + rng() % 3) : 0;
    c.pingpong = small(rng);
    c.overlap = small(rng);
    c.persistent = small(rng);
    TileConfig back = TileConfig::parse(c.key());
    EXPECT_EQ(back, c) << c.key();
  }
}

TEST(TileConfig, InvalidKeysNameTheField) {
  auto expect = [](std::string_view key, std::string_view field) {
    try {
      TileConfig::parse(key);
      ADD_FAILURE() << "no error for " << key;
    } catch (const SpecError& e) {
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << key << ": " << e.what();
    }
  };
  expect("bm64_bn64_w4", "config key");
  expect("bmx_bn64_w4_s2", "block_m");
  expect("bm64_bn0_w4_s2", "block_n");
  expect("bm64_bn64_x4_s2", "warps");
  expect("bm64_bn64_w4_s-1", "stages");
  expect("bm64_bn64_w4_s2_v8_sp2", "out-of-order");   // canonical order only: one key per config
  expect("bm64_bn64_w4_s2_sp2_sp4", "out-of-order");  // each knob at most once
  expect("bm64_bn64_w4_s2_zz3", "unexpected");
  expect("bm64_bn64_w4_s2_ps1_pp1", "out-of-order");
  expect("bm64_bn64_w4_s2_wg2_ov0", "overlap");
}

}  // namespace
}  // namespace attnjit
