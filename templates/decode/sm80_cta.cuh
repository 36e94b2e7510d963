// The body of the scalar decode kernel (decode/sm80.cuh) (no include guard: included as the body of
// its entries, the plain kernel taking DecodeParams and the variant kernels taking
// DecodeVariantParams / DecodeModParams, so the plain kernel's code and PTX are exactly those of a kernel written
// inline; a shared __device__ function changes its loop code). `p` and `C` are the entry's.
  using T = typename C::Elem;
  constexpr int D = C::kHeadDim;
  constexpr int G = C::kGroup;
  constexpr int QT = C::kQTokens;
  constexpr int ROWS = G * QT;
  constexpr int RPC = C::kRowsPerCta;
  constexpr int W = C::kWarps;
  constexpr int BN = C::kBlockN;
  constexpr int S = C::kStages;
  constexpr int P = C::kPageSize;
  constexpr int VEC = 8;             // elements per 16-byte chunk
  constexpr int TX = D / VEC;        // threads per key (a lane group)
  constexpr int TY = 32 / TX;        // lane groups per warp
  constexpr int NG = W * TY;         // lane groups per CTA
  constexpr int KPG = BN / NG;       // keys per lane group per stage
  static_assert(D % VEC == 0 && TX <= 32 && 32 % TX == 0, "head dim must be 8 * a divisor of 32");
  static_assert(BN % NG == 0 && KPG >= 1, "block_n must be a multiple of the lane groups per CTA");
  static_assert(S >= 1 && RPC >= 1 && RPC <= 8, "bad stages / rows per CTA");
  static_assert(P == 0 || (P & (P - 1)) == 0, "page size must be a power of two");

  // All shared memory is dynamic (sized by codegen's decode_sm80 dynamic_smem):
  //   [0, kRegion)  the K and V rings [S][KPG][NG][D] (slot (i, g) holds the i-th key of lane
  //                 group g), reused after the main loop for the cross-warp merge [W][RPC][D] fp32
  //   then          s_m, s_l [W][RPC] (per-warp max / sum), s_w [RPC][kMaxSplits] (combine
  //                 weights), s_last (this CTA combines).
  constexpr int kRing = 2 * S * BN * D * 2, kMerge = W * RPC * D * 4;
  constexpr int kRegion = kRing > kMerge ? kRing : kMerge;
  extern __shared__ uint4 smem_v4[];
  unsigned char* const smem_bytes = reinterpret_cast<unsigned char*>(smem_v4);
  unsigned short* const sk = reinterpret_cast<unsigned short*>(smem_bytes);
  unsigned short* const sv = sk + S * BN * D;
  float* const smerge = reinterpret_cast<float*>(smem_bytes);
  float* const s_m = reinterpret_cast<float*>(smem_bytes + kRegion);  // [W][RPC]
  float* const s_l = s_m + W * RPC;                                    // [W][RPC]
  float* const s_w = s_l + W * RPC;                                    // [RPC][kMaxSplits]
  int* const s_last = reinterpret_cast<int*>(s_w + RPC * kMaxSplits);

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int tx = lane % TX, ty = lane / TX, grp = warp * TY + ty;
  const int chunk = blockIdx.x % p.row_chunks, split = blockIdx.x / p.row_chunks;
  const int kvh = blockIdx.y, b = blockIdx.z;
  const int L = p.seqlens_k ? max(0, min(p.seqlens_k[b], p.seqlen_k)) : p.seqlen_k;

  // ---- query rows of this CTA: row r -> global row chunk * RPC + r = token * G + head-in-group
  float q[RPC][VEC];
  int row_lo[RPC], row_hi[RPC];  // visible keys [row_lo, row_hi] (empty when lo > hi)
  decode_variants::RowAlibi<variants::has_alibi<C>(), RPC> alibi;  // empty without ALiBi
  const auto mods = decode_variants::user_mods<C>(p);  // NoUserMods (nothing) without snippets
