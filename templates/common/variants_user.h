// User variants: a score_mod / mask_mod snippet (codegen/snippet.h) and block sparsity
// (FlexAttention's BlockMask), as hooks every template calls. The prelude defines
// attnjit_gen::UserMods (deriving from UserModsBase, with the snippets as member functions) and
// hands it to the template in its mask policy (sm80: WithUserMods<Mask, UserMods, tile>) or its
// config (CPU: `using UserMods`, kBlockSparse). Problems without user variants see NoUserMods,
// whose hooks compile to nothing.
//
// Tile visiting: KeyBlocks lists the key blocks (of kBlockN keys) a query block visits. Dense:
// the contiguous range the built-in mask allows. Block-sparse: the block mask's partial tiles,
// then its full tiles, each cut into bs / kBlockN blocks (kBlockM and kBlockN divide bs, so a
// query block lies in one query tile). Only where neither the built-in mask nor the block mask
// calls a block partial does a kernel skip the per-element mask (and with a mask_mod and no
// block mask, every block is partial: a snippet has no key range to skip by).
// Same compiler constraints as variants.h: no includes beyond our own, builtins only.
#pragma once

#include "common/variants.h"
#include "prefill/params.h"

namespace attnjit {
namespace variants {

// What a snippet sees besides its arguments: aux<T>(i), aux_size(i).
struct UserModsBase {
  const UserModParams* u_;
  template <class T>
  ATTNJIT_HD const T* aux(int i) const { return static_cast<const T*>(u_->aux[i]); }
  ATTNJIT_HD long long aux_size(int i) const { return u_->aux_size[i]; }
};

struct NoUserMods : UserModsBase {
  enum : bool { kScoreMod = false, kMaskMod = false };
  template <class Score>
  ATTNJIT_HD Score score_mod(Score s, int, int, int, int) const { return s; }
  ATTNJIT_HD bool mask_mod(int, int, int, int) const { return true; }
};

// A mask policy with user variants (the sm80 templates' Mask parameter).
template <class Mask, class Mods, int kTile>
struct WithUserMods : Mask {
  using UserMods = Mods;
  enum : bool { kMasksKeys = Mask::kMasksKeys || Mods::kMaskMod || kTile > 0, kCausal = Mask::kCausal };
  enum : int { kBlockSparse = kTile };
};

// C::UserMods where C declares it, else NoUserMods; C::kBlockSparse, else 0.
template <class C, class = void>
struct mods_of_ {
  typedef NoUserMods type;
};
template <class T>
struct void_of_ {
  typedef void type;
};
template <class C>
struct mods_of_<C, typename void_of_<typename C::UserMods>::type> {
  typedef typename C::UserMods type;
};
template <class C>
using mods_of = typename mods_of_<C>::type;

template <class C>
ATTNJIT_HD constexpr auto block_sparse_of_(int) -> decltype(int(C::kBlockSparse)) { return C::kBlockSparse; }
template <class C>
ATTNJIT_HD constexpr int block_sparse_of_(long) { return 0; }
template <class C>
ATTNJIT_HD constexpr int block_sparse_of() { return block_sparse_of_<C>(0); }

template <class C>
ATTNJIT_HD mods_of<C> make_mods(const UserModParams& u) {
  mods_of<C> m;
  m.u_ = &u;
  return m;
}

// The key blocks one query block visits (see the header comment).
template <int kBlockN, bool kSparse, bool kMaskMod>
struct KeyBlocks {
  int first = 0, n = 0;                           // dense: blocks [first, first + n)
  const int* part = 0;                            // sparse: partial tiles, then full tiles
  const int* full = 0;
  int n_part = 0, sub = 1, tile = 0;

  ATTNJIT_HD int count() const { return n; }
  ATTNJIT_HD long long n0(int it) const {
    if (!kSparse) return (long long)(first + it) * kBlockN;
    const int t = it / sub;
    const int idx = t < n_part ? part[t] : full[t - n_part];
    return (long long)idx * tile + (long long)(it % sub) * kBlockN;
  }
  // Whether the user variants leave block `it` fully visible (the built-in mask and the length
  // bounds are the kernel's own test).
  ATTNJIT_HD bool user_full(int it) const {
    if (kSparse) return it / sub >= n_part;
    return !kMaskMod;
  }
};

// Dense blocks [nmin, nmax) or, for a block-sparse C, query tile m0 / bs's lists.
template <class C, int kBlockN>
ATTNJIT_HD KeyBlocks<kBlockN, (block_sparse_of<C>() > 0), mods_of<C>::kMaskMod> key_blocks(
    const UserModParams& u, long long b, long long h, long long m0, long long nmin, long long nmax) {
  KeyBlocks<kBlockN, (block_sparse_of<C>() > 0), mods_of<C>::kMaskMod> k;
  if (block_sparse_of<C>() > 0) {
    constexpr int tile = block_sparse_of<C>() > 0 ? block_sparse_of<C>() : 1;  // dense: never used
    const long long row = b * u.bm_batch_stride + h * u.bm_head_stride + m0 / tile;
    k.tile = block_sparse_of<C>();
    k.sub = block_sparse_of<C>() / kBlockN;
    k.n_part = u.kv_num_blocks[row];
    k.part = u.kv_indices + row * u.bm_k_tiles;
    k.full = u.full_kv_indices + row * u.bm_k_tiles;
    k.n = (k.n_part + u.full_kv_num_blocks[row]) * k.sub;
  } else {
    k.first = (int)nmin;
    k.n = nmax > nmin ? (int)(nmax - nmin) : 0;
  }
  return k;
}

// Score tiles as the CPU template keeps them: s[j * ld + i] for key n0 + j, query row m0 + i.
// score_mod takes and returns natural units; the kernel's are `unit` times that.
template <class Mods>
ATTNJIT_HD void score_mod_tile(const Mods& mods, float* s, int ld, int keys, int rows, long long b,
                               long long h, long long m0, long long n0, float unit) {
  const float inv = 1.f / unit;
  for (int j = 0; j < keys; ++j)
    for (int i = 0; i < rows; ++i)
      s[j * ld + i] = mods.score_mod(s[j * ld + i] * inv, (int)b, (int)h, (int)(m0 + i), (int)(n0 + j)) * unit;
}

}  // namespace variants
}  // namespace attnjit
