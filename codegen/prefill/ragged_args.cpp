#include "codegen/prefill/ragged_args.h"

#include <cstdint>
#include <string>

#include "codegen/param_checks.h"
#include "codegen/problem_spec.h"

namespace attnjit {
namespace {

using detail::check_int32;
using detail::str;

void check_ints(const char* name, const int32_t* ptr, bool needed, const char* why) {
  if (needed && !ptr) throw SpecError(std::string(name) + ": null pointer (" + why + ")");
  if (!needed && ptr) throw SpecError(std::string(name) + ": not used here (" + why + ")");
  if (ptr && reinterpret_cast<uintptr_t>(ptr) % alignof(int32_t) != 0)
    throw SpecError(std::string(name) + ": not aligned to 4-byte ints");
}

// cu[0] == 0, non-decreasing, cu[batch] == total, every length <= max_len.
void check_offsets(const char* name, const int32_t* cu, int64_t batch, int64_t total,
                   const char* total_name, int64_t max_len, const char* max_name) {
  if (cu[0] != 0) throw SpecError(std::string(name) + "[0]: must be 0, got " + str(cu[0]));
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t len = int64_t{cu[b + 1]} - cu[b];
    if (len < 0)
      throw SpecError(std::string(name) + ": must be non-decreasing, but entry " + str(b + 1) + " (" +
                      str(cu[b + 1]) + ") < entry " + str(b) + " (" + str(cu[b]) + ")");
    if (len > max_len)
      throw SpecError(std::string(max_name) + ": " + str(max_len) + " is less than sequence " + str(b) +
                      "'s length " + str(len) + " (from " + name + ")");
  }
  if (cu[batch] != total)
    throw SpecError(std::string(name) + "[batch]: last entry " + str(cu[batch]) + " != " + total_name + " " +
                    str(total) + " (the rows of the packed tensor)");
}

}  // namespace

bool prefill_empty(const PrefillProblem& p) {
  return p.batch == 0 || p.seqlen_q == 0 || (p.varlen && p.total_q == 0);
}

void validate_ragged_problem(const PrefillProblem& p) {
  validate_page_size(p.page_size);
  if (p.varlen) {
    if (p.total_q < 0) throw SpecError("total_q: must be >= 0, got " + str(p.total_q));
    if (p.total_q > p.batch * p.seqlen_q)
      throw SpecError("total_q: " + str(p.total_q) + " rows exceed batch * max_seqlen_q = " +
                      str(p.batch * p.seqlen_q) + " (max_seqlen_q too small?)");
    check_int32("total_q", p.total_q);
    if (p.page_size == 0) {
      if (p.total_k < 0) throw SpecError("total_k: must be >= 0, got " + str(p.total_k));
      if (p.total_k > p.batch * p.seqlen_k)
        throw SpecError("total_k: " + str(p.total_k) + " rows exceed batch * max_seqlen_k = " +
                        str(p.batch * p.seqlen_k) + " (max_seqlen_k too small?)");
      check_int32("total_k", p.total_k);
    } else if (p.total_k != 0) {
      throw SpecError("total_k: a paged cache has no packed k (seqused_k gives the lengths), got " + str(p.total_k));
    }
  } else if (p.total_q != 0 || p.total_k != 0) {
    throw SpecError("total_q/total_k: only varlen problems have packed totals");
  }
  if (p.page_size != 0) {
    if (p.num_pages < 1) throw SpecError("num_pages: must be >= 1 with a paged cache, got " + str(p.num_pages));
    if (p.max_pages < 0) throw SpecError("max_pages: must be >= 0, got " + str(p.max_pages));
    if (p.max_pages * p.page_size < p.seqlen_k)
      throw SpecError("max_pages: " + str(p.max_pages) + " pages of " + str(p.page_size) +
                      " tokens hold fewer than max_seqlen_k = " + str(p.seqlen_k) + " keys");
    check_int32("num_pages", p.num_pages);
    check_int32("max_pages", p.max_pages);
  } else if (p.num_pages != 0 || p.max_pages != 0) {
    throw SpecError("num_pages/max_pages: only a paged cache (page_size > 0) has pages");
  }
}

void validate_ragged_args(const PrefillArgs& a, Platform platform) {
  const PrefillProblem& p = a.problem;
  const bool paged = p.page_size != 0;
  check_ints("cu_seqlens_q", a.cu_seqlens_q, p.varlen, "varlen problems take it, dense ones do not");
  check_ints("cu_seqlens_k", a.cu_seqlens_k, p.varlen && !paged,
             "varlen problems with contiguous K/V take it; paged ones use seqused_k");
  check_ints("seqused_k", a.seqused_k, paged, "a paged cache takes it, contiguous K/V do not");
  check_ints("block_table", a.block_table, paged, "a paged cache takes it, contiguous K/V do not");
  if (paged) {
    if (p.batch > 1 && a.block_table_stride < p.max_pages)
      throw SpecError("block_table_stride: " + str(a.block_table_stride) + " is less than max_pages " +
                      str(p.max_pages));
    check_int32("block_table_stride", a.block_table_stride);
  }
  // Device memory is not readable here; on the CPU backend it is the host's.
  if (platform != Platform::Cpu || p.batch == 0) return;
  if (p.varlen) {
    check_offsets("cu_seqlens_q", a.cu_seqlens_q, p.batch, p.total_q, "total_q", p.seqlen_q, "max_seqlen_q");
    if (!paged)
      check_offsets("cu_seqlens_k", a.cu_seqlens_k, p.batch, p.total_k, "total_k", p.seqlen_k, "max_seqlen_k");
  }
  if (paged) {
    for (int64_t b = 0; b < p.batch; ++b) {
      const int64_t len = a.seqused_k[b];
      if (len < 0 || len > p.seqlen_k)
        throw SpecError("seqused_k[" + str(b) + "]: " + str(len) + " is outside 0..max_seqlen_k (" +
                        str(p.seqlen_k) + ")");
      for (int64_t pg = 0; pg < (len + p.page_size - 1) / p.page_size; ++pg) {
        const int64_t idx = a.block_table[b * a.block_table_stride + pg];
        if (idx < 0 || idx >= p.num_pages)
          throw SpecError("block_table[" + str(b) + "][" + str(pg) + "]: page " + str(idx) + " is outside 0.." +
                          str(p.num_pages - 1));
      }
    }
  }
}

void fill_ragged_params(const PrefillArgs& a, PrefillParams& r) {
  const PrefillProblem& p = a.problem;
  r.cu_seqlens_q = p.varlen ? a.cu_seqlens_q : nullptr;
  r.cu_seqlens_k = p.varlen && p.page_size == 0 ? a.cu_seqlens_k : nullptr;
  r.seqused_k = p.page_size ? a.seqused_k : nullptr;
  r.block_table = p.page_size ? a.block_table : nullptr;
  r.block_table_stride = p.page_size ? a.block_table_stride : 0;
  r.page_size = p.page_size;
  int shift = 0;
  while ((1 << shift) < p.page_size) ++shift;
  r.page_shift = shift;
  r.total_q = p.varlen ? static_cast<int>(p.total_q) : 0;
}

}  // namespace attnjit
