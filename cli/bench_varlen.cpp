#include "cli/bench_varlen.h"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "cli/command.h"
#include "runtime/backend.h"
#include "runtime/half.h"
#include "tuner/workload.h"

namespace attnjit::cli {
namespace {

DeviceBuffer int_buffer(Backend& be, const std::vector<int32_t>& v) {
  DeviceBuffer b(be, std::max<size_t>(v.size(), 1) * sizeof(int32_t));
  be.copy_to_device(b.get(), v.data(), v.size() * sizeof(int32_t));
  return b;
}

Backend::Launch launch_of(const PreparedLaunch& pl) {
  return Backend::Launch{pl.kernel.kernel.get(), pl.kernel.geometry, pl.params};
}

double median(std::vector<double> t) {
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

void bench_varlen(Runtime& rt, const VarlenBenchArgs& a) {
  for (int64_t s : a.seqlens)
    if (s < 0 || s > (int64_t{1} << 30)) throw UsageError("--seqlens: lengths must be in 0..2^30, got " + std::to_string(s));
  if (std::all_of(a.seqlens.begin(), a.seqlens.end(), [](int64_t s) { return s == 0; }))
    throw UsageError("--seqlens: at least one sequence must be non-empty");
  if (a.page_size != 0 && (a.page_size < 1 || a.page_size > 256 || (a.page_size & (a.page_size - 1))))
    throw UsageError("--page-size: must be 0 or a power of two in [1, 256], got " + std::to_string(a.page_size));
  Backend& be = rt.backend();
  const int64_t B = static_cast<int64_t>(a.seqlens.size());
  const int64_t total = std::accumulate(a.seqlens.begin(), a.seqlens.end(), int64_t{0});
  const int64_t max_len = *std::max_element(a.seqlens.begin(), a.seqlens.end());
  std::vector<int32_t> cu(1, 0);
  for (int64_t s : a.seqlens) cu.push_back(static_cast<int32_t>(cu.back() + s));
  const DeviceBuffer cu_buf = int_buffer(be, cu);
  nlohmann::json rows = nlohmann::json::array();
  if (!a.json) {
    std::printf("attnjit bench (varlen, %lld sequences, %lld tokens%s) on %s\n", static_cast<long long>(B),
                static_cast<long long>(total), a.page_size ? (", paged " + std::to_string(a.page_size)).c_str() : "",
                be.describe().c_str());
    std::printf("%-5s %4s %-10s %-24s %11s %11s %11s %6s\n", "dtype", "hd", "mask", "config", "varlen", "separate",
                "GFLOP/s", "ratio");
  }
  for (const std::string& dts : a.dtypes)
    for (int hd : a.head_dims)
      for (const std::string& ms : a.masks) {
        const DType dt = parse_dtype(dts);
        const MaskSpec mask = parse_mask(ms);
        if (hd < 1 || a.hidden % hd != 0) throw UsageError("--hidden must be a multiple of every head dim");
        const int64_t hq = a.hidden / hd, hkv = a.heads_kv > 0 ? a.heads_kv : hq;
        if (hq % hkv != 0) throw UsageError("--heads-kv must divide the query heads (hidden / head dim)");
        const int64_t qrow = hq * hd, krow = hkv * hd;
        DeviceBuffer q = random_buffer(be, dt, static_cast<size_t>(total * qrow), 1);
        DeviceBuffer o(be, std::max<size_t>(static_cast<size_t>(total * qrow), 1) * dtype_bytes(dt));
        // K/V: packed, or pages dealt out in shuffled order.
        const int64_t P = a.page_size;
        int64_t max_pages = 0, pages = 0;
        std::vector<int32_t> table, used(a.seqlens.begin(), a.seqlens.end());
        if (P) {
          for (int64_t s : a.seqlens) max_pages = std::max(max_pages, (s + P - 1) / P);
          pages = B * std::max<int64_t>(max_pages, 1);
          table.resize(static_cast<size_t>(pages));
          std::iota(table.begin(), table.end(), 0);
          std::shuffle(table.begin(), table.end(), std::mt19937_64(7));
        }
        const int64_t k_rows = P ? pages * P : total;
        DeviceBuffer k = random_buffer(be, dt, static_cast<size_t>(k_rows * krow), 2);
        DeviceBuffer v = random_buffer(be, dt, static_cast<size_t>(k_rows * krow), 3);
        const DeviceBuffer table_buf = int_buffer(be, table), used_buf = int_buffer(be, used);

        PrefillArgs va;
        va.problem = {dt, hd, mask, B, hq, hkv, max_len, max_len, 0.0};
        va.problem.varlen = true;
        va.problem.total_q = total;
        va.q = {q.get(), 0, qrow, hd};
        va.o = {o.get(), 0, qrow, hd};
        va.cu_seqlens_q = static_cast<const int32_t*>(cu_buf.get());
        if (P) {
          va.problem.page_size = static_cast<int>(P);
          va.problem.num_pages = pages;
          va.problem.max_pages = std::max<int64_t>(max_pages, 1);
          va.k = {k.get(), P * krow, krow, hd};
          va.v = {v.get(), P * krow, krow, hd};
          va.seqused_k = static_cast<const int32_t*>(used_buf.get());
          va.block_table = static_cast<const int32_t*>(table_buf.get());
          va.block_table_stride = va.problem.max_pages;
        } else {
          va.problem.total_k = total;
          va.k = {k.get(), 0, krow, hd};
          va.v = {v.get(), 0, krow, hd};
          va.cu_seqlens_k = static_cast<const int32_t*>(cu_buf.get());
        }
        const PreparedLaunch vl = rt.prepare_launch(va);

        // The same tokens as separate equal-length calls: one dense call per sequence, over the
        // same rows of the packed tensors (the contiguous K/V of the same tokens).
        std::vector<PreparedLaunch> keep;  // owns the kernels the launches point to
        std::vector<Backend::Launch> separate;
        double flops = 0;
        DeviceBuffer kd = P ? random_buffer(be, dt, static_cast<size_t>(total * krow), 2) : DeviceBuffer();
        DeviceBuffer vd = P ? random_buffer(be, dt, static_cast<size_t>(total * krow), 3) : DeviceBuffer();
        const unsigned char* kbase = static_cast<const unsigned char*>(P ? kd.get() : k.get());
        const unsigned char* vbase = static_cast<const unsigned char*>(P ? vd.get() : v.get());
        const int eb = dtype_bytes(dt);
        for (int64_t b = 0; b < B; ++b) {
          const int64_t s = a.seqlens[b];
          if (s == 0) continue;
          ProblemSpec counted;
          counted.mask = mask;
          flops += 4.0 * hq * hd * tuner::visible_pairs(counted, s, s);
          PrefillArgs d;
          d.problem = {dt, hd, mask, 1, hq, hkv, s, s, 0.0};
          d.q = {static_cast<const unsigned char*>(q.get()) + cu[b] * qrow * eb, s * qrow, qrow, hd};
          d.o = {static_cast<unsigned char*>(o.get()) + cu[b] * qrow * eb, s * qrow, qrow, hd};
          d.k = {kbase + cu[b] * krow * eb, s * krow, krow, hd};
          d.v = {vbase + cu[b] * krow * eb, s * krow, krow, hd};
          keep.push_back(rt.prepare_launch(d));
          separate.push_back(launch_of(keep.back()));
        }
        // Alternating single repetitions of both (each the median of its own), so a load change
        // on a shared machine hits both sides alike.
        // Warm-up (every backend times at least one repetition; that one is discarded too).
        be.time({launch_of(vl)}, a.warmup, 1);
        be.time(separate, a.warmup, 1);
        std::vector<double> tv, ts;
        for (int r = 0; r < a.reps; ++r) {
          tv.push_back(be.time({launch_of(vl)}, 0, 1).at(0));
          ts.push_back(be.time(separate, 0, 1).at(0));
        }
        const double varlen_ms = median(tv), separate_ms = median(ts);
        const double gflops = flops / (varlen_ms * 1e-3) / 1e9, ratio = separate_ms / varlen_ms;
        if (!a.json) {
          std::printf("%-5s %4d %-10s %-24s %9.3fms %9.3fms %11.1f %6.3f\n", dts.c_str(), hd, ms.c_str(),
                      vl.kernel.config.key().c_str(), varlen_ms, separate_ms, gflops, ratio);
          std::fflush(stdout);
        }
        rows.push_back({{"dtype", dts}, {"head_dim", hd}, {"mask", ms}, {"config", vl.kernel.config.key()},
                        {"problem", vl.kernel.spec.key()}, {"varlen_ms", varlen_ms}, {"separate_ms", separate_ms},
                        {"gflops", gflops}, {"ratio", ratio}});
      }
  if (a.json) {
    nlohmann::json j;
    j["backend"] = be.describe();
    j["seqlens"] = a.seqlens;
    j["page_size"] = a.page_size;
    j["ratio"] = "varlen rate / rate of the same tokens as separate equal-length calls (separate_ms / varlen_ms)";
    j["results"] = rows;
    std::cout << j.dump(2) << "\n";
  }
}

}  // namespace attnjit::cli
