// Runs templates/prefill/sm90.cuh on the sm90 emulator for a PrefillCase and checks it against
// the float64 reference (testing::check_outputs: O within 2x a same-precision baseline + one ulp
// at 0.3, LSE, exact O = 0 / LSE = -inf, or the sink, for fully masked rows). The tensor maps are
// built by codegen's host code (make_prefill_sm90_params) through the emulator's
// cuTensorMapEncodeTiled, so the encoder seam, the map shapes and the kernel's shared layouts are
// checked together. Score variants (ALiBi slopes, sinks) and user variants (aux tensors, the block
// mask) are attached as the runtime does. One
// translation unit per executable includes it (it defines the kernel's dynamic shared memory).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <cstdio>
#include <cstring>

#include "codegen/prefill/arguments.h"
#include "codegen/prefill/sm90_tensor_maps.h"
#include "common/gpu_test_util.h"
#include "emu/emu_runtime.h"
#include "emu/host_block_mask.h"
#include "emu/sm90_tma.h"
// From the shadow folder (tests/emu/emu_shadow_sm90.cmake): the real kernel, emulated helpers.
#include "prefill/sm90.cuh"

EMU_DEFINE_DYNAMIC_SMEM(attnjit, unsigned char, sm90_smem)

namespace attnjit::emu90 {

using testing::causal;
using testing::make_case;
using testing::PrefillCase;
using testing::window;
static_assert(sizeof(PrefillSm90Params) == sizeof(PrefillSm90HostParams) &&
                  offsetof(PrefillSm90Params, p) == offsetof(PrefillSm90HostParams, p) &&
                  offsetof(PrefillSm90Params, sched) == offsetof(PrefillSm90HostParams, sched),
              "host and kernel parameter layouts differ");

template <class E, int D, int BN, int S, class M, int WG = 2, bool PP = true, bool OV = false, bool PS = false,
          bool SO = false, bool PU = false, bool VL = false, bool PG = false, bool NS = false>
using T = PrefillSm90Traits<E, D, BN, S, M, WG, PP, OV, PS, SO, PU, VL, PG, NS>;
using sm80::MaskCausal;
using sm80::MaskNone;
using Win40_24 = sm80::MaskSlidingWindow<40, 24>;
using Win16_0 = sm80::MaskSlidingWindow<16, 0>;

struct EmuOut {
  testing::CheckReport report;
  std::vector<unsigned char> o_img;
  emu::Stats stats;
};

// `blocks`: the persistent grid (0: one block per SM of a 132-SM part, capped at the tile count).
// `tweak` edits the arguments before they are checked and encoded (e.g. strides of size-1 dims).
template <class Traits>
EmuOut run(const PrefillCase& c, emu::Order order = emu::Order::Forward, unsigned blocks = 0,
           const std::function<void(PrefillArgs&)>& tweak = {}) {
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
  emu_test::HostVariants variants_host;  // host memory is the emulator's device memory
  variants_host.attach(c, x, a);
  if (tweak) tweak(a);
  set_tensor_map_encoder(&emu::sm90::encode_tiled);
  const PrefillSm90HostParams host =
      make_prefill_sm90_params(make_prefill_params(a, Platform::Cuda), c.dtype, Traits::kHeadDim,
                               Traits::kBlockM, Traits::kBlockN);
  alignas(64) static PrefillSm90Params params;
  std::memcpy(static_cast<void*>(&params), &host, sizeof params);
  const int num_m = static_cast<int>((c.seqlen_q + Traits::kBlockM - 1) / Traits::kBlockM);
  // A small L2 budget so the test's few heads still make several sections.
  params.sched = make_sm90_tile_sched(num_m, static_cast<int>(c.batch), static_cast<int>(c.heads_q),
                                      static_cast<int>(c.heads_q / c.heads_kv),
                                      4ll * c.seqlen_k * c.head_dim, 8ll * c.seqlen_k * c.head_dim);

  emu::LaunchConfig lc;
  if (Traits::kPersistent) {
    const unsigned tiles = static_cast<unsigned>(params.sched.total);
    lc.grid = {blocks ? blocks : (tiles < 132 ? tiles : 132), 1, 1};
  } else {
    lc.grid = {static_cast<unsigned>(num_m), static_cast<unsigned>(c.heads_q), static_cast<unsigned>(c.batch)};
  }
  lc.block = {Traits::kThreads, 1, 1};
  lc.dynamic_smem = Traits::kSmemBytes;
  lc.order = order;
  lc.seed = c.seed;
  const auto t0 = std::chrono::steady_clock::now();
  try {
    r.stats = emu::launch(lc, attnjit::sm90_smem, [&] { prefill_sm90_kernel<Traits>(params); });
  } catch (const emu::EmuError& e) {
    r.report.fail(std::string("emulator: ") + e.what());
    return r;
  }
  r.report = testing::check_outputs(x, testing::reference_outputs(x), testing::baseline_outputs(x),
                                    r.o_img, lse_img);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[emu sm90] %-44s wg%d bn%d s%d pp%d ov%d ps%d%s O err %.2e (tol %.2e) LSE err %.2e %.0f ms\n",
              c.name().c_str(), Traits::kConsumers, Traits::kBlockN, Traits::kStages, Traits::kPingPong,
              Traits::kOverlap, Traits::kPersistent, Traits::kNextS ? " next-S" : "", r.report.o_err, r.report.o_tol, r.report.lse_err, ms);
  return r;
}

template <class Traits>
void expect_ok(const PrefillCase& c) {
  const EmuOut r = run<Traits>(c);
  EXPECT_TRUE(r.report.ok) << c.name() << "\n" << r.report.message;
}

}  // namespace attnjit::emu90
