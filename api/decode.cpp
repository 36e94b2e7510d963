// Runtime::decode: validate, pick the config (provider -> default), compile once, size the
// split workspace, launch one kernel that computes every split and merges them.
//
// The split workspace (partial O / LSE in fp32 + one counter per (sequence, KV head, row chunk))
// is owned by the Runtime, one per stream so concurrent streams never share partials, and
// grows on demand. The kernel's last split resets each counter it used to 0, so the counters are
// zeroed only when a buffer is allocated, never per call.
#include <cstdint>
#include <map>
#include <mutex>

#include "api/decode_params.h"
#include "attnjit/attnjit.h"
#include "codegen/decode_plan.h"

namespace attnjit {

namespace {
int64_t align256(int64_t n) { return (n + 255) / 256 * 256; }
}  // namespace

// Layout of one stream's buffer: [counters | partial O | partial LSE]. The counter region sits at
// a fixed place and is zeroed once; a call that needs more counters or partial space than the
// buffer has gets a new, zeroed buffer (1.5x, so a slowly growing batch reallocates rarely).
struct Runtime::DecodeWorkspaces {
  struct Slot {
    DeviceBuffer buf;
    int64_t counter_bytes = 0;  // zeroed counter region at the front
  };
  std::map<void*, Slot> by_stream;
};

PreparedKernel Runtime::prepare_decode(const DecodeProblem& problem) {
  return prepare(decode_spec(problem), decode_shape(problem));
}

void Runtime::decode(const DecodeArgs& args, void* stream) {
  const Platform platform = backend_->target().platform;
  DecodeParams params = make_decode_params(args, platform);
  if (args.problem.batch == 0) return;  // nothing to compute
  const ProblemSpec spec = decode_spec(args.problem);
  const RunShape shape = decode_shape(args.problem);
  const PreparedKernel pk = prepare(spec, shape);
  const int splits = decode_num_splits(spec, pk.config, backend_->target(), shape);
  params.num_splits = splits;
  params.row_chunks = static_cast<int>(decode_row_chunks(spec, pk.config));
  const DecodeWorkspace ws = decode_workspace(spec, pk.config, shape, splits);

  // One lock over workspace and launch: the CPU backend runs the launch synchronously, so two
  // threads on the same (null) stream must not interleave in one workspace; on GPUs the lock is
  // held only for the enqueue.
  std::lock_guard lock(decode_mu_);
  if (splits > 1) {
    if (!decode_ws_) decode_ws_ = std::make_shared<DecodeWorkspaces>();
    DecodeWorkspaces::Slot& slot = decode_ws_->by_stream[stream];
    const int64_t need_counters = align256(ws.counter_bytes);
    const int64_t need_partials = align256(ws.partial_o_bytes) + align256(ws.partial_lse_bytes);
    if (slot.counter_bytes < need_counters ||
        static_cast<int64_t>(slot.buf.size()) - slot.counter_bytes < need_partials) {
      // Kernels still queued on this stream may use the old buffer: let them finish first.
      if (slot.buf.get()) backend_->synchronize(stream);
      slot.buf.reset();
      slot.counter_bytes = align256(need_counters + need_counters / 2);
      const int64_t bytes = slot.counter_bytes + align256(need_partials + need_partials / 2);
      slot.buf = DeviceBuffer(*backend_, static_cast<size_t>(bytes));
      backend_->fill_bytes(slot.buf.get(), 0, static_cast<size_t>(bytes));
    }
    auto* base = static_cast<unsigned char*>(slot.buf.get());
    params.counters = reinterpret_cast<int*>(base);
    params.partial_o = reinterpret_cast<float*>(base + slot.counter_bytes);
    params.partial_lse = reinterpret_cast<float*>(base + slot.counter_bytes + align256(ws.partial_o_bytes));
  }
  backend_->launch(*pk.kernel, pk.geometry, &params, sizeof params, stream);
}

}  // namespace attnjit
