// The FA3-shaped sm_90a test kernel (sm90_fa3_kernel.cuh) runs in the emulator — producer
// warpgroup with TMA and mbarriers, two consumer warpgroups with wgmma and ping-pong named
// barriers — and matches the float64 reference. Lengths cut the 128-row and 64-key tiles so
// TMA's out-of-bounds zero fill and dropped stores are exercised; a second schedule order must
// give the same bits.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "emu/sm90_fa3_kernel.cuh"
#include "runtime/reference_attention.h"

EMU_DEFINE_DYNAMIC_SMEM(attnjit::sm90_test, unsigned char, fa3_smem)

namespace {

using namespace attnjit;
using namespace attnjit::sm90_test;

struct Fa3Run {
  std::vector<uint16_t> o;
  emu::Stats stats;
};

alignas(64) sm90::TensorMap g_tq, g_tk, g_tv, g_to;

// [seq][heads][64] bf16/f16 tensors; maps of (d, seq, head) with the given row box.
void encode(sm90::TensorMap* m, int dtype, void* data, int seqlen, int heads, uint32_t box_rows,
            int swizzle = emu::sm90::kSwizzle128B) {
  const uint64_t dims[3] = {64, static_cast<uint64_t>(seqlen), static_cast<uint64_t>(heads)};
  const uint64_t strides[2] = {static_cast<uint64_t>(heads) * 128, 128};
  const uint32_t box[3] = {64, box_rows, 1}, es[3] = {1, 1, 1};
  const int rc = emu::sm90::encode_tiled(m, dtype, 3, data, dims, strides, box, es, 0,
                                         swizzle, 0, 0);
  ASSERT_EQ(rc, 0) << emu::sm90::last_encode_error();
}

template <class Element>
Fa3Run run_fa3(std::vector<uint16_t>& q, std::vector<uint16_t>& k, std::vector<uint16_t>& v, int sq,
               int sk, int heads, emu::Order order, int k_swizzle = emu::sm90::kSwizzle128B) {
  Fa3Run r;
  r.o.assign(static_cast<size_t>(sq * heads * 64), 0x7fff);  // poison: every element must be written
  const int dt = Element::kIsBf16 ? emu::sm90::kTmaBf16 : emu::sm90::kTmaF16;
  encode(&g_tq, dt, q.data(), sq, heads, kBlockM);
  encode(&g_tk, dt, k.data(), sk, heads, kBlockN, k_swizzle);
  encode(&g_tv, dt, v.data(), sk, heads, kBlockN);
  encode(&g_to, dt, r.o.data(), sq, heads, 64);
  emu::LaunchConfig lc;
  lc.grid = {static_cast<unsigned>((sq + kBlockM - 1) / kBlockM), static_cast<unsigned>(heads), 1};
  lc.block = {kThreads, 1, 1};
  lc.dynamic_smem = kSmemBytes;
  lc.order = order;
  const Fa3Params p{sq, sk, static_cast<float>(1.0 / std::sqrt(64.0) * M_LOG2E)};
  r.stats = emu::launch(lc, attnjit::sm90_test::fa3_smem,
                        [&] { fa3_test_kernel<Element>(g_tq, g_tk, g_tv, g_to, p); });
  return r;
}

// Random 16-bit inputs and the float64 reference output on exactly those values.
struct Inputs {
  std::vector<uint16_t> q, k, v;
  std::vector<double> ref;
};

template <class Element>
Inputs make_inputs(int sq, int sk, int heads) {
  const bool bf = Element::kIsBf16;
  std::mt19937 rng(static_cast<unsigned>(sq * 131 + sk));
  std::normal_distribution<float> nd(0.f, 1.f);
  auto make = [&](int seq, std::vector<uint16_t>& h, std::vector<double>& d) {
    h.resize(static_cast<size_t>(seq * heads * 64));
    d.resize(h.size());
    for (size_t i = 0; i < h.size(); ++i) {
      h[i] = bf ? float_to_bf16(nd(rng)) : float_to_f16(nd(rng));
      d[i] = bf ? bf16_to_float(h[i]) : f16_to_float(h[i]);
    }
  };
  Inputs in;
  std::vector<double> qd, kd, vd;
  make(sq, in.q, qd);
  make(sk, in.k, kd);
  make(sk, in.v, vd);
  ReferenceProblem rp;
  rp.heads_q = rp.heads_kv = heads;
  rp.seqlen_q = sq;
  rp.seqlen_k = sk;
  rp.head_dim = 64;
  in.ref.resize(qd.size());
  reference_attention(rp, qd.data(), kd.data(), vd.data(), in.ref.data(), nullptr);
  return in;
}

// Max |O - reference|; infinity when an output is NaN or was never written.
template <class Element>
double max_error(const Fa3Run& r, const Inputs& in) {
  double max_err = 0;
  for (size_t i = 0; i < in.ref.size(); ++i) {
    const double got = Element::kIsBf16 ? bf16_to_float(r.o[i]) : f16_to_float(r.o[i]);
    if (!std::isfinite(got)) return INFINITY;
    max_err = std::max(max_err, std::abs(got - in.ref[i]));
  }
  return max_err;
}

template <class Element>
void check_against_reference(int sq, int sk, int heads) {
  const bool bf = Element::kIsBf16;
  Inputs in = make_inputs<Element>(sq, sk, heads);
  const Fa3Run a = run_fa3<Element>(in.q, in.k, in.v, sq, sk, heads, emu::Order::Forward);
  const double max_err = max_error<Element>(a, in);
  // P and O are rounded to 16 bits once each: 2^-8 (bf16) / 2^-11 (f16) relative, |O| < ~3.
  const double tol = bf ? 0.03 : 0.004;
  EXPECT_LT(max_err, tol) << "sq " << sq << " sk " << sk;
  std::printf("[ fa3 emu  ] %s sq %d sk %d heads %d: max |err| %.2e, %llu blocks, %llu switches\n",
              bf ? "bf16" : "f16", sq, sk, heads, max_err,
              static_cast<unsigned long long>(a.stats.blocks),
              static_cast<unsigned long long>(a.stats.switches));
  const Fa3Run b = run_fa3<Element>(in.q, in.k, in.v, sq, sk, heads, emu::Order::Reverse);
  EXPECT_EQ(a.o, b.o) << "schedule order changed the result";
}

TEST(Sm90Fa3Emu, Bf16PartialTilesMatchTheReference) { check_against_reference<Bf16>(200, 160, 2); }
TEST(Sm90Fa3Emu, F16ManyKeyTilesMatchTheReference) { check_against_reference<F16>(128, 320, 1); }

// A K tensor map without the swizzle the kernel's descriptors assume: every TMA and wgmma step
// is legal, only the layout disagrees — the emulator must turn that into a wrong answer.
TEST(Sm90Fa3Emu, TensorMapSwizzleThatDisagreesWithTheDescriptorsGivesAWrongAnswer) {
  Inputs in = make_inputs<Bf16>(128, 128, 1);
  const Fa3Run good = run_fa3<Bf16>(in.q, in.k, in.v, 128, 128, 1, emu::Order::Forward);
  const Fa3Run bad = run_fa3<Bf16>(in.q, in.k, in.v, 128, 128, 1, emu::Order::Forward, emu::sm90::kSwizzleNone);
  EXPECT_LT(max_error<Bf16>(good, in), 0.03);
  EXPECT_GT(max_error<Bf16>(bad, in), 0.1);
}

}  // namespace
