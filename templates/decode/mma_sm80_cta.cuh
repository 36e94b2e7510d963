// The body of the tensor-core decode kernel (decode/mma_sm80.cuh) (no include guard: included as the body of
// its entries, the plain kernel taking DecodeParams and the variant kernels taking
// DecodeVariantParams / DecodeModParams, so the plain kernel's code and PTX are exactly those of a kernel written
// inline; a shared __device__ function changes its loop code). `p` and `C` are the entry's.
  using T = typename C::Elem;
  constexpr int D = C::kHeadDim;
  constexpr int G = C::kGroup;
  constexpr int QT = C::kQTokens;
  constexpr int ROWS = G * QT;
  constexpr int RPC = 16;
  constexpr int W = C::kWarps;
  constexpr int BN = C::kBlockN;
  constexpr int S = C::kStages;
  constexpr int P = C::kPageSize;
  constexpr int KV = fp8::kind_of<C>();  // fp8 cache kind (0: K/V in the element type)
  constexpr int KB = KV ? 1 : 2;          // bytes per K/V element in memory
  using MT = typename MmaElem<T, KV != 0>::type;  // the MMAs' element type (f16 with an fp8 cache)
  constexpr int CH = D / 8;   // 16-byte chunks per 16-bit K/V row (what ldmatrix reads)
  constexpr int RCH = D * KB / 16;  // 16-byte chunks per K/V row in memory
  constexpr int NT = BN / 8;  // n8 tiles of S
  constexpr int KT = D / 16;  // k16 steps of Q K^T
  constexpr int DT = D / 8;   // n8 tiles of O
  constexpr int kLoads = BN * RCH / 32;  // 16-byte copies per lane per tensor per block
  static_assert(C::kRowsPerCta == RPC, "the tensor-core kernel takes 16 rows per CTA");
  static_assert(CH % 8 == 0, "head dim must be a multiple of 64 (swizzle spans 8 chunks)");
  static_assert(BN % 16 == 0 && BN <= 64 && kLoads >= 1 && (BN * RCH) % 32 == 0, "bad block_n");
  static_assert(S >= 1 && (P == 0 || (P & (P - 1)) == 0), "bad stages / page size");

  // Dynamic shared memory (codegen's decode_sm80 dynamic_smem): W private rings
  // [W][K, V][S][BN][D] as stored (16-bit or fp8 rows, 16-byte chunks swizzled); reused
  // after the main loop for the merge [W][16][D] fp32, then s_m, s_l [W][16],
  // s_w [16][kMaxSplits] and s_last — finish_cta's layout.
  constexpr int kRawTile = BN * D * KB;  // a ring tile, as loaded
  constexpr int kWarpRing = 2 * S * kRawTile;
  constexpr int kRing = W * kWarpRing, kMerge = W * RPC * D * 4;
  constexpr int kRegion = kRing > kMerge ? kRing : kMerge;
  extern __shared__ uint4 smem_v4[];
  unsigned char* const smem_bytes = reinterpret_cast<unsigned char*>(smem_v4);
  float* const smerge = reinterpret_cast<float*>(smem_bytes);
  float* const s_m = reinterpret_cast<float*>(smem_bytes + kRegion);
  float* const s_l = s_m + W * RPC;
  float* const s_w = s_l + W * RPC;
  int* const s_last = reinterpret_cast<int*>(s_w + RPC * kMaxSplits);

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, t4 = lane & 3;
  const int chunk = blockIdx.x % p.row_chunks, split = blockIdx.x / p.row_chunks;
  const int kvh = blockIdx.y, b = blockIdx.z;
  const int L = p.seqlens_k ? max(0, min(p.seqlens_k[b], p.seqlen_k)) : p.seqlen_k;

  // ---- Q as A fragments (rows g and g + 8 of this chunk; padding rows are zero and see no key)
  unsigned qa[KT][4];
  int row_lo[2], row_hi[2];
  int row_tok[2] = {0, 0}, row_head[2] = {0, 0};  // the rows' query token and head (user mods only)
  decode_variants::RowAlibi<variants::has_alibi<C>(), 2> alibi;  // rows g, g + 8; empty without ALiBi
  const auto mods = decode_variants::user_mods<C>(p);  // NoUserMods (nothing) without snippets
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const int gr = chunk * RPC + g + 8 * h;
    const bool valid = gr < ROWS;
    const int tok = gr / G, head = kvh * G + gr % G;
    const unsigned short* qp = static_cast<const unsigned short*>(p.q) + b * p.q_batch_stride +
                               tok * p.q_row_stride + head * p.q_head_stride + (KV ? 0 : 2 * t4);
