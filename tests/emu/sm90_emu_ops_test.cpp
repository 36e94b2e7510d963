// The sm90 emulator's instructions against values worked out by hand from the PTX ISA, and its
// hazard checks against deliberately broken tiny kernels (each must be reported as EmuError).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "sm90_primitives.cuh"  // the shadow copy: emulated helpers

EMU_DEFINE_DYNAMIC_SMEM(emu90_ops_test, unsigned char, smem)

namespace {

using namespace attnjit::sm90;
using emu::sm90::State;
using emu90_ops_test::smem;

struct Bf16 {
  static constexpr bool kIsBf16 = true;
};
struct F16 {
  static constexpr bool kIsBf16 = false;
};

emu::LaunchConfig block_of(unsigned threads, size_t bytes = 64 * 1024, emu::Order o = emu::Order::Forward) {
  emu::LaunchConfig c;
  c.block = {threads, 1, 1};
  c.dynamic_smem = bytes;
  c.order = o;
  return c;
}
void run(const emu::LaunchConfig& c, const std::function<void()>& body) { emu::launch(c, smem, body); }
int tid() { return static_cast<int>(threadIdx.x); }
unsigned base() { return smem_addr(smem); }  // 1024: the emulated shared window starts there

void put16(unsigned byte_off, uint16_t v) { std::memcpy(smem + byte_off, &v, 2); }
uint16_t bf(float f) { return attnjit::float_to_bf16(f); }

// Expects body to throw EmuError whose message contains every `needles`.
void expect_emu_error(const emu::LaunchConfig& c, const std::function<void()>& body,
                      std::initializer_list<const char*> needles) {
  try {
    run(c, body);
    ADD_FAILURE() << "no EmuError";
  } catch (const emu::EmuError& e) {
    for (const char* n : needles) EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << e.what();
  }
}

// ---- layouts, by hand from the PTX ISA ----

TEST(Sm90Layout, AccumulatorFragmentMatchesThePtxFigure) {
  // Thread 37 = warp 1, lane 5: groupID 1, thread-in-group 1.
  EXPECT_EQ(emu::sm90::acc_row(37, 0), 17);  // 16*1 + 1
  EXPECT_EQ(emu::sm90::acc_col(37, 0), 2);   // 2*1
  EXPECT_EQ(emu::sm90::acc_row(37, 2), 25);  // second register pair: row + 8
  EXPECT_EQ(emu::sm90::acc_col(37, 5), 11);  // registers 4..7 cover columns 8..15
  EXPECT_EQ(emu::sm90::acc_row(127, 63), 63);
  EXPECT_EQ(emu::sm90::acc_col(127, 63), 127);  // N = 128: last register, last column
}

TEST(Sm90Layout, SwizzlesPermuteSixteenByteChunksWithinTheirPattern) {
  // 128B: chunk c of row r (rows 128 bytes apart) lands in chunk c ^ (r % 8).
  EXPECT_EQ(emu::sm90::swizzle_addr(1024 + 3 * 128 + 2 * 16 + 6, 128), 1024u + 3 * 128 + (2 ^ 3) * 16 + 6);
  // 64B: rows 64 bytes apart; address bits 7-8 (= row / 2 % 4) flip chunk bits 4-5.
  EXPECT_EQ(emu::sm90::swizzle_addr(1024 + 5 * 64 + 1 * 16, 64), 1024u + 5 * 64 + (1 ^ 2) * 16);
  // 32B: bit 7 (= row / 4 % 2 for 32-byte rows) flips bit 4.
  EXPECT_EQ(emu::sm90::swizzle_addr(1024 + 4 * 32, 32), 1024u + 4 * 32 + 16);
  EXPECT_EQ(emu::sm90::swizzle_addr(1024 + 4 * 32 + 7, 0), 1024u + 4 * 32 + 7);
}

TEST(Sm90Layout, DescriptorFieldsRoundTrip) {
  const auto d = emu::sm90::decode_desc(make_smem_desc(0x1400, 16, 1024, Swizzle::B128), "t");
  EXPECT_EQ(d.start, 0x1400u);
  EXPECT_EQ(d.lbo, 16u);
  EXPECT_EQ(d.sbo, 1024u);
  EXPECT_EQ(d.span, 128u);
  EXPECT_EQ(emu::sm90::decode_desc(make_smem_desc(0, 0, 0, Swizzle::B32), "t").span, 32u);
}

// ---- wgmma ----

// D = A * B for m64nN with A[r][0] = r, B[0][c] = c + 1 and zeros elsewhere: D[r][c] = r (c + 1),
// so each accumulator value names its own row and column.
TEST(Sm90Wgmma, RowTimesColumnLandsWhereTheFigureSays) {
  constexpr int N = 16;
  std::vector<float> got(128 * N / 2);
  run(block_of(128), [&] {
    const unsigned a = base(), b = base() + 4096;
    if (tid() == 0) {
      std::memset(smem, 0, 16384);
      // No swizzle, K-major: core matrix = 8 rows x 16 bytes; SBO = 128 (next 8 rows), LBO =
      // 1024 (k 8..15). A row r, k 0 sits at (r/8)*128 + (r%8)*16.
      for (int r = 0; r < 64; ++r) put16((r / 8) * 128 + (r % 8) * 16, bf(static_cast<float>(r)));
      for (int c = 0; c < N; ++c) put16(4096 + (c / 8) * 128 + (c % 8) * 16, bf(static_cast<float>(c + 1)));
    }
    __syncthreads();
    WgAccum<N> d;
    wgmma_fence();
    wgmma_ss<Bf16, N, 0>(d, make_smem_desc(a, 1024, 128, Swizzle::None),
                         make_smem_desc(b, 1024, 128, Swizzle::None), false);
    wgmma_commit();
    wgmma_wait<0>();
    for (int i = 0; i < N / 2; ++i) got[static_cast<size_t>(tid() * N / 2 + i)] = d[i];
  });
  EXPECT_EQ(got[37 * 8 + 0], 17.f * 3);   // thread 37 reg 0: (row 17, col 2)
  EXPECT_EQ(got[37 * 8 + 2], 25.f * 3);   // reg 2: (row 25, col 2)
  EXPECT_EQ(got[37 * 8 + 5], 17.f * 12);  // reg 5: (row 17, col 11)
  EXPECT_EQ(got[0 * 8 + 1], 0.f);         // row 0
  EXPECT_EQ(got[127 * 8 + 7], 63.f * 16);  // (row 63, col 15)
}

// Random A and B through every layout the kernels use, against a plain product.
struct LayoutCase {
  Swizzle sw;
  unsigned span;
  bool b_mn_major;
  bool a_regs;
};

void check_random_product(const LayoutCase& lc) {
  constexpr int N = 64;
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> small(-4, 4);
  std::vector<float> A(64 * 16), B(16 * N);  // small integers: exact in bf16 and fp32 sums
  for (float& x : A) x = static_cast<float>(small(rng));
  for (float& x : B) x = static_cast<float>(small(rng));
  std::vector<float> got(128 * N / 2);
  // Hand-written placements (not the emulator's functions). Swizzled K-major: row r at r*span,
  // k at 2k bytes, chunk XOR pattern of the swizzle on the absolute address.
  auto swz = [&](unsigned addr) {
    const unsigned bits = lc.span == 32 ? 1 : lc.span == 64 ? 2 : 3;
    return lc.span ? addr ^ (((addr >> 7) & ((1u << bits) - 1)) << 4) : addr;
  };
  const unsigned a_off = 0, b_off = 16384;
  auto a_place = [&](int r, int k) -> unsigned {
    if (!lc.span) return a_off + (r / 8) * 128 + (r % 8) * 16 + (k / 8) * 1024 + (k % 8) * 2;
    return swz(1024 + a_off + (r / 8) * 8 * lc.span + (r % 8) * lc.span + k * 2) - 1024;
  };
  auto b_place = [&](int n, int k) -> unsigned {
    if (!lc.b_mn_major) {
      if (!lc.span) return b_off + (n / 8) * 128 + (n % 8) * 16 + (k / 8) * 1024 + (k % 8) * 2;
      return swz(1024 + b_off + (n / 8) * 8 * lc.span + (n % 8) * lc.span + k * 2) - 1024;
    }
    // N-major: k rows of N values; unswizzled: 8x8 core matrices (16 bytes per k row), SBO =
    // 128 between n groups, LBO = 1024 between k groups. Swizzled: span bytes of n per k row,
    // 8 k rows per atom (SBO = 8 * span), column blocks of span bytes LBO = 4096 apart.
    if (!lc.span) return b_off + (n / 8) * 128 + (n % 8) * 2 + (k % 8) * 16 + (k / 8) * 1024;
    const unsigned w = lc.span / 2;
    return swz(1024 + b_off + (n / w) * 4096 + (n % w) * 2 + (k % 8) * lc.span + (k / 8) * 8 * lc.span) - 1024;
  };
  const unsigned a_lbo = lc.span ? 16 : 1024, a_sbo = lc.span ? 8 * lc.span : 128;
  const unsigned b_lbo = lc.b_mn_major ? (lc.span ? 4096 : 1024) : a_lbo;
  const unsigned b_sbo = lc.b_mn_major ? (lc.span ? 8 * lc.span : 128) : a_sbo;
  run(block_of(128), [&] {
    if (tid() == 0) {
      std::memset(smem, 0, 32768);
      for (int r = 0; r < 64; ++r)
        for (int k = 0; k < 16; ++k) put16(a_place(r, k), bf(A[static_cast<size_t>(r * 16 + k)]));
      for (int n = 0; n < N; ++n)
        for (int k = 0; k < 16; ++k) put16(b_place(n, k), bf(B[static_cast<size_t>(k * N + n)]));
    }
    __syncthreads();
    WgAccum<N> d;
    for (int i = 0; i < N / 2; ++i) d[i] = 0.5f;  // accumulate onto 0.5
    wgmma_fence();
    const auto db = make_smem_desc(base() + b_off, b_lbo, b_sbo, lc.sw);
    if (lc.a_regs) {
      // The A fragment from the PTX figure: thread t = 32w + 4g + q holds rows 16w+g (+8),
      // k = 2q (+1) and 2q+8 (+1).
      const int t = tid(), r0 = 16 * (t / 32) + (t % 32) / 4, k0 = 2 * (t % 4);
      auto el = [&](int r, int k) { return A[static_cast<size_t>(r * 16 + k)]; };
      const unsigned a[4] = {pack_half2<Bf16>(el(r0, k0), el(r0, k0 + 1)),
                             pack_half2<Bf16>(el(r0 + 8, k0), el(r0 + 8, k0 + 1)),
                             pack_half2<Bf16>(el(r0, k0 + 8), el(r0, k0 + 9)),
                             pack_half2<Bf16>(el(r0 + 8, k0 + 8), el(r0 + 8, k0 + 9))};
      if (lc.b_mn_major)
        wgmma_rs<Bf16, N, 1>(d, a, db, true);
      else
        wgmma_rs<Bf16, N, 0>(d, a, db, true);
    } else {
      const auto da = make_smem_desc(base() + a_off, a_lbo, a_sbo, lc.sw);
      if (lc.b_mn_major)
        wgmma_ss<Bf16, N, 1>(d, da, db, true);
      else
        wgmma_ss<Bf16, N, 0>(d, da, db, true);
    }
    wgmma_commit();
    wgmma_wait<0>();
    for (int i = 0; i < N / 2; ++i) got[static_cast<size_t>(tid() * N / 2 + i)] = d[i];
  });
  for (int t = 0; t < 128; ++t)
    for (int i = 0; i < N / 2; ++i) {
      const int r = 16 * (t / 32) + (t % 32) / 4 + 8 * ((i >> 1) & 1), c = 8 * (i >> 2) + 2 * (t % 4) + (i & 1);
      float want = 0.5f;
      for (int k = 0; k < 16; ++k) want += A[static_cast<size_t>(r * 16 + k)] * B[static_cast<size_t>(k * N + c)];
      ASSERT_EQ(got[static_cast<size_t>(t * N / 2 + i)], want) << "thread " << t << " reg " << i;
    }
}

TEST(Sm90Wgmma, NoSwizzleKMajor) { check_random_product({Swizzle::None, 0, false, false}); }
TEST(Sm90Wgmma, Swizzle32KMajor) { check_random_product({Swizzle::B32, 32, false, false}); }
TEST(Sm90Wgmma, Swizzle64KMajor) { check_random_product({Swizzle::B64, 64, false, false}); }
TEST(Sm90Wgmma, Swizzle128KMajor) { check_random_product({Swizzle::B128, 128, false, false}); }
TEST(Sm90Wgmma, Swizzle128NMajorB) { check_random_product({Swizzle::B128, 128, true, false}); }
TEST(Sm90Wgmma, Swizzle64NMajorB) { check_random_product({Swizzle::B64, 64, true, false}); }
TEST(Sm90Wgmma, NoSwizzleNMajorB) { check_random_product({Swizzle::None, 0, true, false}); }
TEST(Sm90Wgmma, ARegistersSwizzle128) { check_random_product({Swizzle::B128, 128, false, true}); }
TEST(Sm90Wgmma, ARegistersNMajorB) { check_random_product({Swizzle::B128, 128, true, true}); }

TEST(Sm90Wgmma, LargestNAndF16) {
  constexpr int N = 256;
  std::vector<float> got(128);
  run(block_of(128, 96 * 1024), [&] {
    if (tid() == 0) {
      std::memset(smem, 0, 96 * 1024);
      for (int r = 0; r < 64; ++r) {
        const uint16_t one = attnjit::float_to_f16(1.f);
        std::memcpy(smem + (r / 8) * 128 + (r % 8) * 16, &one, 2);  // A[r][0] = 1
      }
      for (int c = 0; c < N; ++c) {
        const uint16_t v = attnjit::float_to_f16(static_cast<float>(c));
        std::memcpy(smem + 16384 + (c / 8) * 128 + (c % 8) * 16, &v, 2);  // B[0][c] = c
      }
    }
    __syncthreads();
    WgAccum<N> d;
    wgmma_fence();
    wgmma_ss<F16, N, 0>(d, make_smem_desc(base(), 1024, 128, Swizzle::None),
                        make_smem_desc(base() + 16384, 8192, 128, Swizzle::None), false);
    wgmma_commit();
    wgmma_wait<0>();
    got[static_cast<size_t>(tid())] = d[127];
  });
  for (int t = 0; t < 128; ++t) EXPECT_EQ(got[static_cast<size_t>(t)], 8 * 31 + 2 * (t % 4) + 1);
}

// Results appear at the wait that retires their group, not before: wait_group 1 leaves the
// newest group in flight.
TEST(Sm90Wgmma, WaitGroupRetiresOnlyOlderGroups) {
  std::vector<float> after_wait1(2), after_wait0(2);
  run(block_of(128), [&] {
    if (tid() == 0) {
      std::memset(smem, 0, 8192);
      for (int r = 0; r < 64; ++r) put16((r / 8) * 128 + (r % 8) * 16, bf(1.f));
      for (int c = 0; c < 8; ++c) put16(4096 + (c % 8) * 16, bf(2.f));
    }
    __syncthreads();
    WgAccum<8> x, y;
    const auto da = make_smem_desc(base(), 1024, 128, Swizzle::None);
    const auto db = make_smem_desc(base() + 4096, 1024, 128, Swizzle::None);
    wgmma_fence();
    wgmma_ss<Bf16, 8, 0>(x, da, db, false);
    wgmma_commit();
    wgmma_ss<Bf16, 8, 0>(y, da, db, false);
    wgmma_commit();
    wgmma_wait<1>();
    if (tid() == 0) after_wait1[0] = x[0];
    wgmma_wait<0>();
    if (tid() == 0) after_wait0[1] = y[0];
  });
  EXPECT_EQ(after_wait1[0], 2.f);
  EXPECT_EQ(after_wait0[1], 2.f);
}

// Zeroed A (at 0) and B (at 4096) tiles, published to the block.
void zero_tiles() {
  if (tid() == 0) std::memset(smem, 0, 8192);
  __syncthreads();
}
// One m64n8k16 wgmma on those tiles (B at b_off); the issuing line is the caller's.
void issue_n8(WgAccum<8>& x, bool accumulate, unsigned b_off = 4096, Loc loc = Loc::current()) {
  wgmma_ss<Bf16, 8, 0>(x, make_smem_desc(base(), 1024, 128, Swizzle::None),
                       make_smem_desc(base() + b_off, 1024, 128, Swizzle::None), accumulate, loc);
}
// Zeroed tiles, then one fenced and committed wgmma into x, not yet waited for: the state each
// defect below acts on.
void zero_and_issue(WgAccum<8>& x, unsigned b_off = 4096, Loc loc = Loc::current()) {
  zero_tiles();
  wgmma_fence();
  issue_n8(x, false, b_off, loc);
  wgmma_commit();
}

TEST(Sm90Wgmma, AccumulatorReadBeforeTheWaitNamesTheLine) {
  expect_emu_error(block_of(128), [] {
    WgAccum<8> x;
    zero_and_issue(x);
    volatile float bad = x[0];  // the defect: no wgmma_wait before the read
    (void)bad;
    wgmma_wait<0>();
  }, {"accumulator accessed at sm90_emu_ops_test.cpp:", "in flight", "missing wgmma.wait_group"});
}

TEST(Sm90Wgmma, AccumulatorWriteBeforeTheWaitIsCaught) {
  expect_emu_error(block_of(128), [] {
    zero_tiles();
    WgAccum<8> x;
    wgmma_fence();
    issue_n8(x, false);
    x[1] = 0.f;
    wgmma_commit();
    wgmma_wait<0>();
  }, {"accumulator accessed at", "wgmma issued at sm90_emu_ops_test.cpp:"});
}

TEST(Sm90Wgmma, MissingFenceAfterAccumulatorAccessIsCaught) {
  expect_emu_error(block_of(128), [] {
    zero_tiles();
    WgAccum<8> x;
    for (int i = 0; i < 4; ++i) x[i] = 0.f;
    issue_n8(x, true);
    wgmma_commit();
    wgmma_wait<0>();
  }, {"without wgmma.fence", "after the accumulator access at sm90_emu_ops_test.cpp:"});
}

TEST(Sm90Wgmma, SharedOperandOverwrittenBeforeTheWaitIsCaught) {
  expect_emu_error(block_of(128), [] {
    WgAccum<8> x;
    zero_and_issue(x);
    if (tid() == 5) put16(4096, bf(3.f));  // the defect: B rewritten while the MMA may read it
    wgmma_wait<0>();
  }, {"shared operand of the wgmma issued at", "changed before the wgmma.wait_group"});
}

TEST(Sm90Wgmma, NonUniformOperandsAndPartialWarpgroupsAreCaught) {
  expect_emu_error(block_of(128), [] {
    WgAccum<8> x;
    zero_and_issue(x, tid() == 3 ? 4112 : 4096);
    wgmma_wait<0>();
  }, {"operands differ between threads"});
  expect_emu_error(block_of(128), [] {
    if (tid() >= 64) return;  // the defect: half the warpgroup exits
    wgmma_fence();
  }, {"wgmma.fence", "warpgroup 0"});
}

TEST(Sm90Wgmma, NeverWaitedWgmmaIsReportedAtExit) {
  expect_emu_error(block_of(128), [] {
    WgAccum<8> x;
    zero_and_issue(x);
  }, {"never retired by wgmma.wait_group"});
}

// ---- mbarriers ----

TEST(Sm90Mbarrier, PhasesCompleteOnArrivalsAndTransactionBytes) {
  std::vector<int> log;
  run(block_of(64, 65536, emu::Order::Reverse), [&] {
    const unsigned bar = base();
    if (tid() == 0) mbar_init(bar, 2);
    __syncthreads();
    if (tid() == 0) {
      // Parity 1 is "the phase before phase 0": it counts as completed, so this passes at once.
      log.push_back(mbar_try_wait(bar, 1) ? 1 : 0);
      mbar_arrive_expect_tx(bar, 0);  // arrival 1 of 2
      mbar_arrive(bar);               // arrival 2: phase 0 completes
      log.push_back(mbar_try_wait(bar, 0) ? 10 : 0);
    }
    if (tid() == 32) {
      mbar_wait(bar, 0);  // blocks until thread 0 completes phase 0
      log.push_back(20);
    }
  });
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[0], 1);
  EXPECT_EQ(log[1] + log[2], 30);
}

