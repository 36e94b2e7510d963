// TileConfig: HOW to compute a problem — the tuner's search variable.
//
// Canonical key, fields in a fixed order; the template's name first; optional knobs appear only
// when set:
//   sm80_bm128_bn64_w4_s2       the sm80 template: block_m 128, block_n 64, 4 warps, 2 stages
//   sm80_bm64_bn64_w4_s2_sp8    decode: 8 KV splits
//   cpu_bm32_bn64_w1_s1_v16_t2  CPU: vector width 16, 2 threads
// Keys written before configs named their template ("bm128_bn64_w4_s2") still parse, with an
// empty `tmpl`: the highest-priority template for the problem and target (the registry).
// Knob meanings per backend:
//   block_m / block_n  query rows / key columns per tile
//   warps              GPU: warps per thread block; CPU: unused, must be 1
//   stages             GPU: K/V cp.async pipeline depth; CPU: 1
//   splits   (_sp)     decode: number of KV splits (0 = chosen by rule from the lengths)
//   vec      (_v)      vector width in elements (decode loads, CPU SIMD); 0 = template default
//   threads  (_t)      CPU worker threads; 0 = default (1 for GPU)
//   order    (_o)      CPU prefill: loop order variant, 0 = default; CPU decode: 0 = fp32
//                      multiply-adds, 1 = bf16 pair dot products (vdpbf16ps), 2 = AMX tiles;
//                      sm80 prefill: 1 = key tiles end at a
//                      query block's last visible key and a half tile starts the range when it
//                      fits, 2 = the same and, in tiles the mask cuts, each warp skips the
//                      16-key steps its rows cannot see (masks with a key range), 0 = tiles on
//                      multiples of block_n; sm90 prefill: 1 = a consumer warpgroup passes
//                      through the key tiles its 64 rows cannot see
//   warpgroups (_wg)   Hopper: consumer warpgroups; 0 = not a Hopper config
//   pingpong   (_pp)   Hopper: 1 = consumer warpgroups take turns issuing GEMMs; 0 = off
//   overlap    (_ov)   Hopper: 1 = next S GEMM in flight during the softmax; 0 = off
//   persistent (_ps)   Hopper: 1 = one block per SM walking the tiles (LPT for causal); 2 = the same
//                      with O in its own shared buffer (Q freed early); 3 = 2, and the next
//                      tile's first S GEMM in flight during this tile's epilogue; 0 = off
#pragma once

#include <string>
#include <string_view>

namespace attnjit {

struct TileConfig {
  int block_m = 64;
  int block_n = 64;
  int warps = 4;
  int stages = 2;
  int splits = 0;
  int vec = 0;
  int threads = 0;
  int order = 0;
  int warpgroups = 0;
  int pingpong = 0;
  int overlap = 0;
  int persistent = 0;
  // The template's short name ("sm80", "cpu", "sm90"); "" = the highest-priority one. Last, so
  // aggregate initialisation by knobs ({bm, bn, warps, stages}) still reads naturally.
  std::string tmpl;

  std::string key() const;
  // Whether any Hopper-only knob is set (every other template refuses such a config).
  bool has_hopper_knobs() const { return warpgroups || pingpong || overlap || persistent; }
  // Throws SpecError naming the field on a malformed key.
  static TileConfig parse(std::string_view key);

  bool operator==(const TileConfig&) const = default;
  auto operator<=>(const TileConfig&) const = default;
};

}  // namespace attnjit