#pragma unroll
  for (int r = 0; r < RPC; ++r) {
    const int gr = chunk * RPC + r;
    const int t = gr / G, h = kvh * G + gr % G;
    if (gr < ROWS) {
      const unsigned short* qp = static_cast<const unsigned short*>(p.q) + b * p.q_batch_stride +
                                 t * p.q_row_stride + h * p.q_head_stride + tx * VEC;
      float f[VEC];
      unpack8<T>(ldg_nc_v4(qp), f);
#pragma unroll
      for (int e = 0; e < VEC; ++e) q[r][e] = f[e] * p.scale_log2;
      decode_variants::row_keys<C>(L - QT + t, L, row_lo[r], row_hi[r]);  // bottom-right aligned position
      alibi.set(p, r, b, h, L - QT + t, 1.4426950408889634f);
    } else {
#pragma unroll
      for (int e = 0; e < VEC; ++e) q[r][e] = 0.f;
      row_lo[r] = 1;
      row_hi[r] = 0;
    }
  }

  // ---- this split's keys, in CTA steps of kBlockN
  const SplitRange range = split_range<C, BN>(p, L, split);
  int nsteps = range.blk_end > range.blk_begin ? range.blk_end - range.blk_begin : 0;
  const int kv_begin = range.first + range.blk_begin * BN;
  const int kv_end = range.kv_end;
  if constexpr (variants::mods_of<C>::kMaskMod)  // a split that no row sees reads nothing
    if (nsteps > 0 && !cta_sees_keys<C, RPC>(mods, b, kvh, chunk, L, kv_begin, kv_end, s_last)) nsteps = 0;

  const unsigned short* const kg = static_cast<const unsigned short*>(p.k);
  const unsigned short* const vg = static_cast<const unsigned short*>(p.v);
  const int* const table = P ? p.block_table + b * p.block_table_stride : nullptr;

  // Issues the cp.async's of pipeline step `step` into ring stage step % S, then commits the group.
  auto issue = [&](int step) {
    const int stage = step % S;
#pragma unroll
    for (int i = 0; i < KPG; ++i) {
      const int j = kv_begin + step * BN + i * NG + grp;
      const bool ok = j < kv_end;
      long long ko = 0, vo = 0;
      if (ok) {
        kv_row_offsets<C>(p, table, b, kvh, j, ko, vo);
        ko += tx * VEC;
        vo += tx * VEC;
      }
      const int slot = ((stage * KPG + i) * NG + grp) * D + tx * VEC;
      cp_async_16(sk + slot, kg + ko, ok);
      cp_async_16(sv + slot, vg + vo, ok);
    }
    cp_async_commit();
  };

  float m[RPC], l[RPC], acc[RPC][VEC];
#pragma unroll
  for (int r = 0; r < RPC; ++r) {
    m[r] = neg_inf();
    l[r] = 0.f;
#pragma unroll
    for (int e = 0; e < VEC; ++e) acc[r][e] = 0.f;
  }

