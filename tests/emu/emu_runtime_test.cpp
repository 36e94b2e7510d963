// The emulator itself: its PTX instructions against plain matrix products and the PTX ISA's
// documented bit layouts, and its hazard checks against deliberately broken tiny kernels (each
// must be reported, or the kernel tests' silence would mean nothing).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "emu/cuda_shim.h"

namespace {

using emu::Half16;

alignas(128) unsigned char g_smem[emu::kMaxDynamicSmem];  // launch() wants the full size

emu::LaunchConfig one_block(unsigned threads, size_t smem, emu::Order order = emu::Order::Forward) {
  emu::LaunchConfig c;
  c.block = {threads, 1, 1};
  c.dynamic_smem = smem;
  c.order = order;
  return c;
}

unsigned sh(const void* p) { return emu::cvta_to_shared(p, g_smem); }
int lane() { return static_cast<int>(threadIdx.x % 32); }
int tid() { return static_cast<int>(threadIdx.x); }

TEST(EmuPtx, CvtPacksFirstSourceIntoTheUpperHalf) {
  // cvt.rn.f16x2.f32 d, a, b: d = {a (bits 16..31), b (bits 0..15)}. f16 1.0 = 0x3c00, 2.0 = 0x4000.
  EXPECT_EQ(emu::cvt_rn_x2(Half16::F16, 1.f, 2.f), 0x3c004000u);
  // bf16 1.0 = 0x3f80, -2.0 = 0xc000; 1 + 2^-8 is a tie that rounds to even (1.0).
  EXPECT_EQ(emu::cvt_rn_x2(Half16::BF16, -2.f, 1.00390625f), 0xc0003f80u);
  EXPECT_EQ(emu::cvt_rn_x2(Half16::F16, 70000.f, -0.f), 0x7c008000u);  // overflow -> inf
}

TEST(EmuPtx, Ex2FlushesSubnormalsAndMapsMinusInfinityToZero) {
  EXPECT_EQ(emu::ex2_approx_ftz(-INFINITY), 0.f);
  EXPECT_EQ(emu::ex2_approx_ftz(3.f), 8.f);
  EXPECT_EQ(emu::ex2_approx_ftz(-140.f), 0.f);  // 2^-140 is subnormal in f32
  EXPECT_EQ(emu::ex2_approx_ftz(1e-40f), 1.f);  // subnormal input reads as 0
}

// A (16x16, row-major) and B (16x8) in shared memory, loaded with ldmatrix the standard way,
// multiplied with mma; D must equal the matrix product at the C-fragment positions. B is loaded
// both from an [n][k] tile (plain ldmatrix) and from a [k][n] tile (ldmatrix.trans), so the
// ldmatrix, .trans and mma layouts are checked against each other and against A * B.
void check_ldmatrix_mma(Half16 type) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd;
  uint16_t A[16][16], Bkn[16][8];
  for (auto& r : A)
    for (auto& x : r) x = emu::float_to_half(type, nd(rng));
  for (auto& r : Bkn)
    for (auto& x : r) x = emu::float_to_half(type, nd(rng));
  double want[16][8];
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 8; ++j) {
      want[i][j] = 0.25 * (i - j);  // the C input
      for (int k = 0; k < 16; ++k)
        want[i][j] += double(emu::half_to_float(type, A[i][k])) * emu::half_to_float(type, Bkn[k][j]);
    }
  auto* sa = reinterpret_cast<uint16_t*>(g_smem);          // [16][16]
  auto* sbt = reinterpret_cast<uint16_t*>(g_smem + 512);   // [8][16]: B as [n][k]
  auto* sb = reinterpret_cast<uint16_t*>(g_smem + 768);    // [16][8]: B as [k][n]
  std::vector<double> got_plain(256), got_trans(256);
  const auto stats = emu::launch(one_block(32, 1024), g_smem, [&] {
    const int l = lane();
    if (l == 0) {
      for (int i = 0; i < 16; ++i)
        for (int k = 0; k < 16; ++k) sa[i * 16 + k] = A[i][k];
      for (int k = 0; k < 16; ++k)
        for (int n = 0; n < 8; ++n) {
          sbt[n * 16 + k] = Bkn[k][n];
          sb[k * 8 + n] = Bkn[k][n];
        }
    }
    __syncwarp();
    // A: matrices (rows 0-7, k 0-7), (rows 8-15, k 0-7), (rows 0-7, k 8-15), (rows 8-15, k 8-15).
    unsigned a[4];
    emu::ldmatrix_x4(a, sh(sa + (l % 16) * 16 + (l / 16) * 8), false);
    // B from [n][k]: matrices (n 0-7, k 0-7), (n 0-7, k 8-15); lanes 16-31 repeat them.
    unsigned b[4];
    emu::ldmatrix_x4(b, sh(sbt + (l % 8) * 16 + ((l / 8) % 2) * 8), false);
    // B from [k][n] with .trans: matrices (k 0-7), (k 8-15).
    unsigned bt[4];
    emu::ldmatrix_x4(bt, sh(sb + (l % 16) * 8), true);
    const int g = l / 4, t = l % 4;
    float c1[4], c2[4];
    for (int i = 0; i < 4; ++i) c1[i] = c2[i] = 0.25f * ((i < 2 ? g : g + 8) - (2 * t + i % 2));
    emu::mma_m16n8k16(type, c1, a, b[0], b[1]);
    emu::mma_m16n8k16(type, c2, a, bt[0], bt[1]);
    for (int i = 0; i < 4; ++i) {
      const int row = i < 2 ? g : g + 8, col = 2 * t + i % 2;
      got_plain[row * 8 + col] = c1[i];
      got_trans[row * 8 + col] = c2[i];
    }
  });
  EXPECT_EQ(stats.collectives, 6u);
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 8; ++j) {
      EXPECT_NEAR(got_plain[i * 8 + j], want[i][j], 1e-5) << i << "," << j;
      EXPECT_NEAR(got_trans[i * 8 + j], want[i][j], 1e-5) << i << "," << j;
    }
}

