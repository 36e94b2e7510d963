// The persistent sm90 tile order (templates/prefill/sm90_scheduler.h), walked exactly as the
// kernel walks it (block b takes tiles b, b + grid, ...): every (query tile, batch, head) exactly
// once for any grid; causal tiles longest first inside each L2 section; sections made of whole
// GQA groups and sized by the L2 budget.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "templates/prefill/sm90_scheduler.h"

namespace attnjit {
namespace {

TEST(Sm90Scheduler, EveryTileExactlyOnceAndLongestFirstPerSection) {
  std::mt19937 rng(16);
  for (int trial = 0; trial < 400; ++trial) {
    const int num_m = 1 + static_cast<int>(rng() % 9), batch = 1 + static_cast<int>(rng() % 4);
    const int group = 1 << (rng() % 3), heads_q = group * (1 + static_cast<int>(rng() % 5));
    const long long kv = 1 + rng() % 1000, l2 = 1 + rng() % 4000;
    const Sm90TileSched s = make_sm90_tile_sched(num_m, batch, heads_q, group, kv, l2);
    ASSERT_EQ(s.total, num_m * batch * heads_q);
    ASSERT_GE(s.swizzle, 1);
    ASSERT_LE(s.swizzle, s.num_bh);
    EXPECT_TRUE(s.swizzle % group == 0 || s.swizzle == s.num_bh) << "a GQA group split across sections";
    const int grid = 1 + static_cast<int>(rng() % (s.total + 3));
    for (bool longest_first : {true, false}) {
      std::vector<int> seen(static_cast<size_t>(s.total), 0);
      for (int b = 0; b < grid; ++b)
        for (int i = b; i < s.total; i += grid) {
          int m, bh;
          sm90_tile_at(s, i, longest_first, m, bh);
          ASSERT_TRUE(m >= 0 && m < num_m && bh >= 0 && bh < s.num_bh) << i;
          ++seen[static_cast<size_t>(bh * num_m + m)];
        }
      for (size_t t = 0; t < seen.size(); ++t)
        ASSERT_EQ(seen[t], 1) << "tile " << t << " of " << s.total << " (grid " << grid << ", swizzle "
                              << s.swizzle << ")";
      // In the order itself: within a section the query tile never increases (longest first for
      // causal: higher tiles see more keys), and the sections go by (batch, head).
      int prev_m = -1, prev_section = -1;
      for (int i = 0; i < s.total; ++i) {
        int m, bh;
        sm90_tile_at(s, i, longest_first, m, bh);
        const int section = bh / s.swizzle;
        if (section == prev_section) {
          if (longest_first) EXPECT_LE(m, prev_m) << i;
          else EXPECT_GE(m, prev_m) << i;
        } else {
          EXPECT_EQ(section, prev_section + 1) << i;
          EXPECT_EQ(m, longest_first ? num_m - 1 : 0) << i;
        }
        prev_m = m;
        prev_section = section;
      }
    }
  }
}

TEST(Sm90Scheduler, SectionsFitTheL2Budget) {
  // 8 MB of K+V per KV head, 32 MB of L2: 4 KV heads per section, GQA 4: 16 query heads.
  const Sm90TileSched s = make_sm90_tile_sched(8, 2, 32, 4, 8ll << 20, 32ll << 20);
  EXPECT_EQ(s.swizzle, 16);
  // Heads bigger than the budget: one GQA group per section.
  EXPECT_EQ(make_sm90_tile_sched(8, 1, 16, 2, 64ll << 20, 32ll << 20).swizzle, 2);
  // Everything fits: one section.
  EXPECT_EQ(make_sm90_tile_sched(8, 3, 4, 1, 1 << 10, 32ll << 20).swizzle, 12);
}

}  // namespace
}  // namespace attnjit