#pragma unroll
  for (int st = 0; st < S - 1; ++st) {
    if (st < nsteps) issue(st);
    else cp_async_commit();  // keep the group count uniform for wait_group
  }

  for (int step = 0; step < nsteps; ++step) {
    // Refill the stage consumed in the previous step (its reads completed: their values fed
    // that step's FMAs) with step + S - 1, keeping S - 1 blocks in flight during the compute.
    if (step + S - 1 < nsteps) issue(step + S - 1);
    else cp_async_commit();
    cp_async_wait<S - 1>();
    const int stage = step % S;

    float s[RPC][KPG];
#pragma unroll
    for (int i = 0; i < KPG; ++i) {
      float kf[VEC];
      unpack8<T>(*reinterpret_cast<const uint4*>(sk + ((stage * KPG + i) * NG + grp) * D + tx * VEC),
                 kf);
#pragma unroll
      for (int r = 0; r < RPC; ++r) {
        float d = 0.f;
#pragma unroll
        for (int e = 0; e < VEC; ++e) d = fmaf(q[r][e], kf[e], d);
        s[r][i] = d;
      }
    }
    // Sum the partial dot products over the lane group (TX lanes, aligned): all lanes get it.
#pragma unroll
    for (int off = TX / 2; off > 0; off >>= 1)
#pragma unroll
      for (int r = 0; r < RPC; ++r)
#pragma unroll
        for (int i = 0; i < KPG; ++i) s[r][i] += __shfl_xor_sync(0xffffffffu, s[r][i], off);

#pragma unroll
    for (int r = 0; r < RPC; ++r) {
      float mx = m[r];
#pragma unroll
      for (int i = 0; i < KPG; ++i) {
        const int j = kv_begin + step * BN + i * NG + grp;
        s[r][i] = alibi(r, score_mod<C>(s[r][i]), j);
        const int gr = chunk * RPC + r;  // query token gr / G of head kvh * G + gr % G
        if (j >= kv_end || j < row_lo[r] || j > row_hi[r]) s[r][i] = neg_inf();
        else if constexpr (decode_variants::has_user_mods<C>())
          s[r][i] = decode_variants::user_score(mods, s[r][i], b, kvh * G + gr % G, gr / G, j, neg_inf());
        mx = fmaxf(mx, s[r][i]);
      }
      const float mu = mx == neg_inf() ? 0.f : mx;
      const float corr = fast_exp2(m[r] - mu);
      float sum = 0.f;
#pragma unroll
      for (int i = 0; i < KPG; ++i) {
        s[r][i] = fast_exp2(s[r][i] - mu);
        sum += s[r][i];
      }
      l[r] = l[r] * corr + sum;
#pragma unroll
      for (int e = 0; e < VEC; ++e) acc[r][e] *= corr;
      m[r] = mx;
    }
#pragma unroll
    for (int i = 0; i < KPG; ++i) {
      float vf[VEC];
      unpack8<T>(*reinterpret_cast<const uint4*>(sv + ((stage * KPG + i) * NG + grp) * D + tx * VEC),
                 vf);
#pragma unroll
      for (int r = 0; r < RPC; ++r)
#pragma unroll
        for (int e = 0; e < VEC; ++e) acc[r][e] = fmaf(s[r][i], vf[e], acc[r][e]);
    }
  }
  cp_async_wait<0>();

  // ---- merge the lane groups of a warp (same tx, other ty) by butterfly shuffles ...
#pragma unroll
  for (int off = TX; off < 32; off <<= 1) {
#pragma unroll
    for (int r = 0; r < RPC; ++r) {
      float acc2[VEC];
#pragma unroll
      for (int e = 0; e < VEC; ++e) acc2[e] = __shfl_xor_sync(0xffffffffu, acc[r][e], off);
      const float m2 = __shfl_xor_sync(0xffffffffu, m[r], off);
      const float l2 = __shfl_xor_sync(0xffffffffu, l[r], off);
      merge_state(m[r], l[r], acc[r], m2, l2, acc2);
    }
  }
  // ... then the warps through shared memory (the K/V ring is free now).
  __syncthreads();
  if (ty == 0) {
#pragma unroll
    for (int r = 0; r < RPC; ++r) {
      float4* dst = reinterpret_cast<float4*>(smerge + (warp * RPC + r) * D + tx * VEC);
      dst[0] = make_float4(acc[r][0], acc[r][1], acc[r][2], acc[r][3]);
      dst[1] = make_float4(acc[r][4], acc[r][5], acc[r][6], acc[r][7]);
      if (tx == 0) {
        s_m[warp * RPC + r] = m[r];
        s_l[warp * RPC + r] = l[r];
      }
    }
  }
  __syncthreads();
  finish_cta<C, RPC>(p, smerge, s_m, s_l, s_w, s_last);
