// The launch contract of the kernel templates: build_arguments validates the application's
// arguments and lays out the parameter buffer, workspace_bytes sizes decode's split partials,
// and the split count is decided in the decode module alone.
#include <gtest/gtest.h>

#include <cstring>

#include "codegen/decode/arguments.h"
#include "codegen/decode/plan.h"
#include "codegen/prefill/arguments.h"
#include "codegen/registry.h"

namespace attnjit {
namespace {

// Pointers are never dereferenced on the host: any 256-byte aligned addresses do.
void* fake(uintptr_t n) { return reinterpret_cast<void*>(n << 20); }

PrefillArgs prefill_args() {
  PrefillArgs a;
  a.problem = {DType::BF16, 128, {MaskKind::Causal}, 2, 8, 2, 1000, 1000};
  a.q = TensorView::bshd(fake(1), 1000, 8, 128);
  a.k = TensorView::bshd(fake(2), 1000, 2, 128);
  a.v = TensorView::bshd(fake(3), 1000, 2, 128);
  a.o = TensorView::bshd(fake(4), 1000, 8, 128);
  return a;
}

DecodeArgs decode_args(int64_t len) {
  DecodeArgs a;
  a.problem.dtype = DType::BF16;
  a.problem.head_dim = 128;
  a.problem.heads_q = 32;
  a.problem.heads_kv = 8;
  a.problem.max_seqlen_k = len;
  a.problem.kv_capacity = len;
  a.q = TensorView::bshd(fake(1), 1, 32, 128);
  a.o = TensorView::bshd(fake(2), 1, 32, 128);
  a.k = TensorView::bshd(fake(3), len, 8, 128);
  a.v = TensorView::bshd(fake(4), len, 8, 128);
  return a;
}

TEST(LaunchContract, PrefillBuildsTheParamsAndValidates) {
  const Target t = Target::cuda("sm_80");
  PrefillArgs a = prefill_args();
  const ProblemSpec spec = prefill_spec(a.problem);
  const KernelTemplate& tmpl = select_template(spec, t);
  const TileConfig cfg = tmpl.default_config(spec, t);
  const KernelLaunch l = tmpl.make_launch(spec, cfg, t, LaunchArgs{&a, nullptr});
  ASSERT_EQ(l.params.size(), sizeof(PrefillParams));
  PrefillParams p;
  std::memcpy(&p, l.params.data(), sizeof p);
  EXPECT_EQ(p.q, fake(1));
  EXPECT_EQ(p.heads_kv, 2);
  EXPECT_EQ(p.seqlen_k, 1000);
  EXPECT_EQ(l.geometry, tmpl.geometry(spec, cfg, t, prefill_shape(a.problem)));
  EXPECT_EQ(tmpl.workspace_bytes(spec, cfg, t, prefill_shape(a.problem)), WorkspaceSize{});
  a.k.data = nullptr;
  EXPECT_THROW(tmpl.build_arguments(spec, cfg, t, LaunchArgs{&a, nullptr}, {}), SpecError);
  // A prefill template takes prefill arguments, exactly one set.
  DecodeArgs d = decode_args(4096);
  EXPECT_THROW(tmpl.build_arguments(spec, cfg, t, LaunchArgs{nullptr, &d}, {}), SpecError);
  EXPECT_THROW(LaunchArgs{}.shape(), SpecError);
}

TEST(LaunchContract, DecodeDecidesSplitsAndLaysOutItsWorkspace) {
  const Target t = Target::cuda("sm_90a");  // 132 SMs: one sequence of 8 KV heads needs splits
  const DecodeArgs a = decode_args(131072);
  const ProblemSpec spec = decode_spec(a.problem);
  const RunShape shape = decode_shape(a.problem);
  const KernelTemplate& tmpl = select_template(spec, t);
  const TileConfig cfg = tmpl.default_config(spec, t);
  const int splits = decode_num_splits(spec, cfg, t, shape);
  ASSERT_GT(splits, 1);
  const WorkspaceSize need = tmpl.workspace_bytes(spec, cfg, t, shape);
  const int group = decode_combine_group(spec, cfg, t, splits);
  const DecodeWorkspace w = decode_workspace(spec, cfg, shape, splits, group);
  EXPECT_EQ(need.zeroed, w.counter_bytes);
  EXPECT_GE(need.scratch, w.partial_o_bytes + w.partial_lse_bytes);
  // Without workspace the call is refused, naming it; with it the params point into it.
  EXPECT_THROW(tmpl.build_arguments(spec, cfg, t, LaunchArgs{nullptr, &a}, {}), SpecError);
  const Workspace ws{fake(10), fake(20)};
  const KernelLaunch l = tmpl.make_launch(spec, cfg, t, LaunchArgs{nullptr, &a}, ws);
  DecodeParams p;
  ASSERT_EQ(l.params.size(), sizeof p);
  std::memcpy(&p, l.params.data(), sizeof p);
  EXPECT_EQ(p.num_splits, splits);
  EXPECT_EQ(p.combine_group, w.combine_group);
  EXPECT_EQ(p.counters, ws.zeroed);
  EXPECT_EQ(static_cast<void*>(p.partial_o), ws.scratch);
  EXPECT_GE(reinterpret_cast<char*>(p.partial_lse) - reinterpret_cast<char*>(p.partial_o), w.partial_o_bytes);
  EXPECT_EQ(l.geometry.grid[0], static_cast<unsigned>(splits * decode_row_chunks(spec, cfg)));
  // One split needs nothing: 64 sequences x 8 KV heads fill the GPU without splitting.
  DecodeArgs short_a = decode_args(4096);
  short_a.problem.batch = 64;
  const ProblemSpec s2 = decode_spec(short_a.problem);
  EXPECT_EQ(tmpl.workspace_bytes(s2, tmpl.default_config(s2, t), t, decode_shape(short_a.problem)), WorkspaceSize{});
  EXPECT_NO_THROW(tmpl.build_arguments(s2, tmpl.default_config(s2, t), t, LaunchArgs{nullptr, &short_a}, {}));
}

TEST(LaunchContract, RunShapeKeyRoundTrips) {
  const RunShape s{2, 32, 8, 4096, 4097};
  EXPECT_EQ(s.key(), "b2_hq32_hkv8_sq4096_sk4097");
  EXPECT_EQ(RunShape::parse(s.key()), s);
  EXPECT_THROW(RunShape::parse("b2_hq32_hkv5_sq1_sk1"), SpecError);
  EXPECT_THROW(RunShape::parse("b2_hq32"), SpecError);
  EXPECT_THROW(RunShape::parse("b-1_hq1_hkv1_sq1_sk1"), SpecError);
}

}  // namespace
}  // namespace attnjit
