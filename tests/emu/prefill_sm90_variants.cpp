// ALiBi and attention sinks in templates/prefill/sm90.cuh, run on the sm90 emulator against the
// float64 reference (emu/prefill_sm90_emu_run.h: 2x a same-precision baseline that applies the
// same bias / sink, plus one ulp; O and LSE poisoned first; fully masked rows O = 0 exactly and,
// with sinks, LSE = the sink). ALiBi's per-register positions are checked in every main loop the
// template has (plain, the intra-warpgroup overlap, three consumers, the persistent kernel with O
// in its own buffer, order 1's pass-through) with uneven lengths, GQA and per-batch slopes;
// sinks with rows that see no key. Registered with the ctest label `variants`.
#include "emu/prefill_sm90_emu_run.h"

namespace attnjit {
namespace {

using namespace emu90;
template <class M>
using Al = variants::WithAlibi<M>;
template <class M>
using Sk = variants::WithSink<M>;
struct Cap20 {
  static constexpr float kValue = 20.f;
};

// The case the Cap20 kernels run (the reference caps at the same c).
PrefillCase capped(PrefillCase c) {
  c.softcap = Cap20::kValue;
  return c;
}

void expect_masked(const EmuOut& r, const PrefillCase& c, int64_t min_masked_rows) {
  EXPECT_TRUE(r.report.ok) << c.name() << "\n" << r.report.message;
  EXPECT_GE(r.report.masked_rows, min_masked_rows) << c.name();
}

TEST(PrefillSm90EmuVariants, AlibiMatchesReference) {
  // Causal, uneven lengths cutting the 128-row and 128-key tiles, GQA 2 over 2 batches with
  // per-batch slopes.
  expect_ok<T<sm90::Bf16, 64, 128, 2, Al<MaskCausal>>>(
      PrefillCase::make(DType::BF16, 64, causal(), 200, 130, 2, 4, 2).with_alibi(true));
  // No mask, more keys than queries (bottom-right positions), the overlapped main loop.
  expect_ok<T<sm90::F16, 128, 64, 2, Al<MaskNone>, 2, true, true>>(
      PrefillCase::make(DType::F16, 128, {}, 70, 200, 1, 2, 1).with_alibi());
  // Under soft-capping (the bias goes on the capped score), a window, ping-pong off.
  expect_ok<T<sm90::Bf16, 128, 128, 2, Al<variants::SoftCapped<Win40_24, Cap20>>, 2, false>>(
      capped(PrefillCase::make(DType::BF16, 128, window(40, 24), 150, 170, 1, 2, 1).with_alibi()));
}

TEST(PrefillSm90EmuVariants, AlibiInEveryMainLoop) {
  // Three consumer warpgroups (192-row tiles), with seqlen_q > seqlen_k: fully masked rows.
  const PrefillCase c3 = PrefillCase::make(DType::BF16, 64, causal(), 250, 150, 1, 2, 1).with_alibi();
  expect_masked(run<T<sm90::Bf16, 64, 128, 2, Al<MaskCausal>, 3>>(c3), c3, 2 * (250 - 150));
  // The persistent kernel with O in its own buffer, more tiles than blocks.
  const PrefillCase cp = PrefillCase::make(DType::F16, 64, causal(), 300, 300, 2, 2, 1).with_alibi(true);
  expect_masked(run<T<sm90::F16, 64, 64, 2, Al<MaskCausal>, 2, true, true, true, true>>(cp, emu::Order::Forward, 3), cp,
                0);
  // Order 1: consumers pass through the key tiles their rows cannot see.
  expect_ok<T<sm90::Bf16, 64, 128, 2, Al<MaskCausal>, 3, true, false, false, false, true>>(
      PrefillCase::make(DType::BF16, 64, causal(), 200, 200, 1, 2, 1).with_alibi());
}

TEST(PrefillSm90EmuVariants, SinksMatchReference) {
  // Causal with seqlen_q > seqlen_k: the first rows see no key, so O = 0 and LSE = the sink.
  const PrefillCase a = PrefillCase::make(DType::BF16, 64, causal(), 150, 33, 1, 2, 1).with_sink();
  expect_masked(run<T<sm90::Bf16, 64, 128, 2, Sk<MaskCausal>>>(a), a, 2 * (150 - 33));
  // A window [p - 16, p] with p < 0 for the first 100 rows, GQA, the overlap.
  const PrefillCase b = PrefillCase::make(DType::F16, 128, window(16, 0), 140, 40, 2, 4, 2).with_sink();
  expect_masked(run<T<sm90::F16, 128, 64, 2, Sk<Win16_0>, 2, true, true>>(b), b, 2 * 4 * 100);
}

TEST(PrefillSm90EmuVariants, AlibiWithSinksAndSoftcap) {
  expect_ok<T<sm90::Bf16, 128, 128, 2, Sk<Al<variants::SoftCapped<MaskNone, Cap20>>>>>(
      capped(PrefillCase::make(DType::BF16, 128, {}, 130, 150, 2, 2, 1).with_alibi(true).with_sink()));
}

}  // namespace
}  // namespace attnjit
