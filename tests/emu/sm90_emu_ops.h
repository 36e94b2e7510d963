// Emulated replacements of the inline-PTX helpers of templates/common/sm90_primitives.cuh, with
// their exact signatures (plus a defaulted source location, so errors name the kernel's line).
// The build (tests/emu/emu_shadow_sm90.cmake) copies that header into a shadow folder with only
// these helpers' definitions (and WgAccum) renamed away and this file included first; the
// instruction semantics live in sm90_emu.h.
#pragma once

#include <cmath>
#include <source_location>

#include "emu/cuda_shim.h"
#include "emu/sm90_emu.h"

#define __grid_constant__

namespace attnjit {
namespace sm90 {

using Loc = std::source_location;
struct TensorMap;  // defined by the shadowed sm90_primitives.cuh (128 opaque bytes)

// A register index that remembers where it was used: WgAccum's operator[] reports that line.
struct AccIndex {
  int i;
  Loc loc;
  AccIndex(int i, Loc l = Loc::current()) : i(i), loc(l) {}  // NOLINT: implicit on purpose
};

// wgmma accumulators: every access is checked against the wgmmas in flight.
template <int N>
struct WgAccum {
  static_assert(N % 8 == 0 && N >= 8 && N <= 256, "wgmma N is a multiple of 8 in [8, 256]");
  static constexpr int kRegs = N / 2;
  float reg[kRegs];
  float& operator[](AccIndex x) {
    emu::sm90::State::get().on_acc_access(this, x.loc);
    return reg[x.i];
  }
  const float& operator[](AccIndex x) const {
    emu::sm90::State::get().on_acc_access(this, x.loc);
    return reg[x.i];
  }
};

inline unsigned smem_addr(const void* p) { return emu::cvta_to_shared(p, emu::block().smem()); }

inline void wgmma_fence() { emu::sm90::State::get().wgmma_fence(); }
inline void wgmma_commit() { emu::sm90::State::get().wgmma_commit(); }
template <int N>
void wgmma_wait(Loc loc = Loc::current()) {
  emu::sm90::State::get().wgmma_wait(N, loc);
}

namespace detail {
template <class Element, int N, int kTransB>
emu::sm90::WgmmaOp wgmma_op(unsigned long long desc_a, unsigned long long desc_b, bool accumulate,
                            bool a_regs, Loc loc) {
  return {.n = N, .bf16 = Element::kIsBf16, .a_regs = a_regs, .accumulate = accumulate, .trans_b = kTransB,
          .desc_a = desc_a, .desc_b = desc_b, .loc = loc};
}
}  // namespace detail

template <class Element, int N, int kTransB>
void wgmma_ss(WgAccum<N>& d, unsigned long long desc_a, unsigned long long desc_b, bool accumulate,
              Loc loc = Loc::current()) {
  emu::sm90::State::get().wgmma_issue(
      detail::wgmma_op<Element, N, kTransB>(desc_a, desc_b, accumulate, false, loc), &d, d.reg, nullptr);
}

template <class Element, int N, int kTransB>
void wgmma_rs(WgAccum<N>& d, const unsigned (&a)[4], unsigned long long desc_b, bool accumulate,
              Loc loc = Loc::current()) {
  emu::sm90::State::get().wgmma_issue(
      detail::wgmma_op<Element, N, kTransB>(0, desc_b, accumulate, true, loc), &d, d.reg, a);
}

// asm("cvt.rn.{f16x2,bf16x2}.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo)).
template <class Element>
unsigned pack_half2(float lo, float hi) {
  return emu::cvt_rn_x2(Element::kIsBf16 ? emu::Half16::BF16 : emu::Half16::F16, hi, lo);
}

inline float exp2_approx(float x) { return emu::ex2_approx_ftz(x); }

inline void mbar_init(unsigned bar, unsigned count) { emu::sm90::State::get().mbar_init(bar, count); }
inline void fence_mbar_init() {}  // one block at a time: init is visible at once
inline void mbar_arrive(unsigned bar) { emu::sm90::State::get().mbar_arrive(bar, 0, "mbarrier.arrive", true); }
inline void mbar_arrive_expect_tx(unsigned bar, unsigned bytes) {
  emu::sm90::State::get().mbar_arrive(bar, bytes, "mbarrier.arrive.expect_tx");
}
inline bool mbar_try_wait(unsigned bar, unsigned parity) {
  return emu::sm90::State::get().mbar_try_wait(bar, parity);
}

inline bool mbar_test_wait(unsigned bar, unsigned parity) {
  return emu::sm90::State::get().mbar_test_wait(bar, parity);
}
inline void mbar_complete_tx(unsigned bar, unsigned bytes) {
  emu::sm90::State::get().mbar_complete_tx(bar, bytes);
}
inline void mbar_expect_tx(unsigned bar, unsigned bytes) {
  emu::sm90::State::get().mbar_expect_tx(bar, bytes);
}

namespace detail {
inline emu::sm90::TensorMapFields map_at(const void* map, std::initializer_list<int> coords) {
  emu::sm90::TensorMapFields f = emu::sm90::decode_map(map);
  if (coords.size() != f.rank)
    throw emu::EmuError("cp.async.bulk.tensor." + std::to_string(coords.size()) + "d on a rank-" +
                        std::to_string(f.rank) + " tensor map");
  int i = 0;
  for (int c : coords) f.coords[i++] = c;
  return f;
}
}  // namespace detail

inline void tma_load_2d(unsigned dst, const void* map, int c0, int c1, unsigned bar,
                        Loc loc = Loc::current()) {
  const auto f = detail::map_at(map, {c0, c1});
  emu::sm90::State::get().tma_load(dst, f, f.coords, bar, loc);
}
inline void tma_load_3d(unsigned dst, const void* map, int c0, int c1, int c2, unsigned bar,
                        Loc loc = Loc::current()) {
  const auto f = detail::map_at(map, {c0, c1, c2});
  emu::sm90::State::get().tma_load(dst, f, f.coords, bar, loc);
}
inline void tma_load_4d(unsigned dst, const void* map, int c0, int c1, int c2, int c3, unsigned bar,
                        Loc loc = Loc::current()) {
  const auto f = detail::map_at(map, {c0, c1, c2, c3});
  emu::sm90::State::get().tma_load(dst, f, f.coords, bar, loc);
}
inline void tma_store_2d(const void* map, unsigned src, int c0, int c1, Loc loc = Loc::current()) {
  const auto f = detail::map_at(map, {c0, c1});
  emu::sm90::State::get().tma_store(f, src, f.coords, loc);
}
inline void tma_store_3d(const void* map, unsigned src, int c0, int c1, int c2,
                         Loc loc = Loc::current()) {
  const auto f = detail::map_at(map, {c0, c1, c2});
  emu::sm90::State::get().tma_store(f, src, f.coords, loc);
}
inline void tma_store_4d(const void* map, unsigned src, int c0, int c1, int c2, int c3,
                         Loc loc = Loc::current()) {
  const auto f = detail::map_at(map, {c0, c1, c2, c3});
  emu::sm90::State::get().tma_store(f, src, f.coords, loc);
}
inline void tma_store_commit() { emu::sm90::State::get().tma_store_commit(); }
template <int N>
void tma_store_wait_read(Loc loc = Loc::current()) {
  emu::sm90::State::get().tma_store_wait_read(N, loc);
}
inline void fence_proxy_async() { emu::sm90::State::get().fence_proxy_async(); }

inline void named_bar_sync(unsigned id, unsigned count, Loc loc = Loc::current()) {
  emu::sm90::State::get().named_bar(id, count, true, loc);
}
inline void named_bar_arrive(unsigned id, unsigned count, Loc loc = Loc::current()) {
  emu::sm90::State::get().named_bar(id, count, false, loc);
}

template <int N>
void setmaxnreg_inc(Loc loc = Loc::current()) {
  emu::sm90::State::get().setmaxnreg(N, true, loc);
}
template <int N>
void setmaxnreg_dec(Loc loc = Loc::current()) {
  emu::sm90::State::get().setmaxnreg(N, false, loc);
}

}  // namespace sm90
}  // namespace attnjit
