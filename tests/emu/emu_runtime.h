// A functional CUDA emulator for the kernel templates: one thread block at a time, its threads as
// cooperative fibers (ucontext) in one OS thread. Fibers switch only at __syncthreads and at
// warp collectives (ldmatrix, mma.sync, shfl, syncwarp): every lane deposits its operands, the
// last lane to arrive computes for the whole warp, then all lanes read their results. Runs are
// deterministic for a given schedule order; Reverse and Shuffle orders let races that a fixed
// order hides show up.
//
// What it checks beyond the numbers: shared memory is poisoned (0xff bytes: NaN in f16/bf16/f32)
// at block start and at every cp.async issue, so a read of unwritten or in-flight data turns into
// NaN; per 16-byte shared chunk it tracks in-flight cp.async writes, the barrier generation after
// which a completed copy is visible to other warps, and the last warp that read it, so that
// ldmatrix reading an unfinished or unpublished copy, and a cp.async overwriting a chunk another
// warp read since the last barrier, are reported as EmuError naming the thread and address.
// Collectives must be reached by all 32 lanes with the same operation (no divergence, no exited
// lanes), barriers by every live thread; otherwise EmuError (instead of a hang).
#pragma once

#include <ucontext.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define ATTNJIT_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ATTNJIT_EMU_ASAN 1
#endif
#endif
#if defined(ATTNJIT_EMU_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

namespace emu {

// Under AddressSanitizer (scripts/sanitize.sh address emu ...) the emulator is the host-side
// counterpart of compute-sanitizer memcheck for the kernel templates: ASan must be told about
// every fiber switch (else it unpoisons or checks the wrong stack and reports false positives,
// e.g. when an EmuError is thrown on a fiber); the part of the shared buffer beyond the launch's
// dynamic shared memory is poisoned, so a kernel's plain load or store past its shared layout is
// reported like one past a global buffer, and so is every 16-byte chunk while an asynchronous
// copy to it is in flight (a plain access before cp.async.wait_group / the TMA's mbarrier, even
// of a value never used). No-ops in normal builds.
namespace asan {
#if defined(ATTNJIT_EMU_ASAN)
inline void start_switch(void** fake_stack, const void* bottom, size_t size) {
  __sanitizer_start_switch_fiber(fake_stack, bottom, size);
}
inline void finish_switch(void* fake_stack, const void** bottom, size_t* size) {
  __sanitizer_finish_switch_fiber(fake_stack, bottom, size);
}
inline void poison(const void* p, size_t n) { ASAN_POISON_MEMORY_REGION(p, n); }
inline void unpoison(const void* p, size_t n) { ASAN_UNPOISON_MEMORY_REGION(p, n); }
#else
inline void start_switch(void**, const void*, size_t) {}
inline void finish_switch(void*, const void**, size_t*) {}
inline void poison(const void*, size_t) {}
inline void unpoison(const void*, size_t) {}
#endif
}  // namespace asan

struct EmuError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
};

// Order in which ready fibers are resumed in each scheduling round.
enum class Order { Forward, Reverse, Shuffle };

// Shared-memory window: the block's dynamic shared memory starts at this 32-bit shared address,
// not 0 (sm_90 reserves the first 1 KB), so a kernel that mixes up generic offsets and shared
// addresses reads the wrong bytes.
inline constexpr unsigned kSharedBase = 1024;
// Largest dynamic shared memory per block of any sm_80+ target (sm_90: 227 KB).
inline constexpr size_t kMaxDynamicSmem = 227 * 1024;

struct LaunchConfig {
  Dim3 grid, block;
  size_t dynamic_smem = 0;
  Order order = Order::Forward;
  // Order in which the blocks run (one at a time): Reverse and Shuffle (by seed) let kernels
  // whose blocks communicate (a split combine's "last block done") see other arrival orders.
  Order block_order = Order::Forward;
  uint64_t seed = 1;
  // Global ranges cp.async may read from (bytes); empty = unchecked.
  std::vector<std::pair<const void*, size_t>> readable;
  size_t stack_bytes = 128 * 1024;
};

