// templates/prefill/sm90.cuh (warp-specialised TMA + wgmma) run on the sm90 emulator and compared
// with the float64 reference under the same rules as the sm80 emulator tests
// (testing::check_outputs: O within 2x a same-precision baseline + one ulp at 0.3, LSE, exact
// O = 0 / LSE = -inf for fully masked rows). The tensor maps are built by codegen's host code
// (make_prefill_sm90_params) through the emulator's cuTensorMapEncodeTiled, so the encoder seam,
// the map shapes and the kernel's shared layouts are checked together.
//
// Covers: f16/bf16, head dims 64 and 128, masks none / causal / sliding window (bottom-right),
// uneven lengths that cut the 128-row and block_n tiles, fully masked rows, seqlen_q < and >
// seqlen_k, GQA with batches, and the BHSD layout; plus a second schedule order giving the same
// bits, and a refused map (no encoder) reported with the reason.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstring>

#include "codegen/prefill/arguments.h"
#include "codegen/prefill/sm90_tensor_maps.h"
#include "common/gpu_test_util.h"
#include "emu/emu_runtime.h"
#include "emu/sm90_tma.h"
// From the shadow folder (tests/emu/emu_shadow_sm90.cmake): the real kernel, emulated helpers.
#include "prefill/sm90.cuh"

EMU_DEFINE_DYNAMIC_SMEM(attnjit, unsigned char, sm90_smem)