#pragma unroll
    for (int kt = 0; kt < KT; ++kt) {
      // An fp8 cache's MMAs see the head dims permuted (mma_fp8_sm80.cuh).
      const int d0 = KV ? fp8_mma::q_dim_offset<D>(t4, kt, 0) : kt * 16;
      const int d1 = KV ? fp8_mma::q_dim_offset<D>(t4, kt, 1) : kt * 16 + 8;
      qa[kt][h] = valid ? *reinterpret_cast<const unsigned*>(qp + d0) : 0u;
      qa[kt][h + 2] = valid ? *reinterpret_cast<const unsigned*>(qp + d1) : 0u;
    }
    if (valid) {
      decode_variants::row_keys<C>(L - QT + tok, L, row_lo[h], row_hi[h]);  // bottom-right aligned position
      row_tok[h] = tok;
      row_head[h] = head;
      alibi.set(p, h, b, head, L - QT + tok, 1.4426950408889634f);
    } else {
      row_lo[h] = 1;
      row_hi[h] = 0;
    }
  }

  // ---- this split's blocks of kBlockN keys, dealt round-robin to the warps
  const SplitRange range = split_range<C, BN>(p, L, split);
  const int mine = range.blk_end - range.blk_begin - warp;
  int nsteps = mine > 0 ? (mine + W - 1) / W : 0;
  const int kv_end = range.kv_end;
  if constexpr (variants::mods_of<C>::kMaskMod)  // a split that no row sees reads nothing
    if (range.blk_end > range.blk_begin &&
        !cta_sees_keys<C, RPC>(mods, b, kvh, chunk, L, range.first + range.blk_begin * BN, kv_end, s_last))
      nsteps = 0;

  const unsigned char* const kg = static_cast<const unsigned char*>(p.k);
  const unsigned char* const vg = static_cast<const unsigned char*>(p.v);
  const int* const table = P ? p.block_table + b * p.block_table_stride : nullptr;
  unsigned char* const ring = smem_bytes + warp * kWarpRing;
  // Scores in log2 units; an fp8 cache's K scale folds into the score scale (Q K^T is linear in K).
  float qk_scale = p.scale_log2;
  if constexpr (KV != 0) qk_scale *= p.k_scale[kvh * p.kv_scale_stride];
  if constexpr (KV != 0 && T::kIsBf16) qk_scale *= q_fragments_to_f16<T>(qa);
  const unsigned ring_u32 = smem_u32(ring);
  auto first_key = [&](int step) { return range.first + (range.blk_begin + warp + step * W) * BN; };

  // Paged: the block-table entries of the lane's keys in the next step to issue, loaded one
  // issue ahead (a step of compute hides them), so no cp.async waits on a dependent table load;
  // up to 8 per lane (16 at head dim 256 in 16-bit spill on sm_80: those look pages up in place).
  constexpr bool kPagesAhead = P > 0 && kLoads <= 8;
  int pages[kPagesAhead ? kLoads : 1];
  auto fetch_pages = [&](int step) {
    if constexpr (kPagesAhead) {
      const int key0 = first_key(step);
#pragma unroll
      for (int i = 0; i < kLoads; ++i) {
        const int j = key0 + (lane + 32 * i) / RCH;
        pages[i] = j < kv_end ? table[j / P] : 0;
      }
    }
  };
  auto issue = [&](int step) {
    const int stage = step % S;
    const int key0 = first_key(step);
#pragma unroll
    for (int i = 0; i < kLoads; ++i) {
      const int c = lane + 32 * i;
      const int key = c / RCH, ch = c % RCH;
      const int j = key0 + key;
      const bool ok = j < kv_end;
      long long ko = 0, vo = 0;
      if (ok) {
        if constexpr (kPagesAhead) kv_page_row_offsets(p, pages[i], j % P, kvh, ko, vo);
        else kv_row_offsets<C>(p, table, b, kvh, j, ko, vo);
        ko += ch * (16 / KB);
        vo += ch * (16 / KB);
      }
      const int off = KV ? key * D + (fp8_mma::swizzle<D>(key, ch) << 4) : key * CH * 16 + ((ch ^ (key & 7)) << 4);
      cp_async_16(ring + stage * kRawTile + off, kg + ko * KB, ok);
      cp_async_16(ring + (S + stage) * kRawTile + off, vg + vo * KB, ok);
    }
    cp_async_commit();
    fetch_pages(step + 1);
  };

  float o[DT][4];
