// The Hopper (sm_90a) part of the CPU emulator: per-block state and semantics of warpgroup
// collectives, wgmma (asynchronous: operands captured at issue, results written at the
// wait_group that retires them), mbarriers (arrivals, transaction bytes, phases), TMA loads and
// stores through emulated tensor maps (sm90_tma.h), named barriers and setmaxnreg. Written from
// the PTX ISA (see templates/common/sm90_primitives.cuh for the facts used), not from kernels.
//
// What it reports as EmuError (instead of a wrong number or a hang):
// - a wgmma accumulator read or written between the wgmma's issue and its wait (the access's
//   file:line and the issue's), a wgmma without wgmma.fence after accumulator accesses, a shared
//   operand that changed before the wait or that a TMA load is still writing, wgmmas never waited;
// - mbarrier use before init, more arrivals or bytes than expected, and waits that can never
//   complete (deadlock naming the barrier, its state and the waiting warps);
// - TMA: a destination misaligned for its swizzle, a store without fence.proxy.async, a store's
//   shared source overwritten before wait_group.read, loads or stores left in flight at exit;
// - named barriers with mixed counts or left half-arrived; setmaxnreg out of range or not
//   uniform across the warpgroup (an over-subscribed register file blocks, as on hardware).
//
// Timing model: a TMA load lands when a thread first waits on its mbarrier (until then its
// destination holds 0xff bytes, NaN in f16/bf16/f32, and wgmma refuses to read it); a wgmma's
// result lands at the wait_group that retires it. Not modelled (EmuError where reachable):
// clusters and multicast, interleaved or element-strided tensor maps, swizzled boxes narrower
// than their swizzle span, descriptor base offsets, transposed A; and what plain C++ cannot see:
// generic-proxy stores read by wgmma without fence.proxy.async, A fragments rewritten without a
// wgmma.fence. The compile gates (tests/gates) cover what only ptxas knows (serialised wgmma,
// setmaxnreg ignored for want of __launch_bounds__).
#pragma once

#include <array>
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <source_location>
#include <string>
#include <utility>
#include <vector>

#include "emu/emu_runtime.h"
#include "emu/sm90_layout.h"
#include "emu/sm90_tma.h"
#include "runtime/half.h"

namespace emu::sm90 {

inline constexpr int kRegisterFile = 65536;  // 32-bit registers per SM (and per block here)

// ---- Per-block state ----

struct WgmmaOp {
  int n = 0;
  bool bf16 = false, a_regs = false, accumulate = false;
  int trans_b = 0;
  uint64_t desc_a = 0, desc_b = 0;
  std::array<float*, kWarpgroup> d{};
  std::array<const void*, kWarpgroup> acc{};
  std::array<std::array<unsigned, 4>, kWarpgroup> a{};
  std::vector<uint16_t> a_vals, b_vals;  // raw 16-bit operands read at issue
  std::source_location loc;
};

struct Warpgroup {
  int arrived = 0;
  const char* op = nullptr;
  uint64_t gen = 0;
  // wgmma
  bool fenced = false;
  std::source_location last_access;
  bool accessed = false;
  std::vector<WgmmaOp> open;                 // issued, not committed
  std::deque<std::vector<WgmmaOp>> groups;   // committed, oldest first
  std::map<const void*, std::source_location> pending_acc;  // accumulator -> issuing line
  WgmmaOp deposit;                           // filled lane by lane during an issue
  std::array<int, kWarpgroup> lane_arg{};    // setmaxnreg / generic per-lane argument
  int regs = 0;                              // setmaxnreg state (per thread)
};

struct Mbarrier {
  unsigned count = 0;
  int pending = 0;
  int64_t tx = 0;
  uint64_t phase = 0;  // completed phases
};

struct PendingLoad {
  unsigned bar;
  std::vector<std::pair<size_t, std::array<unsigned char, 16>>> chunks;  // smem offset, bytes
  uint32_t bytes;
  std::source_location loc;
};

struct StoreGroup {
  std::vector<std::pair<size_t, std::array<unsigned char, 16>>> src;  // what the store read
  std::source_location loc;
};

struct ThreadState {
  bool proxy_fenced = false;
  std::vector<StoreGroup> open_stores;
  std::deque<std::vector<StoreGroup>> store_groups;
};

struct NamedBarrier {
  int arrived = 0, count = 0;
  uint64_t gen = 0;
};

class State {
 public:
  static State& get() {
    static State s;
    Block& b = block();
    if (s.run_ != b.run_id() || s.block_ != &b) s.reset(b);
    return s;
  }