struct Stats {
  uint64_t blocks = 0, barriers = 0, collectives = 0, switches = 0, async_copies = 0;
  uint64_t mma_calls = 0;    // mma.sync m16n8k16 calls, one per thread (32 per warp-level MMA)
  uint64_t wgmma_calls = 0;  // wgmma.mma_async calls, one per thread (128 per warpgroup-level wgmma)
};

class Block;
Block*& current_block();

struct AsyncCopy {
  unsigned dst;     // shared offset (not address)
  const void* src;  // global
  bool zero;        // src-size 0: write zeros, read nothing
};

struct Thread {
  ucontext_t ctx{};
  Dim3 idx;
  int linear = 0, warp = 0, lane = 0;
  enum class State { Ready, AtBarrier, AtWarp, Blocked, Done } state = State::Ready;
  // Blocked: resumes once `ready()` holds; `waiting_for` names what it waits on (deadlocks).
  std::function<bool()> ready;
  std::function<std::string()> waiting_for;
  std::vector<AsyncCopy> open_group;                 // issued, not yet committed
  std::deque<std::vector<AsyncCopy>> committed;      // oldest first
  void* fake_stack = nullptr;                        // ASan's fake stack while switched out
};

// Deposit / result slots of one warp collective. 64 bytes per lane is enough for mma's
// operands (4 + 2 A/B words and 4 accumulators).
struct WarpState {
  int arrived = 0;
  const char* op = nullptr;
  alignas(16) unsigned char in[32][64];
  alignas(16) unsigned char out[32][64];
};

// Per 16-byte shared chunk: the hazard-tracking state described in the header.
struct ChunkMeta {
  int pending_writer = -1;     // thread with a cp.async in flight to this chunk
  int last_writer = -1;        // thread whose completed copy wrote it last
  uint64_t visible_gen = 0;    // barrier generation from which other warps may read it
  uint64_t read_gen = UINT64_MAX;  // barrier generation of the last ldmatrix read
  int read_warp = -1;          // warp of that read; -2 = several warps
};

class Block {
 public:
  Block(const LaunchConfig& cfg, unsigned char* smem, Stats& stats)
      : cfg_(cfg), smem_(smem), stats_(stats) {
    const unsigned n = cfg.block.x * cfg.block.y * cfg.block.z;
    if (n == 0 || n % 32 != 0)
      throw EmuError("block: " + std::to_string(n) + " threads is not a positive multiple of 32");
    if (cfg.dynamic_smem > kMaxDynamicSmem)
      throw EmuError("dynamic shared memory " + std::to_string(cfg.dynamic_smem) + " > " +
                     std::to_string(kMaxDynamicSmem));
    threads_.resize(n);
    warps_.resize(n / 32);
    stacks_.resize(n);
    chunks_.resize((cfg.dynamic_smem + 15) / 16);
    for (unsigned i = 0; i < n; ++i) {
      Thread& t = threads_[i];
      t.linear = static_cast<int>(i);
      t.idx.x = i % cfg.block.x;
      t.idx.y = (i / cfg.block.x) % cfg.block.y;
      t.idx.z = i / (cfg.block.x * cfg.block.y);
      t.warp = static_cast<int>(i / 32);
      t.lane = static_cast<int>(i % 32);
      stacks_[i].reset(new unsigned char[cfg.stack_bytes]);
    }
  }

