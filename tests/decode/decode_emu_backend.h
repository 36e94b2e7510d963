// The sm_80 decode templates (templates/decode/sm80.cuh, mma_sm80.cuh) on the CPU emulator of
// tests/emu, as a Backend the decode harness drives: CUDA threads as fibers, warp collectives,
// cp.async with poisoned in-flight shared memory, blocks one at a time. get_kernel maps a
// rendered prelude (codegen's DecodeConfig constants) to one of the instantiations the including
// test compiled in (its registry); the templates' inline-PTX helpers are replaced by emulated
// ones (ATTNJIT_DECODE_EMULATED_PTX).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <regex>
#include <string>

#include "emu/cuda_shim.h"

// ---- CUDA vector types and helpers the kernel uses (NVRTC has them built in) ----
// With CUDA's alignment (16 / 8 bytes): a vector access at a misaligned address faults on the
// GPU, and UBSan's alignment check (scripts/sanitize.sh address decode) reports it here.
struct alignas(16) uint4 {
  unsigned x, y, z, w;
};
struct alignas(8) uint2 {
  unsigned x, y;
};
struct alignas(16) float4 {
  float x, y, z, w;
};
struct alignas(8) float2 {
  float x, y;
};
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline float2 make_float2(float x, float y) { return {x, y}; }
inline uint2 make_uint2(unsigned x, unsigned y) { return {x, y}; }
using std::max;
using std::min;

EMU_DEFINE_DYNAMIC_SMEM(attnjit::decode, uint4, smem_v4)

namespace attnjit::decode {

// The emulated counterparts of the template's inline-PTX helpers (same signatures).
__device__ __forceinline__ unsigned smem_u32(const void* p) { return emu::cvta_to_shared(p, smem_v4); }
__device__ __forceinline__ void cp_async_16(void* smem, const void* gmem, bool valid) {
  emu::block().cp_async16(smem_u32(smem), gmem, !valid);
}
__device__ __forceinline__ void cp_async_commit() { emu::block().cp_async_commit(); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  emu::block().cp_async_wait(N);
}
__device__ __forceinline__ uint4 ldg_nc_v4(const void* p) {
  if (reinterpret_cast<uintptr_t>(p) % 16 != 0) throw emu::EmuError("ld.global.nc.v4: address not 16-byte aligned");
  uint4 r;
  std::memcpy(&r, p, 16);
  return r;
}
__device__ __forceinline__ float4 ldcg_v4(const float* p) {
  if (reinterpret_cast<uintptr_t>(p) % 16 != 0) throw emu::EmuError("ld.global.cg.v4: address not 16-byte aligned");
  float4 r;
  std::memcpy(&r, p, 16);
  return r;
}
__device__ __forceinline__ float ldcg_f32(const float* p) { return *p; }
__device__ __forceinline__ float fast_exp2(float x) { return emu::ex2_approx_ftz(x); }
__device__ __forceinline__ float fast_log2(float x) { return emu::lg2_approx_ftz(x); }
template <class T>
__device__ __forceinline__ void unpack2(unsigned u, float& lo, float& hi) {
  const emu::Half16 t = T::kIsBf16 ? emu::Half16::BF16 : emu::Half16::F16;
  lo = emu::half_to_float(t, static_cast<uint16_t>(u & 0xffffu));
  hi = emu::half_to_float(t, static_cast<uint16_t>(u >> 16));
}
template <class T>
__device__ __forceinline__ void unpack8(const uint4& u, float (&f)[8]) {
  unpack2<T>(u.x, f[0], f[1]);
  unpack2<T>(u.y, f[2], f[3]);
  unpack2<T>(u.z, f[4], f[5]);
  unpack2<T>(u.w, f[6], f[7]);
}
// prmt.b32 (default mode): byte i of the result is byte (kSel >> 4i) & 7 of {b:a}.
template <unsigned kSel>
__device__ __forceinline__ unsigned byte_perm(unsigned a, unsigned b) {
  const unsigned long long ab = (static_cast<unsigned long long>(b) << 32) | a;
  unsigned r = 0;
  for (int i = 0; i < 4; ++i) r |= static_cast<unsigned>((ab >> (8 * ((kSel >> (4 * i)) & 7u))) & 0xffu) << (8 * i);
  return r;
}
// asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo)): a = hi, b = lo.
template <class T>
__device__ __forceinline__ unsigned pack2(float lo, float hi) {
  return emu::cvt_rn_x2(T::kIsBf16 ? emu::Half16::BF16 : emu::Half16::F16, hi, lo);
}

}  // namespace attnjit::decode