  Block& blk() { return *block_; }
  Warpgroup& wg_of_self() { return wgs_[static_cast<size_t>(block().self().linear / kWarpgroup)]; }
  ThreadState& thread_state() { return threads_[static_cast<size_t>(block().self().linear)]; }

  // A .sync.aligned operation of the calling thread's warpgroup: deposit(lane) runs in every
  // thread, last() in the last thread to arrive, then all continue.
  template <class Deposit, class Last>
  void wg_collective(const char* op, Deposit deposit, Last last) {
    Block& b = blk();
    Thread& me = b.self();
    const int w = me.linear / kWarpgroup, lane = me.linear % kWarpgroup;
    Warpgroup& g = wgs_[static_cast<size_t>(w)];
    if (g.arrived > 0 && g.op != op)
      throw EmuError(std::string(op) + " reached by thread " + std::to_string(me.linear) +
                     " while warpgroup " + std::to_string(w) + " waits in " + g.op +
                     " (warpgroup operations must be uniform)");
    for (int t = w * kWarpgroup; t < (w + 1) * kWarpgroup; ++t)
      if (b.thread_done(t))
        throw EmuError(std::string(op) + " in warpgroup " + std::to_string(w) + " after thread " +
                       std::to_string(t) + " exited (all 128 threads must execute it)");
    g.op = op;
    deposit(lane);
    if (++g.arrived == kWarpgroup) {
      g.arrived = 0;
      g.op = nullptr;
      last(w);
      ++g.gen;
      return;
    }
    const uint64_t gen = g.gen;
    b.block_until([&g, gen] { return g.gen != gen; },
                  [&g, w, op] {
                    return std::string(op) + " of warpgroup " + std::to_string(w) + " (" +
                           std::to_string(g.arrived) + " of 128 threads arrived)";
                  });
  }