#pragma unroll
  for (int dt = 0; dt < DT; ++dt)
#pragma unroll
    for (int e = 0; e < 4; ++e) o[dt][e] = 0.f;
  float m[2] = {neg_inf(), neg_inf()}, l[2] = {0.f, 0.f};

  // ldmatrix lane addressing: lane i gives row i % 8 of matrix i / 8.
  const int lrow = lane & 7, lmat = lane >> 3;

  fetch_pages(0);
#pragma unroll
  for (int st = 0; st < S - 1; ++st) {
    if (st < nsteps) issue(st);
    else cp_async_commit();
  }
  for (int step = 0; step < nsteps; ++step) {
    // Refill the stage the previous step consumed (the __syncwarp closing that step ordered
    // every lane's ldmatrix reads of it before these writes).
    if (step + S - 1 < nsteps) issue(step + S - 1);
    else cp_async_commit();
    cp_async_wait<S - 1>();
    __syncwarp();  // the other lanes' copies of this stage are visible to ldmatrix / the fp8 reads
    const int stage = step % S;
    const unsigned sk = ring_u32 + stage * kRawTile;
    const unsigned sv = ring_u32 + (S + stage) * kRawTile;
    const unsigned char* const rk = ring + stage * kRawTile;        // fp8: the raw K rows
    const unsigned char* const rv = ring + (S + stage) * kRawTile;  // ... and V's
    const int key0 = first_key(step);

    // S = Q K^T: matrices (keys +0 / +8) x (chunk +0 / +1) give B fragments of two n8 tiles;
    // an fp8 cache's fragments come from each lane's own raw bytes (the scales apply to S and O).
    float sc[NT][4];
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) sc[nt][e] = 0.f;
    if constexpr (KV != 0) {
#pragma unroll
      for (int nt = 0; nt < NT; ++nt) fp8_mma::qk_tile<MT, KV, D>(sc[nt], qa, rk, nt * 8 + g, t4);
    } else {
#pragma unroll
      for (int kt = 0; kt < KT; ++kt)
#pragma unroll
        for (int n2 = 0; n2 < NT / 2; ++n2) {
          const int key = n2 * 16 + (lmat >> 1) * 8 + lrow;
          const int ch = kt * 2 + (lmat & 1);
          unsigned bk[4];
          sm80::ldmatrix_x4(bk, sk + key * CH * 16 + ((ch ^ (key & 7)) << 4));
          sm80::mma_16816<MT>(sc[2 * n2], qa[kt], bk[0], bk[1]);
          sm80::mma_16816<MT>(sc[2 * n2 + 1], qa[kt], bk[2], bk[3]);
        }
    }

    // Online softmax on the fragments: element e of tile nt is row g + 8 * (e / 2), key
    // key0 + nt * 8 + 2 * t4 + e % 2; a row's 4 owners are lanes 4g .. 4g + 3.
    float mx[2] = {m[0], m[1]};
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int h = e >> 1;
        const int j = key0 + nt * 8 + 2 * t4 + (e & 1);
        float v = alibi(h, score_mod<C>(sc[nt][e] * qk_scale), j);
        if (j >= kv_end || j < row_lo[h] || j > row_hi[h]) v = neg_inf();
        else if constexpr (decode_variants::has_user_mods<C>())
          v = decode_variants::user_score(mods, v, b, row_head[h], row_tok[h], j, neg_inf());
        sc[nt][e] = v;
        mx[h] = fmaxf(mx[h], v);
      }
    float corr[2], mu[2];
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 1));
      mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 2));
      mu[h] = mx[h] == neg_inf() ? 0.f : mx[h];
      corr[h] = fast_exp2(m[h] - mu[h]);
      m[h] = mx[h];
      l[h] *= corr[h];
    }
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        sc[nt][e] = fast_exp2(sc[nt][e] - mu[e >> 1]);
        l[e >> 1] += sc[nt][e];
      }