TEST(Sm90Mbarrier, LostArriveIsADeadlockNamingTheBarrierAndWarps) {
  expect_emu_error(block_of(128), [] {
    const unsigned bar = base() + 64;
    if (tid() == 0) mbar_init(bar, 2);
    __syncthreads();
    if (tid() == 0) mbar_arrive(bar);  // only one of the two arrivals
    if (tid() >= 64) mbar_wait(bar, 0);
  }, {"deadlock", "mbarrier 0x440 parity 0", "1 of 2 arrivals pending", "warps 2 3"});
}

// A consumer warpgroup (threads 128..255) releases the B operand of its wgmma on an mbarrier (one
// arrive by its thread 0) and a producer thread (thread 0, earlier in the order, as in the
// kernels) waiting on it rewrites that operand, as a TMA refill of a K or V stage would. A plain
// arrive lets that waiter run before the arriving thread goes on, so a release placed before the
// wgmma.wait_group that retires the read is caught.
void release_then_refill(bool release_before_wait) {
  run(block_of(256), [release_before_wait] {
    const unsigned empty = base() + 16384;
    if (tid() == 0) mbar_init(empty, 1);
    zero_tiles();
    if (tid() < 128) {
      if (tid() == 0) {
        mbar_wait(empty, 0);
        put16(4096, bf(3.f));  // the refill
      }
      return;
    }
    WgAccum<8> x;
    wgmma_fence();
    issue_n8(x, false);
    wgmma_commit();
    if (release_before_wait && tid() == 128) mbar_arrive(empty);  // the defect
    wgmma_wait<0>();
    if (!release_before_wait && tid() == 128) mbar_arrive(empty);
  });
}
TEST(Sm90Mbarrier, ReleaseBeforeTheWgmmaRetiresIsCaught) {
  EXPECT_NO_THROW(release_then_refill(false));
  try {
    release_then_refill(true);
    ADD_FAILURE() << "no EmuError";
  } catch (const emu::EmuError& e) {
    EXPECT_NE(std::string(e.what()).find("changed before the wgmma.wait_group"), std::string::npos) << e.what();
  }
}

