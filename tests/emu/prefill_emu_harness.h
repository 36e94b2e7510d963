// Runs templates/prefill/sm80.cuh on the CPU emulator for a PrefillCase (tests/common/
// gpu_test_util.h) and checks it against the float64 reference with the same rules as the GPU
// tests: inputs rounded to the dtype, O and LSE poisoned with NaN bytes, max abs error at most
// 2x that of a same-precision straightforward implementation (P rounded to the dtype before
// P·V) plus one dtype ulp at 0.3, exact O = 0 / LSE = -inf for fully masked rows.
//
// The kernel is chosen exactly as the runtime would: codegen's select_template / default_config
// (or a given config) / render / geometry for an sm_80 target. render()'s NVRTC name expression
// must equal the name of one of the Traits instantiations compiled into this test (PrefillKernels
// below), which also checks that codegen maps specs and configs to the template arguments the
// test expects.
#pragma once

#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <type_traits>

#include "codegen/prefill/arguments.h"
#include "codegen/kernel_template.h"
#include "codegen/registry.h"
#include "codegen/variant.h"
#include "common/gpu_test_util.h"
#include "emu/emu_runtime.h"
#include "emu/host_block_mask.h"
// From the shadow folder (tests/emu/emu_shadow.cmake): the real kernel, emulated PTX helpers.
#include "prefill/sm80.cuh"