  // ---- mbarriers ----
  Mbarrier& mbar(unsigned addr, const char* what) {
    auto it = mbars_.find(addr);
    if (it == mbars_.end())
      throw EmuError(std::string(what) + ": mbarrier at shared " + hex(addr) +
                     " used before mbarrier.init");
    return it->second;
  }
  void mbar_init(unsigned addr, unsigned count) {
    if (addr % 8 != 0) throw EmuError("mbarrier.init: shared address " + hex(addr) + " not 8-byte aligned");
    blk().shared_offset(addr, 8, "mbarrier.init");
    if (count == 0 || count >= (1u << 20))
      throw EmuError("mbarrier.init at " + hex(addr) + ": count " + std::to_string(count) +
                     " outside [1, 2^20 - 1]");
    mbars_[addr] = Mbarrier{count, static_cast<int>(count), 0, 0};
  }
  void mbar_arrive(unsigned addr, uint32_t tx, const char* what, bool plain = false) {
    Mbarrier& m = mbar(addr, what);
    m.tx += tx;
    if (--m.pending < 0)
      throw EmuError(std::string(what) + ": mbarrier " + hex(addr) + " got more than its " +
                     std::to_string(m.count) + " arrivals in phase " + std::to_string(m.phase));
    complete_if_done(addr, m);
    // A plain arrive (a release) yields for the rest of the scheduling round, so a waiter it
    // woke that comes earlier in the order (the kernels' producer warpgroup 0, in the Forward
    // order) runs before the arriving thread goes on, as it may on hardware. An arrive placed
    // before the wgmma.wait_group that retires the reads it releases then has the waiter
    // overwrite those operands first, which the wgmma check reports.
    if (plain) {
      bool resumed = false;
      blk().block_until([&resumed] { return std::exchange(resumed, true); },
                        [] { return std::string("(yield after mbarrier.arrive)"); });
    }
  }
  void mbar_complete_tx(unsigned addr, uint32_t bytes) {
    Mbarrier& m = mbar(addr, "complete_tx");
    m.tx -= bytes;
    complete_if_done(addr, m);
  }
  void mbar_expect_tx(unsigned addr, uint32_t bytes) { mbar(addr, "mbarrier.expect_tx").tx += bytes; }
  bool mbar_test_wait(unsigned addr, unsigned parity) {
    return (mbar(addr, "mbarrier.test_wait.parity").phase & 1) != (parity & 1);
  }
  bool mbar_try_wait(unsigned addr, unsigned parity) {
    land_loads(addr);
    Mbarrier& m = mbar(addr, "mbarrier.try_wait.parity");
    if ((m.phase & 1) != (parity & 1)) return true;
    const uint64_t seen = m.phase;
    Block& b = blk();
    // A blocked waiter keeps waiting: loads issued after it blocked land when it is re-checked
    // (else a consumer that polled before the producer's TMA would deadlock falsely).
    b.block_until([this, addr, seen] {
                    land_loads(addr);
                    return mbars_.at(addr).phase != seen;
                  },
                  [this, addr, parity] {
                    const Mbarrier& x = mbars_.at(addr);
                    return "mbarrier " + hex(addr) + " parity " + std::to_string(parity) +
                           " (phase " + std::to_string(x.phase) + ", " + std::to_string(x.pending) +
                           " of " + std::to_string(x.count) + " arrivals pending, " +
                           std::to_string(x.tx) + " transaction bytes pending)";
                  });
    return (mbars_.at(addr).phase & 1) != (parity & 1);
  }