TEST(Sm90Mbarrier, TooManyArrivalsOrBytesAndUninitialisedUseAreCaught) {
  expect_emu_error(block_of(32), [] {
    if (tid() == 0) {
      mbar_init(base(), 1);
      mbar_arrive_expect_tx(base(), 16);
      mbar_arrive(base());  // phase 0 still waits for 16 bytes: a second arrival is one too many
    }
  }, {"more than its 1 arrivals"});
  expect_emu_error(block_of(32), [] {
    if (tid() == 0) mbar_arrive(base() + 8);
  }, {"used before mbarrier.init"});
}

// ---- TMA ----

alignas(64) TensorMap g_map;

TEST(Sm90Tma, EncodeChecksTheDriversArgumentRules) {
  alignas(16) static uint16_t data[64 * 64];
  const uint64_t dims[2] = {64, 64}, strides[1] = {128};
  const uint32_t box[2] = {64, 32}, es[2] = {1, 1};
  using namespace emu::sm90;
  EXPECT_EQ(encode_tiled(&g_map, kTmaBf16, 2, data, dims, strides, box, es, 0, kSwizzle128B, 0, 0), 0);
  struct Bad {
    const char* field;
    int rc;
  };
  const uint64_t odd_stride[1] = {136};
  const uint32_t box_wide[2] = {128, 32}, box_big[2] = {64, 257}, box_narrow[2] = {4, 8};
  const uint64_t zero_dim[2] = {0, 64};
  const Bad cases[] = {
      {"globalAddress", encode_tiled(&g_map, kTmaBf16, 2, reinterpret_cast<char*>(data) + 8, dims, strides, box, es, 0, 0, 0, 0)},
      {"globalStrides[0]", encode_tiled(&g_map, kTmaBf16, 2, data, dims, odd_stride, box, es, 0, 0, 0, 0)},
      {"exceeds the swizzle span", encode_tiled(&g_map, kTmaBf16, 2, data, dims, strides, box_wide, es, 0, kSwizzle128B, 0, 0)},
      {"boxDim[1]", encode_tiled(&g_map, kTmaBf16, 2, data, dims, strides, box_big, es, 0, 0, 0, 0)},
      {"multiple of 16", encode_tiled(&g_map, kTmaBf16, 2, data, dims, strides, box_narrow, es, 0, 0, 0, 0)},
      {"globalDim[0]", encode_tiled(&g_map, kTmaBf16, 2, data, zero_dim, strides, box, es, 0, 0, 0, 0)},
      {"tensorRank", encode_tiled(&g_map, kTmaBf16, 6, data, dims, strides, box, es, 0, 0, 0, 0)},
      {"tensorMap not 64-byte", encode_tiled(reinterpret_cast<char*>(&g_map) + 16, kTmaBf16, 2, data, dims, strides, box, es, 0, 0, 0, 0)},
  };
  for (const Bad& b : cases) {
    EXPECT_EQ(b.rc, kCudaErrorInvalidValue) << b.field;
  }
  // The message names the argument (checked for the last failure of each kind separately).
  encode_tiled(&g_map, kTmaBf16, 2, data, dims, odd_stride, box, es, 0, 0, 0, 0);
  EXPECT_NE(last_encode_error().find("globalStrides[0] = 136"), std::string::npos) << last_encode_error();
  encode_tiled(&g_map, kTmaBf16, 2, data, dims, strides, box_wide, es, 0, kSwizzle64B, 0, 0);
  EXPECT_NE(last_encode_error().find("256 bytes exceeds the swizzle span of 64"), std::string::npos);
}