// The tensor-core kernel's helpers from templates/common/sm80_mma.cuh (which it does not include when
// emulated), with the same signatures.
namespace attnjit::sm80 {
__device__ __forceinline__ void ldmatrix_x4(unsigned (&r)[4], unsigned addr) { emu::ldmatrix_x4(r, addr, false); }
__device__ __forceinline__ void ldmatrix_x4_trans(unsigned (&r)[4], unsigned addr) {
  emu::ldmatrix_x4(r, addr, true);
}
template <class Element>
__device__ __forceinline__ void mma_16816(float (&c)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
  emu::mma_m16n8k16(Element::kIsBf16 ? emu::Half16::BF16 : emu::Half16::F16, c, a, b0, b1);
}
}  // namespace attnjit::sm80

#define ATTNJIT_DECODE_EMULATED_PTX 1
#include "templates/decode/sm80.cuh"
#include "templates/decode/mma_sm80.cuh"

#include "codegen/variant.h"
#include "decode/decode_harness.h"

namespace attnjit::testing {

// A DecodeConfig as codegen's prelude spells it.
template <class E, int D, int G, int QT, int RPC, int W, int BN, int S, int P, int MASK, long long WL, long long WR>
struct Cfg {
  using Elem = E;
  static constexpr int kHeadDim = D, kGroup = G, kQTokens = QT, kRowsPerCta = RPC, kWarps = W, kBlockN = BN,
                       kStages = S, kPageSize = P, kMask = MASK;
  static constexpr long long kWindowLeft = WL, kWindowRight = WR;
  static std::string key() {
    return std::string(E::kIsBf16 ? "Bf16" : "F16") + " " + std::to_string(D) + " " + std::to_string(G) + " " +
           std::to_string(QT) + " " + std::to_string(RPC) + " " + std::to_string(W) + " " + std::to_string(BN) +
           " " + std::to_string(S) + " " + std::to_string(P) + " " + std::to_string(MASK) + " " +
           std::to_string(WL) + " " + std::to_string(WR);
  }
};

// A config with an fp8 KV cache (fp8::Kind K), keyed as prelude_key spells it.
template <class Base, int K>
struct Fp8 : Base {
  static constexpr int kKvFp8 = K;
  static std::string key() { return Base::key() + (K == fp8::kE4M3 ? " e4m3" : " e5m2"); }
};

// A config with soft-capping: c = kCapTimes2 / 2 (30.5 is 61), keyed by the prelude's literal.
template <class Base, int kCapTimes2>
struct Capped : Base {
  static constexpr float kSoftcap = kCapTimes2 / 2.f;
  static std::string key() { return Base::key() + " " + softcap_literal(kSoftcap); }
};

// A config with user mods M (the mods entries, DecodeModParams), keyed as prelude_key spells it.
template <class Base, class M>
struct User : Base {
  using UserMods = M;
  static std::string key() { return Base::key() + " user"; }
};

// A config with ALiBi and / or sinks (the variant entries, DecodeVariantParams).
template <class Base, bool kA, bool kS>
struct Variant : Base {
  static constexpr bool kAlibi = kA, kSink = kS;
  static std::string key() { return Base::key() + (kA ? " alibi" : "") + (kS ? " sink" : ""); }
};

// The same key from a rendered prelude.
inline std::string prelude_key(const std::string& text) {
  std::map<std::string, std::string> v;
  static const std::regex const_re(R"(static constexpr [a-z ]+ (k\w+) = ([^;]+);)");
  for (std::sregex_iterator it(text.begin(), text.end(), const_re), end; it != end; ++it) v[(*it)[1]] = (*it)[2];
  auto num = [&](const char* k) {
    std::string s = v.at(k);
    if (s.size() > 2 && s.substr(s.size() - 2) == "LL") s.resize(s.size() - 2);
    if (s == "attnjit::decode::kMaskNone") return std::string("0");
    if (s == "attnjit::decode::kMaskCausal") return std::string("1");
    if (s == "attnjit::decode::kMaskWindow") return std::string("2");
    return s;
  };
  const bool bf16 = text.find("using Elem = attnjit::decode::Bf16;") != std::string::npos;
  std::string key = bf16 ? "Bf16" : "F16";
  for (const char* k : {"kHeadDim", "kGroup", "kQTokens", "kRowsPerCta", "kWarps", "kBlockN", "kStages", "kPageSize",
                        "kMask", "kWindowLeft", "kWindowRight"})
    key += " " + num(k);
  if (v.count("kSoftcap")) key += " " + v["kSoftcap"];
  if (v.count("kKvFp8")) key += v["kKvFp8"] == "attnjit::fp8::kE4M3" ? " e4m3" : " e5m2";
  if (v.count("kAlibi")) key += " alibi";
  if (v.count("kSink")) key += " sink";
  if (text.find("using UserMods") != std::string::npos) key += " user";
  return key;
}

// The launch's parameter block (DecodeParams, DecodeVariantParams for ALiBi / sinks,
// DecodeModParams for user mods), in the largest of them.
using Body = std::function<void(const decode_variants::DecodeModParams&)>;

template <class... Cs>
std::map<std::string, Body> kernels() {
  // block_m 16 is the tensor-core kernel (codegen/decode/sm80.cpp); ALiBi / sinks take the
  // variant entries, as codegen names them.
  return {{Cs::key(), [](const decode_variants::DecodeModParams& p) {
             constexpr bool kVariant = variants::has_alibi<Cs>() || variants::has_sink<Cs>();
             constexpr bool kMods = decode_variants::has_user_mods<Cs>();
             if constexpr (Cs::kRowsPerCta == 16 && kMods) decode::decode_mma_mods_kernel<Cs>(p);
             else if constexpr (kMods) decode::decode_mods_kernel<Cs>(p);
             else if constexpr (Cs::kRowsPerCta == 16 && kVariant) decode::decode_mma_variant_kernel<Cs>(p);
             else if constexpr (Cs::kRowsPerCta == 16) decode::decode_mma_kernel<Cs>(p);
             else if constexpr (kVariant) decode::decode_variant_kernel<Cs>(p);
             else decode::decode_kernel<Cs>(p);
           }}...};
}

struct EmuCompiled : CompiledKernel {
  Body body;
};

// A Backend over host memory that "compiles" by looking the prelude up in the registry and
// "launches" on the fiber emulator.
class EmuBackend final : public Backend {
 public:
  EmuBackend(emu::Order order, const std::map<std::string, Body>& registry) : order_(order), registry_(registry) {
    target_ = Target::cuda("sm_80");
    target_.sm_count = 4;
  }
  const Target& target() const override { return target_; }
  std::string describe() const override { return "CPU emulator of sm_80"; }
  std::string compiler_version() const override { return "emu"; }
  std::shared_ptr<const CompiledKernel> get_kernel(const KernelSource& src) override {
    const std::string key = prelude_key(src.text);
    auto it = registry_.find(key);
    if (it == registry_.end())
      throw BackendError("emulator: no compiled-in instantiation for " + src.name + " (key '" + key + "')");
    auto k = std::make_shared<EmuCompiled>();
    k->source = src;
    k->body = it->second;
    return k;
  }
  void launch(const CompiledKernel& kernel, const LaunchGeometry& g, const void* args, size_t args_size,
              void*) override {
    const bool variant = kernel.source.text.find("kAlibi") != std::string::npos ||
                         kernel.source.text.find("kSink") != std::string::npos;
    const bool mods = kernel.source.text.find("using UserMods") != std::string::npos;
    if (args_size != (mods      ? sizeof(decode_variants::DecodeModParams)
                      : variant ? sizeof(DecodeVariantParams)
                                : sizeof(DecodeParams)))
      throw BackendError("emulator: expected DecodeParams (DecodeVariantParams with ALiBi / sinks, DecodeModParams with user mods)");
    decode_variants::DecodeModParams p{};
    std::memcpy(&p, args, args_size);
    emu::LaunchConfig cfg;
    cfg.grid = {g.grid[0], g.grid[1], g.grid[2]};
    cfg.block = {g.block[0], g.block[1], g.block[2]};
    cfg.dynamic_smem = g.dynamic_smem;
    cfg.order = order_;
    cfg.block_order = order_;  // splits arrive at the combine in other orders too
    cfg.seed = ++launches_;
    cfg.stack_bytes = 64 * 1024;
    const Body& body = static_cast<const EmuCompiled&>(kernel).body;
    emu::launch(cfg, reinterpret_cast<unsigned char*>(decode::smem_v4), [&] { body(p); });
  }
  void synchronize(void*) override {}
  // Exactly `bytes` (256-byte aligned like cudaMalloc, not rounded up): under ASan a kernel
  // access past the end of a tensor is reported as it would be by compute-sanitizer.
  void* allocate(size_t bytes) override {
    void* p = nullptr;
    if (posix_memalign(&p, 256, bytes ? bytes : 1) != 0) throw BackendError("emulator: out of memory");
    return p;
  }
  void release(void* p) noexcept override { std::free(p); }
  void copy_to_device(void* d, const void* s, size_t n) override { std::memcpy(d, s, n); }
  void copy_to_host(void* d, const void* s, size_t n) override { std::memcpy(d, s, n); }
  void fill_bytes(void* d, unsigned char v, size_t n) override { std::memset(d, v, n); }
  std::vector<double> time(const std::vector<Launch>&, int, int, void*) override {
    throw BackendError("emulator: no timing");
  }

 private:
  Target target_;
  emu::Order order_;
  uint64_t launches_ = 0;  // each launch shuffles differently
  const std::map<std::string, Body>& registry_;
};

}  // namespace attnjit::testing