  // ---- TMA ----
  void tma_load(unsigned dst, const TensorMapFields& map, const int* coords, unsigned bar,
                std::source_location loc) {
    mbar(bar, "cp.async.bulk.tensor (mbarrier operand)");
    PendingLoad p{bar, {}, 0, loc};
    Block& b = blk();
    for_each_box_chunk(map, dst, "cp.async.bulk.tensor load", [&](unsigned saddr, const auto& gofs) {
      std::array<unsigned char, 16> bytes{};
      for (size_t e = 0; e < gofs.size(); ++e) {
        if (gofs[e] < 0) {
          if (map.oob_fill == 1) std::memset(bytes.data() + e * map.elem, 0xff, map.elem);  // NaN
          continue;  // zero fill
        }
        std::memcpy(bytes.data() + e * map.elem,
                    reinterpret_cast<const unsigned char*>(map.addr) + gofs[e], map.elem);
      }
      const size_t off = b.shared_offset(saddr, 16, "cp.async.bulk.tensor load");
      asan::unpoison(b.smem() + off, 16);
      std::memset(b.smem() + off, 0xff, 16);  // undefined until the load lands
      asan::poison(b.smem() + off, 16);        // a plain access before the mbarrier wait: ASan
      tma_pending_[off / 16] = 1;
      p.chunks.push_back({off, bytes});
      p.bytes += 16;
    });
    loads_.push_back(std::move(p));
  }
  void tma_store(const TensorMapFields& map, unsigned src, const int* coords,
                 std::source_location loc) {
    ThreadState& ts = thread_state();
    if (!ts.proxy_fenced)
      throw EmuError("TMA store at " + where(loc) + " by thread " +
                     std::to_string(blk().self().linear) +
                     " without fence.proxy.async since its last store: the generic-proxy writes to "
                     "its shared source may not be visible to the TMA unit");
    ts.proxy_fenced = false;
    StoreGroup g{{}, loc};
    Block& b = blk();
    (void)coords;
    for_each_box_chunk(map, src, "cp.async.bulk.tensor store", [&](unsigned saddr, const auto& gofs) {
      const size_t off = b.shared_offset(saddr, 16, "cp.async.bulk.tensor store");
      if (tma_pending_[off / 16])
        throw EmuError("TMA store at " + where(loc) + " reads shared offset " + std::to_string(off) +
                       " that a TMA load is still writing");
      std::array<unsigned char, 16> bytes;
      std::memcpy(bytes.data(), b.smem() + off, 16);
      for (size_t e = 0; e < gofs.size(); ++e)
        if (gofs[e] >= 0)  // out-of-bounds elements are dropped
          std::memcpy(reinterpret_cast<unsigned char*>(map.addr) + gofs[e], bytes.data() + e * map.elem,
                      map.elem);
      g.src.push_back({off, bytes});
    });
    ts.open_stores.push_back(std::move(g));
  }
  void tma_store_commit() {
    ThreadState& ts = thread_state();
    ts.store_groups.push_back(std::move(ts.open_stores));
    ts.open_stores.clear();
  }
  void tma_store_wait_read(int n, std::source_location loc) {
    ThreadState& ts = thread_state();
    Block& b = blk();
    while (static_cast<int>(ts.store_groups.size()) > n) {
      for (const StoreGroup& g : ts.store_groups.front())
        for (const auto& [off, bytes] : g.src)
          if (tma_pending_[off / 16] || std::memcmp(b.smem() + off, bytes.data(), 16) != 0)
            throw EmuError("shared source of the TMA store at " + where(g.loc) + " (offset " +
                           std::to_string(off) + ") was overwritten before its "
                           "cp.async.bulk.wait_group.read at " + where(loc));
      ts.store_groups.pop_front();
    }
  }
  void fence_proxy_async() { thread_state().proxy_fenced = true; }
  bool tma_pending(size_t off) const { return tma_pending_[off / 16] != 0; }

  // ---- named barriers ----
  void named_bar(unsigned id, unsigned count, bool wait, std::source_location loc) {
    Block& b = blk();
    const char* op = wait ? "bar.sync" : "bar.arrive";
    if (id == 0 || id > 15)
      throw EmuError(std::string(op) + " at " + where(loc) + ": barrier id " + std::to_string(id) +
                     " (1..15; 0 is __syncthreads)");
    if (count == 0 || count % 32 != 0 || static_cast<int>(count) > b.num_threads())
      throw EmuError(std::string(op) + " at " + where(loc) + ": thread count " + std::to_string(count) +
                     " is not a multiple of 32 within the block's " + std::to_string(b.num_threads()));
    NamedBarrier& nb = named_[id];
    if (nb.arrived > 0 && nb.count != static_cast<int>(count))
      throw EmuError(std::string(op) + " at " + where(loc) + ": barrier " + std::to_string(id) +
                     " used with count " + std::to_string(count) + " while " +
                     std::to_string(nb.arrived) + " threads wait with count " + std::to_string(nb.count));
    nb.count = static_cast<int>(count);
    if (++nb.arrived == nb.count) {
      nb.arrived = 0;
      ++nb.gen;
      return;
    }
    if (!wait) return;
    const uint64_t gen = nb.gen;
    b.block_until([&nb, gen] { return nb.gen != gen; }, [&nb, id] {
      return "named barrier " + std::to_string(id) + " (" + std::to_string(nb.arrived) + " of " +
             std::to_string(nb.count) + " threads arrived)";
    });
  }