namespace attnjit::emu_test {

// What the sm80 emulator tests name most (`using namespace sm80_vocab;`): the case builders and
// the element and mask types.
namespace sm80_vocab {
using testing::causal;
using testing::make_case;
using testing::PrefillCase;
using testing::window;
using sm80::Bf16;
using sm80::F16;
using sm80::MaskCausal;
using sm80::MaskNone;
}  // namespace sm80_vocab

template <class M>
struct MaskName;
template <>
struct MaskName<sm80::MaskNone> {
  static std::string get() { return "attnjit::sm80::MaskNone"; }
};
template <>
struct MaskName<sm80::MaskCausal> {
  static std::string get() { return "attnjit::sm80::MaskCausal"; }
};
template <long long L, long long R>
struct MaskName<sm80::MaskSlidingWindow<L, R>> {
  static std::string get() {
    return "attnjit::sm80::MaskSlidingWindow<" + std::to_string(L) + ", " + std::to_string(R) + ">";
  }
};

template <class M>
struct MaskName<variants::WithAlibi<M>> {
  static std::string get() { return "attnjit::variants::WithAlibi<" + MaskName<M>::get() + ">"; }
};
template <class M>
struct MaskName<variants::WithSink<M>> {
  static std::string get() { return "attnjit::variants::WithSink<" + MaskName<M>::get() + ">"; }
};

template <class M, class Cap>
struct MaskName<variants::SoftCapped<M, Cap>> {
  static std::string get() {
    return "attnjit::variants::SoftCapped<" + MaskName<M>::get() + ", attnjit_gen::Softcap>";
  }
};

// User variants: the test defines attnjit_gen::UserMods as codegen would (one per test file).
template <class M, class Mods, int kTile>
struct MaskName<variants::WithUserMods<M, Mods, kTile>> {
  static std::string get() {
    return "attnjit::variants::WithUserMods<" + MaskName<M>::get() + ", attnjit_gen::UserMods, " +
           std::to_string(kTile) + ">";
  }
};

// The NVRTC name expression of prefill_sm80_kernel<Traits>, spelled as codegen spells it.
template <class T>
std::string entry_name() {
  std::ostringstream o;
  o << "attnjit::prefill_sm80_kernel<attnjit::PrefillSm80Traits<"
    << (T::Element::kIsBf16 ? "attnjit::sm80::Bf16" : "attnjit::sm80::F16") << ", " << T::kHeadDim
    << ", " << T::kBlockM << ", " << T::kBlockN << ", " << T::kWarps << ", " << T::kStages << ", "
    << MaskName<typename T::Mask>::get() << ", " << (T::kEven ? "true" : "false");
  // codegen spells these only for varlen / paged / end-aligned kernels
  if (T::kVarlen || T::kPaged || T::kKeyTiles != 0)
    o << ", " << (T::kVarlen ? "true" : "false") << ", " << (T::kPaged ? "true" : "false");
  if (T::kKeyTiles != 0) o << ", " << T::kKeyTiles;
  o << ">>";
  return o.str();
}

// Registry key: the entry name plus, for soft-capped kernels, the cap (the prelude's
// attnjit_gen::Softcap differs per value while the name expression does not).
inline std::string registry_key(const std::string& entry, float cap) {
  return cap == 0.f ? entry : entry + " cap=" + softcap_literal(cap);
}

struct EmuKernel {
  int threads = 0;
  int smem_bytes = 0;
  std::function<void(const PrefillParams&)> body;  // one thread's execution of the kernel
};

// Registry of the instantiations a test compiles in, by entry name.
inline std::map<std::string, EmuKernel>& kernels() {
  static std::map<std::string, EmuKernel> k;
  return k;
}

template <class... Traits>
struct PrefillKernels {
  PrefillKernels() {
    (kernels().emplace(registry_key(entry_name<Traits>(), variants::softcap_of<typename Traits::Mask>()),
                       EmuKernel{Traits::kThreads, Traits::kSmemBytes,
                                 [](const PrefillParams& p) { prefill_sm80_kernel<Traits>(p); }}),
     ...);
  }
};

struct EmuRun {
  testing::CheckReport report;
  emu::Stats stats;
  std::string entry;
};

// Runs case `c` with config `cfg` (block_m == 0: the template's default) under schedule `order`.
// Errors of the setup (no such instantiation, geometry mismatch) and of the emulator (hazards,
// out-of-bounds, divergence) are returned as failed reports naming the cause.
inline EmuRun run_prefill(const testing::PrefillCase& c, TileConfig cfg = TileConfig{0},
                          emu::Order order = emu::Order::Forward) {
  EmuRun run;
  const PrefillProblem problem = c.problem();
  const ProblemSpec spec = prefill_spec(problem);
  const Target target = Target::cuda("sm_80");
  const KernelTemplate& tmpl = select_template(spec, target);
  if (cfg.block_m == 0) cfg = tmpl.default_config(spec, target);
  const KernelSource src = tmpl.render(spec, cfg, target);
  run.entry = src.entry;
  const LaunchGeometry geo = tmpl.geometry(spec, cfg, target, prefill_shape(problem));
  if (spec.softcap != 0 && src.text.find(softcap_struct(spec.softcap)) == std::string::npos)
    run.report.fail("rendered source does not declare the cap: " + softcap_struct(spec.softcap));
  const auto it = kernels().find(registry_key(src.entry, static_cast<float>(spec.softcap)));
  if (it == kernels().end()) {
    run.report.fail("no emulated instantiation of " + src.entry + " (add it to the test's list)");
    return run;
  }
  const EmuKernel& k = it->second;
  if (geo.block[0] != static_cast<unsigned>(k.threads) || geo.block[1] != 1 || geo.block[2] != 1)
    run.report.fail("geometry block " + std::to_string(geo.block[0]) + " != kernel's " +
                    std::to_string(k.threads) + " threads");
  if (geo.dynamic_smem != static_cast<unsigned>(k.smem_bytes))
    run.report.fail("geometry dynamic_smem " + std::to_string(geo.dynamic_smem) +
                    " != kernel's kSmemBytes " + std::to_string(k.smem_bytes));
  if (!run.report.ok) return run;

  testing::PrefillData x = testing::make_data(c);
  const size_t o_bytes = static_cast<size_t>(x.os.elems) * dtype_bytes(c.dtype);
  std::vector<unsigned char> o_img(o_bytes, 0xff);  // NaN in f16 / bf16
  std::vector<float> lse_img(c.with_lse ? static_cast<size_t>(x.lse_elems) : 0);
  std::memset(lse_img.data(), 0xff, lse_img.size() * sizeof(float));

  PrefillArgs a;
  a.problem = problem;
  a.q = {x.q_img.data(), x.qs.batch, x.qs.seq, x.qs.head};
  a.k = {x.k_img.data(), x.ks.batch, x.ks.seq, x.ks.head};
  a.v = {x.v_img.data(), x.ks.batch, x.ks.seq, x.ks.head};
  a.o = {o_img.data(), x.os.batch, x.os.seq, x.os.head};
  if (c.with_lse) a.lse = {lse_img.data(), x.lse_batch_stride, x.lse_head_stride};
  HostVariants variants_host;  // host memory is the emulator's device memory
  variants_host.attach(c, x, a);
  const PrefillParams params = make_prefill_params(a, Platform::Cuda);

  emu::LaunchConfig lc;
  lc.grid = {geo.grid[0], geo.grid[1], geo.grid[2]};
  lc.block = {geo.block[0], geo.block[1], geo.block[2]};
  lc.dynamic_smem = geo.dynamic_smem;
  lc.order = order;
  lc.seed = c.seed;
  lc.readable = {{x.q_img.data(), x.q_img.size()},
                 {x.k_img.data(), x.k_img.size()},
                 {x.v_img.data(), x.v_img.size()}};
  if (!variants_host.slopes_sinks.empty())
    lc.readable.push_back({variants_host.slopes_sinks.data(), variants_host.slopes_sinks.size() * sizeof(float)});
  try {
    run.stats = emu::launch(lc, attnjit::smem, [&] { k.body(params); });
  } catch (const emu::EmuError& e) {
    run.report.fail(std::string("emulator: ") + e.what());
    return run;
  }
  run.report = testing::check_outputs(x, testing::reference_outputs(x),
                                      testing::baseline_outputs(x), o_img, lse_img);
  return run;
}

}  // namespace attnjit::emu_test