// Loads a 64-wide bf16 box with 128B swizzle whose lower rows fall past the tensor: the shared
// image must be the swizzled rows (chunk c of row r at chunk c ^ r%8) with zeros for the rows
// outside; a store of a box hanging over the tensor's edge must write only the inside.
TEST(Sm90Tma, LoadWritesTheSwizzledImageAndZeroFillsOutOfBounds) {
  alignas(16) static uint16_t g[40 * 64];
  for (int r = 0; r < 40; ++r)
    for (int c = 0; c < 64; ++c) g[r * 64 + c] = static_cast<uint16_t>(r * 256 + c);
  const uint64_t dims[2] = {64, 40}, strides[1] = {128};
  const uint32_t box[2] = {64, 16}, es[2] = {1, 1};
  ASSERT_EQ(emu::sm90::encode_tiled(&g_map, emu::sm90::kTmaBf16, 2, g, dims, strides, box, es, 0,
                                    emu::sm90::kSwizzle128B, 0, 0), 0);
  std::vector<uint16_t> image(16 * 64);
  run(block_of(32), [&] {
    const unsigned bar = base() + 8192;
    if (tid() == 0) {
      mbar_init(bar, 1);
      mbar_arrive_expect_tx(bar, 16 * 128);
      tma_load_2d(base(), &g_map, 0, 32, bar);  // rows 32..47: 40..47 outside
      mbar_wait(bar, 0);
      std::memcpy(image.data(), smem, image.size() * 2);
    }
  });
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 64; ++c) {
      const int pos = r * 64 + ((c / 8) ^ (r % 8)) * 8 + c % 8;
      const uint16_t want = r + 32 < 40 ? static_cast<uint16_t>((r + 32) * 256 + c) : 0;
      ASSERT_EQ(image[static_cast<size_t>(pos)], want) << "row " << r << " col " << c;
    }
}