  // ---- setmaxnreg ----
  void setmaxnreg(int n, bool inc, std::source_location loc) {
    Block& b = blk();
    if (b.num_threads() % kWarpgroup != 0)
      throw EmuError("setmaxnreg at " + where(loc) + ": block of " + std::to_string(b.num_threads()) +
                     " threads is not made of whole warpgroups");
    static const char op_inc[] = "setmaxnreg.inc", op_dec[] = "setmaxnreg.dec";
    const char* op = inc ? op_inc : op_dec;
    Warpgroup& me = wg_of_self();
    wg_collective(op, [&](int lane) { me.lane_arg[static_cast<size_t>(lane)] = n; },
                  [&, loc](int w) {
                    for (int v : me.lane_arg)
                      if (v != n)
                        throw EmuError(std::string(op) + " at " + where(loc) + ": warpgroup " +
                                       std::to_string(w) + " threads ask for " + std::to_string(v) +
                                       " and " + std::to_string(n) + " registers (must be uniform)");
                    if (n < 24 || n > 256 || n % 8 != 0)
                      throw EmuError(std::string(op) + " at " + where(loc) + ": " + std::to_string(n) +
                                     " registers is not a multiple of 8 in [24, 256]");
                    if (inc ? n < me.regs : n > me.regs)
                      throw EmuError(std::string(op) + " at " + where(loc) + ": warpgroup " +
                                     std::to_string(w) + " holds " + std::to_string(me.regs) +
                                     " registers per thread; " + (inc ? "inc" : "dec") + " to " +
                                     std::to_string(n) + " goes the wrong way");
                    // An increase waits until other warpgroups released enough registers.
                    blk().block_until([this, &me, n] { return used_regs() - me.regs * kWarpgroup +
                                                                  n * kWarpgroup <= kRegisterFile; },
                                      [w, n] {
                                        return "setmaxnreg.inc to " + std::to_string(n) +
                                               " of warpgroup " + std::to_string(w) +
                                               " (register file full)";
                                      });
                    me.regs = n;
                  });
  }
  int regs_of(int wg) const { return wgs_[static_cast<size_t>(wg)].regs; }

  // ---- wgmma ----
  void on_acc_access(const void* acc, const std::source_location& at) {
    Warpgroup& g = wg_of_self();
    auto it = g.pending_acc.find(acc);
    if (it != g.pending_acc.end())
      throw EmuError("wgmma accumulator accessed at " + where(at) + " by thread " +
                     std::to_string(blk().self().linear) + " while the wgmma issued at " +
                     where(it->second) + " is in flight (missing wgmma.wait_group)");
    g.fenced = false;
    g.accessed = true;
    g.last_access = at;
  }
  void wgmma_fence() {
    static const char op[] = "wgmma.fence";
    wg_collective(op, [](int) {}, [this](int w) { wgs_[static_cast<size_t>(w)].fenced = true; });
  }
  void wgmma_issue(const WgmmaOp& mine, const void* acc, float* d,
                   const unsigned* a);  // defined below
  void wgmma_commit() {
    static const char op[] = "wgmma.commit_group";
    wg_collective(op, [](int) {}, [this](int w) {
      Warpgroup& g = wgs_[static_cast<size_t>(w)];
      g.groups.push_back(std::move(g.open));
      g.open.clear();
    });
  }
  void wgmma_wait(int n, std::source_location loc) {
    static const char op[] = "wgmma.wait_group";
    wg_collective(op, [](int) {}, [this, n, loc](int w) {
      Warpgroup& g = wgs_[static_cast<size_t>(w)];
      while (static_cast<int>(g.groups.size()) > n) {
        for (WgmmaOp& o : g.groups.front()) complete(o, loc);
        g.groups.pop_front();
      }
    });
  }