namespace attnjit {
namespace {

using testing::causal;
using testing::make_case;
using testing::PrefillCase;
using testing::window;
static_assert(sizeof(PrefillSm90Params) == sizeof(PrefillSm90HostParams) &&
                  offsetof(PrefillSm90Params, p) == offsetof(PrefillSm90HostParams, p),
              "host and kernel parameter layouts differ");

template <class E, int D, int BN, int S, class M>
using T = PrefillSm90Traits<E, D, BN, S, M>;
using sm80::MaskCausal;
using sm80::MaskNone;
using Win40_24 = sm80::MaskSlidingWindow<40, 24>;
using Win16_0 = sm80::MaskSlidingWindow<16, 0>;

struct EmuOut {
  testing::CheckReport report;
  std::vector<unsigned char> o_img;
};

template <class Traits>
EmuOut run(const PrefillCase& c, emu::Order order = emu::Order::Forward) {
  EmuOut r;
  testing::PrefillData x = testing::make_data(c);
  r.o_img.assign(static_cast<size_t>(x.os.elems) * dtype_bytes(c.dtype), 0xff);  // NaN poison
  std::vector<float> lse_img(static_cast<size_t>(x.lse_elems));
  std::memset(lse_img.data(), 0xff, lse_img.size() * sizeof(float));
  PrefillArgs a;
  a.problem = c.problem();
  a.q = {x.q_img.data(), x.qs.batch, x.qs.seq, x.qs.head};
  a.k = {x.k_img.data(), x.ks.batch, x.ks.seq, x.ks.head};
  a.v = {x.v_img.data(), x.ks.batch, x.ks.seq, x.ks.head};
  a.o = {r.o_img.data(), x.os.batch, x.os.seq, x.os.head};
  a.lse = {lse_img.data(), x.lse_batch_stride, x.lse_head_stride};
  set_tensor_map_encoder(&emu::sm90::encode_tiled);
  const PrefillSm90HostParams host =
      make_prefill_sm90_params(make_prefill_params(a, Platform::Cuda), c.dtype, Traits::kHeadDim,
                               Traits::kBlockN);
  alignas(64) static PrefillSm90Params params;
  std::memcpy(static_cast<void*>(&params), &host, sizeof params);

  emu::LaunchConfig lc;
  lc.grid = {static_cast<unsigned>((c.seqlen_q + Traits::kBlockM - 1) / Traits::kBlockM),
             static_cast<unsigned>(c.heads_q), static_cast<unsigned>(c.batch)};
  lc.block = {Traits::kThreads, 1, 1};
  lc.dynamic_smem = Traits::kSmemBytes;
  lc.order = order;
  lc.seed = c.seed;
  const auto t0 = std::chrono::steady_clock::now();
  try {
    emu::launch(lc, attnjit::sm90_smem, [&] { prefill_sm90_kernel<Traits>(params); });
  } catch (const emu::EmuError& e) {
    r.report.fail(std::string("emulator: ") + e.what());
    return r;
  }
  r.report = testing::check_outputs(x, testing::reference_outputs(x), testing::baseline_outputs(x),
                                    r.o_img, lse_img);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[emu sm90] %-44s bn%d s%d O err %.2e (tol %.2e) LSE err %.2e %.0f ms\n",
              c.name().c_str(), Traits::kBlockN, Traits::kStages, r.report.o_err, r.report.o_tol,
              r.report.lse_err, ms);
  return r;
}

template <class Traits>
void expect_ok(const PrefillCase& c) {
  const EmuOut r = run<Traits>(c);
  EXPECT_TRUE(r.report.ok) << c.name() << "\n" << r.report.message;
}


TEST(PrefillSm90Emu, Hd64NoMaskUnevenLengths) {
  expect_ok<T<sm90::Bf16, 64, 128, 2, MaskNone>>(make_case(DType::BF16, 64, {}, 200, 130));
  expect_ok<T<sm90::F16, 64, 64, 2, MaskNone>>(make_case(DType::F16, 64, {}, 17, 200));
}

TEST(PrefillSm90Emu, Hd64CausalWithFullyMaskedRowsAndMoreKeys) {
  // Bottom-right: with seqlen_q > seqlen_k the first rows see no key (O = 0, LSE = -inf).
  expect_ok<T<sm90::F16, 64, 128, 2, MaskCausal>>(make_case(DType::F16, 64, causal(), 200, 17));
  expect_ok<T<sm90::Bf16, 64, 128, 2, MaskCausal>>(make_case(DType::BF16, 64, causal(), 70, 200));
}

TEST(PrefillSm90Emu, Hd64SlidingWindow) {
  expect_ok<T<sm90::F16, 64, 128, 2, Win40_24>>(make_case(DType::F16, 64, window(40, 24), 200, 127));
}

TEST(PrefillSm90Emu, Hd128AllMasks) {
  expect_ok<T<sm90::Bf16, 128, 128, 2, MaskNone>>(make_case(DType::BF16, 128, {}, 130, 200));
  expect_ok<T<sm90::F16, 128, 128, 2, MaskCausal>>(make_case(DType::F16, 128, causal(), 127, 200));
  expect_ok<T<sm90::Bf16, 128, 64, 3, Win16_0>>(make_case(DType::BF16, 128, window(16, 0), 200, 150));
}

TEST(PrefillSm90Emu, GqaBatchesAndBhsdLayout) {
  PrefillCase c = make_case(DType::BF16, 64, causal(), 70, 90, /*b=*/2, /*hq=*/4, /*hkv=*/2);
  expect_ok<T<sm90::Bf16, 64, 128, 2, MaskCausal>>(c);
  c.layout = testing::Layout::BHSD;
  expect_ok<T<sm90::Bf16, 64, 128, 2, MaskCausal>>(c);
}

TEST(PrefillSm90Emu, ScheduleOrderDoesNotChangeTheBits) {
  const PrefillCase c = make_case(DType::F16, 64, window(40, 24), 150, 150);
  using K = T<sm90::F16, 64, 64, 2, Win40_24>;
  const EmuOut a = run<K>(c, emu::Order::Forward), b = run<K>(c, emu::Order::Reverse);
  EXPECT_TRUE(a.report.ok) << a.report.message;
  EXPECT_EQ(a.o_img, b.o_img);
}

TEST(PrefillSm90Emu, WithoutAnEncoderTheMapsAreRefusedWithTheReason) {
  set_tensor_map_encoder(nullptr);
  PrefillParams p{};
  try {
    make_prefill_sm90_params(p, DType::BF16, 64, 128);
    FAIL() << "expected SpecError";
  } catch (const SpecError& e) {
    EXPECT_NE(std::string(e.what()).find("cuTensorMapEncodeTiled"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace attnjit