TEST(Sm90Tma, StoreDropsOutOfBoundsElementsAndNeedsTheProxyFence) {
  alignas(16) static uint16_t g[8 * 32];
  for (uint16_t& x : g) x = 0xabcd;
  const uint64_t dims[2] = {20, 8}, strides[1] = {64};
  const uint32_t box[2] = {32, 4}, es[2] = {1, 1};
  ASSERT_EQ(emu::sm90::encode_tiled(&g_map, emu::sm90::kTmaBf16, 2, g, dims, strides, box, es, 0,
                                    emu::sm90::kSwizzle64B, 0, 0), 0);
  run(block_of(32), [&] {
    if (tid() == 0) {
      for (int r = 0; r < 4; ++r)
        for (int c = 0; c < 32; ++c) {
          const unsigned lin = 1024 + static_cast<unsigned>(r * 64 + c * 2);
          put16(emu::sm90::swizzle_addr(lin, 64) - 1024, static_cast<uint16_t>(r * 100 + c));
        }
      fence_proxy_async();
      tma_store_2d(&g_map, base(), 0, 6);  // rows 6..9 of 8, columns 0..31 of 20
      tma_store_commit();
      tma_store_wait_read<0>();
    }
  });
  for (int r = 0; r < 8; ++r)
    for (int c = 0; c < 32; ++c) {
      const uint16_t want = (r >= 6 && c < 20) ? static_cast<uint16_t>((r - 6) * 100 + c) : 0xabcd;
      ASSERT_EQ(g[r * 32 + c], want) << r << "," << c;
    }
  expect_emu_error(block_of(32), [&] {
    if (tid() == 0) {
      tma_store_2d(&g_map, base(), 0, 0);  // the defect: no fence.proxy.async first
      tma_store_commit();
      tma_store_wait_read<0>();
    }
  }, {"without fence.proxy.async"});
  expect_emu_error(block_of(32), [&] {
    if (tid() == 0) {
      fence_proxy_async();
      tma_store_2d(&g_map, base(), 0, 0);
      tma_store_commit();
      put16(0, 7);  // the defect: the source is reused before wait_group.read
      tma_store_wait_read<0>();
    }
  }, {"overwritten before its cp.async.bulk.wait_group.read"});
}