TEST(EmuPtx, LdmatrixAndMmaComputeAMatrixProductF16) { check_ldmatrix_mma(Half16::F16); }
TEST(EmuPtx, LdmatrixAndMmaComputeAMatrixProductBf16) { check_ldmatrix_mma(Half16::BF16); }

TEST(EmuWarp, ShufflesReadTheNamedLane) {
  std::vector<int> x(64), y(64);
  emu::launch(one_block(64, 0, emu::Order::Shuffle), g_smem, [&] {
    const int me = tid();
    x[me] = __shfl_xor_sync(0xffffffffu, me * 10, 5);
    y[me] = __shfl_sync(0xffffffffu, me, 31 - lane());
  });
  for (int i = 0; i < 64; ++i) {
    EXPECT_EQ(x[i], ((i & ~31) + ((i % 32) ^ 5)) * 10);
    EXPECT_EQ(y[i], (i & ~31) + 31 - i % 32);
  }
}

TEST(EmuAsync, ZeroFillAndCompletionAtWait) {
  alignas(16) unsigned char src[32];
  for (int i = 0; i < 32; ++i) src[i] = static_cast<unsigned char>(i + 1);
  auto cfg = one_block(32, 64);
  cfg.readable = {{src, sizeof src}};
  emu::launch(cfg, g_smem, [&] {
    if (tid() == 0) {
      emu::block().cp_async16(sh(g_smem), src, false);
      emu::block().cp_async16(sh(g_smem + 16), src + 16, true);  // src-size 0: zeros
      emu::block().cp_async_commit();
#if !defined(ATTNJIT_EMU_ASAN)  // there a read of an in-flight copy is an ASan report (EmuAsan)
      EXPECT_EQ(g_smem[0], 0xff);  // in flight: poisoned, not yet the data
#endif
      emu::block().cp_async_wait(0);
      EXPECT_EQ(g_smem[0], 1);
      EXPECT_EQ(g_smem[15], 16);
      EXPECT_EQ(g_smem[16], 0);
      EXPECT_EQ(g_smem[32], 0xff);  // never written: still poison
    }
  });
}

