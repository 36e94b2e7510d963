// ALiBi and sinks through the public decode API: the key carries _alibi / _sink in the grammar's
// order and reads back; DecodeArgs' slopes and sinks are checked with errors naming them (null
// when the problem asks for them, given when it does not, a batch stride below heads_q, values
// that are not numbers on the CPU); the launch contract refuses arguments whose flags differ from
// the kernel's spec and lays the variant tensors after DecodeParams; Runtime::decode on the CPU
// backend applies them (an all -inf sink and zero slopes reproduce the plain call exactly).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "attnjit/attnjit.h"
#include "codegen/decode/arguments.h"
#include "codegen/kernel_template.h"
#include "codegen/registry.h"
#include "templates/decode/params.h"

#ifdef ATTNJIT_WITH_LLVM
#include "runtime/cpu/cpu_backend.h"
#endif

namespace attnjit {
namespace {

struct Call {
  static constexpr int64_t B = 2, Hkv = 2, G = 4, Hq = Hkv * G, D = 64, L = 200;
  std::vector<float> q, k, v, o, slopes, sinks;
  std::vector<int32_t> lens{200, 0};
  DecodeArgs args;

  Call(bool alibi, bool sink) {
    std::mt19937_64 rng(3);
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    q.resize(B * Hq * D);
    k.resize(B * L * Hkv * D);
    v.resize(k.size());
    for (auto* t : {&q, &k, &v})
      for (float& x : *t) x = u(rng);
    o.assign(q.size(), std::numeric_limits<float>::quiet_NaN());
    slopes.assign(Hq, 0.25f);
    sinks.assign(Hq, 1.5f);
    args.problem = {.dtype = DType::F32, .head_dim = int(D), .batch = B, .heads_q = Hq, .heads_kv = Hkv,
                    .max_seqlen_k = L, .kv_capacity = L, .alibi = alibi, .sink = sink};
    args.q = TensorView::bshd(q.data(), 1, Hq, D);
    args.o = TensorView::bshd(o.data(), 1, Hq, D);
    args.k = TensorView::bshd(k.data(), L, Hkv, D);
    args.v = TensorView::bshd(v.data(), L, Hkv, D);
    args.seqlens_k = lens.data();
    if (alibi) args.alibi_slopes = slopes.data();
    if (sink) args.sinks = sinks.data();
  }
};

void expect_error(const DecodeArgs& a, const std::string& field) {
  try {
    make_decode_params(a, Platform::Cpu);
    ADD_FAILURE() << "no error for " << field;
  } catch (const SpecError& e) {
    EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
  }
}

TEST(DecodeAlibiSinkApi, KeysRoundTripInGrammarOrder) {
  for (const char* key : {"decode_bf16_hd128_none_alibi_g8_q1_k32768_p16", "decode_f16_hd64_causal_sink_g4_q4_k4096_p0",
                          "decode_bf16_hd128_sw256-0_sc50_alibi_sink_g1_q2_k1024_p1_kv-e4m3"}) {
    const ProblemSpec s = ProblemSpec::parse(key);
    EXPECT_NO_THROW(s.validate()) << key;
    EXPECT_EQ(s.key(), key);
  }
  EXPECT_THROW(ProblemSpec::parse("decode_bf16_hd128_none_sink_alibi_g8_q1_k32768_p16"), SpecError);
  Call c(true, true);
  EXPECT_EQ(decode_spec(c.args.problem).key(), "decode_f32_hd64_none_alibi_sink_g4_q1_k256_p0");
}

TEST(DecodeAlibiSinkApi, ValidationNamesTheArgument) {
  Call c(true, true);
  EXPECT_NO_THROW(make_decode_params(c.args, Platform::Cpu));
  DecodeArgs a = c.args;
  a.alibi_slopes = nullptr;
  expect_error(a, "alibi_slopes");
  a = c.args;
  a.sinks = nullptr;
  expect_error(a, "sinks");
  Call plain(false, false);
  a = plain.args;
  a.alibi_slopes = c.slopes.data();
  expect_error(a, "alibi_slopes");
  a = plain.args;
  a.sinks = c.sinks.data();
  expect_error(a, "sinks");
  a = c.args;
  a.alibi_batch_stride = Call::Hq - 1;  // [batch, heads] rows must not overlap
  expect_error(a, "alibi_batch_stride");
  std::vector<float> bad(c.slopes);
  bad[3] = std::numeric_limits<float>::quiet_NaN();
  a = c.args;
  a.alibi_slopes = bad.data();
  expect_error(a, "alibi_slopes[0, 3]");
  a = c.args;
  std::vector<float> bad_sinks(c.sinks);
  bad_sinks[5] = std::numeric_limits<float>::infinity();
  a.sinks = bad_sinks.data();
  expect_error(a, "sinks[5]");
  bad_sinks[5] = -std::numeric_limits<float>::infinity();  // -inf: that head has no sink
  EXPECT_NO_THROW(make_decode_params(a, Platform::Cpu));
}

TEST(DecodeAlibiSinkApi, LaunchContractLaysTheVariantTensorsAfterTheParams) {
  Call c(true, true);
  const Target t = Target::cuda("sm_80");
  ProblemSpec spec = decode_spec(c.args.problem);
  spec.dtype = DType::BF16;  // a GPU spec of the same layout (arguments are not re-checked per dtype)
  c.args.problem.dtype = DType::BF16;
  // GPU rows need 16-byte alignment; host vectors of floats are, at these sizes, for the check.
  const KernelTemplate& tmpl = select_template(spec, t);
  TileConfig cfg = tmpl.default_config(spec, t);
  cfg.splits = 1;  // no split workspace needed
  EXPECT_NE(tmpl.render(spec, cfg, t).entry.find("_variant_kernel<"), std::string::npos);
  const std::vector<unsigned char> buf =
      decode_arguments(spec, cfg, t, LaunchArgs{nullptr, &c.args}, Workspace{nullptr, nullptr});
  ASSERT_EQ(buf.size(), sizeof(DecodeVariantParams));
  DecodeVariantParams vp;
  std::memcpy(&vp, buf.data(), sizeof vp);
  EXPECT_EQ(vp.alibi_slopes, c.slopes.data());
  EXPECT_EQ(vp.alibi_batch_stride, 0);
  EXPECT_EQ(vp.sinks, c.sinks.data());
  EXPECT_EQ(vp.heads_q, int(Call::Hq));
  // Arguments built for another variant than the kernel: refused, naming the flag.
  DecodeArgs other = c.args;
  other.problem.sink = false;
  other.sinks = nullptr;
  try {
    decode_arguments(spec, cfg, t, LaunchArgs{nullptr, &other}, Workspace{nullptr, nullptr});
    ADD_FAILURE() << "mismatched sink flag accepted";
  } catch (const SpecError& e) {
    EXPECT_NE(std::string(e.what()).find("sink"), std::string::npos) << e.what();
  }
  // Without a variant the kernel keeps its plain entry and DecodeParams alone.
  Call plain(false, false);
  plain.args.problem.dtype = DType::BF16;
  ProblemSpec ps = decode_spec(plain.args.problem);
  EXPECT_EQ(decode_arguments(ps, cfg, t, LaunchArgs{nullptr, &plain.args}, Workspace{nullptr, nullptr}).size(),
            sizeof(DecodeParams));
  EXPECT_EQ(tmpl.render(ps, tmpl.default_config(ps, t), t).entry.find("_variant"), std::string::npos);
}

#ifdef ATTNJIT_WITH_LLVM
TEST(DecodeAlibiSinkApi, CpuRuntimeAppliesThemAndNeutralValuesChangeNothing) {
  CpuBackendOptions opt;
  opt.use_disk_cache = false;
  Runtime rt(make_cpu_backend(opt));
  Call plain(false, false), both(true, true), neutral(true, true);
  std::vector<float> lse_plain(Call::B * Call::Hq), lse_both(lse_plain.size()), lse_neutral(lse_plain.size());
  plain.args.lse = LseView::dense(lse_plain.data(), Call::Hq, 1);
  both.args.lse = LseView::dense(lse_both.data(), Call::Hq, 1);
  neutral.args.lse = LseView::dense(lse_neutral.data(), Call::Hq, 1);
  neutral.slopes.assign(Call::Hq, 0.f);
  neutral.sinks.assign(Call::Hq, -std::numeric_limits<float>::infinity());
  rt.decode(plain.args);
  rt.decode(both.args);
  rt.decode(neutral.args);
  for (size_t i = 0; i < plain.o.size(); ++i) ASSERT_EQ(neutral.o[i], plain.o[i]) << i;
  for (size_t i = 0; i < lse_plain.size(); ++i) EXPECT_EQ(lse_neutral[i], lse_plain[i]) << i;
  // Sequence 0 (200 keys): the sink lowers O by exp(lse - lse'); sequence 1 (empty): O = 0,
  // LSE = the sink.
  double changed = 0;
  for (size_t i = 0; i < size_t(Call::Hq * Call::D); ++i) changed = std::max(changed, double(std::abs(both.o[i] - plain.o[i])));
  EXPECT_GT(changed, 1e-3);
  for (size_t i = size_t(Call::Hq * Call::D); i < both.o.size(); ++i) ASSERT_EQ(both.o[i], 0.f) << i;
  for (int64_t h = 0; h < Call::Hq; ++h) EXPECT_NEAR(lse_both[size_t(Call::Hq + h)], 1.5f, 1e-6) << h;
}
#endif

}  // namespace
}  // namespace attnjit