TEST(Sm90Tma, ReadingATileBeforeItsBarrierCompletesIsCaught) {
  alignas(16) static uint16_t g[64 * 64] = {};
  const uint64_t dims[2] = {64, 64}, strides[1] = {128};
  const uint32_t box[2] = {64, 64}, es[2] = {1, 1};
  ASSERT_EQ(emu::sm90::encode_tiled(&g_map, emu::sm90::kTmaBf16, 2, g, dims, strides, box, es, 0,
                                    emu::sm90::kSwizzle128B, 0, 0), 0);
  expect_emu_error(block_of(128), [&] {
    const unsigned bar = base() + 16384;
    if (tid() == 0) {
      mbar_init(bar, 1);
      mbar_arrive_expect_tx(bar, 8192);
      tma_load_2d(base(), &g_map, 0, 0, bar);
    }
    __syncthreads();  // the defect: no mbar_wait before the MMA reads the tile
    WgAccum<64> s;
    wgmma_fence();
    wgmma_ss<Bf16, 64, 0>(s, make_smem_desc(base(), 16, 1024, Swizzle::B128),
                          make_smem_desc(base(), 16, 1024, Swizzle::B128), false);
    wgmma_commit();
    wgmma_wait<0>();
    mbar_wait(bar, 0);
  }, {"that a TMA load is still writing"});
  expect_emu_error(block_of(32), [&] {
    const unsigned bar = base() + 16384;
    if (tid() == 0) {
      mbar_init(bar, 1);
      mbar_arrive_expect_tx(bar, 8192);
      tma_load_2d(base() + 512, &g_map, 0, 0, bar);  // the defect: not 1024-aligned
    }
  }, {"not aligned to the 1024-byte pattern"});
}