  // Runs `body` once per thread of block `block_idx` until all threads return.
  void run(const Dim3& block_idx, const std::function<void()>& body, uint64_t round_seed) {
    block_idx_ = block_idx;
    body_ = &body;
    asan::unpoison(smem_, cfg_.dynamic_smem);  // copies an earlier block left in flight
    std::memset(smem_, 0xff, cfg_.dynamic_smem);
    std::fill(chunks_.begin(), chunks_.end(), ChunkMeta{});
    for (WarpState& w : warps_) {
      w.arrived = 0;
      w.op = nullptr;
    }
    bar_arrived_ = 0;
    bar_gen_ = 0;
    error_ = nullptr;
    ++stats_.blocks;
    static uint64_t runs = 0;  // unique across launches: extensions detect a new block by it
    run_id_ = ++runs;
    end_checks_.clear();
    for (Thread& t : threads_) {
      t.state = Thread::State::Ready;
      t.ready = nullptr;
      t.open_group.clear();
      t.committed.clear();
      if (getcontext(&t.ctx) != 0) throw EmuError("getcontext failed");
      // A fiber abandoned by an earlier error may have left its frames' redzones poisoned.
      asan::unpoison(stacks_[static_cast<size_t>(t.linear)].get(), cfg_.stack_bytes);
      t.ctx.uc_stack.ss_sp = stacks_[static_cast<size_t>(t.linear)].get();
      t.ctx.uc_stack.ss_size = cfg_.stack_bytes;
      t.ctx.uc_link = &sched_;
      makecontext(&t.ctx, reinterpret_cast<void (*)()>(&Block::entry), 0);
    }
    std::mt19937_64 rng(round_seed);
    std::vector<int> order(threads_.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
    if (cfg_.order == Order::Reverse) std::reverse(order.begin(), order.end());
    size_t done = 0;
    while (done < threads_.size()) {
      if (cfg_.order == Order::Shuffle) std::shuffle(order.begin(), order.end(), rng);
      bool progressed = false;
      for (Thread& t : threads_)
        if (t.state == Thread::State::Blocked && t.ready()) {
          t.state = Thread::State::Ready;
          t.ready = nullptr;
        }
      for (int i : order) {
        Thread& t = threads_[static_cast<size_t>(i)];
        if (t.state != Thread::State::Ready) continue;
        progressed = true;
        cur_ = i;
        ++stats_.switches;
        void* sched_fake = nullptr;
        asan::start_switch(&sched_fake, stacks_[static_cast<size_t>(i)].get(), cfg_.stack_bytes);
        if (swapcontext(&sched_, &t.ctx) != 0) throw EmuError("swapcontext failed");
        asan::finish_switch(sched_fake, nullptr, nullptr);
        cur_ = -1;
        if (error_) std::rethrow_exception(error_);
        if (t.state == Thread::State::Done) ++done;
      }
      if (!progressed) throw EmuError("deadlock: " + waiting_summary());
    }
    // Copies still in flight at exit land eventually on hardware; nothing reads them here.
    for (const auto& check : end_checks_) check();
  }

  // Suspends the calling thread until ready() holds (checked by the scheduler between rounds).
  // A block whose live threads all wait on conditions nobody can satisfy is reported as a
  // deadlock listing `what` for each group of waiting warps.
  void block_until(std::function<bool()> ready, std::function<std::string()> what) {
    if (ready()) return;
    Thread& me = self();
    me.state = Thread::State::Blocked;
    me.ready = std::move(ready);
    me.waiting_for = std::move(what);
    yield();
  }
  // Increments once per block run: extensions keep per-block state keyed by it.
  uint64_t run_id() const { return run_id_; }
  int num_threads() const { return static_cast<int>(threads_.size()); }
  bool thread_done(int linear) const {
    return threads_[static_cast<size_t>(linear)].state == Thread::State::Done;
  }
  // Runs after every thread of the block returned (leak checks of extensions).
  void at_block_end(std::function<void()> check) { end_checks_.push_back(std::move(check)); }

  Thread& self() { return threads_[static_cast<size_t>(cur_)]; }
  const Dim3& block_idx() const { return block_idx_; }
  const LaunchConfig& config() const { return cfg_; }
  Stats& stats() { return stats_; }

  // ---- Block barrier ----
  void syncthreads() {
    Thread& me = self();
    for (const Thread& t : threads_)
      if (t.state == Thread::State::Done)
        throw EmuError("__syncthreads reached by thread " + std::to_string(me.linear) +
                       " after thread " + std::to_string(t.linear) + " exited");
    me.state = Thread::State::AtBarrier;
    if (++bar_arrived_ == static_cast<int>(threads_.size())) {
      bar_arrived_ = 0;
      ++bar_gen_;
      ++stats_.barriers;
      for (Thread& t : threads_) t.state = Thread::State::Ready;
    }
    yield();
  }

  // ---- Warp collectives ----
  // Every lane deposits `in`; the last one runs compute(ins, outs) for the warp; each lane gets
  // its `Out`. `op` must be the same string for all lanes (pointer identity).
  template <class In, class Out, class F>
  Out collective(const char* op, const In& in, F compute) {
    static_assert(sizeof(In) <= 64 && sizeof(Out) <= 64, "collective operands too large");
    Thread& me = self();
    WarpState& w = warps_[static_cast<size_t>(me.warp)];
    if (w.arrived > 0 && w.op != op)
      throw EmuError(std::string("warp ") + std::to_string(me.warp) + ": lane " +
                     std::to_string(me.lane) + " reached " + op + " while other lanes wait in " +
                     w.op + " (divergent warp collectives)");
    for (int l = 0; l < 32; ++l)
      if (threads_[static_cast<size_t>(me.warp * 32 + l)].state == Thread::State::Done)
        throw EmuError(std::string(op) + " in warp " + std::to_string(me.warp) + " after lane " +
                       std::to_string(l) + " exited");
    w.op = op;
    std::memcpy(w.in[me.lane], &in, sizeof(In));
    if (++w.arrived == 32) {
      In ins[32];
      Out outs[32];
      for (int l = 0; l < 32; ++l) std::memcpy(&ins[l], w.in[l], sizeof(In));
      compute(ins, outs, me.warp);
      for (int l = 0; l < 32; ++l) std::memcpy(w.out[l], &outs[l], sizeof(Out));
      w.arrived = 0;
      w.op = nullptr;
      ++stats_.collectives;
      for (int l = 0; l < 32; ++l)
        threads_[static_cast<size_t>(me.warp * 32 + l)].state = Thread::State::Ready;
    } else {
      me.state = Thread::State::AtWarp;
    }
    yield();
    Out r;
    std::memcpy(&r, w.out[me.lane], sizeof(Out));
    return r;
  }

  // ---- Shared memory ----
  unsigned char* smem() { return smem_; }
  // Offset of a shared address; throws unless [addr, addr + bytes) lies in dynamic smem.
  size_t shared_offset(unsigned addr, size_t bytes, const char* what) const {
    if (addr < kSharedBase || addr - kSharedBase + bytes > cfg_.dynamic_smem)
      throw EmuError(std::string(what) + ": shared address " + std::to_string(addr) +
                     " (+" + std::to_string(bytes) + " bytes) outside the block's " +
                     std::to_string(cfg_.dynamic_smem) + " bytes at " +
                     std::to_string(kSharedBase));
    return addr - kSharedBase;
  }

  // ldmatrix row read at a shared address: 16 bytes, checked against the hazard state.
  void read_row16(unsigned addr, unsigned char* dst, int warp, const char* what) {
    if (addr % 16 != 0)
      throw EmuError(std::string(what) + ": row address " + std::to_string(addr) +
                     " not 16-byte aligned");
    const size_t off = shared_offset(addr, 16, what);
    ChunkMeta& m = chunks_[off / 16];
    if (m.pending_writer >= 0)
      throw EmuError(std::string(what) + " by warp " + std::to_string(warp) +
                     " reads shared offset " + std::to_string(off) +
                     " while a cp.async of thread " + std::to_string(m.pending_writer) +
                     " to it is in flight (missing cp.async.wait_group)");
    if (m.last_writer >= 0 && m.visible_gen > bar_gen_ && m.last_writer / 32 != warp)
      throw EmuError(std::string(what) + " by warp " + std::to_string(warp) +
                     " reads shared offset " + std::to_string(off) + " written by cp.async of thread " +
                     std::to_string(m.last_writer) + " with no __syncthreads since its wait_group");
    if (m.read_gen == bar_gen_ && m.read_warp != warp)
      m.read_warp = -2;
    else if (m.read_gen != bar_gen_) {
      m.read_gen = bar_gen_;
      m.read_warp = warp;
    }
    std::memcpy(dst, smem_ + off, 16);
  }

  // ---- cp.async ----
  void cp_async16(unsigned dst, const void* src, bool zero) {
    Thread& me = self();
    if (dst % 16 != 0)
      throw EmuError("cp.async: shared address " + std::to_string(dst) + " not 16-byte aligned");
    const size_t off = shared_offset(dst, 16, "cp.async");
    if (!zero) {
      if (reinterpret_cast<uintptr_t>(src) % 16 != 0)
        throw EmuError("cp.async: global source not 16-byte aligned");
      if (!cfg_.readable.empty()) {
        bool ok = false;
        for (const auto& [p, n] : cfg_.readable) {
          const auto* b = static_cast<const unsigned char*>(p);
          const auto* s = static_cast<const unsigned char*>(src);
          if (s >= b && s + 16 <= b + n) ok = true;
        }
        if (!ok)
          throw EmuError("cp.async by thread " + std::to_string(me.linear) +
                         " reads 16 bytes outside every input buffer (out-of-bounds global read)");
      }
    }
    ChunkMeta& m = chunks_[off / 16];
    if (m.pending_writer >= 0 && m.pending_writer != me.linear)
      throw EmuError("cp.async by thread " + std::to_string(me.linear) + " to shared offset " +
                     std::to_string(off) + " while thread " + std::to_string(m.pending_writer) +
                     "'s copy to it is in flight");
    if (m.read_gen == bar_gen_ && m.read_warp != me.warp)
      throw EmuError("cp.async by thread " + std::to_string(me.linear) + " overwrites shared offset " +
                     std::to_string(off) + " that warp " + std::to_string(m.read_warp) +
                     " (-2: several) read since the last __syncthreads (write-after-read race)");
    m.pending_writer = me.linear;
    asan::unpoison(smem_ + off, 16);
    std::memset(smem_ + off, 0xff, 16);  // contents are undefined until the copy completes
    asan::poison(smem_ + off, 16);
    me.open_group.push_back({static_cast<unsigned>(off), src, zero});
    ++stats_.async_copies;
  }
  void cp_async_commit() {
    Thread& me = self();
    me.committed.push_back(std::move(me.open_group));
    me.open_group.clear();
  }
  void cp_async_wait(int n) {
    Thread& me = self();
    while (static_cast<int>(me.committed.size()) > n) {
      for (const AsyncCopy& c : me.committed.front()) {
        asan::unpoison(smem_ + c.dst, 16);
        if (c.zero)
          std::memset(smem_ + c.dst, 0, 16);
        else
          std::memcpy(smem_ + c.dst, c.src, 16);
        ChunkMeta& m = chunks_[c.dst / 16];
        m.pending_writer = -1;
        m.last_writer = me.linear;
        m.visible_gen = bar_gen_ + 1;
      }
      me.committed.pop_front();
    }
  }

 private:
  static void entry() {
    Block* b = current_block();
    asan::finish_switch(nullptr, &b->sched_bottom_, &b->sched_size_);
    try {
      (*b->body_)();
    } catch (...) {
      b->error_ = std::current_exception();
    }
    b->self().state = Thread::State::Done;
    // uc_link returns to the scheduler; this fiber's fake stack (ASan) ends with it.
    asan::start_switch(nullptr, b->sched_bottom_, b->sched_size_);
  }

  void yield() {
    Thread& me = self();
    asan::start_switch(&me.fake_stack, sched_bottom_, sched_size_);
    if (swapcontext(&me.ctx, &sched_) != 0) throw EmuError("swapcontext failed");
    asan::finish_switch(me.fake_stack, &sched_bottom_, &sched_size_);
  }

  std::string waiting_summary() const {
    int bar = 0, warp = 0, done = 0;
    std::map<std::string, std::vector<int>> blocked;  // what -> warps waiting on it
    for (const Thread& t : threads_) {
      bar += t.state == Thread::State::AtBarrier;
      warp += t.state == Thread::State::AtWarp;
      done += t.state == Thread::State::Done;
      if (t.state == Thread::State::Blocked) {
        auto& w = blocked[t.waiting_for ? t.waiting_for() : std::string("?")];
        if (w.empty() || w.back() != t.warp) w.push_back(t.warp);
      }
    }
    std::string s = std::to_string(bar) + " threads at __syncthreads, " + std::to_string(warp) +
                    " in warp collectives, " + std::to_string(done) + " exited";
    for (const auto& [what, warps] : blocked) {
      s += "; waiting on " + what + ": warps";
      for (int w : warps) s += " " + std::to_string(w);
    }
    return s;
  }

  LaunchConfig cfg_;
  unsigned char* smem_;
  Stats& stats_;
  std::vector<Thread> threads_;
  std::vector<WarpState> warps_;
  std::vector<std::unique_ptr<unsigned char[]>> stacks_;
  std::vector<ChunkMeta> chunks_;
  ucontext_t sched_{};
  const void* sched_bottom_ = nullptr;  // the scheduler's stack, for ASan's fiber switches
  size_t sched_size_ = 0;
  Dim3 block_idx_;
  const std::function<void()>* body_ = nullptr;
  int cur_ = -1;
  int bar_arrived_ = 0;
  uint64_t bar_gen_ = 0;
  uint64_t run_id_ = 0;
  std::vector<std::function<void()>> end_checks_;
  std::exception_ptr error_;
};

inline Block*& current_block() {
  static Block* b = nullptr;
  return b;
}

inline Block& block() {
  Block* b = current_block();
  if (b == nullptr) throw EmuError("device function called outside an emulated launch");
  return *b;
}

// Runs body() as every thread of every block, one block at a time (in x, y, z order, or as
// cfg.block_order says). `smem` holds kMaxDynamicSmem bytes (EMU_DEFINE_DYNAMIC_SMEM); under ASan
// the bytes past cfg.dynamic_smem are poisoned for the launch (and all unpoisoned after it).
inline Stats launch(const LaunchConfig& cfg, unsigned char* smem, const std::function<void()>& body) {
  Stats stats;
  Block b(cfg, smem, stats);
  struct Reset {
    unsigned char* smem;
    ~Reset() {
      asan::unpoison(smem, kMaxDynamicSmem);  // the tail and copies left in flight
      current_block() = nullptr;
    }
  } reset{smem};
  asan::poison(smem + cfg.dynamic_smem, kMaxDynamicSmem - cfg.dynamic_smem);
  current_block() = &b;
  std::vector<Dim3> blocks;
  for (unsigned z = 0; z < cfg.grid.z; ++z)
    for (unsigned y = 0; y < cfg.grid.y; ++y)
      for (unsigned x = 0; x < cfg.grid.x; ++x) blocks.push_back(Dim3{x, y, z});
  if (cfg.block_order == Order::Reverse) std::reverse(blocks.begin(), blocks.end());
  if (cfg.block_order == Order::Shuffle) {
    std::mt19937_64 rng(cfg.seed ^ 0x9e3779b97f4a7c15ull);
    std::shuffle(blocks.begin(), blocks.end(), rng);
  }
  uint64_t round = cfg.seed;
  for (const Dim3& idx : blocks) b.run(idx, body, round++);
  return stats;
}

}  // namespace emu
