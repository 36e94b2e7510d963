// The Runtime's launch workspaces: one buffer per stream, so concurrent streams never share
// partials, grown on demand. Its zeroed region (decode's split counters) sits at the front and is
// zeroed only when a buffer is allocated: the kernels leave it zero (the last split of a slot
// resets its counter), so no call pays for a memset.
#include <map>

#include "attnjit/attnjit.h"
#include "codegen/kernel_template.h"
#include "runtime/backend.h"

namespace attnjit {

namespace {
int64_t align256(int64_t n) { return (n + 255) / 256 * 256; }
}  // namespace

struct Runtime::Workspaces {
  struct Slot {
    DeviceBuffer buf;
    int64_t zeroed_bytes = 0;  // zeroed region at the front
  };
  std::map<void*, Slot> by_stream;
};

// Called with launch_mu_ held. A call that needs more zeroed or scratch space than the stream's
// buffer has gets a new, zeroed buffer (1.5x, so a slowly growing batch reallocates rarely).
Workspace Runtime::workspace(void* stream, const WorkspaceSize& need) {
  if (!workspaces_) workspaces_ = std::make_shared<Workspaces>();
  Workspaces::Slot& slot = workspaces_->by_stream[stream];
  const int64_t need_zeroed = align256(need.zeroed);
  const int64_t need_scratch = align256(need.scratch);
  if (slot.zeroed_bytes < need_zeroed ||
      static_cast<int64_t>(slot.buf.size()) - slot.zeroed_bytes < need_scratch) {
    // Kernels still queued on this stream may use the old buffer: let them finish first.
    if (slot.buf.get()) backend_->synchronize(stream);
    slot.buf.reset();
    slot.zeroed_bytes = align256(need_zeroed + need_zeroed / 2);
    const int64_t bytes = slot.zeroed_bytes + align256(need_scratch + need_scratch / 2);
    slot.buf = DeviceBuffer(*backend_, static_cast<size_t>(bytes));
    backend_->fill_bytes(slot.buf.get(), 0, static_cast<size_t>(bytes));
  }
  auto* base = static_cast<unsigned char*>(slot.buf.get());
  return {base, base + slot.zeroed_bytes};
}

}  // namespace attnjit