// ---- named barriers, setmaxnreg ----

TEST(Sm90NamedBarrier, ProducerConsumerHandOffAndMisuse) {
  std::vector<int> order;
  run(block_of(128, 65536, emu::Order::Reverse), [&] {
    if (tid() < 64) {  // warps 0, 1 produce
      if (tid() == 0) order.push_back(1);
      named_bar_arrive(1, 128);
    } else {  // warps 2, 3 wait for them
      named_bar_sync(1, 128);
      if (tid() == 64) order.push_back(2);
    }
  });
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  expect_emu_error(block_of(128), [] {
    if (tid() < 64) named_bar_sync(2, 128);
  }, {"deadlock", "named barrier 2 (64 of 128 threads arrived)", "warps 0 1"});
  expect_emu_error(block_of(128), [] { named_bar_sync(3, tid() < 64 ? 128 : 96); },
                   {"used with count 96 while 64 threads wait with count 128"});
  expect_emu_error(block_of(64), [] {
    if (tid() < 32) named_bar_arrive(4, 64);
  }, {"named barrier 4 left with 32 of 64"});
  expect_emu_error(block_of(64), [] { named_bar_sync(0, 64); }, {"0 is __syncthreads"});
}

TEST(Sm90Setmaxnreg, ProducerGivesRegistersToConsumers) {
  int producer = 0, consumer = 0;
  for (emu::Order o : {emu::Order::Forward, emu::Order::Reverse}) {
    run(block_of(384, 65536, o), [&] {
      if (warpgroup_index() == 0)
        setmaxnreg_dec<24>();
      else
        setmaxnreg_inc<240>();  // waits for the producer's registers when it runs first
      if (tid() == 0) producer = State::get().regs_of(0);
      if (tid() == 128) consumer = State::get().regs_of(1);
    });
    EXPECT_EQ(producer, 24);
    EXPECT_EQ(consumer, 240);
  }
  expect_emu_error(block_of(256), [] {
    if (tid() % 128 == 5) setmaxnreg_dec<56>();
    else setmaxnreg_dec<64>();
  }, {"must be uniform"});
  expect_emu_error(block_of(384), [] {
    if (warpgroup_index() == 0) return;
    setmaxnreg_inc<256>();  // 2 x 256 + the producer's 168: more than the register file
  }, {"deadlock", "register file full"});
}

}  // namespace