  // Reads a wgmma's shared operands (raw 16-bit values) through its descriptors.
  void read_operands(const WgmmaOp& o, std::vector<uint16_t>& a, std::vector<uint16_t>& bv) {
    Block& b = blk();
    auto rd = [&](unsigned addr, const char* what) {
      if (addr % 2) throw EmuError(std::string(what) + ": odd shared address " + hex(addr));
      const size_t off = b.shared_offset(addr, 2, what);
      if (tma_pending_[off / 16])
        throw EmuError(std::string(what) + " of the wgmma at " + where(o.loc) + " reads shared offset " +
                       std::to_string(off) + " that a TMA load is still writing (wait on its mbarrier first)");
      uint16_t v;
      std::memcpy(&v, b.smem() + off, 2);
      return v;
    };
    if (!o.a_regs) {
      const Desc da = decode_desc(o.desc_a, "wgmma A");
      a.resize(64 * 16);
      for (int r = 0; r < 64; ++r)
        for (int k = 0; k < 16; ++k) a[static_cast<size_t>(r * 16 + k)] = rd(kmajor_addr(da, r, k), "wgmma A");
    }
    const Desc db = decode_desc(o.desc_b, "wgmma B");
    bv.resize(static_cast<size_t>(16 * o.n));
    for (int k = 0; k < 16; ++k)
      for (int c = 0; c < o.n; ++c)
        bv[static_cast<size_t>(k * o.n + c)] =
            rd(o.trans_b ? mnmajor_addr(db, c, k) : kmajor_addr(db, c, k), "wgmma B");
  }

 private:
  void reset(Block& b) {
    block_ = &b;
    run_ = b.run_id();
    wgs_.assign(static_cast<size_t>((b.num_threads() + kWarpgroup - 1) / kWarpgroup), Warpgroup{});
    int regs = std::min(255, kRegisterFile / b.num_threads()) / 8 * 8;
    for (Warpgroup& g : wgs_) g.regs = regs;
    threads_.assign(static_cast<size_t>(b.num_threads()), ThreadState{});
    mbars_.clear();
    loads_.clear();
    tma_pending_.assign(b.config().dynamic_smem / 16 + 1, 0);
    for (NamedBarrier& n : named_) n = NamedBarrier{};
    b.at_block_end([this] { end_checks(); });
  }

  int used_regs() const {
    int s = 0;
    for (const Warpgroup& g : wgs_) s += g.regs * kWarpgroup;
    return s;
  }

  void complete_if_done(unsigned addr, Mbarrier& m) {
    if (m.pending == 0 && m.tx < 0)
      throw EmuError("mbarrier " + hex(addr) + " received " + std::to_string(-m.tx) +
                     " more transaction bytes than expected in phase " + std::to_string(m.phase));
    if (m.pending == 0 && m.tx == 0) {
      ++m.phase;
      m.pending = static_cast<int>(m.count);
    }
  }

  // Loads signalling `bar` land now (the moment a thread waits on it), oldest first.
  void land_loads(unsigned bar) {
    Block& b = blk();
    for (size_t i = 0; i < loads_.size();) {
      if (loads_[i].bar != bar) {
        ++i;
        continue;
      }
      PendingLoad p = std::move(loads_[i]);
      loads_.erase(loads_.begin() + static_cast<long>(i));
      for (const auto& [off, bytes] : p.chunks) {
        asan::unpoison(b.smem() + off, 16);
        std::memcpy(b.smem() + off, bytes.data(), 16);
        tma_pending_[off / 16] = 0;
      }
      mbar_complete_tx(bar, p.bytes);
    }
  }

  template <class F>
  void for_each_box_chunk(const TensorMapFields& map, unsigned saddr0, const char* what, F f);

  void complete(WgmmaOp& o, std::source_location wait_loc);

  void end_checks() {
    for (size_t w = 0; w < wgs_.size(); ++w) {
      const Warpgroup& g = wgs_[w];
      const WgmmaOp* left = !g.open.empty() ? &g.open.front()
                            : !g.groups.empty() && !g.groups.front().empty() ? &g.groups.front().front()
                                                                              : nullptr;
      if (left)
        throw EmuError("wgmma issued at " + where(left->loc) + " by warpgroup " + std::to_string(w) +
                       " was never retired by wgmma.wait_group before exit");
    }
    if (!loads_.empty())
      throw EmuError("TMA load issued at " + where(loads_.front().loc) + " on mbarrier " +
                     hex(loads_.front().bar) + " never waited on before exit");
    for (size_t t = 0; t < threads_.size(); ++t)
      if (!threads_[t].open_stores.empty() || !threads_[t].store_groups.empty())
        throw EmuError("thread " + std::to_string(t) +
                       " exited with a TMA store not waited on (cp.async.bulk.wait_group.read)");
    for (unsigned id = 0; id < 16; ++id)
      if (named_[id].arrived > 0)
        throw EmuError("named barrier " + std::to_string(id) + " left with " +
                       std::to_string(named_[id].arrived) + " of " + std::to_string(named_[id].count) +
                       " threads arrived at exit");
  }