#pragma unroll
    for (int dt = 0; dt < DT; ++dt) {
      o[dt][0] *= corr[0];
      o[dt][1] *= corr[0];
      o[dt][2] *= corr[1];
      o[dt][3] *= corr[1];
    }

    // O += P V: the S fragments of tiles 2kk, 2kk + 1 are the A operand of k-step kk;
    // ldmatrix.trans of V matrices (keys +0 / +8) x (chunk +0 / +1) gives two d-tiles' B (fp8:
    // each lane's raw bytes, mma_fp8_sm80.cuh).
#pragma unroll
    for (int kk = 0; kk < BN / 16; ++kk) {
      const unsigned pa[4] = {pack2<MT>(sc[2 * kk][0], sc[2 * kk][1]), pack2<MT>(sc[2 * kk][2], sc[2 * kk][3]),
                              pack2<MT>(sc[2 * kk + 1][0], sc[2 * kk + 1][1]),
                              pack2<MT>(sc[2 * kk + 1][2], sc[2 * kk + 1][3])};
      if constexpr (KV != 0) {
        fp8_mma::pv_step<MT, KV, D>(o, pa, rv, kk, g, t4);
      } else {
#pragma unroll
        for (int d2 = 0; d2 < DT / 2; ++d2) {
          const int key = kk * 16 + (lmat & 1) * 8 + lrow;
          const int ch = d2 * 2 + (lmat >> 1);
          unsigned bv[4];
          sm80::ldmatrix_x4_trans(bv, sv + key * CH * 16 + ((ch ^ (key & 7)) << 4));
          sm80::mma_16816<MT>(o[2 * d2], pa, bv[0], bv[1]);
          sm80::mma_16816<MT>(o[2 * d2 + 1], pa, bv[2], bv[3]);
        }
      }
    }
    __syncwarp();  // every lane's reads of this stage are done before it is refilled
  }
  cp_async_wait<0>();

  // ---- the row sums over a row's 4 owner lanes, then each warp's state to shared memory
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    l[h] += __shfl_xor_sync(0xffffffffu, l[h], 1);
    l[h] += __shfl_xor_sync(0xffffffffu, l[h], 2);
  }
  __syncthreads();  // every warp is done with its ring: the merge buffer overlaps it
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const int r = g + 8 * h;
#pragma unroll
    for (int dt = 0; dt < DT; ++dt) {
      float* const dst = smerge + (warp * RPC + r) * D;
      if constexpr (KV != 0) {  // O's columns are permuted head dims (mma_fp8_sm80.cuh)
        dst[fp8_mma::o_dim<D>(2 * t4, dt)] = o[dt][2 * h];
        dst[fp8_mma::o_dim<D>(2 * t4 + 1, dt)] = o[dt][2 * h + 1];
      } else {
        *reinterpret_cast<float2*>(dst + dt * 8 + 2 * t4) = make_float2(o[dt][2 * h], o[dt][2 * h + 1]);
      }
    }
    if (t4 == 0) {
      s_m[warp * RPC + r] = m[h];
      s_l[warp * RPC + r] = l[h];
    }
  }
  __syncthreads();
  finish_cta<C, RPC>(p, smerge, s_m, s_l, s_w, s_last);