// A broken kernel must make launch() throw EmuError mentioning `what`.
void expect_emu_error(const emu::LaunchConfig& cfg, const std::function<void()>& body,
                      const std::string& what) {
  try {
    emu::launch(cfg, g_smem, body);
    ADD_FAILURE() << "no EmuError; expected one about: " << what;
  } catch (const emu::EmuError& e) {
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

TEST(EmuHazards, LdmatrixOfAnInFlightCopy) {
  alignas(16) static unsigned char src[16 * 32];
  auto cfg = one_block(32, 512);
  cfg.readable = {{src, sizeof src}};
  expect_emu_error(cfg, [&] {
    emu::block().cp_async16(sh(g_smem + 16 * lane()), src + 16 * lane(), false);
    emu::block().cp_async_commit();
    unsigned r[4];
    emu::ldmatrix_x4(r, sh(g_smem + 16 * lane()), false);  // no wait_group
  }, "in flight");
}

TEST(EmuHazards, LdmatrixOfAnotherWarpsCopyWithoutBarrier) {
  // Warp 1 copies rows 0..31 and waits for them; warp 0 reads them. Reverse order runs warp 1's
  // wait first, so only the missing barrier is wrong.
  alignas(16) static unsigned char src[16 * 32];
  auto cfg = one_block(64, 1024, emu::Order::Reverse);
  cfg.readable = {{src, sizeof src}};
  auto body = [&](bool publish) {
    if (tid() >= 32) emu::block().cp_async16(sh(g_smem + 16 * lane()), src + 16 * lane(), false);
    emu::block().cp_async_commit();
    __syncthreads();
    emu::block().cp_async_wait(0);
    if (publish) __syncthreads();
    if (tid() < 32) {
      unsigned r[4];
      emu::ldmatrix_x4(r, sh(g_smem + 16 * lane()), false);
    }
  };
  expect_emu_error(cfg, [&] { body(false); }, "no __syncthreads");
  emu::launch(cfg, g_smem, [&] { body(true); });  // with the barrier: correct
}

TEST(EmuHazards, CopyOverwritingWhatAnotherWarpReadSinceTheBarrier) {
  alignas(16) static unsigned char src[16 * 64];
  auto cfg = one_block(64, 1024);
  cfg.readable = {{src, sizeof src}};
  expect_emu_error(cfg, [&] {
    unsigned r[4];
    emu::ldmatrix_x4(r, sh(g_smem + 16 * (tid() % 32)), false);  // both warps read rows 0..31
    emu::block().cp_async16(sh(g_smem + 16 * tid()), src, false);  // no barrier first
  }, "write-after-read");
}

TEST(EmuHazards, OutOfBoundsGlobalReadAndSharedAddress) {
  alignas(16) static unsigned char src[64];
  auto cfg = one_block(32, 256);
  cfg.readable = {{src, 32}};
  expect_emu_error(cfg, [&] { emu::block().cp_async16(sh(g_smem), src + 32, false); },
                   "outside every input buffer");
  expect_emu_error(cfg, [&] { emu::block().cp_async16(emu::kSharedBase + 256, src, false); },
                   "outside the block's");
}

TEST(EmuHazards, DivergentCollectivesAndBarriersAfterExit) {
  expect_emu_error(one_block(32, 0), [] {
    if (lane() < 16)
      __syncwarp();
    else
      (void)__shfl_xor_sync(0xffffffffu, 1, 1);
  }, "divergent");
  expect_emu_error(one_block(64, 0), [] {
    if (tid() < 32) return;
    __syncthreads();
  }, "exited");
  expect_emu_error(one_block(32, 0), [] {
    if (lane() == 3) return;
    __syncwarp();
  }, "exited");
}

}  // namespace

// Under AddressSanitizer (scripts/sanitize.sh address emu) the shared buffer past the launch's
// dynamic shared memory and chunks with a copy in flight are poisoned: a plain load there is
// reported (ASan: use-after-poison), as compute-sanitizer memcheck reports an out-of-bounds one.
TEST(EmuAsan, PlainLoadsPastTheSharedMemoryOrOfInFlightCopiesAreReported) {
#if defined(ATTNJIT_EMU_ASAN)
  EXPECT_DEATH(emu::launch(one_block(32, 256), g_smem, [] {
    volatile unsigned char* s = g_smem;
    (void)s[256 + tid()];
  }), "use-after-poison");
  emu::launch(one_block(32, 256), g_smem, [] { g_smem[255 - tid()] = 1; });  // in bounds: fine
  // A chunk with a cp.async in flight, read before cp.async.wait_group (value unused).
  alignas(16) static unsigned char src[16];
  EXPECT_DEATH(emu::launch(one_block(32, 512), g_smem, [] {
    emu::block().cp_async16(sh(g_smem + 16 * tid()), src, false);
    emu::block().cp_async_commit();
    volatile unsigned char* s = g_smem;
    (void)s[16 * tid()];
  }), "use-after-poison");
  emu::launch(one_block(32, 512), g_smem, [] {  // after the wait: fine
    emu::block().cp_async16(sh(g_smem + 16 * tid()), src, false);
    emu::block().cp_async_commit();
    emu::block().cp_async_wait(0);
    volatile unsigned char* s = g_smem;
    (void)s[16 * tid()];
  });
  volatile unsigned char* after = g_smem + 256;
  *after = 1;  // unpoisoned again once the launch returns
  EXPECT_EQ(*after, 1);
#else
  GTEST_SKIP() << "needs an AddressSanitizer build (scripts/sanitize.sh address emu)";
#endif
}