  Block* block_ = nullptr;
  uint64_t run_ = 0;
  std::vector<Warpgroup> wgs_;
  std::vector<ThreadState> threads_;
  std::map<unsigned, Mbarrier> mbars_;
  std::vector<PendingLoad> loads_;
  std::vector<unsigned char> tma_pending_;
  NamedBarrier named_[16];
};

// Calls f(shared address of a 16-byte chunk, global byte offsets of its elements or -1 when out
// of bounds) for every chunk of the box at `coords` (stored in map.coords by the caller).
template <class F>
void State::for_each_box_chunk(const TensorMapFields& map, unsigned saddr0, const char* what, F f) {
  if (map.interleave != 0)
    throw EmuError(std::string(what) + ": interleaved tensor maps are not modelled");
  for (unsigned i = 0; i < map.rank; ++i)
    if (map.elem_strides[i] != 1)
      throw EmuError(std::string(what) + ": element strides other than 1 are not modelled");
  const unsigned inner_bytes = map.box[0] * map.elem;
  const unsigned span = map.swizzle_span();
  if (saddr0 % 128 != 0)
    throw EmuError(std::string(what) + ": shared address " + hex(saddr0) + " not 128-byte aligned");
  if (span != 0) {
    if (saddr0 % (span * 8) != 0)
      throw EmuError(std::string(what) + ": shared address " + hex(saddr0) + " not aligned to the " +
                     std::to_string(span * 8) + "-byte pattern of its " + std::to_string(span) +
                     "-byte swizzle");
    if (inner_bytes != span)
      throw EmuError(std::string(what) + ": inner box of " + std::to_string(inner_bytes) +
                     " bytes narrower than the " + std::to_string(span) +
                     "-byte swizzle is not modelled");
  }
  size_t rows = 1;
  for (unsigned i = 1; i < map.rank; ++i) rows *= map.box[i];
  const unsigned per_chunk = 16 / map.elem;
  std::vector<int64_t> gofs(per_chunk);
  for (size_t r = 0; r < rows; ++r) {
    // Outer coordinates of this box row, and whether it is inside the tensor.
    int64_t row_off = 0;
    bool row_in = true;
    size_t rest = r;
    for (unsigned i = 1; i < map.rank; ++i) {
      const int64_t c = static_cast<int64_t>(map.coords[i]) + static_cast<int64_t>(rest % map.box[i]);
      rest /= map.box[i];
      if (c < 0 || c >= static_cast<int64_t>(map.dims[i])) row_in = false;
      row_off += c * static_cast<int64_t>(map.strides[i - 1]);
    }
    for (unsigned ch = 0; ch < inner_bytes / 16; ++ch) {
      for (unsigned e = 0; e < per_chunk; ++e) {
        const int64_t c0 = static_cast<int64_t>(map.coords[0]) + ch * per_chunk + e;
        const bool in = row_in && c0 >= 0 && c0 < static_cast<int64_t>(map.dims[0]);
        gofs[e] = in ? row_off + c0 * map.elem : -1;
      }
      const unsigned linear = saddr0 + static_cast<unsigned>(r * inner_bytes) + ch * 16;
      f(swizzle_addr(linear, span), gofs);
    }
  }
}

inline void State::wgmma_issue(const WgmmaOp& mine, const void* acc, float* d, const unsigned* a) {
  static const char op_ss[] = "wgmma.mma_async (A from shared)", op_rs[] = "wgmma.mma_async (A from registers)";
  Warpgroup& me = wg_of_self();
  ++blk().stats().wgmma_calls;
  wg_collective(
      mine.a_regs ? op_rs : op_ss,
      [&](int lane) {
        if (me.arrived == 0) {
          me.deposit = mine;
        } else if (me.deposit.n != mine.n || me.deposit.bf16 != mine.bf16 ||
                   me.deposit.trans_b != mine.trans_b || me.deposit.desc_a != mine.desc_a ||
                   me.deposit.desc_b != mine.desc_b || me.deposit.accumulate != mine.accumulate) {
          throw EmuError("wgmma at " + where(mine.loc) + ": operands differ between threads of the "
                         "warpgroup (shape, type, descriptors and scale-d must be uniform)");
        }
        me.deposit.d[static_cast<size_t>(lane)] = d;
        me.deposit.acc[static_cast<size_t>(lane)] = acc;
        if (a)
          for (int i = 0; i < 4; ++i) me.deposit.a[static_cast<size_t>(lane)][static_cast<size_t>(i)] = a[i];
      },
      [&](int w) {
        Warpgroup& g = wgs_[static_cast<size_t>(w)];
        WgmmaOp o = std::move(g.deposit);
        g.deposit = WgmmaOp{};
        if (!g.fenced)
          throw EmuError("wgmma at " + where(o.loc) + " issued without wgmma.fence" +
                         (g.accessed ? " after the accumulator access at " + where(g.last_access)
                                     : std::string(" before the warpgroup's first wgmma")));
        read_operands(o, o.a_vals, o.b_vals);
        for (int t = 0; t < kWarpgroup; ++t) g.pending_acc[o.acc[static_cast<size_t>(t)]] = o.loc;
        g.open.push_back(std::move(o));
      });
}

inline void State::complete(WgmmaOp& o, std::source_location wait_loc) {
  std::vector<uint16_t> a_now, b_now;
  read_operands(o, a_now, b_now);
  if ((!o.a_regs && a_now != o.a_vals) || b_now != o.b_vals)
    throw EmuError("a shared operand of the wgmma issued at " + where(o.loc) +
                   " changed before the wgmma.wait_group at " + where(wait_loc));
  auto val = [&o](uint16_t h) {
    return static_cast<double>(o.bf16 ? attnjit::bf16_to_float(h) : attnjit::f16_to_float(h));
  };
  std::vector<double> A(64 * 16), B(static_cast<size_t>(16 * o.n));
  if (o.a_regs) {
    for (int t = 0; t < kWarpgroup; ++t)
      for (int e = 0; e < 8; ++e)
        A[static_cast<size_t>(afrag_row(t, e) * 16 + afrag_k(t, e))] =
            val(static_cast<uint16_t>(o.a[static_cast<size_t>(t)][static_cast<size_t>(e / 2)] >> (16 * (e & 1))));
  } else {
    for (size_t i = 0; i < A.size(); ++i) A[i] = val(o.a_vals[i]);
  }
  for (size_t i = 0; i < B.size(); ++i) B[i] = val(o.b_vals[i]);
  Warpgroup& g = wg_of_self();
  for (int t = 0; t < kWarpgroup; ++t) {
    float* d = o.d[static_cast<size_t>(t)];
    for (int i = 0; i < o.n / 2; ++i) {
      const int r = acc_row(t, i), c = acc_col(t, i);
      double s = o.accumulate ? static_cast<double>(d[i]) : 0.0;
      for (int k = 0; k < 16; ++k) s += A[static_cast<size_t>(r * 16 + k)] * B[static_cast<size_t>(k * o.n + c)];
      d[i] = static_cast<float>(s);
    }
    g.pending_acc.erase(o.acc[static_cast<size_t>(t)]);
  }
}

}  // namespace emu::sm90
