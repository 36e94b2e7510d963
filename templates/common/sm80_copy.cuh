// Global <-> shared tile movement for sm_80+: cp.async (16-byte, L2-only "cg") fills of swizzled
// shared tiles with optional row predicates, the commit/wait group primitives of a multi-stage
// pipeline, and a warp's 16-byte write-back of a swizzled tile to global memory.
//
// Alignment contract (checked by the host before launch): tile base pointers and row strides
// are multiples of 16 bytes (8 elements), which every dense [.., head_dim] layout satisfies.
#pragma once

#include "common/sm80_mma.cuh"

namespace attnjit {
namespace sm80 {

// 16 bytes moved as one vector access (own type: no dependency on CUDA's vector_types.h).
struct alignas(16) Bytes16 {
  unsigned w[4];
};

// Copies 16 bytes global -> shared asynchronously. When !valid, src-size 0 makes the hardware
// write 16 zero bytes and read nothing, so out-of-range rows become zeros — required: a masked
// probability of 0 times a garbage V value that happens to be NaN/Inf would still be NaN.
__device__ __forceinline__ void cp_async_16(unsigned dst, const void* src, bool valid) {
  const int src_bytes = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src),
               "r"(src_bytes));
}

__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }

// Waits until at most N of this thread's committed groups are still in flight. Other threads'
// copies become visible only after a following __syncthreads().
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

// Issues the copies of [kRows x kCols] tiles (row stride `row_stride` elements in global) into
// swizzled shared tiles, spread over kThreads threads. Thread layout: kThreadsPerRow threads
// share a row (the largest power of two <= 8 dividing the row's chunk count, so one thread's
// chunks sit kThreadsPerRow apart and keep the same swizzle pattern) and kRowStep rows are
// covered per step. The shared offset of every copy is then the thread's base plus an
// immediate, and the global offset is the thread's base plus (step * kRowStep) rows.
template <int kRows, int kCols, int kThreads>
struct TileLoader {
  static constexpr int kChunks = kCols / 8;
  static constexpr int kThreadsPerRow = kChunks % 8 == 0 ? 8 : 4;
  static constexpr int kRowStep = kThreads / kThreadsPerRow;
  static constexpr int kRowIters = (kRows + kRowStep - 1) / kRowStep;
  static constexpr int kChunkIters = kChunks / kThreadsPerRow;
  static_assert(kChunks % 4 == 0 && kRowStep % 8 == 0, "tile shape vs thread count");

  int row;             // this thread's first row
  unsigned smem_base;  // byte offset of (row, its first chunk) in a tile
  int gmem_base;       // element offset of its first chunk within a row

  __device__ __forceinline__ explicit TileLoader(int tid)
      : row(tid / kThreadsPerRow),
        smem_base(Swizzle<kChunks>::offset(tid / kThreadsPerRow, tid % kThreadsPerRow)),
        gmem_base(8 * (tid % kThreadsPerRow)) {}

  // kCheckRows: rows >= rows_valid are zero-filled (their source pointer is clamped to the
  // tile base, which is always mapped, so no out-of-bounds address is ever formed).
  // load_rows: the same for rows at arbitrary addresses (paged K/V), row_ptr(r) giving row r's
  // first element; rows >= rows_valid are addressed as row 0 (a tile is loaded only when
  // rows_valid >= 1, so no block-table entry past the sequence is ever read).
  template <bool kCheckRows>
  __device__ __forceinline__ void load(unsigned smem, const unsigned short* gmem,
                                       long long row_stride, int rows_valid) const {
    // Opaque to the optimizer: otherwise it hoists every copy's 64-bit row offset out of the
    // main loop and keeps them all live (2 registers each, up to 16 copies per tile), which
    // made head dim 192/256 tiles spill. Recomputing them is a few IMADs per tile.
    asm volatile("" : "+l"(row_stride));
#pragma unroll
    for (int i = 0; i < kRowIters; ++i) {
      const int r = row + i * kRowStep;
      if (kRows % kRowStep == 0 || r < kRows) {
        const bool valid = !kCheckRows || r < rows_valid;
        const unsigned short* src = gmem + (valid ? r * row_stride + gmem_base : 0);
#pragma unroll
        for (int j = 0; j < kChunkIters; ++j) {
          // Chunk j * kThreadsPerRow leaves the swizzled bits alone: an immediate offset.
          cp_async_16(smem + smem_base + 16u * (i * kRowStep * kChunks + j * kThreadsPerRow),
                      src + (valid ? j * kThreadsPerRow * 8 : 0), valid);
        }
      }
    }
  }

  template <bool kCheckRows, class RowPtr>
  __device__ __forceinline__ void load_rows(unsigned smem, RowPtr row_ptr, int rows_valid) const {
#pragma unroll
    for (int i = 0; i < kRowIters; ++i) {
      const int r = row + i * kRowStep;
      if (kRows % kRowStep == 0 || r < kRows) {
        const bool valid = !kCheckRows || r < rows_valid;
        const unsigned short* src = row_ptr(valid ? r : 0) + (valid ? gmem_base : 0);
#pragma unroll
        for (int j = 0; j < kChunkIters; ++j)
          cp_async_16(smem + smem_base + 16u * (i * kRowStep * kChunks + j * kThreadsPerRow),
                      src + (valid ? j * kThreadsPerRow * 8 : 0), valid);
      }
    }
  }
};

// One warp copies rows [row0, row0 + kRows) of a swizzled shared tile with kCols columns to
// global memory with 16-byte stores; rows >= rows_valid are skipped when kCheckRows.
template <int kRows, int kCols, bool kCheckRows>
__device__ __forceinline__ void store_rows_warp(unsigned short* gmem, long long row_stride,
                                                const unsigned char* smem, int row0,
                                                int rows_valid, int lane) {
  constexpr int kChunks = kCols / 8;
  constexpr int kTotal = kRows * kChunks;
  static_assert(kTotal % 32 == 0, "a warp stores whole 16-row tiles");
#pragma unroll
  for (int i = 0; i < kTotal / 32; ++i) {
    const int idx = lane + i * 32;
    const int row = row0 + idx / kChunks;
    const int chunk = idx % kChunks;
    if (!kCheckRows || row < rows_valid) {
      const Bytes16 v =
          *reinterpret_cast<const Bytes16*>(smem + Swizzle<kChunks>::offset(row, chunk));
      *reinterpret_cast<Bytes16*>(gmem + row * row_stride + chunk * 8) = v;
    }
  }
}

}  // namespace sm80
}  // namespace attnjit
